"""Set-up of every new database connection."""

import datetime


def load_timestamps_in_c(sender, connection, **kwargs):
    """Read timestamptz columns with psycopg's C loader instead of Django's Python one.

    Django registers a loader derived from psycopg's pure-Python class (Django ticket
    #36960; psycopg's C class cannot be subclassed): 12 ms of CPU per 1,000 rows of two
    timestamps, against 1.6 ms in C. A page of 100 SCIM users reads 200 of them. Django
    runs the session in UTC (USE_TZ), where the C loader returns the same aware datetimes,
    in datetime.timezone.utc; in any other zone Django's own loader stays.
    """
    if connection.vendor != "postgresql" or connection.timezone != datetime.timezone.utc:
        return
    import psycopg
    from psycopg.pq import Format
    from psycopg.types.datetime import TimestamptzLoader

    optimised = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)
    if optimised is TimestamptzLoader:  # psycopg without its C extension
        return

    class UtcTimestamptzLoader(TimestamptzLoader):
        timezone = datetime.timezone.utc  # what Django compares before overriding it per cursor

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self.load = optimised(oid, context).load

    connection.connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
