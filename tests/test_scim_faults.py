"""Faults: the database goes away, a worker dies. SCIM says so and loses nothing.

- Any OperationalError or InterfaceError (database down, restarting, failing over, a lock or
  statement timeout) is a 503 SCIM error with Retry-After, whichever step raised it, the
  token check included; the request's transaction is rolled back whole.
- A gunicorn worker killed with SIGKILL in the middle of a 20,000-member group PATCH leaves
  the group exactly as before or exactly as after, on SQLite (the write-ahead log ignores
  an uncommitted transaction) and PostgreSQL (the server aborts the dead client's one).
"""

import http.client
import json
import os
import signal
import threading
import time
import uuid

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import InterfaceError, OperationalError, connection
from django.test import RequestFactory

from accounts import actions, memberships
from accounts.models import Group, GroupMembership, User
from locations.models import Location
from scim_sync.credentials import endpoint_for, generate_token
from scim_sync.models import ScimTokenQuerySet
from scim_sync.protocol import DATABASE_RETRY_AFTER
from tests.scim import CORE_GROUP, CORE_USER, ERROR, PATCH_OP
from tests.servers import KlaxonProcess, free_port


def assert_unavailable(response) -> None:
    """503, a SCIM error body, and when to come back (RFC 9110 §15.6.4)."""
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/scim+json"
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER)
    body = response.json()
    assert body == {"schemas": [ERROR], "status": "503", "detail": body["detail"]}
    assert "database" in body["detail"]


def patch_op(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def members_of(group_id) -> set[str]:
    memberships = GroupMembership.objects.filter(group__scim_id=group_id)
    return {str(i) for i in memberships.values_list("user__scim_id", flat=True)}


@pytest.fixture
def people(acme) -> list[str]:
    return [str(actions.create_manual_user(acme.organisation, f"{n}@acme.test").scim_id) for n in ("ann", "ben", "cat")]


@pytest.fixture
def group(scim, people) -> str:
    response = scim.post(
        "/Groups", {"schemas": [CORE_GROUP], "displayName": "Night shift", "members": [{"value": people[0]}]}
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


# The database unavailable -----------------------------------------------------------


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_failing_token_look_up_is_503_with_retry_after(scim, monkeypatch, error):
    def unavailable(*args, **kwargs):
        raise error("could not connect to server: Connection refused")

    monkeypatch.setattr(ScimTokenQuerySet, "authenticate", unavailable)

    assert_unavailable(scim.get("/Users"))


def refuse_every_query(execute, sql, params, many, context):
    raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "/Users", None),
        ("get", '/Groups?filter=displayName eq "Night shift"', None),
        ("post", "/Users", {"schemas": [CORE_USER], "userName": "new@acme.test"}),
        ("patch", "/Groups/{group}", patch_op({"op": "add", "path": "members", "value": []})),
        ("delete", "/Groups/{group}", None),
        ("get", "/ServiceProviderConfig", None),
    ],
)
def test_every_request_is_503_while_the_database_refuses_queries(scim, group, method, path, body):
    # Django's own hook around every query: as if the server had gone away mid-session.
    with connection.execute_wrapper(refuse_every_query):
        response = scim.request(method, path.format(group=group), body)

    assert_unavailable(response)
    assert Group.objects.filter(scim_id=group).exists()


def fail_on_second_call(monkeypatch, module, name):
    """Make module.name raise OperationalError from its second call on; return the calls."""
    real, calls = getattr(module, name), []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) > 1:
            raise OperationalError("terminating connection due to administrator command")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    return calls


def test_a_patch_whose_second_write_fails_leaves_the_group_as_it_was(scim, group, people, monkeypatch):
    before = scim.get(f"/Groups/{group}").json()
    calls = fail_on_second_call(monkeypatch, memberships, "add")

    response = scim.patch(
        f"/Groups/{group}",
        patch_op(
            {"op": "add", "path": "members", "value": [{"value": people[1]}]},
            {"op": "remove", "path": "members", "value": [{"value": people[2]}]},
            {"op": "add", "path": "members", "value": [{"value": people[2]}]},
        ),
    )

    assert_unavailable(response)
    assert len(calls) == 2  # the first add was written, then rolled back
    monkeypatch.undo()
    assert members_of(group) == {people[0]}
    assert scim.get(f"/Groups/{group}").json() == before


