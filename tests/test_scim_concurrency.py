"""Identity providers send requests in parallel: the database decides, nothing is lost.

These run against a live, threaded server on the configured database (PostgreSQL in
CI, the SQLite default otherwise), so locking is real.
"""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.models import Group, User
from scim_sync.credentials import endpoint_for, generate_token

pytestmark = pytest.mark.django_db(transaction=True)
PARALLEL = 20


@pytest.fixture
def endpoint(live_server, acme):
    token = generate_token(acme.organisation)
    base = f"{live_server.url}/scim/v2/{endpoint_for(acme.organisation).key}"

    def call(method, path, body=None):
        request = urllib.request.Request(
            base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    return call


def in_parallel(calls):
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_parallel_creates_of_one_user_name_give_one_201_and_409s(endpoint, acme):
    def create(i):
        return lambda: endpoint(
            "POST",
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "Race@Acme.test" if i % 2 else "race@acme.test",
                "externalId": f"ext-{i}",
            },
        )

    results = in_parallel([create(i) for i in range(PARALLEL)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (PARALLEL - 1), statuses
    for status, body in results:
        if status == 409:
            assert json.loads(body)["scimType"] == "uniqueness"
    assert User.objects.filter(organisation=acme.organisation, user_name__iexact="race@acme.test").count() == 1


def test_parallel_member_patches_on_one_group_lose_no_member(endpoint, acme):
    people = [
        User.objects.create(
            organisation=acme.organisation, user_name=f"member{i}@acme.test", location=acme.user.location
        )
        for i in range(PARALLEL * 2)
    ]
    status, body = endpoint("POST", "/Groups", {"displayName": "Responders", "members": []})
    assert status == 201
    group_id = json.loads(body)["id"]

    def add(pair):
        return lambda: endpoint(
            "PATCH",
            f"/Groups/{group_id}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Add", "path": "members", "value": [{"value": str(p.scim_id)} for p in pair]}],
            },
        )

    results = in_parallel([add(people[i : i + 2]) for i in range(0, len(people), 2)])

    assert [status for status, _ in results] == [204] * PARALLEL
    group = Group.objects.get(scim_id=group_id)
    assert set(group.members.values_list("pk", flat=True)) == {p.pk for p in people}


def test_parallel_updates_of_different_users_never_report_a_locked_database(endpoint, acme):
    created = [
        endpoint("POST", "/Users", {"userName": f"person{i}@acme.test", "active": True}) for i in range(PARALLEL)
    ]
    ids = [json.loads(body)["id"] for _, body in created]

    def disable(user_id):
        return lambda: endpoint(
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
        )

    results = in_parallel([disable(i) for i in ids])

    assert [status for status, _ in results] == [200] * PARALLEL, [b[:200] for _, b in results]
    assert not User.objects.filter(scim_id__in=ids, is_active=True).exists()
