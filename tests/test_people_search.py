"""People search (accounts/search.py): names, e-mail, userName, the location the identity
provider sent, department and phone numbers in any format, ignoring accents and case.

Run on SQLite and PostgreSQL; on PostgreSQL the search document has a trigram index."""

import importlib
import logging

import pytest
from django.apps import apps
from django.db import DatabaseError, connection
from django.urls import reverse

from accounts import actions, search
from accounts.models import User

migration = importlib.import_module("accounts.migrations.0013_people_search_index")


@pytest.fixture
def zoe(acme):
    """Provisioned with Entra's default mappings: mobile number and work city, which matched
    no location."""
    return actions.provision_user(
        acme.organisation,
        {
            "user_name": "zoe.bronte@acme.test",
            "given_name": "Zoë",
            "family_name": "Brontë",
            "email": "Zoe.Bronte@Acme.test",
            "department": "Sécurité Opérations",
            "idp_phones": [["mobile", "07400 123456"]],
            "idp_address": {"locality": "Bristol"},
        },
    )


@pytest.fixture
def sam(acme):
    return actions.provision_user(
        acme.organisation,
        {
            "user_name": "sam.okafor@acme.test",
            "given_name": "Sam",
            "family_name": "Okafor",
            "email": "sam@acme.test",
            "department": "Facilities",
            "idp_location": "Leeds",
            "idp_notification_phone": "+1 415 555 0100",
        },
    )


def found(client, text) -> list[str]:
    response = client.get(reverse("accounts:people"), {"q": text})
    assert response.status_code == 200
    return sorted(person.user_name for person in response.context["page"].object_list)


ZOE = ["zoe.bronte@acme.test"]


@pytest.mark.parametrize("text", ["zoe", "ZOE", "Zoë", "zoë", "bronte", "BRONTË", "zoe bronte", "Bronte Zoe", "oë Bro"])
def test_a_name_is_found_in_any_case_with_or_without_its_accents(as_admin, zoe, sam, text):
    assert found(as_admin, text) == ZOE


def test_a_plain_name_is_found_by_an_accented_query(as_admin, sam):
    assert found(as_admin, "Sâm Ökafor") == ["sam.okafor@acme.test"]


@pytest.mark.parametrize("text", ["zoe.bronte@", "ZOE.BRONTE@ACME.TEST", "bronte@acme", "zoe.bronte@acme.test"])
def test_a_person_is_found_by_their_email_and_user_name(as_admin, zoe, sam, text):
    assert found(as_admin, text) == ZOE


@pytest.mark.parametrize("text", ["securite", "Opérations", "sécurité opé"])
def test_a_person_is_found_by_their_department(as_admin, zoe, sam, text):
    assert found(as_admin, text) == ZOE


def test_a_person_is_found_by_the_location_the_provider_sent_even_when_it_matched_nothing(as_admin, zoe, sam):
    assert zoe.location.is_default

    assert found(as_admin, "bristol") == ZOE
    assert found(as_admin, "BRIS") == ZOE
    assert found(as_admin, "leeds") == ["sam.okafor@acme.test"]


@pytest.mark.parametrize(
    "text",
    [
        "07400 123456",
        "+44 7400 123456",
        "7400123456",
        "+447400123456",
        "0044 7400 123456",
        "07400-123-456",
        "(07400) 123 456",
        "123456",
        "07400 123",
        "+44 (0)7400 123456",
    ],
)
def test_a_number_is_found_typed_in_any_format(as_admin, zoe, sam, text):
    assert found(as_admin, text) == ZOE


@pytest.mark.parametrize("text", ["+1 415 555 0100", "415 555 0100", "(415) 555-0100", "14155550100", "555-0100"])
def test_a_number_from_abroad_is_found_in_its_own_formats(as_admin, zoe, sam, text):
    assert found(as_admin, text) == ["sam.okafor@acme.test"]


def test_the_search_text_holds_folded_text_and_both_forms_of_each_number(zoe):
    zoe.refresh_from_db()

    assert zoe.search_text.split(" ")[:2] == ["zoe", "bronte"]
    assert "securite operations" in zoe.search_text
    assert "447400123456" in zoe.search_text and "07400123456" in zoe.search_text
    assert "Zoë" not in zoe.search_text


def test_a_number_the_person_set_themselves_is_found_at_once(as_admin, acme, zoe):
    actions.update_own_profile(zoe, location=zoe.location, notification_phone="+447400999888")

    assert found(as_admin, "07400 999888") == ZOE
    assert found(as_admin, "+44 7400 999 888") == ZOE
    assert found(as_admin, "07400 123456") == ZOE  # what the provider sent is still theirs


