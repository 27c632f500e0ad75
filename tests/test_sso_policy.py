"""Require single sign-on, break-glass administrators, and site administrators chosen by the
identity provider's group, against the real test provider (tests/oidc.py) and over SCIM.

Requiring single sign-on turns password sign-in, password resets and invitations off for
everyone but the break-glass administrators, who must pass a second factor. When a SCIM group
chooses the administrators, its members are site administrators only in a session opened
through the provider, and membership changes take effect on the next request.
"""

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import actions as account_actions
from accounts.models import User
from mfa import devices
from mfa.models import TotpDevice
from sso import actions
from tests.conftest import PASSWORD
from tests.oidc import CALLBACK, connect, path_of, sign_in_at_provider
from tests.scim import CORE_GROUP, PATCH_OP

ADMINS = "Klaxon Administrators"


@pytest.fixture
def idp(oidc, acme, settings):
    """acme's single sign-on, set up and tested, at the test provider."""
    settings.KLAXON_PUBLIC_URL = "http://testserver"
    settings.KLAXON_MFA_FOR_SITE_ADMINS = True
    return connect(oidc, acme.organisation, by=acme.admin)


@pytest.fixture
def required(idp, acme):
    """Single sign-on required; acme's administrator is the break-glass account, with an authenticator."""
    actions.set_required(idp, True, by=acme.admin)
    actions.set_break_glass(idp, [acme.admin], by=acme.admin)
    return idp


def authenticator(person) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    assert devices.enrol(person, secret, pyotp.TOTP(secret).now()) is not None
    TotpDevice.objects.filter(user=person).update(last_step=0)  # the enrolment code may be used to sign in
    return pyotp.TOTP(secret)


def password_sign_in(client, login, password=PASSWORD):
    return client.post(reverse("accounts:login"), {"organisation": "acme", "username": login, "password": password})


def sso_sign_in(client, login):
    started = client.post(reverse("sso:begin", args=["acme"]))
    return client.get(path_of(sign_in_at_provider(started.url, login)))


def signed_in(client) -> User | None:
    key = client.session.get(SESSION_KEY)
    return User.objects.get(pk=key) if key else None


# Require single sign-on ----------------------------------------------------------------


def test_requiring_single_sign_on_turns_password_sign_in_off_for_everyone_but_break_glass(client, required, acme):
    refused = password_sign_in(client, "jo@acme.test")

    assert refused.status_code == 200 and signed_in(client) is None
    assert "Acme Ltd signs in with Test IdP" in refused.content.decode()
    # The break-glass administrator's password still works, followed by the second factor.
    code = authenticator(acme.admin).now()
    admin = Client()
    assert password_sign_in(admin, "admin@acme.test").url == reverse("mfa:verify")
    assert signed_in(admin) is None
    assert admin.post(reverse("mfa:verify"), {"code": code}).status_code == 302
    assert signed_in(admin) == acme.admin
    # And everyone signs in through the provider.
    sso_sign_in(client, "jo@acme.test")
    assert signed_in(client) == acme.user


def test_the_refusal_is_the_same_for_a_wrong_password_and_a_login_that_is_not_break_glass(client, required, acme):
    authenticator(acme.admin)
    not_break_glass = password_sign_in(Client(), "jo@acme.test").context["form"].non_field_errors()
    wrong_password = password_sign_in(Client(), "admin@acme.test", "wrong-password").context["form"].non_field_errors()
    nobody = password_sign_in(Client(), "nobody@acme.test").context["form"].non_field_errors()

    assert not_break_glass == wrong_password == nobody


def test_break_glass_administrators_must_set_up_a_second_factor_even_when_site_administrators_need_none(
    client, required, acme, settings
):
    settings.KLAXON_MFA_FOR_SITE_ADMINS = False

    response = password_sign_in(client, "admin@acme.test")

    assert response.url == reverse("mfa:set-up-at-sign-in") and signed_in(client) is None


def test_a_site_administrator_who_is_not_break_glass_cannot_sign_in_with_a_password(client, required, acme):
    other = account_actions.create_manual_user(
        acme.organisation, "ops@acme.test", email="ops@acme.test", password=PASSWORD, role=User.Role.SITE_ADMIN
    )
    authenticator(other)

    assert password_sign_in(client, "ops@acme.test").status_code == 200 and signed_in(client) is None


def test_requiring_single_sign_on_turns_password_resets_off_except_for_break_glass(client, required, mailoutbox):
    for address in ("jo@acme.test", "admin@acme.test"):
        response = client.post(reverse("accounts:password-reset"), {"organisation": "acme", "email": address})
        assert response.url == reverse("accounts:password-reset-sent")  # the page answers alike

    assert [message.to for message in mailoutbox] == [["admin@acme.test"]]


def test_a_reset_or_invitation_link_sent_before_single_sign_on_was_required_sets_no_password(client, idp, acme):
    link = reverse(
        "accounts:password-reset-confirm",
        args=[urlsafe_base64_encode(force_bytes(acme.user.pk)), default_token_generator.make_token(acme.user)],
    )
    actions.set_required(idp, True, by=acme.admin)
    actions.set_break_glass(idp, [acme.admin], by=acme.admin)

    page = client.get(link, follow=True)
    client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else link,
        {"new_password1": "n3w-Passw0rd!x", "new_password2": "n3w-Passw0rd!x"},
    )

    assert "This link has expired" in page.content.decode()
    acme.user.refresh_from_db()
    assert not acme.user.check_password("n3w-Passw0rd!x")


