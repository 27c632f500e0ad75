"""Django admin at /admin/ is for Klaxon staff, and saves through the domain actions."""

import pytest
from django.contrib.admin.models import LogEntry

from accounts.models import Organisation, User
from locations.models import DEFAULT_LOCATION_NAME, Location

CHANGELISTS = [
    "/admin/accounts/organisation/",
    "/admin/accounts/user/",
    "/admin/accounts/group/",
    "/admin/locations/location/",
]
ADD_PAGES = [f"{url}add/" for url in CHANGELISTS]


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("staff", "pw"))
    return client


def location(tenant, name):
    return tenant.organisation.locations.get(name=name)


@pytest.mark.parametrize("url", ["/admin/", *CHANGELISTS, *ADD_PAGES])
def test_admin_pages_render_for_staff(staff_client, acme, globex, url):
    assert staff_client.get(url).status_code == 200


def test_a_users_change_page_renders_for_staff(staff_client, acme):
    response = staff_client.get(f"/admin/accounts/user/{acme.user.pk}/change/")

    assert response.status_code == 200
    assert acme.user.user_name in response.content.decode()


@pytest.mark.parametrize("name", ["London", DEFAULT_LOCATION_NAME])
def test_a_locations_change_page_renders_for_staff(staff_client, acme, name):
    response = staff_client.get(f"/admin/locations/location/{location(acme, name).pk}/change/")

    assert response.status_code == 200


def test_an_identity_provider_managed_user_shows_its_provider_fields_as_read_only(staff_client, acme):
    User.objects.filter(pk=acme.user.pk).update(source=User.Source.IDENTITY_PROVIDER)

    form = staff_client.get(f"/admin/accounts/user/{acme.user.pk}/change/").context["adminform"].form

    assert "user_name" not in form.fields
    assert "email" not in form.fields
    assert "location" in form.fields


def test_the_location_list_counts_people(staff_client, acme):
    response = staff_client.get("/admin/locations/location/", {"organisation__id__exact": acme.organisation.pk})

    counts = {loc.name: loc.user_count for loc in response.context["cl"].result_list}
    assert counts == {DEFAULT_LOCATION_NAME: 2, "London": 0, "Leeds": 0}


# Refused to anyone who is not staff.


@pytest.mark.parametrize("url", ["/admin/", *CHANGELISTS, ADD_PAGES[0]])
def test_an_organisations_site_administrator_is_sent_to_the_admin_sign_in(client, acme, url):
    client.force_login(acme.admin)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.parametrize("url", ["/admin/", CHANGELISTS[1]])
def test_an_anonymous_visitor_is_sent_to_the_admin_sign_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


# Searching people.


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("jo@acme.test", {"jo@acme.test"}),  # userName and e-mail
        ("ADA", {"admin@acme.test", "admin@globex.test"}),  # given name, any case
        ("admin", {"admin@acme.test", "admin@globex.test"}),  # family name and userName
        ("globex", {"admin@globex.test", "jo@globex.test"}),
        ("nobody-matches-this", set()),
    ],
)
def test_staff_can_search_people(staff_client, acme, globex, query, expected):
    response = staff_client.get("/admin/accounts/user/", {"q": query})

    assert response.status_code == 200
    assert {user.user_name for user in response.context["cl"].result_list} == expected


def test_staff_can_search_people_by_display_name(staff_client, acme):
    User.objects.filter(pk=acme.user.pk).update(display_name="Josephine Bloggs")

    response = staff_client.get("/admin/accounts/user/", {"q": "bloggs"})

    assert [user.pk for user in response.context["cl"].result_list] == [acme.user.pk]


def test_staff_can_filter_people_by_organisation(staff_client, acme, globex):
    response = staff_client.get("/admin/accounts/user/", {"organisation__id__exact": globex.organisation.pk})

    assert {user.user_name for user in response.context["cl"].result_list} == {"admin@globex.test", "jo@globex.test"}


# Saving goes through the domain actions.


def test_creating_an_organisation_in_the_admin_creates_its_default_location(staff_client, db):
    response = staff_client.post(
        "/admin/accounts/organisation/add/", {"name": "Initech", "slug": "initech", "phone_region": "US"}
    )

    assert response.status_code == 302
    organisation = Organisation.objects.get(slug="initech")
    assert organisation.phone_region == "US"
    assert [(loc.name, loc.is_default) for loc in organisation.locations.all()] == [(DEFAULT_LOCATION_NAME, True)]
    assert LogEntry.objects.filter(object_id=str(organisation.pk)).exists()


