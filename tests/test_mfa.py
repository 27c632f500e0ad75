"""A second factor for password sign-ins: TOTP (an authenticator app) and recovery codes.

Site administrators who sign in with a password must pass one (KLAXON_MFA_FOR_SITE_ADMINS,
on by default); those without one set it up before getting in. Anyone can set one up on My
profile, and from then on is asked for it. Re-authentication before a sensitive action asks
for it too.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.access import SIGNED_IN_AT
from accounts.models import User
from mfa import devices
from mfa.models import RecoveryCode, TotpDevice
from mfa.views import PENDING
from tests.conftest import ENCRYPTION_KEY, PASSWORD

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def second_factor_for_site_administrators(settings):
    settings.KLAXON_MFA_FOR_SITE_ADMINS = True


def password_sign_in(client, login="admin@acme.test", password=PASSWORD):
    return client.post(reverse("accounts:login"), {"organisation": "acme", "username": login, "password": password})


def signed_in(client) -> User | None:
    key = client.session.get(SESSION_KEY)
    return User.objects.get(pk=key) if key else None


def with_authenticator(person) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    assert devices.enrol(person, secret, totp.at(time.time() - 30)) is not None  # the step before now's
    return totp


def test_by_default_site_administrators_signing_in_with_a_password_need_a_second_factor():
    environment = {k: v for k, v in os.environ.items() if k != "KLAXON_MFA_FOR_SITE_ADMINS"}
    script = (
        "import django; django.setup(); from django.conf import settings; print(settings.KLAXON_MFA_FOR_SITE_ADMINS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "klaxon_site.settings", "DEBUG": "true"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "True"


def test_a_site_administrator_without_a_second_factor_sets_one_up_before_getting_in(client, acme):
    response = password_sign_in(client)

    assert response.url == reverse("mfa:set-up-at-sign-in")
    assert signed_in(client) is None
    assert client.get(reverse("accounts:people")).status_code == 302  # not in yet
    page = client.get(response.url)
    assert page.context["qr_code"].startswith("data:image/svg+xml")
    secret = page.context["secret"]
    assert client.post(response.url, {"code": "000000"}).status_code == 200 and signed_in(client) is None

    done = client.post(response.url, {"code": pyotp.TOTP(secret).now()})

    assert signed_in(client) == acme.admin
    codes = done.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "will not be shown again" in done.content.decode()
    assert client.get(reverse("accounts:people")).status_code == 200


def test_the_seed_is_stored_encrypted_and_recovery_codes_only_as_hashes(acme):
    secret = pyotp.random_base32()
    codes = devices.enrol(acme.admin, secret, pyotp.TOTP(secret).now())

    device = TotpDevice.objects.get(user=acme.admin)
    assert secret not in device.secret_encrypted
    stored = list(RecoveryCode.objects.filter(user=acme.admin).values_list("code_hash", flat=True))
    assert codes and all(code not in stored and code.replace("-", "") not in stored for code in codes)


def test_a_site_administrator_with_a_second_factor_is_asked_for_a_code_after_the_password(client, acme):
    totp = with_authenticator(acme.admin)

    assert password_sign_in(client).url == reverse("mfa:verify")
    wrong = client.post(reverse("mfa:verify"), {"code": "123456"})
    assert "That code is not right" in wrong.content.decode() and signed_in(client) is None

    assert client.post(reverse("mfa:verify"), {"code": totp.now()}).url == reverse("accounts:home")
    assert signed_in(client) == acme.admin


def test_the_password_alone_cannot_set_up_a_new_factor_over_an_existing_one(client, acme):
    totp = with_authenticator(acme.admin)
    codes_before = set(RecoveryCode.objects.filter(user=acme.admin).values_list("code_hash", flat=True))
    password_sign_in(client)

    # Skipping the code page for the set-up page, as someone who has only the password would.
    page = client.get(reverse("mfa:set-up-at-sign-in"))
    posted = client.post(reverse("mfa:set-up-at-sign-in"), {"code": pyotp.TOTP(pyotp.random_base32()).now()})

    assert page.status_code == 302 and page.url == reverse("mfa:verify")
    assert posted.status_code == 302 and posted.url == reverse("mfa:verify")
    assert signed_in(client) is None
    assert devices.verify(acme.admin, totp.now())  # the owner's authenticator still works
    assert set(RecoveryCode.objects.filter(user=acme.admin).values_list("code_hash", flat=True)) == codes_before


def test_replacing_the_authenticator_on_my_profile_needs_a_recent_sign_in_with_the_current_factor(acme):
    with_authenticator(acme.user)
    stale = Client()
    stale.force_login(acme.user)
    session = stale.session
    session[SIGNED_IN_AT] = time.time() - 3600  # a session left open an hour ago
    session.save()

    response = stale.post(reverse("mfa:set-up"), {"code": "123456"})

    assert response.status_code == 302 and response.url.startswith(reverse("accounts:confirm-password"))
    assert "code" in stale.get(response.url).context["form"].fields  # the confirmation asks for it


def test_a_code_posted_without_the_set_up_page_is_a_form_error_not_a_crash(client, acme):
    password_sign_in(client)  # a site administrator without a factor: sent to set one up

    at_sign_in = client.post(reverse("mfa:set-up-at-sign-in"), {"code": "123456"})
    on_profile = Client()
    on_profile.force_login(acme.user)
    session = on_profile.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    on_my_profile = on_profile.post(reverse("mfa:set-up"), {"code": "123456"})

    for response in (at_sign_in, on_my_profile):
        assert response.status_code == 200
        assert "does not match" in response.content.decode()


def test_a_code_is_accepted_only_once(acme):
    totp = with_authenticator(acme.admin)
    code = totp.now()
    first, second = Client(), Client()
    password_sign_in(first)
    password_sign_in(second)

    assert first.post(reverse("mfa:verify"), {"code": code}).status_code == 302
    second.post(reverse("mfa:verify"), {"code": code})

    assert signed_in(first) == acme.admin and signed_in(second) is None


def test_a_recovery_code_signs_in_once_and_is_spent(client, acme):
    secret = pyotp.random_base32()
    codes = devices.enrol(acme.admin, secret, pyotp.TOTP(secret).now())
    assert codes is not None

    password_sign_in(client)
    response = client.post(reverse("mfa:verify"), {"code": codes[0].upper()}, follow=True)
    assert signed_in(client) == acme.admin
    assert "You used a recovery code; 9 left" in response.content.decode()

    again = Client()
    password_sign_in(again)
    again.post(reverse("mfa:verify"), {"code": codes[0]})
    assert signed_in(again) is None


def test_five_wrong_codes_end_the_second_step_and_even_the_right_code_waits(client, acme):
    totp = with_authenticator(acme.admin)
    password_sign_in(client)
    for _ in range(4):
        client.post(reverse("mfa:verify"), {"code": "000000"})

    fifth = client.post(reverse("mfa:verify"), {"code": "000000"}, follow=True)

    assert "Too many wrong codes" in fifth.content.decode()
    password_sign_in(client)
    client.post(reverse("mfa:verify"), {"code": totp.now()})
    assert signed_in(client) is None


def test_the_second_step_waits_five_minutes_and_dies_with_a_password_change(client, acme):
    totp = with_authenticator(acme.admin)
    password_sign_in(client)
    session = client.session
    session[PENDING] = {**session[PENDING], "at": time.time() - 301}
    session.save()
    assert client.post(reverse("mfa:verify"), {"code": totp.now()}).url == reverse("accounts:login")

    password_sign_in(client)
    acme.admin.set_password("another-long-passphrase")
    acme.admin.save(update_fields=["password"])
    assert client.post(reverse("mfa:verify"), {"code": totp.now()}).url == reverse("accounts:login")
    assert signed_in(client) is None


def test_a_user_sets_up_two_factor_on_my_profile_and_then_needs_it_to_sign_in(client, acme):
    assert password_sign_in(client, "jo@acme.test").url == reverse("accounts:home")  # users need none
    profile = client.get(reverse("accounts:profile")).content.decode()
    assert "Set up two-factor authentication" in profile
    secret = client.get(reverse("mfa:set-up")).context["secret"]

    done = client.post(reverse("mfa:set-up"), {"code": pyotp.TOTP(secret).now()})

    assert len(done.context["codes"]) == 10
    later = Client()
    assert password_sign_in(later, "jo@acme.test").url == reverse("mfa:verify")


def test_re_authentication_before_rotating_the_token_asks_for_the_second_factor_too(acme):
    totp = with_authenticator(acme.admin)
    client = Client()
    client.force_login(acme.admin)
    session = client.session
    session[SIGNED_IN_AT] = 0
    session.save()
    rotate = reverse("scim_sync:rotate-token")

    asked = client.post(rotate)
    assert asked.url.startswith(reverse("accounts:confirm-password"))
    page = client.get(asked.url).content.decode()
    assert 'name="code"' in page
    password_only = client.post(reverse("accounts:confirm-password"), {"password": PASSWORD, "next": "/"})
    assert password_only.status_code == 200 and "Enter the code" in password_only.content.decode()

    confirmed = client.post(
        reverse("accounts:confirm-password"), {"password": PASSWORD, "code": totp.now(), "next": "/"}
    )

    assert confirmed.status_code == 302 and confirmed.url == "/"
    assert time.time() - client.session[SIGNED_IN_AT] < 5


def test_site_administrators_cannot_turn_their_second_factor_off_but_users_can(acme):
    with_authenticator(acme.admin)
    with_authenticator(acme.user)
    for person, kept in ((acme.admin, True), (acme.user, False)):
        client = Client()
        client.force_login(person)
        session = client.session
        session[SIGNED_IN_AT] = time.time()
        session.save()
        client.post(reverse("mfa:remove"))
        assert devices.has_device(person) is kept


def test_new_recovery_codes_replace_the_old_ones(acme):
    secret = pyotp.random_base32()
    old = devices.enrol(acme.admin, secret, pyotp.TOTP(secret).now())
    new = devices.regenerate_recovery_codes(acme.admin)

    assert old is not None and set(old).isdisjoint(new)
    assert devices.verify(acme.admin, old[0]) is None
    assert devices.verify(acme.admin, new[0]) == "recovery"


def test_a_seed_encrypted_with_an_old_key_still_works_after_rotation(acme, settings, capsys):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    totp = with_authenticator(acme.admin)
    newer = Fernet.generate_key().decode()
    settings.KLAXON_ENCRYPTION_KEYS = [newer, ENCRYPTION_KEY]
    call_command("reencrypt_secrets")
    settings.KLAXON_ENCRYPTION_KEYS = [newer]

    assert devices.verify(acme.admin, totp.now()) == "totp"
