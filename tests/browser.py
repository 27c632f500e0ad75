"""The suite's browser toolkit: Debian's Chromium through Playwright (never a downloaded browser).

Fixtures `browser` and `page` are in conftest.py; these are the helpers tests call.
"""

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import expect

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_no_sideways_scrolling(page) -> None:
    width, room = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= room, f"{page.url} scrolls sideways at {room}px ({width}px wide)"


def sign_in(page, user_name: str = "admin@acme.test", *, organisation: str = "acme", shot: str | None = None):
    page.goto("/sign-in/")
    page.get_by_label("Organisation").fill(organisation)
    page.get_by_label("E-mail or username").fill(user_name)
    page.get_by_label("Password").fill(PASSWORD)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/sign-in/"))


def scim_request(live_server, key: str, token: str, method: str, path: str, body=None) -> tuple[int, dict]:
    """A SCIM request to the live server the browser talks to: (status, JSON body)."""
    request = urllib.request.Request(
        f"{live_server.url}/scim/v2/{key}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
