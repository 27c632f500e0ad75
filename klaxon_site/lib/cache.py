"""Django's database cache (Klaxon's default cache, `CACHE_URL=db://…`) with an atomic incr().

Django's own DatabaseCache.incr() is get() then set(): two processes counting the same
failure at the same instant both read 4 and both write 5, so a throttle undercounts exactly
when it is attacked in parallel. It also gives the entry the cache's default expiry, which
would stretch or cut a counter's window. This incr() reads and writes the entry in one
transaction holding its row lock (SELECT … FOR UPDATE on PostgreSQL; on SQLite Klaxon's
IMMEDIATE transactions take the database's write lock up front) and keeps its expiry, like
Redis' and Memcached's atomic INCR. Everything else is Django's.
"""

import base64
import pickle

from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, models, router, transaction
from django.utils.timezone import now


class DatabaseCache(DjangoDatabaseCache):
    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        quote_name = connection.ops.quote_name
        table, cache_key, value_column = quote_name(self._table), quote_name("cache_key"), quote_name("value")
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        expires_field = models.Expression(output_field=models.DateTimeField())
        converters = connection.ops.get_db_converters(expires_field) + expires_field.get_db_converters(connection)
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {value_column}, {quote_name('expires')} FROM {table} WHERE {cache_key} = %s{lock}", [key]
            )
            row = cursor.fetchone()
            if row is not None:
                expires = row[1]
                for converter in converters:
                    expires = converter(expires, expires_field, connection)
            if row is None or expires < now():
                raise ValueError(f"Key '{key}' not found.")
            value = pickle.loads(base64.b64decode(connection.ops.process_clob(row[0]).encode())) + delta
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(f"UPDATE {table} SET {value_column} = %s WHERE {cache_key} = %s", [encoded, key])
        return value
