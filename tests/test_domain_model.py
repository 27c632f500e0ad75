"""Rules of the domain model that the database itself enforces.

Each uniqueness test writes with the ORM's plain create()/update(), which skips Python
validation, so only a database constraint can refuse the row.
"""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.actions import create_organisation
from accounts.models import Group, User
from locations.actions import delete_location, rename_location
from locations.models import DEFAULT_LOCATION_NAME, Location


def add_user(organisation, user_name, **fields):
    return User.objects.create(organisation=organisation, user_name=user_name, **fields)


# userName: RFC 7643 §4.1.1 makes it caseExact false, so uniqueness ignores case.


def test_a_user_name_is_unique_within_an_organisation_whatever_its_case(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        add_user(acme.organisation, acme.user.user_name.upper())


def test_the_same_user_name_is_allowed_in_another_organisation(acme, globex):
    add_user(globex.organisation, acme.user.user_name)
    add_user(globex.organisation, "ADMIN@ACME.TEST")

    assert User.objects.filter(user_name__iexact=acme.user.user_name).count() == 2


def test_staff_user_names_are_unique_whatever_their_case(db):
    User.objects.create_superuser("staff", "pw")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_superuser("STAFF", "pw")


def test_a_person_outside_any_organisation_must_be_staff(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(organisation=None, user_name="nobody", is_staff=False)


# externalId: RFC 7643 §3.1 makes it caseExact true, so only an exact repeat clashes.


def test_an_external_id_is_unique_within_an_organisation(acme):
    add_user(acme.organisation, "first", external_id="00u1abcd")

    with pytest.raises(IntegrityError), transaction.atomic():
        add_user(acme.organisation, "second", external_id="00u1abcd")


def test_external_ids_differing_only_in_case_are_different_ids(acme):
    add_user(acme.organisation, "first", external_id="00u1abcd")
    add_user(acme.organisation, "second", external_id="00U1ABCD")

    assert User.objects.filter(organisation=acme.organisation, external_id__iexact="00u1abcd").count() == 2


def test_many_people_may_have_no_external_id(acme):
    add_user(acme.organisation, "first", external_id=None)
    add_user(acme.organisation, "second", external_id=None)

    assert User.objects.filter(organisation=acme.organisation, external_id=None).count() == 4  # with the two personas


def test_the_same_external_id_is_allowed_in_another_organisation(acme, globex):
    add_user(acme.organisation, "first", external_id="00u1abcd")
    add_user(globex.organisation, "first", external_id="00u1abcd")

    assert User.objects.filter(external_id="00u1abcd").count() == 2


# Groups: displayName is unique within the organisation, case-insensitively.


def test_a_group_display_name_is_unique_within_an_organisation_whatever_its_case(acme):
    Group.objects.create(organisation=acme.organisation, display_name="On-call Engineers")

    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(organisation=acme.organisation, display_name="ON-CALL engineers")


def test_the_same_group_display_name_is_allowed_in_another_organisation(acme, globex):
    Group.objects.create(organisation=acme.organisation, display_name="On-call Engineers")
    Group.objects.create(organisation=globex.organisation, display_name="On-call Engineers")

    assert Group.objects.filter(display_name="On-call Engineers").count() == 2


def test_a_group_external_id_is_unique_within_an_organisation_when_set(acme, globex):
    Group.objects.create(organisation=acme.organisation, display_name="One", external_id=None)
    Group.objects.create(organisation=acme.organisation, display_name="Two", external_id=None)
    Group.objects.create(organisation=acme.organisation, display_name="Three", external_id="8aa1a0c0")
    Group.objects.create(organisation=globex.organisation, display_name="Three", external_id="8aa1a0c0")

    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(organisation=acme.organisation, display_name="Four", external_id="8aa1a0c0")


# Locations: the name is unique within the organisation, case-insensitively.


def test_a_location_name_is_unique_within_an_organisation_whatever_its_case(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        Location.objects.create(organisation=acme.organisation, name="LONDON")


def test_the_same_location_name_is_allowed_in_another_organisation(acme, globex):
    Location.objects.create(organisation=globex.organisation, name="london")

    assert Location.objects.filter(name__iexact="London").count() == 2


# The Default location.


def test_an_organisation_is_created_with_its_default_location(db):
    organisation = create_organisation("Initech", "initech")

    locations = list(organisation.locations.all())
    assert [(location.name, location.is_default) for location in locations] == [(DEFAULT_LOCATION_NAME, True)]


def test_an_organisation_has_exactly_one_default_location(acme, globex):
    for tenant in (acme, globex):
        defaults = tenant.organisation.locations.filter(is_default=True)
        assert [location.name for location in defaults] == [DEFAULT_LOCATION_NAME]
        assert tenant.organisation.locations.count() > 1


def test_people_start_on_the_default_location(acme):
    assert acme.user.location.is_default
    assert acme.user.location.organisation == acme.organisation


def test_the_default_location_cannot_be_deleted_from_the_model(acme):
    default = acme.organisation.locations.get(is_default=True)

    with pytest.raises(ValidationError):
        default.delete()

    assert Location.objects.filter(pk=default.pk).exists()


def test_the_default_location_cannot_be_deleted_by_the_action(acme):
    default = acme.organisation.locations.get(is_default=True)

    with pytest.raises(ValidationError):
        delete_location(default)

    assert Location.objects.filter(pk=default.pk, name=DEFAULT_LOCATION_NAME).exists()
    acme.user.refresh_from_db()
    assert acme.user.location_id == default.pk


@pytest.mark.parametrize("new_name", ["Head Office", "default", " London "])
def test_the_default_location_cannot_be_renamed(acme, new_name):
    default = acme.organisation.locations.get(is_default=True)

    with pytest.raises(ValidationError):
        rename_location(default, new_name)

    default.refresh_from_db()
    assert default.name == DEFAULT_LOCATION_NAME


def test_the_database_refuses_to_rename_the_default_location(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        Location.objects.filter(organisation=acme.organisation, is_default=True).update(name="Head Office")


def test_the_database_refuses_a_second_default_location(acme):
    # The name rules also forbid this row (a second "Default"), so the database refuses it
    # whichever rule it checks first.
    with pytest.raises(IntegrityError), transaction.atomic():
        Location.objects.create(organisation=acme.organisation, name=DEFAULT_LOCATION_NAME, is_default=True)


def test_the_database_refuses_to_make_another_location_the_default(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        Location.objects.filter(organisation=acme.organisation, name="London").update(is_default=True)


def test_the_database_holds_a_one_default_per_organisation_rule(db):
    # The two tests above could pass on the name rules alone; this one proves the
    # one-default rule itself reached the database schema.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Location._meta.db_table)

    assert constraints["locations_location_one_default"]["unique"]


def test_timestamps_come_back_exactly_as_written_and_in_utc(acme):
    written = datetime.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=datetime.UTC)
    User.objects.filter(pk=acme.admin.pk).update(date_joined=written)
    read = User.objects.values_list("date_joined", flat=True).get(pk=acme.admin.pk)
    assert read == written and read.tzinfo is datetime.UTC
    if connection.vendor == "postgresql":
        # Read by psycopg's C loader (klaxon_site.db.postgresql), not Django's pure-Python one.
        from psycopg import adapters
        from psycopg.pq import Format

        loader = connection.connection.adapters.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)
        assert loader.__name__ == "UtcTimestamptzLoader"
