"""Shared personas: two organisations, each with a site administrator and a user."""

import os
import time
from dataclasses import dataclass

import pytest

from accounts import actions
from accounts.models import Organisation, User
from locations.actions import create_location

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production hashing is slow on purpose; tests need many hashes, not strong ones."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def mail_on_the_request_path(settings):
    """Reset and invitation mails are sent in a thread after the answer in production
    (accounts/mail.py); tests send them at once, so the outbox holds them when the response
    arrives and the mail sees the test's uncommitted rows."""
    settings.KLAXON_BACKGROUND_MAIL = False


@pytest.fixture(autouse=True)
def password_sign_ins_without_a_second_factor(settings):
    """Production asks site administrators who sign in with a password for a second factor
    (KLAXON_MFA_FOR_SITE_ADMINS, on by default). The suite's personas predate it and sign in
    with a password alone; tests/test_mfa*.py and tests/test_sso*.py turn it back on."""
    settings.KLAXON_MFA_FOR_SITE_ADMINS = False
    settings.KLAXON_SSO_ALLOW_LOCAL_ISSUERS = True  # the suite's provider runs on loopback


# A Fernet key, as production has in KLAXON_ENCRYPTION_KEYS (klaxon_site/lib/encryption.py).
ENCRYPTION_KEY = "l5GXoNFTf3GgmyEnYXvGGl2zM2U0CzB0FHSb0Bhv9vE="


@pytest.fixture(autouse=True)
def encryption_key(settings):
    settings.KLAXON_ENCRYPTION_KEYS = [ENCRYPTION_KEY]


@dataclass
class Tenant:
    organisation: Organisation
    admin: User
    user: User


def make_tenant(name: str, slug: str, *, region: str = "GB", locations=("London", "Leeds")) -> Tenant:
    organisation = actions.create_organisation(name, slug, phone_region=region)
    for location in locations:
        create_location(organisation, location)
    admin = actions.create_manual_user(
        organisation,
        f"admin@{slug}.test",
        email=f"admin@{slug}.test",
        password=PASSWORD,
        role=User.Role.SITE_ADMIN,
        given_name="Ada",
        family_name="Admin",
    )
    user = actions.create_manual_user(
        organisation,
        f"jo@{slug}.test",
        email=f"jo@{slug}.test",
        password=PASSWORD,
        given_name="Jo",
        family_name="User",
    )
    return Tenant(organisation, admin, user)


@pytest.fixture
def as_admin(client, acme):
    """The test client signed in as acme's site administrator, recently (no password prompt)."""
    from accounts.access import SIGNED_IN_AT

    client.force_login(acme.admin)
    session = client.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    return client


@pytest.fixture
def acme(db) -> Tenant:
    return make_tenant("Acme Ltd", "acme")


@pytest.fixture
def globex(db) -> Tenant:
    return make_tenant("Globex Corporation", "globex", region="US", locations=("Springfield",))


class ScimClient:
    """Talks SCIM to one organisation's endpoint through Django's test client."""

    def __init__(self, client, tenant: Tenant):
        from scim_sync.credentials import endpoint_for, generate_token

        self.client = client
        self.tenant = tenant
        self.endpoint = endpoint_for(tenant.organisation)
        self.token = generate_token(tenant.organisation)
        self.base = f"/scim/v2/{self.endpoint.key}"

    def headers(self, token=None, **extra):
        return {"HTTP_AUTHORIZATION": f"Bearer {token or self.token}", **extra}

    def request(self, method, path, body=None, *, token=None, content_type="application/scim+json", **extra):
        import json

        kwargs = self.headers(token, **extra)
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["content_type"] = content_type
        return getattr(self.client, method)(self.base + path, **kwargs)

    def get(self, path, **kw):
        return self.request("get", path, **kw)

    def post(self, path, body, **kw):
        return self.request("post", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("put", path, body, **kw)

    def patch(self, path, body, **kw):
        return self.request("patch", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("delete", path, **kw)


@pytest.fixture
def scim(client, acme) -> ScimClient:
    return ScimClient(client, acme)


@pytest.fixture
def scim_globex(client, globex) -> ScimClient:
    return ScimClient(client, globex)


# Browser tests: Debian's Chromium through Playwright (helpers in tests/browser.py). ------------


@pytest.fixture(scope="session")
def browser():
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    # Playwright's sync API runs an event loop in this thread, where Django then refuses
    # database calls; the tests' own calls are synchronous, so that check is switched off.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium); "
            ".ci/run does this in CI. Playwright must not download its own browser."
        )
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, live_server):
    """A desktop-sized page on the live server; confirmation dialogs are accepted."""
    from tests.browser import DESKTOP

    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.csp_violations = []
        page.on(
            "console",
            lambda message: (
                page.csp_violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        yield page
    finally:
        context.close()


# Single sign-on: a real OpenID Connect provider on loopback (helpers in tests/oidc.py). --------


@pytest.fixture(scope="session")
def oidc_provider():
    from tests.oidc import TestProvider

    provider = TestProvider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def oidc(oidc_provider):
    """The provider, with no account or misbehaviour left over from an earlier test."""
    oidc_provider.reset()
    return oidc_provider


# Markers, so that `make test-fast` can leave the slow kinds out of the inner loop. ------------
BROWSER_MODULES = {"test_browser", "test_browser_daily_work", "test_phone_width"}
PROCESS_MODULES = {"test_scale_out", "test_scim_concurrency", "test_production"}
SLOW_MODULES = {"test_fuzz", "test_scim_properties", "test_scim_conformance"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rpartition(".")[2]
        if module in BROWSER_MODULES or "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if module in PROCESS_MODULES:
            item.add_marker(pytest.mark.processes)
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
