"""Notification phone numbers: E.164 through `phonenumbers`, and never a blocker.

Example numbers are ones libphonenumber holds valid (`phonenumbers.example_number`):
Ofcom's drama range (07700 900xxx) is unallocated, so it is reported as unusable.
"""

import pytest

from accounts.actions import NormalisedPhone, normalise_phone, set_notification_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("07400 123456", "GB", "+447400123456"),
        ("07400123456", "GB", "+447400123456"),
        ("020 7946 0123", "GB", "+442079460123"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("201-555-0123", "US", "+12015550123"),
    ],
)
def test_a_national_number_is_read_in_the_organisations_region(raw, region, e164):
    assert normalise_phone(raw, region) == NormalisedPhone(e164, "")


def test_the_same_national_digits_mean_different_numbers_in_different_regions():
    assert normalise_phone("(201) 555-0123", "US").e164 == "+12015550123"
    assert normalise_phone("(201) 555-0123", "GB").e164 == "+442015550123"


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+44 7400 123456", "GB"),
        ("+44 7400 123456", "US"),
        ("+44 (0)7400 123456", "US"),
        ("0044 7400 123456", "GB"),
        ("  +447400123456  ", "US"),
    ],
)
def test_an_international_number_is_read_whatever_the_region(raw, region):
    assert normalise_phone(raw, region) == NormalisedPhone("+447400123456", "")


def test_an_international_number_from_america_is_read_in_britain():
    assert normalise_phone("+1 201 555 0123", "GB") == NormalisedPhone("+12015550123", "")


@pytest.mark.parametrize("raw", ["12", "not a number", "+44 12", "07400 12345678901", "+999 1234 5678"])
def test_an_unusable_number_gives_no_number_and_says_why(raw):
    result = normalise_phone(raw, "GB")

    assert result.e164 == ""
    assert result.problem


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_no_number_is_not_a_problem(raw):
    assert normalise_phone(raw, "GB") == NormalisedPhone("", "")


# set_notification_phone on a person (unsaved: the caller saves).


def test_a_number_from_the_identity_provider_is_kept_as_sent_beside_its_e164_form(acme):
    set_notification_phone(acme.user, "07400 123456", from_identity_provider=True)

    assert acme.user.idp_notification_phone == "07400 123456"
    assert acme.user.notification_phone == "+447400123456"
    assert acme.user.phone_problem == ""


def test_national_numbers_are_read_in_the_persons_organisations_region(acme, globex):
    set_notification_phone(acme.user, "+1 (201) 555-0123", from_identity_provider=True)
    set_notification_phone(globex.user, "(201) 555-0123", from_identity_provider=True)

    assert acme.user.notification_phone == "+12015550123"
    assert globex.user.notification_phone == "+12015550123"
    assert globex.user.idp_notification_phone == "(201) 555-0123"


def test_an_unusable_number_from_the_identity_provider_is_kept_and_flagged_without_blocking(acme):
    user = acme.user

    set_notification_phone(user, "not a number", from_identity_provider=True)
    user.save()

    user.refresh_from_db()
    assert user.idp_notification_phone == "not a number"
    assert user.notification_phone == ""
    assert user.phone_problem


def test_a_usable_number_clears_an_earlier_problem(acme):
    set_notification_phone(acme.user, "12", from_identity_provider=True)
    assert acme.user.phone_problem

    set_notification_phone(acme.user, "07400 123456", from_identity_provider=True)

    assert acme.user.phone_problem == ""
    assert acme.user.notification_phone == "+447400123456"


def test_the_identity_provider_clearing_the_number_clears_both(acme):
    set_notification_phone(acme.user, "07400 123456", from_identity_provider=True)

    set_notification_phone(acme.user, None, from_identity_provider=True)

    assert acme.user.idp_notification_phone is None
    assert acme.user.notification_phone == ""
    assert acme.user.phone_problem == ""


def test_a_number_entered_in_klaxon_leaves_the_identity_providers_value_alone(acme):
    set_notification_phone(acme.user, "+44 7400 123456", from_identity_provider=True)

    set_notification_phone(acme.user, "+1 201 555 0123", from_identity_provider=False)

    assert acme.user.idp_notification_phone == "+44 7400 123456"
    assert acme.user.notification_phone == "+12015550123"
    assert acme.user.phone_problem == ""
