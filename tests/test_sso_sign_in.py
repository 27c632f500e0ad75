"""Signing in through the organisation's own identity provider (OpenID Connect, code flow
with PKCE), against a real provider on loopback (tests/oidc.py).

Single sign-on lets in existing, active people of the organisation only: it never creates
anyone. Every ID token is verified (signature by a published key, issuer, audience, expiry,
nonce) and every callback must answer an attempt this browser started (state).
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts import actions as account_actions
from accounts.models import User
from sso import actions
from sso.models import SignInEvent, SsoLink
from tests.oidc import CALLBACK, connect, path_of, sign_in_at_provider


@pytest.fixture
def idp(oidc, acme, settings):
    """acme's single sign-on, set up and tested, at the test provider."""
    settings.KLAXON_PUBLIC_URL = "http://testserver"
    settings.KLAXON_MFA_FOR_SITE_ADMINS = True
    return connect(oidc, acme.organisation, by=acme.admin)


def start(client, slug="acme"):
    response = client.post(reverse("sso:begin", args=[slug]))
    assert response.status_code == 302, response.content
    return response.url


def sso_sign_in(client, login: str, slug: str = "acme"):
    """The whole flow: Klaxon's button, the provider's sign-in page, Klaxon's callback."""
    return client.get(path_of(sign_in_at_provider(start(client, slug), login)))


def signed_in_as(client) -> User | None:
    key = client.session.get(SESSION_KEY)
    return User.objects.get(pk=key) if key else None


def events(outcome=None):
    found = SignInEvent.objects.order_by("pk")
    return list(found.filter(outcome=outcome) if outcome else found)


# Signing in -----------------------------------------------------------------------------


def test_a_provisioned_person_signs_in_through_the_provider_and_is_linked_by_subject(client, idp, acme):
    response = sso_sign_in(client, "jo@acme.test")

    assert response.status_code == 302 and response.url == reverse("accounts:home")
    assert signed_in_as(client) == acme.user
    link = SsoLink.objects.get(user=acme.user)
    assert (link.issuer, link.subject) == (idp.issuer, "jo@acme.test")
    [event] = events()
    assert (event.outcome, event.user, event.claimed) == ("signed_in", acme.user, "jo@acme.test")
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_once_linked_the_subject_identifies_the_person_whatever_email_the_provider_sends(client, idp, acme, oidc):
    sso_sign_in(client, "jo@acme.test")
    assert signed_in_as(client) == acme.user
    oidc.add_account("jo@acme.test", email="jo.renamed@elsewhere.test", email_verified=True)

    other = Client()
    sso_sign_in(other, "jo@acme.test")

    assert signed_in_as(other) == acme.user


def test_the_first_sign_in_matches_preferred_username_with_the_identity_string_rules(client, idp, acme, oidc):
    jose = account_actions.create_manual_user(acme.organisation, "jos\u00e9@acme.test", email="jose@acme.test")
    # Entra ID sends the user principal name as preferred_username; here decomposed and upper case.
    oidc.add_account("00u-jose", preferred_username="JOSE\u0301@ACME.TEST")

    sso_sign_in(client, "00u-jose")

    assert signed_in_as(client) == jose
    assert SsoLink.objects.get(user=jose).subject == "00u-jose"


def test_an_email_address_the_provider_has_not_verified_matches_nobody(client, idp, acme, oidc):
    # Someone who could set an unverified address at the provider must not become Jo.
    oidc.add_account("00u-mallory", email="jo@acme.test", email_verified=False)

    response = sso_sign_in(client, "00u-mallory")

    assert response.status_code == 403 and "You are not in Klaxon" in response.content.decode()
    assert signed_in_as(client) is None
    assert not SsoLink.objects.filter(user=acme.user).exists()


def test_the_sign_in_page_offers_continue_with_the_provider_after_the_organisation_short_name(client, idp):
    chosen = client.post(reverse("sso:start"), {"organisation": "ACME"})
    assert chosen.url == reverse("sso:organisation", args=["acme"])

    page = client.get(chosen.url).content.decode()

    assert "Continue with Test IdP" in page
    assert reverse("sso:begin", args=["acme"]) in page


def test_the_authorization_request_carries_state_nonce_and_an_s256_code_challenge(client, idp):
    query = parse_qs(urlsplit(start(client)).query)

    assert query["response_type"] == ["code"]
    assert query["client_id"] == [idp.client_id]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43 and len(query["nonce"][0]) >= 43
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}