def test_the_admin_refuses_an_unknown_phone_region(staff_client, db):
    response = staff_client.post(
        "/admin/accounts/organisation/add/", {"name": "Initech", "slug": "initech", "phone_region": "XX"}
    )

    assert response.status_code == 200
    assert "phone_region" in response.context["adminform"].form.errors
    assert not Organisation.objects.filter(slug="initech").exists()


def test_creating_a_location_in_the_admin_picks_up_people_waiting_on_default(staff_client, acme):
    User.objects.filter(pk=acme.user.pk).update(idp_location=" manchester ", idp_location_key="manchester")

    response = staff_client.post(
        "/admin/locations/location/add/", {"organisation": acme.organisation.pk, "name": "Manchester"}
    )

    assert response.status_code == 302
    acme.user.refresh_from_db()
    assert acme.user.location == location(acme, "Manchester")


def test_creating_a_duplicate_location_in_the_admin_is_refused(staff_client, acme):
    response = staff_client.post(
        "/admin/locations/location/add/", {"organisation": acme.organisation.pk, "name": "LONDON"}
    )

    assert response.status_code == 200
    assert acme.organisation.locations.filter(name__iexact="london").count() == 1


def test_deleting_a_location_in_the_admin_moves_its_people_to_default(staff_client, acme):
    leeds = location(acme, "Leeds")
    User.objects.filter(pk__in=[acme.user.pk, acme.admin.pk]).update(location=leeds)

    response = staff_client.post(f"/admin/locations/location/{leeds.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Location.objects.filter(pk=leeds.pk).exists()
    for person in (acme.user, acme.admin):
        person.refresh_from_db()
        assert person.location == location(acme, DEFAULT_LOCATION_NAME)


def test_deleting_locations_in_bulk_in_the_admin_moves_their_people_to_default(staff_client, acme):
    leeds, london = location(acme, "Leeds"), location(acme, "London")
    User.objects.filter(pk=acme.user.pk).update(location=leeds)
    User.objects.filter(pk=acme.admin.pk).update(location=london)

    response = staff_client.post(
        "/admin/locations/location/",
        {"action": "delete_selected", "_selected_action": [leeds.pk, london.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(acme.organisation.locations.values_list("name", flat=True)) == [DEFAULT_LOCATION_NAME]
    assert set(acme.organisation.users.values_list("location__name", flat=True)) == {DEFAULT_LOCATION_NAME}


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_default_locations_delete_page_is_refused(staff_client, acme, method):
    default = location(acme, DEFAULT_LOCATION_NAME)

    response = getattr(staff_client, method)(f"/admin/locations/location/{default.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Location.objects.filter(pk=default.pk).exists()


def test_the_default_location_cannot_be_renamed_in_the_admin(staff_client, acme):
    default = location(acme, DEFAULT_LOCATION_NAME)

    staff_client.post(
        f"/admin/locations/location/{default.pk}/change/",
        {"organisation": acme.organisation.pk, "name": "Head Office"},
    )

    default.refresh_from_db()
    assert default.name == DEFAULT_LOCATION_NAME


def test_changing_a_persons_location_in_the_admin_keeps_what_the_provider_sent(staff_client, acme):
    User.objects.filter(pk=acme.user.pk).update(idp_location="Paris", idp_location_key="paris")
    form = staff_client.get(f"/admin/accounts/user/{acme.user.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update(location=location(acme, "London").pk, idp_location="Paris")

    response = staff_client.post(f"/admin/accounts/user/{acme.user.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    acme.user.refresh_from_db()
    assert acme.user.location == location(acme, "London")
    assert acme.user.idp_location == "Paris"


def test_deleting_the_default_location_in_bulk_in_the_admin_is_refused(staff_client, acme):
    default, leeds = location(acme, DEFAULT_LOCATION_NAME), location(acme, "Leeds")

    response = staff_client.post(
        "/admin/locations/location/",
        {"action": "delete_selected", "_selected_action": [default.pk, leeds.pk], "post": "yes"},
    )

    assert response.status_code == 403
    assert set(Location.objects.filter(pk__in=[default.pk, leeds.pk]).values_list("name", flat=True)) == {
        DEFAULT_LOCATION_NAME,
        "Leeds",
    }
