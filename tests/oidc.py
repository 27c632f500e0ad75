"""The suite's single sign-on toolkit: a real OpenID Connect provider on loopback.

tests/oidc_provider/provider.js runs panva/oidc-provider (OpenID Certified) under Node with its
development sign-in pages; the session-scoped `oidc_provider` fixture (conftest.py) starts it
once, installing its locked npm packages first (`npm ci`) when they are missing. Nothing of the
HTTP exchange is mocked: Klaxon fetches discovery, keys and tokens from it over HTTP, and the
tests sign people in at its pages like a browser would (`sign_in_at_provider`), or drive
Chromium through them.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

HERE = Path(__file__).resolve().parent / "oidc_provider"
# Klaxon's redirect URI under Django's test client (KLAXON_PUBLIC_URL = "http://testserver").
CALLBACK = "http://testserver/sso/callback/"
START_TIMEOUT = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def install() -> None:
    """`npm ci` from the committed package-lock.json, once per checkout."""
    if (HERE / "node_modules" / "oidc-provider").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("Node.js and npm are needed for the single sign-on tests (apt-get install nodejs npm).")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)


@dataclass
class Client:
    client_id: str
    client_secret: str


class TestProvider:
    """A running provider: its issuer URL and the test-only controls of provider.js."""

    def __init__(self, process: subprocess.Popen, issuer: str):
        self.process = process
        self.issuer = issuer

    @classmethod
    def start(cls) -> "TestProvider":
        install()
        port = _free_port()
        process = subprocess.Popen(
            ["node", str(HERE / "provider.js"), str(port)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = ""
        while time.monotonic() < deadline and not line:
            line = process.stdout.readline().strip()
            if process.poll() is not None:
                break
        if not line:
            process.kill()
            raise RuntimeError("The test OpenID Connect provider did not start.")
        return cls(process, json.loads(line)["issuer"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.issuer}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
        return json.loads(data) if data else {}

    def register_client(self, *redirect_uris: str) -> Client:
        """A new application at the provider (OpenID Connect Dynamic Client Registration)."""
        registered = self._post(
            "/reg",
            {
                "redirect_uris": list(redirect_uris),
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
        )
        return Client(registered["client_id"], registered["client_secret"])

    def add_account(self, login: str, **claims) -> None:
        """What the provider says about whoever signs in as `login` (sub is always the login)."""
        self._post("/__test__/accounts", {"login": login, "claims": claims})

    def reset(self) -> None:
        """Forget accounts and misbehaviour set by an earlier test."""
        self._post("/__test__/reset", {})

    def misbehave(self, mode: str) -> None:
        """The next token response carries a bad ID token (see provider.js)."""
        self._post("/__test__/misbehave", {"mode": mode})


def sign_in_at_provider(authorization_url: str, login: str, *, browser: requests.Session | None = None) -> str:
    """Sign in as `login` at the provider's own pages, as a browser would; the URL the provider
    then sends the browser to (Klaxon's redirect URI with code, state and iss)."""
    browser = browser or requests.Session()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(authorization_url))
    url, method, data = authorization_url, "GET", None
    for _ in range(10):
        response = browser.request(method, url, data=data, allow_redirects=False, timeout=10)
        if response.status_code in (301, 302, 303):
            url, method, data = urljoin(url, response.headers["Location"]), "GET", None
            if not url.startswith(origin):
                return url
            continue
        assert response.status_code == 200, (response.status_code, response.text[:500])
        if 'name="login"' in response.text:
            action = response.text.split('action="', 1)[1].split('"', 1)[0]
            url, method = urljoin(url, action), "POST"
            data = {"prompt": "login", "login": login, "password": "any"}
            continue
        raise AssertionError(f"Unexpected page at the provider: {response.text[:500]}")
    raise AssertionError("Too many redirects at the provider")


def path_of(url: str) -> str:
    """The path and query of a URL on Klaxon, for Django's test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def connect(provider: TestProvider, organisation, *, by, **options):
    """`organisation`'s single sign-on at the test provider, configured and tested by `by`
    (options: sso.actions.Settings fields such as admin_group). As after their real Test
    sign-in (typing their userName at the provider), `by` is linked to their provider account."""
    from sso import actions
    from sso.models import SsoLink

    registered = provider.register_client(CALLBACK)
    options.setdefault("display_name", "Test IdP")
    configured, _ = actions.configure(
        organisation,
        actions.Settings(provider.issuer, registered.client_id, registered.client_secret, **options),
        by=by,
    )
    actions.record_test(configured, by=by)
    SsoLink.objects.create(organisation=organisation, user=by, issuer=provider.issuer, subject=by.user_name)
    configured.refresh_from_db()
    return configured
