"""People are reachable with the identity providers' default mappings (no Klaxon attribute).

Entra ID's default mappings send the mobile number as `phoneNumbers[type eq "mobile"].value`
and the city as `addresses[type eq "work"].locality`; Okta sends `mobilePhone` and `city` the
same way. Rules: accounts/reachability.py.
"""

import pytest

from accounts import actions
from accounts.models import User
from locations.actions import create_location
from tests.scim import KLAXON, assert_scim_error, new_user, patch_op

MOBILE = "+44 7400 100123"
WORK = "+44 20 7946 0000"


def entra_default(user_name="sam@acme.test", *, mobile=MOBILE, work=WORK, city="Leeds", **extra) -> dict:
    """A POST /Users as Entra's default attribute mappings shape it."""
    phones = [p for p in ({"type": "mobile", "value": mobile}, {"type": "work", "value": work}) if p["value"]]
    return new_user(
        user_name,
        phoneNumbers=phones,
        addresses=[{"type": "work", "locality": city, "country": "GB"}] if city else [],
        **extra,
    )


def person(response) -> User:
    assert response.status_code in (200, 201), response.content
    return User.objects.select_related("location").get(scim_id=response.json()["id"])


def test_a_person_with_only_entras_default_mappings_is_reachable(scim, acme):
    response = scim.post("/Users", entra_default())

    sam = person(response)
    assert sam.notification_phone == "+447400100123" and sam.number_source == "phone:mobile"
    assert sam.location.name == "Leeds" and sam.location_source == "address:locality"
    assert response.json()["phoneNumbers"] == entra_default()["phoneNumbers"]  # echoed as sent
    assert KLAXON not in response.json()


def test_an_okta_full_replace_with_mobile_phone_and_city_is_reachable(scim, acme):
    created = person(scim.post("/Users", new_user("sam@acme.test")))
    assert created.notification_phone == "" and created.location.is_default

    body = new_user(
        "sam@acme.test",
        phoneNumbers=[{"type": "mobile", "value": "07400 100456", "primary": True}],
        addresses=[{"type": "work", "locality": "London"}],
    )
    sam = person(scim.put(f"/Users/{created.scim_id}", body))

    assert sam.notification_phone == "+447400100456" and sam.location.name == "London"


def test_the_klaxon_attribute_wins_when_present(scim, acme):
    body = entra_default(**{KLAXON: {"location": "London", "notificationPhoneNumber": "07400 100999"}})

    sam = person(scim.post("/Users", body))

    assert sam.notification_phone == "+447400100999" and sam.number_source == "klaxon"
    assert sam.location.name == "London" and sam.location_source == "klaxon"


def test_removing_the_klaxon_attribute_falls_back(scim, acme):
    body = entra_default(**{KLAXON: {"location": "London", "notificationPhoneNumber": "07400 100999"}})
    sam = person(scim.post("/Users", body))

    sam = person(
        scim.patch(
            f"/Users/{sam.scim_id}",
            patch_op(
                {"op": "remove", "path": f"{KLAXON}:notificationPhoneNumber"},
                {"op": "remove", "path": f"{KLAXON}:location"},
            ),
        )
    )

    assert sam.notification_phone == "+447400100123" and sam.number_source == "phone:mobile"
    assert sam.location.name == "Leeds" and sam.location_source == "address:locality"


def test_entras_patch_of_the_mobile_number_and_city_is_followed(scim, acme):
    sam = person(scim.post("/Users", entra_default()))

    sam = person(
        scim.patch(
            f"/Users/{sam.scim_id}",
            patch_op(
                {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "07400 100777"},
                {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "London"},
            ),
        )
    )

    assert sam.notification_phone == "+447400100777" and sam.location.name == "London"


def test_removing_the_mobile_number_recomputes_from_the_next_type_in_the_order(scim, acme):
    actions.set_reachability_fallbacks(acme.organisation, phone_types=["mobile", "work"], address_field="locality")
    sam = person(scim.post("/Users", entra_default()))

    sam = person(
        scim.patch(f"/Users/{sam.scim_id}", patch_op({"op": "Remove", "path": 'phoneNumbers[type eq "mobile"]'}))
    )

    assert sam.notification_phone == "+442079460000" and sam.number_source == "phone:work"


def test_removing_the_mobile_number_with_no_other_type_leaves_no_number(scim, acme):
    sam = person(scim.post("/Users", entra_default()))

    sam = person(
        scim.patch(f"/Users/{sam.scim_id}", patch_op({"op": "Remove", "path": 'phoneNumbers[type eq "mobile"]'}))
    )

    assert sam.notification_phone == "" and sam.number_source == ""


def test_an_unknown_city_waits_on_default_and_is_picked_up_by_a_new_location(scim, acme):
    sam = person(scim.post("/Users", entra_default(city="Bristol")))
    assert sam.location.is_default and sam.idp_location == "Bristol"

    bristol, picked_up = create_location(acme.organisation, "Bristol")

    assert picked_up == 1
    assert User.objects.get(pk=sam.pk).location == bristol


def test_an_unusable_fallback_number_is_flagged_like_the_klaxon_attribute(scim, acme):
    sam = person(scim.post("/Users", entra_default(mobile="not a number")))

    assert sam.notification_phone == "" and sam.phone_problem == "This is not a phone number."


def test_a_city_that_cannot_name_a_location_is_ignored_not_refused(scim, acme):
    sam = person(scim.post("/Users", entra_default(city="C" * 300)))

    assert sam.location.is_default and sam.idp_location is None


