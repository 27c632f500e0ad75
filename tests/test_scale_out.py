"""Two Klaxon processes on one database serve one organisation as one.

Klaxon keeps no state of its own in a process: the endpoint key and the token are looked up
in the database on every SCIM request, and portal sessions live in the database too. These
tests start two real gunicorn servers on the database this test run uses (the SQLite file by
default, PostgreSQL when DATABASE_URL points at it) and check that a change made through one,
or in this process, is what the other answers on the very next request.
"""

import http.cookiejar
import json
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.actions import create_manual_user
from accounts.models import Group, User
from scim_sync.credentials import endpoint_for, generate_token, rotate_endpoint
from scim_sync.models import ScimActivity
from tests.conftest import PASSWORD
from tests.scim import PATCH_OP
from tests.servers import KlaxonProcess

pytestmark = pytest.mark.django_db(transaction=True)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PARALLEL = 20
START_TIMEOUT_SECONDS = 60


@dataclass
class Credentials:
    """What the organisation's identity provider holds: the endpoint key and a bearer token."""

    key: str
    token: str


class Instance(KlaxonProcess):
    """One Klaxon server process, spoken to over HTTP like a client behind a load balancer."""

    def __init__(self, name: str, log: Path, env: dict | None = None):
        super().__init__(log, env=env)
        self.name = name

    def __repr__(self):
        return f"<Klaxon {self.name} {self.url}>"

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self!r} exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/sign-in/", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        pytest.fail(f"{self!r} did not answer within {START_TIMEOUT_SECONDS}s:\n{self.log.read_text()}")

    def scim(self, credentials: Credentials, method: str, path: str, body=None, *, token=None, key=None):
        """One SCIM request; returns (status, parsed JSON body or None)."""
        request = urllib.request.Request(
            f"{self.url}/scim/v2/{key or credentials.key}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {token or credentials.token}",
                "Content-Type": "application/scim+json",
                "Accept": "application/scim+json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


@pytest.fixture(scope="module")
def instances(django_db_setup):
    """Two Klaxon processes on the test database, started once for this file.

    They stop before the test database is dropped (django_db_setup ends after this), so no
    server connection keeps PostgreSQL from dropping it.
    """
    with tempfile.TemporaryDirectory(prefix="klaxon-scale-out-") as logs:
        started = []
        try:
            for name in ("A", "B"):
                started.append(Instance(name, Path(logs) / f"{name}.log"))
            for instance in started:
                instance.wait_until_ready()
            yield tuple(started)
        finally:
            for instance in started:
                instance.stop()


@pytest.fixture
def a(instances) -> Instance:
    return instances[0]


@pytest.fixture
def b(instances) -> Instance:
    return instances[1]


@pytest.fixture
def idp(acme) -> Credentials:
    return Credentials(endpoint_for(acme.organisation).key, generate_token(acme.organisation))


def create_user(instance: Instance, idp: Credentials, user_name: str) -> dict:
    status, body = instance.scim(
        idp,
        "POST",
        "/Users",
        {
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "active": True,
        },
    )
    assert status == 201, body
    return body


def create_group(instance: Instance, idp: Credentials, display_name: str) -> dict:
    status, body = instance.scim(
        idp,
        "POST",
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": display_name,
            "members": [],
        },
    )
    assert status == 201, body
    return body


def add_members_patch(scim_ids) -> dict:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": str(i)} for i in scim_ids]}],
    }


def member_ids(group_document: dict) -> set[str]:
    return {member["value"] for member in group_document.get("members", [])}


