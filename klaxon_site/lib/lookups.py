"""`column = ANY(array)`: one parameter for a list of keys, however long.

`filter(pk__in=keys)` sends one parameter per key. With thousands of them (Okta's 5,000-member
group PUT) psycopg spends longer converting the query than PostgreSQL takes to run it, and
every list length is a new statement text. The ORM has no spelling of `= ANY(%s)`: a Func on
the right-hand side of a lookup is parenthesised. SQLite has no arrays and keeps IN.
"""

from django.db import connection
from django.db.models import F, Lookup, Q


class _AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False  # the list goes to psycopg whole, adapted as an array

    def as_sql(self, compiler, connection):
        column, column_params = self.process_lhs(compiler, connection)
        array, array_params = self.process_rhs(compiler, connection)
        return f"{column} = ANY({array})", (*column_params, *array_params)


def any_of(field: str, values):
    """A filter() argument: `field` is one of `values`."""
    values = list(values)
    if connection.vendor == "postgresql":
        return _AnyOf(F(field), values)
    return Q(**{f"{field}__in": values})
