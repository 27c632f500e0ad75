"""Django's PostgreSQL backend, reading timestamps with psycopg's C loader.

Django registers a timestamptz loader derived from psycopg's pure-Python class (Django
ticket #36960; psycopg's C class cannot be subclassed), which costs several times the C
loader's CPU per row (bench/RESULTS.md). In the UTC session Django runs (USE_TZ), the C
loader returns the same aware datetimes, in datetime.timezone.utc; in any other session
time zone Django's own loader stays. When Django fixes #36960, set ENGINE back to
django.db.backends.postgresql and delete this package.
"""

import datetime

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def init_connection_state(self):
        super().init_connection_state()
        if self.timezone == datetime.UTC:
            _register_c_timestamp_loader(self.connection)


def _register_c_timestamp_loader(connection) -> None:
    import psycopg
    from psycopg.pq import Format
    from psycopg.types.datetime import TimestamptzLoader

    optimised = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)
    if optimised is TimestamptzLoader:  # psycopg without its C extension
        return

    class UtcTimestamptzLoader(TimestamptzLoader):
        timezone = datetime.UTC  # what Django compares before overriding it per cursor

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self.load = optimised(oid, context).load

    connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