def _form_fields(html: str, action: str) -> dict:
    """The hidden inputs of the form posting to `action` (CSRF token, current token id)."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert form, f"no form posting to {action}"
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form.group(1)):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


# Credentials --------------------------------------------------------------------------


def test_a_rotated_token_is_refused_by_both_processes_on_the_next_request(a, b, idp, acme):
    for instance in (a, b):
        assert instance.scim(idp, "GET", "/Users?count=1")[0] == 200, instance

    # Rotation in this process stands for rotation through the portal of either instance:
    # both write the same rows.
    new_token = generate_token(acme.organisation, grace=None)

    for instance in (a, b):
        status, body = instance.scim(idp, "GET", "/Users?count=1")
        assert status == 401, (instance, body)
    for instance in (a, b):
        assert instance.scim(idp, "GET", "/Users?count=1", token=new_token)[0] == 200, instance


def test_rotating_the_endpoint_key_makes_the_old_url_not_found_on_both_processes(a, b, idp, acme):
    for instance in (a, b):
        assert instance.scim(idp, "GET", "/Users?count=1")[0] == 200, instance

    new_key = rotate_endpoint(acme.organisation).key

    for instance in (a, b):
        assert instance.scim(idp, "GET", "/Users?count=1")[0] == 404, instance
    for instance in (a, b):
        assert instance.scim(idp, "GET", "/Users?count=1", key=new_key)[0] == 200, instance


def test_a_token_rotated_in_one_process_portal_is_refused_by_the_other(a, b, idp, acme):
    # The servers hash passwords with the production hasher; the suite's fast MD5 hashes
    # are not among theirs.
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(pk=acme.admin.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
    # One cookie jar for both: a load balancer sends the browser to either instance.
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(instance, path):
        with browser.open(instance.url + path, timeout=60) as response:
            return response.read().decode()

    def post(instance, path, fields):
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(instance.url + path, data=data, headers={"Referer": instance.url + path})
        with browser.open(request, timeout=60) as response:
            return response.url, response.read().decode()

    # Sign in through A ...
    sign_in = get(a, "/sign-in/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', sign_in).group(1)
    landed, _ = post(
        a,
        "/sign-in/",
        {
            "csrfmiddlewaretoken": csrf,
            "organisation": "acme",
            "username": acme.admin.user_name,
            "password": PASSWORD,
        },
    )
    assert not landed.endswith("/sign-in/"), "sign-in through A failed"

    # ... and rotate through B's portal in the same session, old token refused at once.
    page = get(b, "/configuration/synchronisation/")
    fields = _form_fields(page, "/configuration/synchronisation/rotate-token/")
    _, shown = post(b, "/configuration/synchronisation/rotate-token/", {**fields, "grace": "none"})
    new_token = re.search(r'id="new-token" readonly value="([^"]+)"', shown).group(1)
    assert new_token.startswith("klx_") and new_token != idp.token

    for instance in (a, b):
        assert instance.scim(idp, "GET", "/Users?count=1")[0] == 401, instance
    for instance in (a, b):
        assert instance.scim(idp, "GET", "/Users?count=1", token=new_token)[0] == 200, instance


# Data ---------------------------------------------------------------------------------


def test_a_member_added_through_one_process_is_visible_through_the_other(a, b, idp):
    person = create_user(a, idp, "member@acme.test")
    group = create_group(a, idp, "Responders")

    status, body = a.scim(idp, "PATCH", f"/Groups/{group['id']}", add_members_patch([person["id"]]))
    assert status in (200, 204), body

    status, body = b.scim(idp, "GET", f"/Groups/{group['id']}")
    assert status == 200, body
    assert member_ids(body) == {person["id"]}


def test_a_user_created_through_one_process_is_found_through_the_other(a, b, idp):
    created = create_user(b, idp, "New.Starter@acme.test")

    query = urllib.parse.urlencode({"filter": 'userName eq "new.starter@acme.test"'})
    status, body = a.scim(idp, "GET", f"/Users?{query}")

    assert status == 200, body
    assert body["totalResults"] == 1
    assert [found["id"] for found in body["Resources"]] == [created["id"]]


def test_parallel_member_patches_split_across_processes_lose_no_member(a, b, idp, acme):
    people = [create_manual_user(acme.organisation, f"member{i}@acme.test") for i in range(PARALLEL * 2)]
    group = create_group(a, idp, "Everyone")
    pairs = [people[i : i + 2] for i in range(0, len(people), 2)]

    def add(n):
        instance = (a, b)[n % 2]
        return instance.scim(idp, "PATCH", f"/Groups/{group['id']}", add_members_patch(p.scim_id for p in pairs[n]))

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = list(pool.map(add, range(len(pairs))))

    assert [status for status, _ in results] == [204] * len(pairs), results
    everyone = {str(p.scim_id) for p in people}
    stored = Group.objects.get(scim_id=group["id"]).members.values_list("scim_id", flat=True)
    assert {str(scim_id) for scim_id in stored} == everyone
    for instance in (a, b):
        status, body = instance.scim(idp, "GET", f"/Groups/{group['id']}")
        assert status == 200, body
        assert member_ids(body) == everyone, instance


@pytest.mark.django_db(transaction=True)
def test_a_stopping_worker_writes_the_activity_rows_still_waiting(acme, tmp_path):
    """Rows wait up to KLAXON_SCIM_ACTIVITY_DELAY; a graceful stop (deploy, worker recycling)
    must not lose them."""
    credentials = Credentials(endpoint_for(acme.organisation).key, generate_token(acme.organisation))
    server = Instance("C", tmp_path / "C.log", env={"KLAXON_SCIM_ACTIVITY_DELAY": "3600"})
    try:
        server.wait_until_ready()
        assert server.scim(credentials, "GET", "/Users?count=1")[0] == 200
        assert not ScimActivity.objects.requests().filter(organisation=acme.organisation).exists()
    finally:
        server.stop()
    logged = ScimActivity.objects.requests().filter(organisation=acme.organisation)
    assert [(a.method, a.resource_type, a.status) for a in logged] == [("GET", "User", 200)]
