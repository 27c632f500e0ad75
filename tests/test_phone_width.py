"""Every portal page on a phone (390 px wide) in Debian's Chromium: nothing scrolls sideways,
and the header, the menu (with its Configuration heading) and Sign out fit on the screen.
Screenshots of every page, wide (1280 px) and narrow (390 px), go to test-artifacts/screenshots/.
"""

import re

# Playwright's sync API runs an event loop in this thread, so Django's async-safety check
# would refuse the ORM calls the tests make between browser steps.
import pytest
from playwright.sync_api import expect

from accounts import actions, memberships
from accounts.models import Group
from scim_sync.credentials import endpoint_for, generate_token
from tests.browser import DESKTOP, PHONE, SCREENSHOTS
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

WIDE = DESKTOP
MENU = ["Dashboard", "People", "Groups", "Locations", "Synchronisation", "My profile"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=PHONE, base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def organisation_at_work(acme):
    """People, a group and synchronisation state with the long values that break narrow pages."""
    org = acme.organisation
    long_name = "maximilian.alexander.featherstonehaugh-worthington@subsidiary.example-enterprises.co.uk"
    people = [
        actions.provision_user(
            org,
            {
                "user_name": long_name,
                "email": long_name,
                "given_name": "Maximilian Alexander",
                "family_name": "Featherstonehaugh-Worthington",
                "department": "Infrastructure Reliability Engineering",
                "idp_location": "Bristol Temple Quay",
                "idp_notification_phone": "+1 415 555 0100",
            },
        ),
        actions.provision_user(
            org,
            {
                "user_name": "zoe.bronte@acme.test",
                "given_name": "Zoë",
                "family_name": "Brontë",
                "idp_phones": [["mobile", "07400 123456"]],
                "idp_address": {"locality": "Leeds"},
            },
        ),
        actions.provision_user(
            org, {"user_name": "lee@acme.test", "idp_location": "London", "idp_notification_phone": "12"}
        ),
    ]
    gone = actions.provision_user(org, {"user_name": "gone@acme.test", "given_name": "Gone"})
    actions.provision_user(org, {"user_name": "gone@acme.test", "is_active": False}, user=gone)
    group = Group.objects.create(organisation=org, display_name="Out-of-hours incident responders (all sites)")
    memberships.add(group, [person.pk for person in people])
    endpoint_for(org)
    generate_token(org, created_by=acme.admin)
    return {"person": people[0], "group": group}


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sideways_overflow(page) -> int:
    """How many pixels the page is wider than the window (0: it does not scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def visit_both_widths(page, name: str, url: str) -> None:
    page.set_viewport_size(WIDE)
    response = page.goto(url)
    assert response.status == 200, url
    screenshot(page, f"{name}-wide")
    page.set_viewport_size(PHONE)
    page.goto(url)
    screenshot(page, f"{name}-narrow")
    assert sideways_overflow(page) <= 0, f"{url} scrolls sideways on a phone by {sideways_overflow(page)}px"


def assert_fits(locator, what: str) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{what} sticks out: {box}"


def sign_in(page, user_name: str) -> None:
    page.goto("/sign-in/")
    page.get_by_label("Organisation").fill("acme")
    page.get_by_label("E-mail or username").fill(user_name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/sign-in/"))


def test_signed_out_pages_fit_a_phone(page, acme):
    visit_both_widths(page, "sign-in", "/sign-in/")
    visit_both_widths(page, "password-reset", "/password-reset/")
    visit_both_widths(page, "password-reset-sent", "/password-reset/sent/")


def test_every_signed_in_page_fits_a_phone(page, acme, organisation_at_work):
    sign_in(page, "admin@acme.test")
    person, group = organisation_at_work["person"], organisation_at_work["group"]
    pages = [
        ("dashboard", "/"),
        ("people", "/people/"),
        ("people-search", "/people/?q=zoe"),
        ("person-detail", f"/people/{person.pk}/"),
        ("person-deactivated", f"/people/{person.organisation.users.get(user_name='gone@acme.test').pk}/"),
        ("groups", "/groups/"),
        ("group-detail", f"/groups/{group.pk}/"),
        ("locations", "/locations/"),
        ("synchronisation", "/configuration/synchronisation/"),
        ("profile", "/profile/"),
        ("confirm-password", "/confirm-password/?next=/"),
    ]
    for name, url in pages:
        visit_both_widths(page, name, url)


def test_the_header_menu_and_sign_out_fit_a_phone(page, acme, organisation_at_work):
    sign_in(page, "admin@acme.test")
    page.goto("/people/")

    assert_fits(page.locator(".topbar .brand"), "the brand")
    assert_fits(page.get_by_role("button", name="Sign out"), "Sign out")
    assert_fits(page.locator(".topbar .who"), "who is signed in")
    menu = page.get_by_role("navigation", name="Main")
    for name in MENU:
        assert_fits(menu.get_by_role("link", name=name, exact=True), f"the menu's {name}")
    assert_fits(menu.get_by_text("Configuration", exact=True), "the menu's Configuration heading")


def test_the_people_list_stacks_rows_on_a_phone_and_keeps_the_key_columns(page, acme, organisation_at_work):
    sign_in(page, "admin@acme.test")
    page.goto("/people/")

    row = page.locator("table.stack tbody tr").filter(has_text="Zoë Brontë")
    expect(row).to_contain_text("07400 123456")
    expect(row.locator('td[data-label="Location"]')).to_contain_text("Leeds")
    name, number = row.locator("td.key").bounding_box(), row.locator('td[data-label="Number"]').bounding_box()
    assert number["y"] > name["y"], "on a phone each cell of a row sits under the one before"
    expect(page.get_by_role("button", name="Create location Bristol Temple Quay")).to_be_visible()


def test_the_dashboard_chart_sits_beside_the_table_when_wide_and_under_it_on_a_phone(page, acme, organisation_at_work):
    sign_in(page, "admin@acme.test")
    page.set_viewport_size(WIDE)
    page.goto("/")
    table, chart = page.locator(".by-location table").bounding_box(), page.locator(".by-location figure").bounding_box()
    assert chart["x"] > table["x"] + table["width"] - 1 and abs(chart["y"] - table["y"]) < 2

    page.set_viewport_size(PHONE)
    table, chart = page.locator(".by-location table").bounding_box(), page.locator(".by-location figure").bounding_box()
    assert chart["y"] >= table["y"] + table["height"]
    expect(page.locator(".chart li").filter(has_text="Leeds")).to_contain_text("1 of 1")
