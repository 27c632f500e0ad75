"""In Chromium: a site administrator connects the organisation's identity provider from the
Single sign-on page's instructions, tests it, requires it, and people sign in through it; a
site administrator sets up a second factor at sign-in. Screenshots go to
test-artifacts/screenshots/ (docs/screenshots/ keeps copies for the README)."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from sso.models import IdentityProvider
from tests.browser import DESKTOP, screenshot, sign_in
from tests.conftest import PASSWORD


@pytest.fixture
def registered(oidc, live_server, settings, acme):
    settings.KLAXON_PUBLIC_URL = live_server.url
    return oidc.register_client(f"{live_server.url}/sso/callback/")


def at_provider(page, login: str) -> None:
    """The test provider's own sign-in page (oidc-provider's development pages)."""
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any")
    page.get_by_role("button", name="Sign-in").click()


def test_an_administrator_sets_up_tests_and_requires_single_sign_on_and_people_sign_in_through_it(
    page, browser, live_server, oidc, registered, acme
):
    sign_in(page)  # KLAXON_MFA_FOR_SITE_ADMINS is off for this persona (tests/conftest.py)
    page.get_by_role("link", name="Single sign-on").click()
    expect(page.get_by_role("heading", name="Configuration › Single sign-on")).to_be_visible()
    expect(page.get_by_label("Redirect URI")).to_have_value(f"{live_server.url}/sso/callback/")
    page.get_by_text("Microsoft Entra ID, step by step").click()
    screenshot(page, "sso-1-configuration-page")

    page.get_by_label("Issuer URL").fill(oidc.issuer)
    page.get_by_label("Client ID").fill(registered.client_id)
    page.get_by_label("Client secret").fill(registered.client_secret)
    page.get_by_label("Button text").fill("Acme SSO")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Now test the sign-in")).to_be_visible()
    expect(page.get_by_label("Client secret")).to_have_value("")  # never shown again

    page.get_by_role("button", name="Test sign-in").click()
    at_provider(page, "admin@acme.test")
    expect(page.get_by_text("It works.")).to_be_visible()
    screenshot(page, "sso-2-test-sign-in-works")

    page.get_by_role("link", name="Back to Single sign-on").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Require single sign-on").click()
    expect(page.get_by_text("only break-glass administrators can sign in with a password now")).to_be_visible()
    screenshot(page, "sso-3-required")
    assert IdentityProvider.objects.get().require_sso
    assert page.csp_violations == []

    # Jo, in another browser: organisation short name, then "Continue with Acme SSO".
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    jo = context.new_page()
    try:
        jo.goto("/sign-in/")
        jo.get_by_label("Organisation").fill("acme")
        jo.get_by_role("button", name="Continue with single sign-on").click()
        expect(jo.get_by_role("button", name="Continue with Acme SSO")).to_be_visible()
        screenshot(jo, "sso-4-continue-with-provider")
        # A password is refused now (Jo is no break-glass administrator).
        jo.get_by_label("E-mail or username").fill("jo@acme.test")
        jo.get_by_label("Password").fill(PASSWORD)
        jo.get_by_role("button", name="Sign in with a password").click()
        expect(jo.get_by_text("Acme Ltd signs in with Acme SSO")).to_be_visible()

        jo.goto("/sign-in/sso/acme/")
        jo.get_by_role("button", name="Continue with Acme SSO").click()
        expect(jo).to_have_url(re.compile(r"^" + re.escape(oidc.issuer)))
        screenshot(jo, "sso-5-provider-sign-in")
        at_provider(jo, "jo@acme.test")
        expect(jo).to_have_url(f"{live_server.url}/profile/")
        expect(jo.get_by_role("heading", name="My profile")).to_be_visible()
        screenshot(jo, "sso-6-signed-in")

        # Someone the provider knows but Klaxon does not gets a page saying so.
        jo.get_by_role("button", name="Sign out").click()
        context.clear_cookies()  # and out of the provider's own session
        jo.goto("/sign-in/sso/acme/")
        jo.get_by_role("button", name="Continue with Acme SSO").click()
        at_provider(jo, "stranger@acme.test")
        expect(jo.get_by_role("heading", name="You are not in Klaxon")).to_be_visible()
        screenshot(jo, "sso-7-unknown-person")
    finally:
        context.close()


def test_a_site_administrator_sets_up_a_second_factor_at_sign_in_and_uses_it(page, acme, settings, live_server):
    settings.KLAXON_MFA_FOR_SITE_ADMINS = True
    page.goto("/sign-in/")
    page.get_by_label("Organisation").fill("acme")
    page.get_by_label("E-mail or username").fill("admin@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.get_by_alt_text("QR code for your authenticator app")).to_be_visible()
    screenshot(page, "mfa-1-set-up-at-sign-in")
    secret = page.get_by_label("Key").input_value()
    page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "mfa-2-recovery-codes")
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page.get_by_role("heading", name="Who would we reach?")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.goto("/sign-in/")
    page.get_by_label("Organisation").fill("acme")
    page.get_by_label("E-mail or username").fill("admin@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    screenshot(page, "mfa-3-code-at-sign-in")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("You used a recovery code; 9 left")).to_be_visible()
    assert page.csp_violations == []
