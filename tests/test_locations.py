"""Location resolution, and people moving when locations are created, renamed or deleted."""

import pytest
from django.core.exceptions import ValidationError

from accounts.actions import create_manual_user, set_idp_location, set_location
from locations.actions import create_location, delete_location, rename_location, resolve_location
from locations.models import DEFAULT_LOCATION_NAME, Location


def location(tenant, name):
    return tenant.organisation.locations.get(name=name)


def default(tenant):
    return tenant.organisation.locations.get(is_default=True)


def person_sent(tenant, user_name, idp_location):
    """Someone whose identity provider sent `idp_location` as their location."""
    user = create_manual_user(tenant.organisation, user_name)
    set_idp_location(user, idp_location)
    user.save()
    return user


def location_of(user):
    user.refresh_from_db()
    return user.location


# Resolution of a name sent by the identity provider.


@pytest.mark.parametrize("sent", ["London", "london", "LONDON", "  London  ", "\tlOnDoN\n"])
def test_a_location_name_is_matched_trimmed_and_in_any_case(acme, sent):
    assert resolve_location(acme.organisation, sent) == location(acme, "London")


@pytest.mark.parametrize("sent", ["Paris", "Lond", "London Bridge", "", "   ", None])
def test_an_unknown_or_missing_location_resolves_to_default(acme, sent):
    assert resolve_location(acme.organisation, sent) == default(acme)


def test_a_location_of_another_organisation_is_never_matched(acme, globex):
    assert Location.objects.filter(organisation=globex.organisation, name="Springfield").exists()

    assert resolve_location(acme.organisation, "Springfield") == default(acme)
    assert resolve_location(globex.organisation, "London") == default(globex)


def test_default_itself_resolves_to_the_organisations_own_default(acme, globex):
    assert resolve_location(acme.organisation, "default") == default(acme)
    assert resolve_location(globex.organisation, "DEFAULT") == default(globex)


def test_a_person_follows_the_location_their_identity_provider_sends(acme):
    user = person_sent(acme, "sam", " leeds ")

    assert location_of(user) == location(acme, "Leeds")
    assert user.idp_location == " leeds "


# Creating a location.


def test_creating_a_location_picks_up_people_on_default_who_were_sent_its_name(acme):
    exact = person_sent(acme, "exact", "Manchester")
    shouting = person_sent(acme, "shouting", "MANCHESTER")
    padded = person_sent(acme, "padded", "  manchester  ")
    assert {location_of(u) for u in (exact, shouting, padded)} == {default(acme)}

    manchester, picked_up = create_location(acme.organisation, "Manchester")

    assert picked_up == 3
    assert [location_of(u) for u in (exact, shouting, padded)] == [manchester] * 3


def test_creating_a_location_leaves_people_sent_another_name_on_default(acme):
    elsewhere = person_sent(acme, "elsewhere", "Manchester Airport")
    unsent = person_sent(acme, "unsent", None)

    _, picked_up = create_location(acme.organisation, "Manchester")

    assert picked_up == 0
    assert location_of(elsewhere) == default(acme)
    assert location_of(unsent) == default(acme)


def test_creating_a_location_leaves_people_on_other_locations_where_they_are(acme):
    # Sent "Manchester" while it did not exist, then placed in Leeds by an administrator:
    # only people still waiting on Default move.
    placed = person_sent(acme, "placed", "Manchester")
    set_location(placed, location(acme, "Leeds"))

    _, picked_up = create_location(acme.organisation, "Manchester")

    assert picked_up == 0
    assert location_of(placed) == location(acme, "Leeds")


def test_creating_a_location_leaves_other_organisations_alone(acme, globex):
    theirs = person_sent(globex, "theirs", "Manchester")
    ours = person_sent(acme, "ours", "Manchester")

    manchester, picked_up = create_location(acme.organisation, "Manchester")

    assert picked_up == 1
    assert location_of(ours) == manchester
    assert location_of(theirs) == default(globex)


def test_a_new_location_name_is_trimmed(acme):
    manchester, _ = create_location(acme.organisation, "  Manchester ")

    assert manchester.name == "Manchester"


@pytest.mark.parametrize("name", ["London", "london", " LONDON ", "default", "DEFAULT"])
def test_creating_a_location_with_a_name_already_used_in_any_case_is_refused(acme, name):
    with pytest.raises(ValidationError):
        create_location(acme.organisation, name)

    assert acme.organisation.locations.filter(name__iexact=name.strip()).count() == 1


@pytest.mark.parametrize("name", ["", "   ", None])
def test_a_location_needs_a_name(acme, name):
    count = acme.organisation.locations.count()

    with pytest.raises(ValidationError):
        create_location(acme.organisation, name)

    assert acme.organisation.locations.count() == count


# Renaming a location.


def test_renaming_a_location_picks_up_people_on_default_who_were_sent_the_new_name(acme, globex):
    waiting = person_sent(acme, "waiting", " manchester")
    theirs = person_sent(globex, "theirs", "Manchester")
    leeds = location(acme, "Leeds")
    set_location(acme.user, leeds)

    picked_up = rename_location(leeds, "Manchester")

    assert picked_up == 1
    leeds.refresh_from_db()
    assert leeds.name == "Manchester"
    assert location_of(waiting) == leeds
    assert location_of(acme.user) == leeds
    assert location_of(theirs) == default(globex)


def test_renaming_a_location_to_a_name_already_used_in_any_case_is_refused(acme):
    leeds = location(acme, "Leeds")

    with pytest.raises(ValidationError):
        rename_location(leeds, "LONDON")

    leeds.refresh_from_db()
    assert leeds.name == "Leeds"


def test_a_location_may_be_renamed_to_a_different_case_of_its_own_name(acme):
    leeds = location(acme, "Leeds")

    rename_location(leeds, "LEEDS")

    leeds.refresh_from_db()
    assert leeds.name == "LEEDS"


# Deleting a location.


def test_deleting_a_location_moves_its_people_to_default(acme):
    leeds = location(acme, "Leeds")
    sent_leeds = person_sent(acme, "sent", "Leeds")
    set_location(acme.user, leeds)
    assert location_of(sent_leeds) == leeds

    moved = delete_location(leeds)

    assert moved == 2
    assert not Location.objects.filter(pk=leeds.pk).exists()
    assert location_of(sent_leeds) == default(acme)
    assert location_of(acme.user) == default(acme)
    # What the identity provider sent is kept, so recreating the location picks them up again.
    assert sent_leeds.idp_location == "Leeds"


def test_deleting_a_location_leaves_people_elsewhere_where_they_are(acme, globex):
    london = location(acme, "London")
    set_location(acme.admin, london)
    set_location(globex.user, location(globex, "Springfield"))

    delete_location(location(acme, "Leeds"))

    assert location_of(acme.admin) == london
    assert location_of(globex.user) == location(globex, "Springfield")


def test_recreating_a_deleted_location_picks_its_people_up_again(acme):
    sent_leeds = person_sent(acme, "sent", "Leeds")
    delete_location(location(acme, "Leeds"))

    leeds, picked_up = create_location(acme.organisation, "leeds")

    assert picked_up == 1
    assert location_of(sent_leeds) == leeds


def test_the_default_location_is_named_default(acme):
    assert default(acme).name == DEFAULT_LOCATION_NAME
