"""Query strings of portal pages are validated: odd values are form errors, never a 500.

Each value is read through a form (ASCII digits within the bigint range for keys, one of
the known values for choices, search text capped at 200 characters); an invalid filter is
shown as an error on the page and not applied. Run on SQLite and PostgreSQL: they fail on
different values (SQLite overflows on integers past 2**63, PostgreSQL refuses NUL characters).
"""

import pytest
from django.urls import reverse

from accounts import actions, queries
from accounts.models import Group, GroupMembership
from scim_sync.credentials import endpoint_for

HOSTILE = [
    "²",
    "¹",
    "٣",
    "１",
    "99999999999999999999",
    str(2**63),
    str(2**63 - 1),
    "-1",
    "0",
    "1.5",
    "1e400",
    "NaN",
    "\x00",
    "1\x00",
    " 7 ",
    "7\n",
    "🙂",
    "x" * 5000,
    "9" * 5000,
    "'; DROP TABLE accounts_user; --",
    "%",
    "_",
    "\\",
    "[]",
    "",
]
PEOPLE_PARAMETERS = [
    "q",
    "location",
    "group",
    "active",
    "source",
    "phone",
    "number_source",
    "location_source",
    "unmatched",
    "orphans",
    "page",
]


@pytest.fixture
def group(acme):
    group = Group.objects.create(organisation=acme.organisation, display_name="On call")
    GroupMembership.objects.create(group=group, user=acme.user)
    return group


@pytest.fixture
def synchronising(acme):
    """Synchronisation has started, so the People page reads `orphans` too."""
    from django.utils import timezone

    endpoint = endpoint_for(acme.organisation)
    type(endpoint).objects.filter(pk=endpoint.pk).update(sync_started_at=timezone.now())


def every_page_parameter(group) -> list[tuple[str, str]]:
    """Every GET parameter a portal view reads (grep request.GET in accounts/, locations/,
    scim_sync/portal.py), with the page that reads it."""
    return [
        *((reverse("accounts:people"), name) for name in PEOPLE_PARAMETERS),
        (reverse("accounts:groups"), "q"),
        (reverse("accounts:groups"), "page"),
        (reverse("accounts:group", args=[group.pk]), "page"),
        (reverse("scim_sync:synchronisation"), "errors"),
        (reverse("scim_sync:synchronisation"), "page"),
        *((reverse("scim_sync:synchronisation"), name) for name in ("result", "method", "resource", "person")),
        (reverse("accounts:confirm-password"), "next"),
    ]


def people_on_the_page(response) -> list[str]:
    return sorted(person.user_name for person in response.context["page"].object_list)


def test_no_value_of_any_parameter_of_any_portal_page_is_a_server_error(as_admin, group, synchronising):
    for url, name in every_page_parameter(group):
        for value in HOSTILE:
            response = as_admin.get(url, {name: value})
            assert response.status_code == 200, (url, name, value)


def test_every_people_filter_odd_at_once_is_not_a_server_error(as_admin, acme, synchronising):
    for value in HOSTILE:
        response = as_admin.get(reverse("accounts:people"), {name: value for name in PEOPLE_PARAMETERS})
        assert response.status_code == 200, value


@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999", str(2**63), "-1", " 1", "1.0"])
def test_a_location_that_is_not_ascii_digits_in_range_is_an_error_and_not_applied(as_admin, acme, value):
    response = as_admin.get(reverse("accounts:people"), {"location": value})

    assert response.status_code == 200
    assert people_on_the_page(response) == ["admin@acme.test", "jo@acme.test"]
    assert response.context["filter_form"].errors["location"] == ["Choose one of your organisation's locations."]
    assert "Choose one of your organisation&#x27;s locations." in response.content.decode()


@pytest.mark.parametrize("value", ["¹", "99999999999999999999", "0"])
def test_a_group_that_is_not_one_of_the_organisations_is_an_error_and_not_applied(as_admin, acme, group, value):
    response = as_admin.get(reverse("accounts:people"), {"group": value})

    assert people_on_the_page(response) == ["admin@acme.test", "jo@acme.test"]
    assert response.context["filter_form"].errors["group"] == ["Choose one of your organisation's groups."]


def test_another_organisations_location_is_an_error_and_not_applied(as_admin, acme, globex):
    springfield = globex.organisation.locations.get(name="Springfield")

    response = as_admin.get(reverse("accounts:people"), {"location": springfield.pk})

    assert people_on_the_page(response) == ["admin@acme.test", "jo@acme.test"]
    assert response.context["filter_form"].errors["location"]


def test_a_valid_filter_applies_beside_an_invalid_one_and_only_it_carries_into_page_links(as_admin, acme, group):
    response = as_admin.get(reverse("accounts:people"), {"group": group.pk, "location": "²", "active": "maybe"})

    assert people_on_the_page(response) == ["jo@acme.test"]
    assert set(response.context["filter_form"].errors) == {"location", "active"}
    assert response.context["filters"] == f"group={group.pk}"


def test_valid_filters_still_apply(as_admin, acme, group):
    leeds = acme.organisation.locations.get(name="Leeds")
    actions.set_location(acme.user, leeds)
    everyone, jo = ["admin@acme.test", "jo@acme.test"], ["jo@acme.test"]

    for params, expected in [
        ({"location": leeds.pk}, jo),
        ({"group": group.pk}, jo),
        ({"q": "JO@"}, jo),
        ({"active": "yes", "source": "manual", "phone": "missing"}, everyone),
        ({"active": "no"}, []),
    ]:
        response = as_admin.get(reverse("accounts:people"), params)
        assert not response.context["filter_form"].errors, params
        assert people_on_the_page(response) == expected, params


def test_search_text_is_cut_at_200_characters(as_admin, acme):
    response = as_admin.get(reverse("accounts:people"), {"q": "a" * 250})

    assert response.status_code == 200
    assert response.context["params"]["q"] == "a" * 200
    assert 'maxlength="200"' in response.content.decode()
    groups = as_admin.get(reverse("accounts:groups"), {"q": "b" * 250})
    assert groups.context["q"] == "b" * 200


@pytest.mark.parametrize("url_name", ["accounts:people", "accounts:groups"])
def test_search_text_with_a_nul_character_is_an_error_not_a_crash(as_admin, acme, url_name):
    response = as_admin.get(reverse(url_name), {"q": "jo\x00"})

    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()


@pytest.mark.parametrize("page", ["²", "0", "-3", "99999999999999999999", "9" * 5000, "x"])
def test_odd_page_numbers_give_a_page_of_people(as_admin, acme, page):
    response = as_admin.get(reverse("accounts:people"), {"page": page})

    assert response.status_code == 200
    assert response.context["page"].number == 1


def test_the_people_query_ignores_values_it_cannot_use_for_its_other_callers(acme, group):
    found = queries.people(
        acme.organisation,
        {
            "location": "²",
            "group": "99999999999999999999",
            "active": "maybe",
            "q": "",
        },
    )

    assert sorted(found.values_list("user_name", flat=True)) == ["admin@acme.test", "jo@acme.test"]
    assert list(queries.people(acme.organisation, {"group": str(group.pk)})) == [acme.user]