def test_a_value_the_person_set_is_kept_until_the_provider_value_changes(scim, acme):
    sam = person(scim.post("/Users", entra_default()))
    london = acme.organisation.locations.get(name="London")
    actions.update_own_profile(sam, location=london, notification_phone="+447400100555")

    same = person(scim.put(f"/Users/{sam.scim_id}", entra_default()))
    assert same.notification_phone == "+447400100555" and same.number_source == "person"
    assert same.location == london and same.location_source == "person"

    changed = person(scim.put(f"/Users/{sam.scim_id}", entra_default(mobile="07400 100888", city="Leeds ")))
    assert changed.notification_phone == "+447400100888" and changed.number_source == "phone:mobile"
    assert changed.location == london  # " Leeds " is the same city: the person's choice stays


@pytest.mark.parametrize(
    "phone_types, address_field, number, location",
    [
        ([], "", "", "Default"),
        (["work", "mobile"], "locality", "+442079460000", "Leeds"),
        (["mobile"], "country", "+447400100123", "Default"),
    ],
)
def test_changing_the_fallbacks_recomputes_everyone(scim, acme, phone_types, address_field, number, location):
    sam = person(scim.post("/Users", entra_default()))

    changed = actions.set_reachability_fallbacks(
        acme.organisation, phone_types=phone_types, address_field=address_field
    )

    sam.refresh_from_db()
    assert changed == 1
    assert sam.notification_phone == number and sam.location.name == location


def test_turning_a_fallback_off_leaves_klaxon_attribute_people_alone(scim, acme):
    sam = person(scim.post("/Users", entra_default(**{KLAXON: {"notificationPhoneNumber": "07400 100999"}})))

    assert actions.set_reachability_fallbacks(acme.organisation, phone_types=[], address_field="locality") == 0

    sam.refresh_from_db()
    assert sam.notification_phone == "+447400100999"


def test_recomputing_a_large_organisation_is_a_few_bulk_statements(scim, acme, django_assert_max_num_queries):
    for index in range(30):
        assert scim.post("/Users", entra_default(f"p{index}@acme.test")).status_code == 201

    with django_assert_max_num_queries(8):
        changed = actions.set_reachability_fallbacks(acme.organisation, phone_types=["work"], address_field="")

    assert changed == 30
    assert set(
        User.objects.filter(organisation=acme.organisation, source="identity_provider").values_list(
            "notification_phone", flat=True
        )
    ) == {"+442079460000"}


def test_invalid_fallback_settings_are_refused(acme):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        actions.set_reachability_fallbacks(acme.organisation, phone_types=["pager"], address_field="locality")
    with pytest.raises(ValidationError):
        actions.set_reachability_fallbacks(acme.organisation, phone_types=["mobile"], address_field="street")


def test_the_klaxon_location_filter_still_means_the_attribute_as_sent(scim, acme):
    person(scim.post("/Users", entra_default("a@acme.test")))
    sent = person(scim.post("/Users", new_user("b@acme.test", **{KLAXON: {"location": "Leeds"}})))

    found = scim.get(f'/Users?filter={KLAXON}:location eq "leeds"').json()["Resources"]

    assert [r["id"] for r in found] == [str(sent.scim_id)]
    assert_scim_error(scim.get(f'/Users?filter={KLAXON}:location gt "a"'), 400, "invalidFilter")


# The Synchronisation page ------------------------------------------------------------


@pytest.fixture
def admin_client(client, acme):
    client.force_login(acme.admin)
    return client


def test_the_synchronisation_page_shows_the_fallbacks_and_how_many_people_each_serves(scim, admin_client, acme):
    person(scim.post("/Users", entra_default()))
    person(scim.post("/Users", entra_default("k@acme.test", **{KLAXON: {"notificationPhoneNumber": "07400 100999"}})))

    page = admin_client.get("/configuration/synchronisation/").content.decode()

    assert 'value="mobile" selected' in page and 'value="locality" selected' in page
    assert "<td>from the mobile number</td><td>1</td>" in page
    assert "<td>from the Klaxon attribute</td><td>1</td>" in page
    assert "<td>from the work city</td><td>2</td>" in page


def test_saving_the_fallbacks_recomputes_everyone_and_says_how_many_changed(scim, admin_client, acme):
    sam = person(scim.post("/Users", entra_default()))

    response = admin_client.post(
        "/configuration/synchronisation/fallbacks/",
        {"first_phone": "work", "then_phone": "mobile", "address_field": ""},
        follow=True,
    )

    assert "Saved. 1 person changed number or location." in response.content.decode()
    acme.organisation.refresh_from_db()
    assert acme.organisation.phone_fallback == "work,mobile" and acme.organisation.location_fallback == ""
    sam.refresh_from_db()
    assert sam.notification_phone == "+442079460000" and sam.location.is_default


def test_invalid_fallbacks_from_the_page_are_a_form_error_and_change_nothing(admin_client, acme):
    response = admin_client.post(
        "/configuration/synchronisation/fallbacks/", {"first_phone": "pager", "address_field": "locality"}
    )

    assert response.status_code == 200
    assert "Choose one of the offered phone types" in response.content.decode()
    acme.organisation.refresh_from_db()
    assert acme.organisation.phone_fallback == "mobile"


def test_only_site_administrators_change_the_fallbacks(client, acme):
    client.force_login(acme.user)

    response = client.post("/configuration/synchronisation/fallbacks/", {"first_phone": "", "address_field": ""})

    assert response.status_code == 403
    acme.organisation.refresh_from_db()
    assert acme.organisation.phone_fallback == "mobile"
