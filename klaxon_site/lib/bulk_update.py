"""Update many rows, each with its own values, in one statement per batch.

Why not `QuerySet.bulk_update`: it builds a `CASE WHEN pk = … THEN …` expression per field
and row, and resolving those expressions in Python cost 90 % of recomputing an
organisation's reachability (6.3 of 6.7 s for 3,000 people, 8 fields; bench/fallbacks.py and
bench/RESULTS.md). `UPDATE … FROM (VALUES …)` sends the same values as plain parameters
(PostgreSQL, and SQLite since 3.33).
"""

from django.db import connection


def update_rows(model, fields: list[str], objects: list) -> int:
    """Write `fields` of each object in `objects` (model instances with a pk); returns how many."""
    if not objects:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model._meta.pk
    columns = [pk] + [model._meta.get_field(name) for name in fields]
    names = [connection.ops.quote_name(f.column) for f in columns]
    if connection.vendor == "postgresql":
        placeholder = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in columns) + ")"
    else:
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(1, min(1000, (connection.features.max_query_params or 30000) // len(columns)))
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    with connection.cursor() as cursor:
        for start in range(0, len(objects), per_statement):
            chunk = objects[start : start + per_statement]
            params = [
                field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in chunk for field in columns
            ]
            cursor.execute(
                f"WITH v ({', '.join(names)}) AS (VALUES {', '.join([placeholder] * len(chunk))}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{names[0]} = v.{names[0]}",
                params,
            )
    return len(objects)