def test_a_site_administrator_signing_in_through_the_provider_needs_no_klaxon_second_factor(client, idp, acme):
    # The provider enforces its own multi-factor and conditional access.
    sso_sign_in(client, "admin@acme.test")

    assert signed_in_as(client) == acme.admin
    assert client.get(reverse("accounts:people")).status_code == 200


# Who is refused -------------------------------------------------------------------------


def test_an_unknown_person_is_refused_with_a_page_saying_so_and_the_attempt_is_logged(client, idp, acme):
    people = User.objects.count()

    response = sso_sign_in(client, "stranger@acme.test")

    assert response.status_code == 403
    page = response.content.decode()
    assert "You are not in Klaxon" in page and "stranger@acme.test" in page and "Acme Ltd" in page
    assert signed_in_as(client) is None
    assert User.objects.count() == people  # single sign-on never creates anyone
    [event] = events()
    assert (event.outcome, event.user, event.claimed, event.organisation) == (
        "unknown_person",
        None,
        "stranger@acme.test",
        acme.organisation,
    )


def test_a_deactivated_person_is_refused_with_a_page_saying_so_and_the_attempt_is_logged(client, idp, acme):
    account_actions.deactivate_user(acme.user)

    response = sso_sign_in(client, "jo@acme.test")

    assert response.status_code == 403
    assert "Your Klaxon account is deactivated" in response.content.decode()
    assert signed_in_as(client) is None
    [event] = events()
    assert (event.outcome, event.user) == ("deactivated", acme.user)


def test_a_site_administrator_is_never_linked_by_address_in_someone_elses_sign_in(client, idp, acme, oidc):
    """SCIM can write any person's e-mail address: holding the token and any account at the
    provider must not make someone a site administrator. Administrators link themselves."""
    second = account_actions.create_manual_user(
        acme.organisation, "ops@acme.test", email="ops@acme.test", role=User.Role.SITE_ADMIN
    )
    oidc.add_account("00u-guest", email="ops@acme.test", email_verified=True)

    response = sso_sign_in(client, "00u-guest")

    assert response.status_code == 403 and "Connect your account first" in response.content.decode()
    assert signed_in_as(client) is None and not SsoLink.objects.filter(user=second).exists()
    [event] = events()
    assert (event.outcome, event.detail) == ("refused", "administrator_unlinked")


def test_preferred_username_matches_usernames_only_and_never_beside_a_usable_email(client, idp, acme, oidc):
    # Providers where people choose their username must not let them pick someone's address.
    oidc.add_account("00u-a", preferred_username="jo@acme.test", email="mallory@evil.test", email_verified=True)
    oidc.add_account("00u-b", preferred_username="jo@acme.test", email="jo@acme.test", email_verified="false")
    account_actions.create_manual_user(acme.organisation, "sam", email="sam@acme.test")
    oidc.add_account("00u-c", preferred_username="sam@acme.test")

    for login in ("00u-a", "00u-c"):
        assert sso_sign_in(Client(), login).status_code == 403, login
    assert signed_in_as(client) is None
    sso_sign_in(client, "00u-b")  # an unverified address is no address: the username matches Jo
    assert signed_in_as(client) == acme.user


def test_a_linked_person_deactivated_later_is_refused(client, idp, acme):
    sso_sign_in(client, "jo@acme.test")
    account_actions.deactivate_user(acme.user)

    later = Client()
    response = sso_sign_in(later, "jo@acme.test")

    assert response.status_code == 403 and signed_in_as(later) is None
    assert client.get(reverse("accounts:profile")).status_code == 302  # the earlier session ended too


def test_another_organisations_person_is_unknown_here(client, idp, globex):
    response = sso_sign_in(client, "jo@globex.test")

    assert response.status_code == 403 and signed_in_as(client) is None


# Refused protocol answers -----------------------------------------------------------------


def test_a_callback_with_a_wrong_state_is_refused_before_any_exchange(client, idp, acme):
    callback = sign_in_at_provider(start(client), "jo@acme.test")
    forged = callback.replace("state=", "state=x")

    response = client.get(path_of(forged))

    assert response.status_code == 400
    assert "was not started in this browser" in response.content.decode()
    assert signed_in_as(client) is None
    # The genuine answer still completes: the forged one consumed nothing.
    assert client.get(path_of(callback)).status_code == 302 and signed_in_as(client) == acme.user