def test_requiring_single_sign_on_turns_invitations_off(client, required, acme, as_admin, scim):
    created = scim.post(
        "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "new@acme.test"}
    ).json()
    person = User.objects.get(scim_id=created["id"])

    page = as_admin.get(reverse("accounts:person", args=[person.pk])).content.decode()
    response = as_admin.post(reverse("accounts:person-invite", args=[person.pk]), follow=True)

    assert reverse("accounts:person-invite", args=[person.pk]) not in page
    assert "signs in with Test IdP and needs no invitation" in response.content.decode()
    assert "link" not in response.context


def test_single_sign_on_cannot_be_required_before_a_test_succeeded(oidc, acme, settings):
    settings.KLAXON_PUBLIC_URL = "http://testserver"
    registered = oidc.register_client(CALLBACK)
    provider, _ = actions.configure(
        acme.organisation, actions.Settings(oidc.issuer, registered.client_id, registered.client_secret), by=None
    )

    with pytest.raises(Exception, match="Test the sign-in first"):
        actions.set_required(provider, True, by=acme.admin)


def test_changing_the_client_secret_voids_the_test_and_the_requirement(required, acme, oidc):
    provider, changed = actions.configure(
        acme.organisation, actions.Settings(required.issuer, required.client_id, "a-new-secret"), by=acme.admin
    )

    assert changed and not provider.is_tested and not provider.require_sso
    assert password_sign_in(Client(), "jo@acme.test").status_code == 302  # passwords work again


# Site administrators chosen by the identity provider ------------------------------------


@pytest.fixture
def chosen_by_group(idp, acme):
    actions.configure(
        acme.organisation,
        actions.Settings(idp.issuer, idp.client_id, "", admin_group=ADMINS, display_name="Test IdP"),
        by=acme.admin,
    )
    return idp


def group_with(scim, *people) -> str:
    body = {"schemas": [CORE_GROUP], "displayName": ADMINS, "members": [{"value": str(p.scim_id)} for p in people]}
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def remove_member(scim, group_id, person):
    operation = {"op": "remove", "path": f'members[value eq "{person.scim_id}"]'}
    assert scim.patch(f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": [operation]}).status_code in (
        200,
        204,
    )


def add_member(scim, group_id, person):
    operation = {"op": "add", "path": "members", "value": [{"value": str(person.scim_id)}]}
    assert scim.patch(f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": [operation]}).status_code in (
        200,
        204,
    )


def test_members_of_the_group_gain_and_lose_the_role_on_the_next_request(chosen_by_group, acme, scim):
    group_id = group_with(scim)
    jo = Client()
    sso_sign_in(jo, "jo@acme.test")
    assert jo.get(reverse("accounts:people")).status_code == 403

    add_member(scim, group_id, acme.user)
    assert jo.get(reverse("accounts:people")).status_code == 200
    assert "Single sign-on" in jo.get(reverse("accounts:home")).content.decode()  # the administrators' menu

    remove_member(scim, group_id, acme.user)
    assert jo.get(reverse("accounts:people")).status_code == 403
    assert jo.get(reverse("accounts:home")).url == reverse("accounts:profile")


def test_nobody_outside_the_group_is_a_site_administrator_whatever_their_role(chosen_by_group, acme, scim):
    group_with(scim, acme.user)
    admin = Client()
    sso_sign_in(admin, "admin@acme.test")

    assert signed_in(admin) == acme.admin
    assert admin.get(reverse("accounts:people")).status_code == 403


def test_a_group_member_signed_in_with_a_password_is_no_site_administrator_in_that_session(chosen_by_group, acme, scim):
    group_with(scim, acme.user)
    jo = Client()
    assert password_sign_in(jo, "jo@acme.test").status_code == 302  # a user: no second factor asked

    assert jo.get(reverse("accounts:people")).status_code == 403


def test_break_glass_administrators_stay_site_administrators_outside_the_group(chosen_by_group, acme, scim):
    group_with(scim, acme.user)
    actions.set_break_glass(chosen_by_group, [acme.admin], by=acme.admin)
    code = authenticator(acme.admin).now()
    admin = Client()
    password_sign_in(admin, "admin@acme.test")
    admin.post(reverse("mfa:verify"), {"code": code})

    assert admin.get(reverse("accounts:people")).status_code == 200


def test_the_group_matches_its_name_in_any_letter_case_and_unicode_form(chosen_by_group, acme, scim):
    response = scim.post(
        "/Groups",
        {
            "schemas": [CORE_GROUP],
            "displayName": "KLAXON administrators",
            "members": [{"value": str(acme.user.scim_id)}],
        },
    )
    assert response.status_code == 201
    jo = Client()
    sso_sign_in(jo, "jo@acme.test")

    assert jo.get(reverse("accounts:people")).status_code == 200


def test_another_organisations_group_of_that_name_chooses_nobody_here(chosen_by_group, acme, globex, scim_globex):
    scim_globex.post("/Groups", {"schemas": [CORE_GROUP], "displayName": ADMINS, "members": []})
    jo = Client()
    sso_sign_in(jo, "jo@acme.test")

    assert jo.get(reverse("accounts:people")).status_code == 403
