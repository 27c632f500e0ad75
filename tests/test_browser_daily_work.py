"""The site administrator's daily work in a real browser (Debian's Chromium through Playwright,
as tests/test_browser.py drives it): token labels, expiry, grace and revocation; the activity
log's filters, time zone and CSV export; a person's provisioning history. Screenshots, wide
(1280 px) and narrow (390 px), go to test-artifacts/screenshots/.
"""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

# Playwright's sync API runs an event loop in this thread, so Django's async-safety check
# would refuse the ORM calls the tests make between browser steps.
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from scim_sync.activity import record_activity
from scim_sync.credentials import endpoint_for, generate_token
from scim_sync.models import ScimToken
from tests.browser import DESKTOP, PHONE, assert_no_sideways_scrolling, scim_request, screenshot, sign_in
from tests.scim import KLAXON

pytestmark = pytest.mark.django_db(transaction=True)

WIDE, NARROW = DESKTOP, PHONE
SYNCHRONISATION = "/configuration/synchronisation/"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def page(page):
    """Every page of these tests runs within the Content-Security-Policy."""
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of data-confirm forms
    yield page
    assert page.csp_violations == []


def scim(live_server, organisation, token: str, method: str, path: str, body=None) -> tuple[int, dict]:
    return scim_request(live_server, endpoint_for(organisation).key, token, method, path, body)


def accepted(live_server, organisation, token: str) -> bool:
    return scim(live_server, organisation, token, "GET", "/Users?count=1")[0] == 200


def token_card(page, token: ScimToken):
    return page.get_by_role("listitem", name=f"Token {token.prefix}…")


def activity(page):
    return page.locator("#activity tbody")


def test_an_administrator_labels_rotates_ends_a_grace_period_and_revokes_tokens(page, live_server, acme):
    sign_in(page)
    page.goto(SYNCHRONISATION)
    page.get_by_label("Label").fill("Entra production")
    page.get_by_label("Stops working").select_option(label="After 90 days")
    page.get_by_role("button", name="Generate token").click()
    first = page.locator("#new-token").input_value()
    original = ScimToken.objects.get(organisation=acme.organisation)
    assert original.label == "Entra production" and original.expires_at > timezone.now() + timedelta(days=89)

    page.goto(SYNCHRONISATION)
    page.get_by_label("Keep the old token working for").select_option("24h")
    page.locator("#tokens form[action$='rotate-token/']").get_by_label("Label").fill("Entra 2027")
    page.get_by_role("button", name="Rotate token").click()
    expect(page.get_by_text("The previous token keeps working for 24 hours.")).to_be_visible()
    second = page.locator("#new-token").input_value()
    assert accepted(live_server, acme.organisation, first) and accepted(live_server, acme.organisation, second)

    page.goto(SYNCHRONISATION)
    old = token_card(page, original)
    expect(old).to_contain_text("Kept by a rotation's grace period")
    screenshot(page, "synchronisation-tokens-grace")
    old.get_by_role("button", name="End the grace period now").click()
    expect(page.get_by_role("status")).to_contain_text(f"The grace period of token {original.prefix}…")
    assert not accepted(live_server, acme.organisation, first)
    assert accepted(live_server, acme.organisation, second)

    current = ScimToken.objects.filter(organisation=acme.organisation).latest("created_at")
    token_card(page, current).get_by_label("Label").fill("Entra (production tenant)")
    token_card(page, current).get_by_role("button", name="Save label").click()
    expect(token_card(page, current)).to_contain_text("Entra (production tenant)")

    ScimToken.objects.filter(pk=current.pk).update(expires_at=timezone.now() + timedelta(days=3))
    page.goto(SYNCHRONISATION)
    expect(token_card(page, current).get_by_role("alert")).to_contain_text("This token stops working on")
    screenshot(page, "synchronisation-token-expiring")

    token_card(page, current).get_by_role("button", name="Revoke now").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Token {current.prefix}… (Entra (production tenant)) is revoked"
    )
    expect(page.get_by_role("button", name="Generate token")).to_be_visible()
    assert not accepted(live_server, acme.organisation, second)

    page.get_by_label("Method").select_option("PORTAL")
    page.get_by_role("button", name="Filter").click()
    lines = activity(page).locator("tr")
    expect(lines).to_have_count(5)
    for text in (
        f"Token {current.prefix}… (Entra (production tenant)) revoked by admin@acme.test",
        "label changed by admin@acme.test",
        f"Token {original.prefix}… (Entra production) grace period ended by admin@acme.test",
        "rotated by admin@acme.test",
        "generated by admin@acme.test",
    ):
        expect(activity(page)).to_contain_text(text)
    screenshot(page, "synchronisation-token-actions-logged")