def test_a_callback_opened_in_another_browser_is_refused(client, idp):
    callback = sign_in_at_provider(start(client), "jo@acme.test")
    attacker = Client()

    response = attacker.get(path_of(callback))

    assert response.status_code == 400 and signed_in_as(attacker) is None


def test_a_replayed_callback_is_refused(client, idp, acme):
    callback = sign_in_at_provider(start(client), "jo@acme.test")
    assert client.get(path_of(callback)).status_code == 302
    client.logout()

    again = client.get(path_of(callback))

    assert again.status_code == 400 and signed_in_as(client) is None


def test_a_replayed_id_token_is_refused(client, idp, acme, oidc):
    sso_sign_in(Client(), "admin@acme.test")  # the token an attacker captured
    oidc.misbehave("replay")

    response = sso_sign_in(client, "jo@acme.test")

    assert response.status_code == 403
    assert "does not belong to this sign-in" in response.content.decode()
    assert signed_in_as(client) is None
    assert events()[-1].outcome == "refused" and events()[-1].detail.startswith("replay:")


@pytest.mark.parametrize(
    "misbehaviour, reason, text",
    [
        ("expired", "expired", "The ID token has expired."),
        ("wrong-audience", "audience", "The ID token was issued to another application, not to Klaxon."),
        ("wrong-issuer", "issuer", "The ID token was issued by another identity provider."),
        ("unknown-key", "signature", "signed with a key your identity provider does not publish"),
    ],
)
def test_an_id_token_that_does_not_verify_is_refused(client, idp, acme, oidc, misbehaviour, reason, text):
    oidc.misbehave(misbehaviour)

    response = sso_sign_in(client, "jo@acme.test")

    assert response.status_code == 403
    assert text in response.content.decode()
    assert signed_in_as(client) is None
    [event] = events()
    assert event.outcome == "refused" and event.detail.startswith(f"{reason}:")
    assert not SsoLink.objects.filter(user=acme.user).exists()


def test_an_answer_claiming_another_issuer_is_refused(client, idp):
    # RFC 9207: the provider names itself in the answer; another name is a mix-up attack.
    callback = sign_in_at_provider(start(client), "jo@acme.test")

    response = client.get(path_of(callback).replace("iss=", "iss=https%3A%2F%2Fevil.test&was="))

    assert response.status_code == 403 and signed_in_as(client) is None


def test_single_sign_on_is_not_offered_before_a_test_sign_in_succeeded(client, oidc, acme, settings):
    settings.KLAXON_PUBLIC_URL = "http://testserver"
    registered = oidc.register_client(CALLBACK)
    actions.configure(
        acme.organisation,
        actions.Settings(oidc.issuer, registered.client_id, registered.client_secret),
        by=acme.admin,
    )

    assert client.get(reverse("sso:organisation", args=["acme"])).url == reverse("accounts:login")
    assert client.post(reverse("sso:begin", args=["acme"])).url == reverse("accounts:login")
    chosen = client.post(reverse("sso:start"), {"organisation": "acme"}, follow=True)
    assert "Single sign-on is not set up for that organisation" in chosen.content.decode()


def test_people_who_signed_in_through_the_provider_confirm_a_sensitive_action_there_as_themselves(client, idp, acme):
    from accounts.access import SIGNED_IN_AT

    sso_sign_in(client, "admin@acme.test")
    session = client.session
    session[SIGNED_IN_AT] = 0
    session.save()
    page = client.get(reverse("accounts:confirm-password") + "?next=/configuration/synchronisation/")
    assert "Confirm with Test IdP" in page.content.decode()

    someone_else = client.post(reverse("sso:confirm"), {"next": "/configuration/synchronisation/"})
    refused = client.get(path_of(sign_in_at_provider(someone_else.url, "jo@acme.test")))
    assert refused.status_code == 403 and client.session[SIGNED_IN_AT] == 0

    started = client.post(reverse("sso:confirm"), {"next": "/configuration/synchronisation/"})
    assert parse_qs(urlsplit(started.url).query)["prompt"] == ["login"]
    confirmed = client.get(path_of(sign_in_at_provider(started.url, "admin@acme.test")))
    assert confirmed.url == "/configuration/synchronisation/"
    assert client.session[SIGNED_IN_AT] > 0
