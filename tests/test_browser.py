"""The portal in a real browser: Debian's Chromium driven by Playwright against a live server.

Playwright must never download a browser: it drives /usr/bin/chromium through
`executable_path` (`.ci/run` installs Debian's `chromium` when it is absent). Each test
saves full-page screenshots under test-artifacts/screenshots/ for review.
"""

import re
import urllib.error
import urllib.parse
import urllib.request

# Playwright's sync API runs an event loop in this thread, so Django's async-safety check
# would refuse the ORM calls the tests make between browser steps.
import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from accounts import actions
from accounts.access import SIGNED_IN_AT
from accounts.models import User
from scim_sync.credentials import endpoint_for, generate_token
from tests.browser import PHONE, scim_request, screenshot, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

SYNCHRONISATION = re.compile(r"/configuration/synchronisation/$")


def menu(page):
    return page.get_by_role("navigation", name="Main")


def accept_dialogs(page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def endpoint_key(page) -> str:
    """The endpoint URL shown uses KLAXON_PUBLIC_URL; the live server needs only its key."""
    return page.locator("#endpoint-url").input_value().rstrip("/").rsplit("/", 1)[-1]


def search_users(live_server, key: str, token: str) -> int:
    query = urllib.parse.quote('userName eq "x"')
    return scim_request(live_server, key, token, "GET", f"/Users?filter={query}")[0]


def generate_in_browser(page) -> str:
    page.goto("/configuration/synchronisation/")
    page.get_by_role("button", name="Generate token").click()
    token = page.locator("#new-token").input_value()
    assert token.startswith("klx_")
    return token


def rotate_in_browser(page, grace: str) -> str:
    page.get_by_label("Keep the old token working for").select_option(grace)
    page.get_by_role("button", name="Rotate token").click()
    expect(page.get_by_role("heading", name="Your new token")).to_be_visible()
    return page.locator("#new-token").input_value()


def test_an_administrator_generates_a_token_copies_it_and_scim_accepts_it(page, live_server, acme):
    sign_in(page, "admin@acme.test", shot="sign-in")
    menu(page).get_by_role("link", name="Synchronisation").click()
    expect(page).to_have_url(SYNCHRONISATION)
    expect(page.get_by_role("heading", name="Configuration › Synchronisation")).to_be_visible()

    page.get_by_role("button", name="Generate token").click()
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    token = page.locator("#new-token").input_value()
    assert token.startswith("klx_")
    page.locator('[data-copy="new-token"]').click()
    expect(page.locator('[data-copy="new-token"]')).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    screenshot(page, "synchronisation-new-token")

    assert search_users(live_server, endpoint_key(page), token) == 200

    page.goto("/configuration/synchronisation/")  # Not reload(): that would re-send the POST.
    expect(page.locator("#new-token")).to_have_count(0)
    row = page.locator("#activity tbody tr").first
    expect(row).to_contain_text("GET user")
    expect(row).to_contain_text("200")
    screenshot(page, "synchronisation-activity")


def test_rotating_the_token_without_grace_refuses_the_old_one_at_once(page, live_server, acme):
    accept_dialogs(page)
    sign_in(page, "admin@acme.test")
    old = generate_in_browser(page)
    key = endpoint_key(page)

    new = rotate_in_browser(page, "none")

    expect(page.get_by_text("The previous token no longer works.")).to_be_visible()
    screenshot(page, "synchronisation-token-rotated")
    assert new != old
    assert search_users(live_server, key, old) == 401
    assert search_users(live_server, key, new) == 200


def test_rotating_the_token_with_an_hour_of_grace_keeps_both_working(page, live_server, acme):
    accept_dialogs(page)
    sign_in(page, "admin@acme.test")
    old = generate_in_browser(page)
    key = endpoint_key(page)

    new = rotate_in_browser(page, "1h")

    expect(page.get_by_text("The previous token keeps working for 1 hour.")).to_be_visible()
    screenshot(page, "synchronisation-token-rotated-grace")
    assert new != old
    assert search_users(live_server, key, old) == 200
    assert search_users(live_server, key, new) == 200


def test_creating_a_location_picks_up_people_waiting_on_default(page, acme):
    waiting = actions.provision_user(acme.organisation, {"user_name": "y@acme.test", "idp_location": "York"})
    assert waiting.location.is_default
    sign_in(page, "admin@acme.test")
    menu(page).get_by_role("link", name="Locations").click()

    page.get_by_label("Name").fill("York")
    page.get_by_role("button", name="Add location").click()

    expect(page.get_by_role("status")).to_contain_text("Location York created. It picked up 1 person from Default.")
    expect(page.get_by_role("row", name=re.compile(r"^York"))).to_contain_text("1")
    screenshot(page, "locations-picked-up")
    waiting.refresh_from_db()
    assert waiting.location.name == "York"


def test_a_user_edits_their_own_profile(page, acme):
    sign_in(page, "jo@acme.test")
    expect(page).to_have_url(re.compile(r"/profile/$"))
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
    expect(menu(page).get_by_role("link")).to_have_text(["My profile"])
    expect(menu(page).get_by_role("link", name="People")).to_have_count(0)
    expect(menu(page).get_by_role("link", name="Synchronisation")).to_have_count(0)

    page.get_by_label("Location").select_option(label="Leeds")
    page.get_by_label("Notification phone number").fill("07911123456")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
    expect(page.get_by_label("Notification phone number")).to_have_value("07911 123456")
    expect(page.get_by_label("Location")).to_have_value(str(acme.organisation.locations.get(name="Leeds").pk))
    screenshot(page, "profile-saved")
    acme.user.refresh_from_db()
    assert acme.user.notification_phone == "+447911123456"
    assert acme.user.location.name == "Leeds"

    page.get_by_label("Notification phone number").fill("12")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("status")).to_have_count(0)
    screenshot(page, "profile-phone-error")
    acme.user.refresh_from_db()
    assert acme.user.notification_phone == "+447911123456"