def test_numbers_and_locations_a_change_of_fallbacks_recomputes_are_found(as_admin, acme):
    person = actions.provision_user(
        acme.organisation,
        {
            "user_name": "kai@acme.test",
            "idp_phones": [["mobile", "07400 100200"], ["work", "020 7946 0123"]],
            "idp_address": {"locality": "Bristol", "region": "Zürich"},
        },
    )
    assert found(as_admin, "020 7946 0123") == []

    # An UPDATE that never reaches pre_save: the live columns carry the new values.
    actions.set_reachability_fallbacks(acme.organisation, phone_types=["work"], address_field="region")
    person.refresh_from_db()
    assert person.notification_phone == "+442079460123" and person.idp_location == "Zürich"

    assert found(as_admin, "020 7946 0123") == ["kai@acme.test"]
    assert found(as_admin, "+44 20 7946 0123") == ["kai@acme.test"]
    assert found(as_admin, "Zürich") == ["kai@acme.test"]


def test_several_words_must_all_match(as_admin, zoe, sam):
    assert found(as_admin, "zoe bristol") == ZOE
    assert found(as_admin, "zoe leeds") == []


@pytest.mark.parametrize("text", ["%", "_", "\\", "zo%e", "z_e", "'", "\u0301"])
def test_like_wildcards_and_marks_alone_find_nobody(as_admin, zoe, sam, text):
    assert found(as_admin, text) == []


def test_another_organisations_people_are_never_found(as_admin, zoe, globex):
    actions.provision_user(globex.organisation, {"user_name": "zoe@globex.test", "given_name": "Zoë"})

    assert found(as_admin, "zoe") == ZOE


def test_bulk_create_fills_the_search_text(acme):
    User.objects.bulk_create(
        [
            User(
                organisation=acme.organisation,
                user_name="bulk@acme.test",
                given_name="Ørjan",
                family_name="Ångström",
                notification_phone="+447400555666",
            ),
        ]
    )

    person = User.objects.get(user_name="bulk@acme.test")
    assert person.search_text == "ørjan angstrom bulk@acme.test 447400555666 07400555666"


def test_saving_some_fields_refreshes_the_search_text(acme):
    acme.user.given_name = "Jöanna"
    acme.user.save(update_fields=["given_name"])

    acme.user.refresh_from_db()
    assert acme.user.search_text.startswith("joanna user")


class Editor:
    """What the data migration uses of its schema editor."""

    connection = connection


def test_the_migration_fills_the_search_text_of_existing_people(acme, zoe, sam):
    User.objects.update(search_text="")

    migration.fill_search_text(apps, Editor())

    texts = dict(User.objects.values_list("user_name", "search_text"))
    assert texts["zoe.bronte@acme.test"].startswith("zoe bronte zoe.bronte@acme.test")
    assert "14155550100" in texts["sam.okafor@acme.test"]
    assert all(texts.values())


class RefusingCursor:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=None):
        raise DatabaseError('permission denied to create extension "pg_trgm"')


class PostgresWithoutTrigrams:
    """A PostgreSQL connection on which CREATE EXTENSION fails (a managed database that
    refuses it), wrapping the test database's connection for transactions."""

    vendor = "postgresql"
    alias = connection.alias

    def cursor(self):
        return RefusingCursor()


class RecordingEditor:
    connection = PostgresWithoutTrigrams()

    def __init__(self):
        self.executed = []

    def execute(self, sql, params=()):
        self.executed.append(sql)


def test_without_the_trigram_extension_the_migration_succeeds_without_the_index(db, caplog):
    editor = RecordingEditor()

    with caplog.at_level(logging.WARNING, logger="accounts.migrations"):
        migration.create_index(apps, editor)

    assert editor.executed == []
    assert "People search is not indexed" in caplog.text


def test_the_index_is_built_on_the_same_expression_the_search_queries():
    assert migration.DOCUMENT_SQL == search.DOCUMENT_SQL


def test_the_search_is_served_by_the_trigram_index_on_postgresql_and_scans_on_sqlite(acme, zoe):
    """PostgreSQL: the GIN trigram index serves the search. SQLite has no such index and scans
    (it serves one machine's small directories); there the migration must have built none."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name = %s", [migration.INDEX_NAME])
            assert cursor.fetchone() is None
        assert User.objects.filter(search.matching("zoe", "GB")).exists()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [migration.INDEX_NAME])
        assert "gin_trgm_ops" in cursor.fetchone()[0]
        cursor.execute("SET enable_seqscan = off")  # a table this small would be scanned anyway
    try:
        for text in ("zoe", "07400 123456"):
            plan = User.objects.filter(search.matching(text, "GB")).explain()
            assert migration.INDEX_NAME in plan, plan
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
