"""Names a person cannot tell apart are one name (finding 8 of the trust-boundary review).

userNames, e-mail addresses, group and location names compare by their identity key
(accounts/identity.py: NFKC, case folding, NFKC), the same on SQLite and PostgreSQL;
invisible and bidirectional control characters are refused in them.
"""

import unicodedata
from io import StringIO
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.identity import identity_key
from accounts.models import Group, User
from locations.actions import create_location
from tests.scim import KLAXON, assert_scim_error, directory_snapshot, new_group, new_user

NFC = unicodedata.normalize("NFC", "josé@acme.test")
NFD = unicodedata.normalize("NFD", "josé@acme.test")


def test_the_identity_key_folds_unicode_forms_case_and_compatibility_characters():
    assert NFC != NFD and identity_key(NFC) == identity_key(NFD)
    assert identity_key("straße@acme.test") == identity_key("STRASSE@acme.test")
    assert identity_key("ＪＯ@acme.test") == identity_key("jo@acme.test")
    assert identity_key("ÖBERG") == identity_key("öberg")


@pytest.mark.parametrize(
    "first, second", [(NFC, NFD), ("straße@acme.test", "STRASSE@acme.test"), ("Zoë@acme.test", "ZOË@ACME.TEST")]
)
def test_a_look_alike_user_name_is_a_409_not_a_second_person(scim, acme, first, second):
    assert scim.post("/Users", new_user(first)).status_code == 201

    body = assert_scim_error(scim.post("/Users", new_user(second)), 409, "uniqueness")

    assert "userName" in body["detail"]
    assert User.objects.filter(organisation=acme.organisation, user_name_key=identity_key(first)).count() == 1


def test_the_matching_filter_finds_a_person_by_any_look_alike_of_their_user_name(scim):
    created = scim.post("/Users", new_user(NFC)).json()

    for form in (NFD, NFC.upper(), "JOSÉ@ACME.TEST"):
        text = f'userName eq "{form}"'
        found = scim.get(f"/Users?filter={quote(text)}").json()
        assert [r["id"] for r in found["Resources"]] == [created["id"]], form


def test_the_user_name_is_echoed_exactly_as_sent(scim):
    created = scim.post("/Users", new_user(NFD)).json()

    assert created["userName"] == NFD
    assert scim.get(f"/Users/{created['id']}").json()["userName"] == NFD


@pytest.mark.parametrize("character", ["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00ad", "\x07"])
def test_a_user_name_with_an_invisible_or_bidirectional_character_is_refused(scim, acme, character):
    before = directory_snapshot(acme.organisation)

    body = assert_scim_error(scim.post("/Users", new_user(f"jo{character}@acme.test")), 400, "invalidValue")

    assert f"U+{ord(character):04X}" in body["detail"] and "userName" in body["detail"]
    assert directory_snapshot(acme.organisation) == before


def test_an_email_with_a_hidden_character_is_refused(scim):
    emails = [{"value": "jo\u200b@acme.test", "type": "work", "primary": True}]

    body = assert_scim_error(scim.post("/Users", new_user("jo2@acme.test", emails=emails)), 400, "invalidValue")

    assert "emails.value" in body["detail"]


def test_a_provider_location_with_a_hidden_character_is_refused(scim):
    document = new_user("sam@acme.test", **{KLAXON: {"location": "Lon\u200bdon"}})

    assert_scim_error(scim.post("/Users", document), 400, "invalidValue")


def test_a_look_alike_group_name_is_a_409_naming_display_name(scim, acme):
    assert scim.post("/Groups", new_group("Straße Team")).status_code == 201

    body = assert_scim_error(scim.post("/Groups", new_group("STRASSE TEAM")), 409, "uniqueness")

    assert body["detail"].startswith("displayName 'STRASSE TEAM' is already taken")
    assert Group.objects.filter(organisation=acme.organisation).count() == 1


def test_a_group_name_with_a_bidirectional_override_is_refused(scim):
    assert_scim_error(scim.post("/Groups", new_group("Ops\u202eevil")), 400, "invalidValue")


def test_a_look_alike_location_name_is_refused(acme):
    create_location(acme.organisation, "Zürich")

    with pytest.raises(ValidationError):
        create_location(acme.organisation, unicodedata.normalize("NFD", "ZÜRICH"))
    with pytest.raises(ValidationError):
        create_location(acme.organisation, "Zu\u200brich")


def test_a_provider_location_matches_a_location_in_any_unicode_form_and_case(scim, acme):
    zurich, _ = create_location(acme.organisation, "Zürich")
    sent = unicodedata.normalize("NFD", " ZÜRICH ")

    created = scim.post("/Users", new_user("z@acme.test", **{KLAXON: {"location": sent}})).json()

    assert User.objects.get(scim_id=created["id"]).location == zurich
    assert created[KLAXON]["location"] == sent


def test_people_waiting_on_default_move_to_a_new_location_named_in_another_form(scim, acme):
    created = scim.post("/Users", new_user("w@acme.test", **{KLAXON: {"location": "GÖTEBORG"}})).json()

    goteborg, picked_up = create_location(acme.organisation, unicodedata.normalize("NFD", "Göteborg"))

    assert picked_up == 1
    assert User.objects.get(scim_id=created["id"]).location == goteborg


@pytest.mark.django_db(transaction=True)
def test_migrating_reports_existing_look_alikes_and_merges_nothing(capsys):
    """Before identity keys, "josé" in both Unicode forms could be two people: the migration
    keeps both, gives the second no key, and says so; report_lookalikes lists it."""
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0006_location_read_back_on_insert"), ("locations", "0001_initial")])
    apps = executor.loader.project_state(
        [("accounts", "0006_location_read_back_on_insert"), ("locations", "0001_initial")]
    ).apps
    Organisation, OldUser = apps.get_model("accounts", "Organisation"), apps.get_model("accounts", "User")
    OldLocation = apps.get_model("locations", "Location")
    organisation = Organisation.objects.create(name="Old", slug="old")
    default = OldLocation.objects.create(organisation=organisation, name="Default", is_default=True)
    first = OldUser.objects.create(organisation=organisation, user_name=NFC, location=default, password="x")
    second = OldUser.objects.create(organisation=organisation, user_name=NFD, location=default, password="!")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert f"accounts.User {second.pk}" in capsys.readouterr().out
    assert User.objects.get(pk=first.pk).user_name_key == identity_key(NFC)
    assert User.objects.get(pk=second.pk).user_name_key is None
    assert User.objects.get(pk=first.pk).recovery_email == ""  # no e-mail to verify
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("report_lookalikes", stdout=out)
    assert f"old: person {second.pk} '{NFD}' looks like another name" in out.getvalue()
    User.objects.filter(pk=second.pk).update(user_name="jose.second@acme.test")
    call_command("report_lookalikes", "--fix", stdout=StringIO())
    assert User.objects.get(pk=second.pk).user_name_key == "jose.second@acme.test"