def age_sign_in(page) -> None:
    """Pretend the sign-in happened long ago, as if the administrator left the tab open."""
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=session_key)
    session[SIGNED_IN_AT] = 0
    session.save()


def test_an_old_sign_in_asks_for_the_password_before_rotating_the_endpoint(page, acme):
    accept_dialogs(page)
    sign_in(page, "admin@acme.test")
    page.goto("/configuration/synchronisation/")
    before = page.locator("#endpoint-url").input_value()
    age_sign_in(page)

    page.get_by_role("button", name="Rotate endpoint URL").click()

    expect(page).to_have_url(re.compile(r"/confirm-password/\?next="))
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    screenshot(page, "confirm-password")
    assert page.locator("#endpoint-url").count() == 0
    assert endpoint_for(acme.organisation).url == before

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(SYNCHRONISATION)
    expect(page.locator("#endpoint-url")).to_have_value(before)
    page.get_by_role("button", name="Rotate endpoint URL").click()

    expect(page).to_have_url(SYNCHRONISATION)
    expect(page.get_by_role("status")).to_contain_text("The endpoint URL changed.")
    expect(page.locator("#endpoint-url")).not_to_have_value(before)
    assert page.locator("#endpoint-url").input_value() == endpoint_for(acme.organisation).url
    screenshot(page, "synchronisation-endpoint-rotated")


def populate(live_server, acme) -> User:
    """Some people, a group and a failed request, sent over SCIM as an identity provider would."""
    token = generate_token(acme.organisation, created_by=acme.admin)
    key = endpoint_for(acme.organisation).key
    klaxon = "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User"
    people = [
        ("sam.patel@example.com", "Sam", "Patel", "London", "+44 7911 654321"),
        ("ria.jones@example.com", "Ria", "Jones", "Leeds", "0113 496 0000"),
        ("lee.chan@example.com", "Lee", "Chan", "Glasgow", "12"),
        ("max.berg@example.com", "Max", "Berg", "London", None),
    ]
    ids = []
    for user_name, given, family, location, phone in people:
        extension = {"location": location} | ({"notificationPhoneNumber": phone} if phone else {})
        status, body = scim_request(
            live_server,
            key,
            token,
            "POST",
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", klaxon],
                "userName": user_name,
                "externalId": user_name.split("@")[0],
                "active": True,
                "name": {"givenName": given, "familyName": family},
                "emails": [{"value": user_name, "type": "work", "primary": True}],
                klaxon: extension,
            },
        )
        assert status == 201, body
        ids.append(body["id"])
    status, body = scim_request(
        live_server,
        key,
        token,
        "POST",
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "On-call engineers",
            "externalId": "on-call",
            "members": [{"value": i} for i in ids[:3]],
        },
    )
    assert status == 201, body
    status, _ = scim_request(
        live_server,
        key,
        token,
        "PATCH",
        f"/Users/{ids[0]}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": "maybe"}],
        },
    )
    assert status == 400
    return User.objects.get(user_name="lee.chan@example.com")


def test_screenshots_of_every_main_page(page, live_server, acme):
    person = populate(live_server, acme)
    sign_in(page, "admin@acme.test")
    pages = [
        ("dashboard", "/", "Dashboard"),
        ("people", "/people/", "People"),
        ("person-detail", f"/people/{person.pk}/", None),
        ("groups", "/groups/", "Groups"),
        ("locations", "/locations/", "Locations"),
        ("synchronisation", "/configuration/synchronisation/", "Synchronisation"),
        ("profile", "/profile/", "My profile"),
    ]
    for name, url, current in pages:
        response = page.goto(url)
        assert response.status == 200, url
        if current:
            expect(menu(page).locator('[aria-current="page"]')).to_have_text(current)
        screenshot(page, name)

    page.set_viewport_size(PHONE)
    page.goto("/configuration/synchronisation/")
    screenshot(page, "synchronisation-narrow")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px wide)"