def test_an_add_naming_one_unknown_person_changes_neither_members_nor_version(scim, group, people):
    before = scim.get(f"/Groups/{group}").json()

    response = scim.patch(
        f"/Groups/{group}",
        patch_op(
            {"op": "add", "path": "members", "value": [{"value": people[1]}, {"value": str(uuid.uuid4())}]},
        ),
    )

    assert response.status_code == 400
    assert members_of(group) == {people[0]}
    assert scim.get(f"/Groups/{group}").json() == before


def test_a_group_whose_members_cannot_be_written_is_not_created(scim, people, monkeypatch):
    def unavailable(*args, **kwargs):
        raise OperationalError("could not write to file")

    monkeypatch.setattr(memberships, "add", unavailable)

    response = scim.post(
        "/Groups", {"schemas": [CORE_GROUP], "displayName": "Half made", "members": [{"value": people[0]}]}
    )

    assert_unavailable(response)
    assert not Group.objects.filter(display_name="Half made").exists()


def test_a_deactivation_failing_after_the_user_was_saved_is_rolled_back(scim, monkeypatch):
    created = scim.post(
        "/Users", {"schemas": [CORE_USER], "userName": "lee@acme.test", "active": True, "displayName": "Lee"}
    ).json()

    def unavailable(user):
        raise OperationalError("server closed the connection unexpectedly")

    # Deactivation saves the user, then ends their portal sessions: that second write fails.
    monkeypatch.setattr(actions, "end_sessions", unavailable)
    response = scim.patch(
        f"/Users/{created['id']}",
        patch_op(
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": "displayName", "value": "Lee (left)"},
        ),
    )

    assert_unavailable(response)
    monkeypatch.undo()
    assert scim.get(f"/Users/{created['id']}").json() == created
    assert User.objects.get(scim_id=created["id"]).is_active


# Processes: a real unreachable database, a real killed worker -----------------------------


