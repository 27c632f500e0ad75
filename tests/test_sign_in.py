"""Portal sign-in is scoped to an organisation; deactivation ends sessions and blocks it."""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.actions import create_manual_user, deactivate_user, reactivate_user
from accounts.models import PortalSession, User
from tests.conftest import PASSWORD

SIGN_IN = "/sign-in/"


def sign_in(client, organisation, username, password):
    return client.post(SIGN_IN, {"organisation": organisation, "username": username, "password": password})


def signed_in_as(client):
    """The user the client's session belongs to, or None."""
    return client.session.get(SESSION_KEY)


def portal_lets_in(client):
    """Whether the portal's home page serves the client rather than sending it to sign in."""
    response = client.get("/")
    return not (response.status_code == 302 and response.url.startswith(SIGN_IN))


def session_key(client):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def assert_refused(response):
    assert response.status_code == 200
    assert response.context["form"].errors["__all__"] == [
        "That organisation, username and password do not match an active account."
    ]


@pytest.fixture
def two_jos(acme, globex):
    """A jo@example.com in each organisation, with different passwords."""
    return {
        "acme": create_manual_user(acme.organisation, "jo@example.com", email="jo@example.com", password="acme-jo-pw"),
        "globex": create_manual_user(
            globex.organisation, "jo@example.com", email="jo@example.com", password="globex-jo-pw"
        ),
    }


def test_the_sign_in_page_asks_for_the_organisation(client, db):
    response = client.get(SIGN_IN)

    assert response.status_code == 200
    assert list(response.context["form"].fields) == ["organisation", "username", "password"]


def test_a_person_signs_in_to_their_organisation(client, acme):
    response = sign_in(client, "acme", acme.user.user_name, PASSWORD)

    assert response.status_code == 302
    assert response.url == "/"
    assert signed_in_as(client) == str(acme.user.pk)
    assert portal_lets_in(client)


@pytest.mark.parametrize("organisation", ["acme", "globex"])
def test_two_organisations_may_each_have_the_same_person_name_and_each_signs_into_their_own(
    client, two_jos, organisation
):
    jo = two_jos[organisation]

    response = sign_in(client, organisation, "jo@example.com", f"{organisation}-jo-pw")

    assert response.status_code == 302
    assert signed_in_as(client) == str(jo.pk)


@pytest.mark.parametrize(("organisation", "password"), [("acme", "globex-jo-pw"), ("globex", "acme-jo-pw")])
def test_a_password_from_the_other_organisation_is_refused(client, two_jos, organisation, password):
    assert_refused(sign_in(client, organisation, "jo@example.com", password))
    assert signed_in_as(client) is None


def test_a_person_may_sign_in_with_their_email_or_their_user_name_in_any_case(acme):
    person = create_manual_user(acme.organisation, "sam.smith", email="Sam.Smith@acme.test", password=PASSWORD)

    for username in ("sam.smith", "SAM.SMITH", "sam.smith@acme.test"):
        client = Client()
        assert sign_in(client, "acme", username, PASSWORD).status_code == 302
        assert signed_in_as(client) == str(person.pk)


@pytest.mark.parametrize("organisation", ["globex", "nonexistent"])
def test_signing_in_to_the_wrong_organisation_fails(client, acme, globex, organisation):
    assert_refused(sign_in(client, organisation, acme.user.user_name, PASSWORD))
    assert signed_in_as(client) is None


def test_a_wrong_password_fails(client, acme):
    assert_refused(sign_in(client, "acme", acme.user.user_name, PASSWORD + "x"))


def test_staff_cannot_use_the_portal_sign_in(client, acme):
    User.objects.create_superuser("staff", "pw")

    assert_refused(sign_in(client, "acme", "staff", "pw"))


def test_the_portal_needs_a_signed_in_person(client, db):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url == f"{SIGN_IN}?next=/"
    assert not portal_lets_in(client)


# Deactivation and reactivation.


def test_a_deactivated_person_cannot_sign_in(client, acme):
    deactivate_user(acme.user)

    assert_refused(sign_in(client, "acme", acme.user.user_name, PASSWORD))
    assert signed_in_as(client) is None


def test_deactivating_a_person_ends_their_sessions(acme):
    phone, laptop, colleague = Client(), Client(), Client()
    sign_in(phone, "acme", acme.user.user_name, PASSWORD)
    sign_in(laptop, "acme", acme.user.user_name, PASSWORD)
    sign_in(colleague, "acme", acme.admin.user_name, PASSWORD)
    keys = {session_key(phone), session_key(laptop)}
    assert Session.objects.filter(session_key__in=keys).count() == 2
    assert portal_lets_in(phone)

    deactivate_user(acme.user)

    assert not Session.objects.filter(session_key__in=keys).exists()
    assert not PortalSession.objects.filter(user=acme.user).exists()
    for client in (phone, laptop):
        response = client.get("/")
        assert response.status_code == 302
        assert response.url == f"{SIGN_IN}?next=/"
    # Someone else's session is untouched.
    assert Session.objects.filter(session_key=session_key(colleague)).exists()
    assert portal_lets_in(colleague)


def test_a_reactivated_person_can_sign_in_again(client, acme):
    deactivate_user(acme.user)

    reactivate_user(acme.user)

    assert sign_in(client, "acme", acme.user.user_name, PASSWORD).status_code == 302
    assert signed_in_as(client) == str(acme.user.pk)
    acme.user.refresh_from_db()
    assert acme.user.is_active


def test_deactivation_deletes_nothing(acme):
    deactivate_user(acme.user)

    acme.user.refresh_from_db()
    assert acme.user.is_active is False
    assert acme.user.location is not None


# Klaxon staff.


def test_staff_without_an_organisation_sign_in_to_the_admin(client, acme):
    User.objects.create_superuser("staff", "pw")

    response = client.post("/admin/login/?next=/admin/", {"username": "staff", "password": "pw", "next": "/admin/"})

    assert response.status_code == 302
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_an_organisations_site_administrator_cannot_sign_in_to_the_admin(client, acme):
    response = client.post("/admin/login/", {"username": acme.admin.user_name, "password": PASSWORD})

    assert response.status_code == 200
    assert signed_in_as(client) is None
