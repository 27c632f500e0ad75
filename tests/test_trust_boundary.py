"""Holding only an organisation's SCIM token gives no portal session to anyone.

The identity provider writes people's names and e-mail addresses; it never writes a password,
a role or the address password resets go to (`recovery_email`). So a stolen SCIM token can
point someone's e-mail at an attacker, but the public portal pages (password reset, sign-in)
never send a link there, and an invitation link dies when the address it went to changes.
"""

import re
import time
from urllib.parse import quote

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts import actions
from accounts.access import SIGNED_IN_AT
from accounts.models import PortalSession, User
from tests.conftest import PASSWORD
from tests.scim import CORE_USER, PATCH_OP

ATTACKER = "evil@attacker.test"
NEW_PASSWORD = "a-long-new-passphrase"


# Helpers ------------------------------------------------------------------------------


def find_by_user_name(scim, user_name: str) -> dict:
    response = scim.get("/Users?filter=" + quote(f'userName eq "{user_name}"'))
    assert response.status_code == 200, response.content
    [found] = response.json()["Resources"]
    return found


def replace_emails(scim, scim_id: str, address: str):
    return scim.patch(
        f"/Users/{scim_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "path": "emails", "value": [{"value": address, "type": "work", "primary": True}]}
            ],
        },
    )