class Server(KlaxonProcess):
    """A real Klaxon process, to be refused a database or have its worker killed."""

    def request(self, method: str, path: str, body: bytes | None = None, token: str = "", timeout=120):
        """(status, headers, parsed body); raises OSError / HTTPException if the connection is cut."""
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
            client.request(method, path, body=body, headers=headers)
            response = client.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), json.loads(raw) if raw else None
        finally:
            client.close()

    def wait_for_worker(self, previous: int | None = None, timeout: float = 60) -> int:
        """Wait until a worker other than `previous` answers; returns its pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()}")
            worker = self.worker()
            if worker and worker != previous:
                try:
                    if self.request("GET", "/scim/v2/no-such-key", timeout=5)[0] == 404:
                        return worker
                except (OSError, http.client.HTTPException):
                    pass
            time.sleep(0.1)
        pytest.fail(f"no gunicorn worker answered within {timeout}s:\n{self.log.read_text()}")


def test_a_database_that_cannot_be_reached_is_503_with_retry_after(tmp_path):
    # A PostgreSQL address nobody listens on: every connection attempt is refused.
    port = free_port()
    server = Server(tmp_path / "gunicorn.log", database_url=f"postgres://klaxon@127.0.0.1:{port}/klaxon")
    try:
        server.wait_for_worker()
        status, headers, body = server.request("GET", "/scim/v2/" + "k" * 32 + "/Users", token="klx_x")
    finally:
        server.stop()

    assert status == 503, body
    assert headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert headers["Content-Type"] == "application/scim+json"
    assert body["schemas"] == [ERROR] and body["status"] == "503"


@pytest.mark.django_db(transaction=True)
def test_after_the_database_drops_a_workers_connection_it_answers_at_most_one_503_then_reconnects(acme):
    """Connections are kept without a health check per request (settings.py): a database
    restart or failover costs each worker one 503, which identity providers retry."""
    application = WSGIHandler()  # a worker's handler: closes unusable connections after a request
    token = generate_token(acme.organisation)
    path = f"/scim/v2/{endpoint_for(acme.organisation).key}/Users"

    def get() -> int:
        status = []
        environ = RequestFactory().get(path, {"count": "1"}, HTTP_AUTHORIZATION=f"Bearer {token}").environ
        b"".join(application(environ, lambda line, headers: status.append(line)))
        return int(status[0].split()[0])

    assert get() == 200
    if connection.connection is not None:  # kept between requests (PostgreSQL; SQLite reconnects each time)
        connection.connection.close()  # what a restarted or failed-over server leaves behind

    answers = [get(), get()]

    assert answers in ([503, 200], [200, 200]), answers


KILL_MEMBERS = 20_000
# When the worker is killed, as a share of the time the same PATCH takes when left alone.
KILL_AT = (0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_a_group_patch_leaves_the_group_before_or_after(acme, tmp_path):
    organisation = acme.organisation
    key, token = endpoint_for(organisation).key, generate_token(organisation)
    default = Location.objects.get(organisation=organisation, is_default=True)
    newcomers = [
        User(organisation=organisation, user_name=f"n{i}@bulk.test", location=default) for i in range(KILL_MEMBERS)
    ]
    User.objects.bulk_create(newcomers, batch_size=2000)
    old = {str(acme.admin.scim_id), str(acme.user.scim_id)}
    after = old | {str(u.scim_id) for u in newcomers}
    body = json.dumps(
        patch_op(
            {"op": "add", "path": "members", "value": [{"value": str(u.scim_id)} for u in newcomers]},
        )
    ).encode()

    def new_group(name: str) -> Group:
        group = actions.save_group(Group(organisation=organisation), display_name=name, external_id=None)
        memberships.add(group, [acme.admin.pk, acme.user.pk])
        return group

    server = Server(tmp_path / "gunicorn.log")
    groups, outcomes = [], []
    try:
        worker = server.wait_for_worker()
        # Left alone, the PATCH adds everyone: how long that takes sets when to kill.
        group = new_group("Baseline")
        started = time.monotonic()
        status, _, answer = server.request("PATCH", f"/scim/v2/{key}/Groups/{group.scim_id}", body, token)
        duration = time.monotonic() - started
        assert status == 204, answer
        assert members_of(group.scim_id) == after

        for share in KILL_AT:
            group = new_group(f"Killed at {share:.0%}")
            groups.append(group)
            assert server.request("GET", f"/scim/v2/{key}/Users?count=1", token=token)[0] == 200  # warm
            outcome = {}

            def send(group=group, outcome=outcome):
                try:
                    outcome["status"] = server.request("PATCH", f"/scim/v2/{key}/Groups/{group.scim_id}", body, token)[
                        0
                    ]
                except (OSError, http.client.HTTPException) as error:
                    outcome["cut"] = type(error).__name__

            request = threading.Thread(target=send)
            request.start()
            time.sleep(duration * share)
            os.kill(worker, signal.SIGKILL)
            request.join(timeout=120)
            members = members_of(group.scim_id)
            assert members in (old, after), f"{len(members)} members after a kill at {share:.0%}"
            if outcome.get("status") == 204:
                assert members == after
            outcomes.append((share, outcome, "after" if members == after else "before"))
            worker = server.wait_for_worker(previous=worker)
    finally:
        server.stop()

    print(f"\nPATCH of {KILL_MEMBERS} members took {duration:.2f}s alone; kills: {outcomes}")
    # Once every server connection is gone, nothing committed late either.
    for group in groups:
        assert members_of(group.scim_id) in (old, after)
    assert any("cut" in outcome for _, outcome, _ in outcomes), f"no kill landed mid-request: {outcomes}"