def test_the_activity_log_filters_exports_and_shows_the_organisations_time_zone(page, live_server, acme):
    token = generate_token(acme.organisation, created_by=acme.admin, label="Entra production")
    for user_name, location in (("sam.patel@example.com", "London"), ("ria.jones@example.com", "Leeds")):
        status, _ = scim(
            live_server,
            acme.organisation,
            token,
            "POST",
            "/Users",
            {"schemas": [CORE, KLAXON], "userName": user_name, "active": True, KLAXON: {"location": location}},
        )
        assert status == 201
    assert (
        scim(
            live_server,
            acme.organisation,
            token,
            "POST",
            "/Users",
            {"schemas": [CORE], "userName": "sam.patel@example.com"},
        )[0]
        == 409
    )
    record_activity(acme.organisation, method="GET", resource_type="User", status=500)
    record_activity(acme.organisation, method="GET", resource_type="User", status=401)
    sign_in(page)

    page.goto(SYNCHRONISATION)
    page.get_by_role("combobox", name="Time zone").select_option("Europe/London")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.get_by_role("status")).to_contain_text("Times are now shown in Europe/London.")
    expect(page.locator("#activity .zone")).to_have_text("Europe/London")
    expect(page.locator("#activity thead")).to_contain_text("When (Europe/London)")
    screenshot(page, "synchronisation-activity-wide")

    page.get_by_label("Result").select_option(label="Any error")
    page.get_by_label("Person").fill("sam")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"result=errors&method=&resource=&person=sam#activity$"))
    expect(activity(page).locator("tr")).to_have_count(1)
    expect(activity(page)).to_contain_text("Client error 409")
    expect(activity(page)).to_contain_text("POST user sam.patel@example.com")

    page.get_by_label("Result").select_option(label="Success")
    page.get_by_role("button", name="Filter").click()
    expect(activity(page).get_by_role("link", name="sam.patel@example.com")).to_have_count(1)
    screenshot(page, "synchronisation-activity-filtered")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export these rows as CSV").click()
    download = download_info.value
    assert re.fullmatch(r"klaxon-scim-activity-acme-\d{4}-\d\d-\d\d\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert [(row[2], row[5], row[6], row[7]) for row in rows[1:]] == [
        ("POST", "sam.patel@example.com", "201", "Success")
    ]
    assert rows[1][1] == "Europe/London" and re.search(r"[+-]0[01]:00$", rows[1][0])
    assert token not in Path(download.path()).read_text()

    activity(page).get_by_role("link", name="sam.patel@example.com").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("sam.patel@example.com")

    page.set_viewport_size(NARROW)
    page.goto(f"{SYNCHRONISATION}?result=errors#activity")
    screenshot(page, "synchronisation-activity-narrow")
    assert_no_sideways_scrolling(page)
    page.goto(SYNCHRONISATION)
    assert_no_sideways_scrolling(page)


def test_a_persons_page_tells_why_they_were_not_alerted(page, live_server, acme):
    acme.organisation.time_zone = "Europe/London"
    acme.organisation.save()
    token = generate_token(acme.organisation, created_by=acme.admin)
    status, sam = scim(
        live_server,
        acme.organisation,
        token,
        "POST",
        "/Users",
        {
            "schemas": [CORE, KLAXON],
            "userName": "sam.patel@example.com",
            "active": True,
            "name": {"givenName": "Sam", "familyName": "Patel"},
            KLAXON: {"location": "London", "notificationPhoneNumber": "07400 120123"},
        },
    )
    assert status == 201
    for operation in (
        {"op": "replace", "path": f"{KLAXON}:location", "value": "Leeds"},
        {"op": "remove", "path": f"{KLAXON}:notificationPhoneNumber"},
        {"op": "replace", "path": "active", "value": "False"},
    ):
        assert (
            scim(
                live_server,
                acme.organisation,
                token,
                "PATCH",
                f"/Users/{sam['id']}",
                {"schemas": [PATCH], "Operations": [operation]},
            )[0]
            == 200
        )
    person = User.objects.get(scim_id=sam["id"])
    sign_in(page)

    page.goto(f"/people/{person.pk}/")
    timeline = page.get_by_role("region", name="Provisioning history")
    expect(timeline).to_contain_text("Times are in Europe/London.")
    rows = timeline.locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text(re.compile(r"deactivated at \d\d:\d\d by the identity provider"))
    expect(rows.nth(1)).to_contain_text("notification number •••• 0123 → none")
    expect(rows.nth(2)).to_contain_text("location London → Leeds")
    expect(rows.nth(3)).to_contain_text("added to Klaxon")
    assert "120123" not in timeline.inner_text()
    timeline.scroll_into_view_if_needed()
    screenshot(page, "person-provisioning-history")

    page.set_viewport_size(NARROW)
    page.goto(f"/people/{person.pk}/")
    screenshot(page, "person-provisioning-history-narrow")
    assert_no_sideways_scrolling(page)
