"""`bootstrap_site` creates or updates an organisation and its administrator, idempotently."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Organisation, User
from locations.models import DEFAULT_LOCATION_NAME, Location

ARGS = ["--organisation", "Demo Organisation", "--slug", "demo", "--admin-email", "admin@demo.klaxon.test"]
JSON_KEYS = {"organisation", "sign_in_url", "username", "password", "locations"}


def bootstrap(*extra):
    out = StringIO()
    call_command("bootstrap_site", *ARGS, *extra, stdout=out)
    return out.getvalue()


def bootstrap_json(*extra):
    return json.loads(bootstrap(*extra, "--json"))


def can_sign_in(organisation, username, password):
    response = Client().post("/sign-in/", {"organisation": organisation, "username": username, "password": password})
    return response.status_code == 302


def test_bootstrap_creates_the_organisation_its_locations_and_a_site_administrator(db):
    result = bootstrap_json("--admin-password", "first-password", "--locations", "London, Leeds ,,Manchester")

    assert set(result) == JSON_KEYS
    assert result["organisation"] == "demo"
    assert result["username"] == "admin@demo.klaxon.test"
    assert result["password"] == "first-password"
    assert result["sign_in_url"].endswith("/sign-in/")
    assert result["locations"] == [DEFAULT_LOCATION_NAME, "Leeds", "London", "Manchester"]
    organisation = Organisation.objects.get(slug="demo")
    assert organisation.name == "Demo Organisation"
    admin = organisation.users.get()
    assert admin.role == User.Role.SITE_ADMIN
    assert admin.email == "admin@demo.klaxon.test"
    assert admin.location.is_default


def test_running_bootstrap_twice_changes_nothing(db):
    args = ("--admin-password", "first-password", "--locations", "London,Leeds")
    first = bootstrap_json(*args)

    second = bootstrap_json(*args)

    assert second == first
    assert Organisation.objects.count() == 1
    assert User.objects.count() == 1
    assert Location.objects.count() == 3
    assert Location.objects.filter(is_default=True).count() == 1


def test_rerunning_bootstrap_with_locations_in_another_case_does_not_duplicate_them(db):
    bootstrap_json("--locations", "London,Leeds")

    result = bootstrap_json("--locations", " LONDON ,leeds,Manchester")

    assert result["locations"] == [DEFAULT_LOCATION_NAME, "Leeds", "London", "Manchester"]
    assert Location.objects.count() == 4


def test_the_printed_administrator_can_sign_in(db):
    result = bootstrap_json("--admin-password", "first-password")

    assert can_sign_in(result["organisation"], result["username"], result["password"])


def test_a_new_administrator_without_a_password_gets_a_generated_one_that_works(db):
    result = bootstrap_json()

    assert len(result["password"]) >= 12
    assert can_sign_in(result["organisation"], result["username"], result["password"])


def test_the_text_output_says_how_to_sign_in(db):
    output = bootstrap("--admin-password", "first-password")

    assert "/sign-in/" in output
    assert "demo" in output
    assert "admin@demo.klaxon.test" in output
    assert "first-password" in output


def test_a_rerun_without_a_password_keeps_the_administrators_password(db):
    bootstrap_json("--admin-password", "first-password")

    result = bootstrap_json()

    assert result["password"] is None
    assert can_sign_in("demo", "admin@demo.klaxon.test", "first-password")


def test_a_rerun_with_a_password_changes_it(db):
    bootstrap_json("--admin-password", "first-password")

    result = bootstrap_json("--admin-password", "second-password")

    assert result["password"] == "second-password"
    assert can_sign_in("demo", "admin@demo.klaxon.test", "second-password")
    assert not can_sign_in("demo", "admin@demo.klaxon.test", "first-password")
    assert User.objects.count() == 1


def test_a_rerun_restores_a_deactivated_or_demoted_administrator(db):
    bootstrap_json("--admin-password", "first-password")
    User.objects.update(is_active=False, role=User.Role.USER)

    bootstrap_json()

    admin = User.objects.get()
    assert admin.is_active
    assert admin.role == User.Role.SITE_ADMIN
    assert can_sign_in("demo", "admin@demo.klaxon.test", "first-password")


def test_a_rerun_with_a_new_name_renames_the_organisation(db):
    bootstrap_json()

    call_command(
        "bootstrap_site",
        "--organisation",
        "Demo Ltd",
        "--slug",
        "demo",
        "--admin-email",
        "admin@demo.klaxon.test",
        stdout=StringIO(),
    )

    assert list(Organisation.objects.values_list("name", flat=True)) == ["Demo Ltd"]


def test_bootstrap_leaves_other_organisations_alone(acme):
    bootstrap_json("--locations", "London")

    assert acme.organisation.locations.count() == 3
    assert acme.organisation.users.count() == 2
    assert Organisation.objects.count() == 2


def test_a_bad_phone_region_is_an_operator_error(db):
    with pytest.raises(CommandError):
        bootstrap("--phone-region", "XX")

    assert not Organisation.objects.exists()