def create_over_scim(scim, user_name: str, email: str) -> dict:
    response = scim.post(
        "/Users",
        {
            "schemas": [CORE_USER],
            "userName": user_name,
            "active": True,
            "emails": [{"value": email, "type": "work", "primary": True}],
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def ask_for_reset(client, organisation: str, email: str):
    response = client.post(reverse("accounts:password-reset"), {"organisation": organisation, "email": email})
    assert response.status_code == 302 and response.url == reverse("accounts:password-reset-sent")
    return response


def sign_in(client, organisation: str, login: str, password: str):
    return client.post(
        reverse("accounts:login"), {"organisation": organisation, "username": login, "password": password}
    )


def mail_to(outbox, address: str) -> list:
    return [message for message in outbox if address.lower() in (to.lower() for to in message.to)]


def links_in(message) -> list[str]:
    return re.findall(r"https?://\S+/reset/\S+/", message.body)


def set_password_through(client, link: str, password: str = NEW_PASSWORD):
    """Open an invitation or reset link and choose a password; the final response."""
    response = client.get(link, follow=True)
    return client.post(
        response.redirect_chain[-1][0] if response.redirect_chain else link,
        {"new_password1": password, "new_password2": password},
        follow=True,
    )


@pytest.fixture
def as_admin(acme):
    client = Client()
    client.force_login(acme.admin)
    session = client.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    return client


def signed_in_user_ids() -> set[str]:
    """Everyone some session in the database is signed in as."""
    return {s.get_decoded().get(SESSION_KEY) for s in Session.objects.all()} - {None}


# The reviewer's attack, end to end -------------------------------------------------------


def test_the_reviewers_attack_with_only_the_scim_token_gets_no_session_for_anyone(
    scim, acme, mailoutbox, django_capture_on_commit_callbacks
):
    attacker = scim.client  # the same browser the attacker uses for SCIM and the public pages
    second_admin = actions.create_manual_user(
        acme.organisation, "ops@acme.test", email="ops@acme.test", password=PASSWORD, role=User.Role.SITE_ADMIN
    )
    owner = Client()
    assert sign_in(owner, "acme", "admin@acme.test", PASSWORD).status_code == 302
    owner_session = owner.session.session_key

    # 1. Find the manual site administrator and point their e-mail at the attacker.
    admin = find_by_user_name(scim, "admin@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert replace_emails(scim, admin["id"], ATTACKER).status_code == 200
    assert User.objects.get(pk=acme.admin.pk).email == ATTACKER
    [announcement] = mail_to(mailoutbox, "admin@acme.test")
    assert ATTACKER in announcement.body and not links_in(announcement)

    # 2. Ask for a reset at the attacker's address: nothing reaches the attacker.
    ask_for_reset(attacker, "acme", ATTACKER)
    ask_for_reset(attacker, "ACME", ATTACKER.upper())
    assert mail_to(mailoutbox, ATTACKER) == []

    # 3. Adopt the other site administrator by their userName in another letter case, with
    #    an attacker's address, and ask again.
    with django_capture_on_commit_callbacks(execute=True):
        adopted = create_over_scim(scim, "OPS@Acme.Test", "evil+2@attacker.test")
    assert adopted["id"] == str(second_admin.scim_id)
    ask_for_reset(attacker, "acme", "evil+2@attacker.test")
    assert mail_to(mailoutbox, "evil+2@attacker.test") == []
    assert len(mail_to(mailoutbox, "ops@acme.test")) == 1  # the announcement, without a link
    for person in User.objects.filter(pk__in=[acme.admin.pk, second_admin.pk]):
        assert person.role == User.Role.SITE_ADMIN
        assert person.recovery_email in ("admin@acme.test", "ops@acme.test")
        assert person.check_password(PASSWORD)

    # 4. A person the provider creates with an attacker's address gets no link either.
    create_over_scim(scim, "mallory@acme.test", "mallory@attacker.test")
    ask_for_reset(attacker, "acme", "mallory@attacker.test")
    assert mail_to(mailoutbox, "mallory@attacker.test") == []

    # 5. A provider-created person with the address the administrator signs in with does not
    #    stop the administrator signing in with it.
    create_over_scim(scim, "twin@acme.test", "admin@acme.test")
    assert sign_in(Client(), "acme", "admin@acme.test", PASSWORD).status_code == 302

    # 6. The attacker tries to sign in as everyone they touched, with the addresses they set.
    for login in (
        ATTACKER,
        "evil+2@attacker.test",
        "mallory@attacker.test",
        "mallory@acme.test",
        "admin@acme.test",
        "ops@acme.test",
        "twin@acme.test",
    ):
        for guess in ("password", NEW_PASSWORD, "correct-horse"):
            assert sign_in(attacker, "acme", login, guess).status_code == 200

    # Nothing the attacker received could be used, and they hold no session.
    assert all(not links_in(message) for message in mailoutbox)
    assert SESSION_KEY not in attacker.session
    assert attacker.get(reverse("accounts:home")).status_code == 302
    assert signed_in_user_ids() == {str(acme.admin.pk)}  # the owner's own sign-ins, nobody else's
    assert set(PortalSession.objects.values_list("user_id", flat=True)) == {acme.admin.pk}
    assert PortalSession.objects.filter(session_key=owner_session).exists()


# Password reset goes only to the verified address -------------------------------------


def test_a_reset_goes_to_the_recovery_address_never_to_the_provider_written_email(
    client, scim, acme, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        replace_emails(scim, str(acme.user.scim_id), ATTACKER)
    mailoutbox.clear()

    ask_for_reset(client, "acme", ATTACKER)
    assert mailoutbox == []

    ask_for_reset(client, "acme", "JO@acme.test")
    [message] = mailoutbox
    assert message.to == ["jo@acme.test"]
    assert len(links_in(message)) == 1


def test_a_provider_created_person_without_a_recovery_address_cannot_reset_by_email(client, scim, mailoutbox):
    create_over_scim(scim, "pat@acme.test", "pat@acme.test")

    ask_for_reset(client, "acme", "pat@acme.test")

    assert mailoutbox == []


def test_a_person_whose_recovery_address_an_administrator_gave_can_reset_without_a_password(client, acme, mailoutbox):
    person = actions.create_manual_user(acme.organisation, "kim", email="kim@acme.test")
    assert not person.has_usable_password()

    ask_for_reset(client, "acme", "kim@acme.test")

    [message] = mailoutbox
    assert message.to == ["kim@acme.test"]


def test_completing_a_reset_sent_to_the_recovery_address_keeps_it(client, acme, mailoutbox):
    User.objects.filter(pk=acme.user.pk).update(email="jo.new@acme.test", email_key="jo.new@acme.test")
    ask_for_reset(client, "acme", "jo@acme.test")
    [link] = links_in(mailoutbox[0])

    set_password_through(client, link)

    person = User.objects.get(pk=acme.user.pk)
    assert person.recovery_email == "jo@acme.test"
    assert person.check_password(NEW_PASSWORD)


# Invitations ----------------------------------------------------------------------------


def test_completing_an_invitation_makes_the_invited_address_the_recovery_address(as_admin, scim, mailoutbox):
    person = User.objects.get(scim_id=create_over_scim(scim, "new@acme.test", "New@Acme.test")["id"])
    assert person.recovery_email == ""

    link = as_admin.post(reverse("accounts:person-invite", args=[person.pk])).context["link"]
    assert mailoutbox[0].to == ["New@Acme.test"] and link in mailoutbox[0].body
    response = set_password_through(Client(), link)

    assert response.redirect_chain[-1][0] == "/reset/done/"
    person.refresh_from_db()
    assert person.recovery_email == "New@Acme.test"
    assert person.check_password(NEW_PASSWORD)


def test_an_invitation_link_dies_when_the_provider_changes_the_email(as_admin, scim, mailoutbox):
    created = create_over_scim(scim, "new@acme.test", "new@acme.test")
    person = User.objects.get(scim_id=created["id"])
    link = as_admin.post(reverse("accounts:person-invite", args=[person.pk])).context["link"]

    replace_emails(scim, created["id"], ATTACKER)
    response = set_password_through(Client(), link)

    assert "This link has expired" in response.content.decode()
    person.refresh_from_db()
    assert not person.has_usable_password() and person.recovery_email == ""


def test_an_invitation_is_refused_for_a_person_who_already_has_a_password(as_admin, acme, mailoutbox):
    response = as_admin.post(reverse("accounts:person-invite", args=[acme.user.pk]), follow=True)

    assert response.redirect_chain == [(reverse("accounts:person", args=[acme.user.pk]), 302)]
    assert "Jo User already has a password; they can reset it from the sign-in page" in response.content.decode()
    assert mailoutbox == []
    assert "link" not in response.context


def test_an_invitation_is_refused_for_a_deactivated_person(as_admin, scim, mailoutbox):
    created = create_over_scim(scim, "gone@acme.test", "gone@acme.test")
    person = User.objects.get(scim_id=created["id"])
    actions.deactivate_user(person)

    response = as_admin.post(reverse("accounts:person-invite", args=[person.pk]), follow=True)

    assert "Reactivate this person before inviting them." in response.content.decode()
    assert mailoutbox == []


def test_an_invitation_needs_a_recent_sign_in_and_comes_back_to_the_persons_page(acme, scim, mailoutbox):
    person = User.objects.get(scim_id=create_over_scim(scim, "new@acme.test", "new@acme.test")["id"])
    client = Client()
    client.force_login(acme.admin)
    session = client.session
    session[SIGNED_IN_AT] = 0
    session.save()
    person_page = reverse("accounts:person", args=[person.pk])

    response = client.post(reverse("accounts:person-invite", args=[person.pk]))

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:confirm-password')}?next={quote(person_page, safe='')}"
    assert mailoutbox == []
    confirmed = client.post(reverse("accounts:confirm-password"), {"password": PASSWORD, "next": person_page})
    assert confirmed.url == person_page
    assert client.post(reverse("accounts:person-invite", args=[person.pk])).status_code == 200
    assert len(mailoutbox) == 1


def test_the_person_page_offers_an_invitation_only_when_it_would_be_accepted(as_admin, acme, scim):
    invitable = User.objects.get(scim_id=create_over_scim(scim, "new@acme.test", "new@acme.test")["id"])
    deactivated = User.objects.get(scim_id=create_over_scim(scim, "gone@acme.test", "gone@acme.test")["id"])
    actions.deactivate_user(deactivated)

    def offers_invitation(person) -> bool:
        page = as_admin.get(reverse("accounts:person", args=[person.pk])).content.decode()
        return reverse("accounts:person-invite", args=[person.pk]) in page

    assert offers_invitation(invitable)
    assert not offers_invitation(acme.user)  # has a password
    assert not offers_invitation(deactivated)
    page = as_admin.get(reverse("accounts:person", args=[acme.user.pk])).content.decode()
    assert "can reset it from the sign-in page" in page


# When the identity provider chooses the site administrators -----------------------------


def test_with_administrators_chosen_by_the_providers_group_the_scim_token_alone_still_gets_no_session(
    scim, acme, oidc, settings, mailoutbox, django_capture_on_commit_callbacks
):
    """A SCIM client can put anyone in the administrators group, but such people are site
    administrators only in a session opened through the organisation's identity provider,
    which the token cannot do."""
    from tests.oidc import connect, path_of, sign_in_at_provider
    from tests.scim import CORE_GROUP

    settings.KLAXON_PUBLIC_URL = "http://testserver"
    connect(oidc, acme.organisation, by=acme.admin, admin_group="Admins")
    attacker = scim.client

    # 1. Create a person with the attacker's address and put them, and Jo, in the group.
    with django_capture_on_commit_callbacks(execute=True):
        mallory = create_over_scim(scim, "mallory@acme.test", ATTACKER)
        response = scim.post(
            "/Groups",
            {
                "schemas": [CORE_GROUP],
                "displayName": "Admins",
                "members": [{"value": mallory["id"]}, {"value": str(acme.user.scim_id)}],
            },
        )
    assert response.status_code == 201

    # 2. Every public path: password sign-in, reset and the single sign-on callback itself.
    for login in (ATTACKER, "mallory@acme.test", "jo@acme.test"):
        for guess in ("password", NEW_PASSWORD):
            assert sign_in(attacker, "acme", login, guess).status_code == 200
        ask_for_reset(attacker, "acme", login)
    assert mail_to(mailoutbox, ATTACKER) == []
    forged = attacker.get("/sso/callback/?code=guessed&state=guessed&iss=" + quote(oidc.issuer, safe=""))
    assert forged.status_code == 400

    # 3. An account of the attacker's own at the provider is nobody in Klaxon.
    started = attacker.post(reverse("sso:begin", args=["acme"]))
    refused = attacker.get(path_of(sign_in_at_provider(started.url, "evil@provider.test")))
    assert refused.status_code == 403

    # 4. Jo's own password session (Jo knows it, the attacker does not) is no administrator session.
    jo = Client()
    assert sign_in(jo, "acme", "jo@acme.test", PASSWORD).status_code == 302
    assert jo.get(reverse("accounts:people")).status_code == 403

    assert SESSION_KEY not in attacker.session
    assert signed_in_user_ids() == {str(acme.user.pk)}
