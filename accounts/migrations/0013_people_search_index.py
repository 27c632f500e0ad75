"""People search (accounts/search.py): fill every person's search_text, and on PostgreSQL
index the search document with trigrams so that `document LIKE '%term%'` does not read
every person of the table.

pg_trgm ships with PostgreSQL (the contrib modules) and is a trusted extension since
PostgreSQL 13, so the database's owner may create it. Where it cannot be created, the
migration still succeeds: it logs a warning and the search scans, as on SQLite.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger("accounts.migrations")

INDEX_NAME = "accounts_user_search_trgm"
# accounts.search.DOCUMENT_SQL, spelled the same way: the query uses the index only when
# its expression is this one.
DOCUMENT_SQL = "search_text || ' ' || idp_location_key || ' ' || notification_phone"
BATCH = 1000


def fill_search_text(apps, schema_editor):
    from accounts.search import search_text
    from klaxon_site.lib.bulk_update import update_rows

    User = apps.get_model("accounts", "User")
    Organisation = apps.get_model("accounts", "Organisation")
    regions = dict(Organisation.objects.using(schema_editor.connection.alias).values_list("pk", "phone_region"))
    people = User.objects.using(schema_editor.connection.alias).order_by("pk")
    changed = []
    for person in people.iterator(chunk_size=BATCH):
        text = search_text(person, regions.get(person.organisation_id))
        if text != person.search_text:
            person.search_text = text
            changed.append(person)
        if len(changed) >= BATCH:
            update_rows(User, ["search_text"], changed)
            changed = []
    update_rows(User, ["search_text"], changed)


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        logger.warning("People search is not indexed: the pg_trgm extension could not be created (%s). "
                       "Searches scan every person. To index them: CREATE EXTENSION pg_trgm as a superuser, "
                       "then manage.py migrate accounts 0012 and manage.py migrate.", str(error).strip())
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON accounts_user USING gin (({DOCUMENT_SQL}) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0012_history_search_time_zone"),
    ]

    operations = [
        migrations.RunPython(fill_search_text, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_index, drop_index),
    ]
