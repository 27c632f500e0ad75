#!/usr/bin/env python
"""Klaxon's soak test: minutes of parallel Entra-style SCIM traffic, then a consistency check.

Klaxon decides who receives emergency alerts, so a change lost or duplicated under sustained
concurrent load is a safety problem that request-by-request tests do not show. This script
plays an identity provider: it remembers what it believes it wrote, and at the end checks
that Klaxon holds exactly that.

    make soak                                           # 5 minutes, 4 workers; starts PostgreSQL + gunicorn
    make soak SOAK_ARGS="--duration 60 --workers 8"
    .venv/bin/python bench/soak.py --url http://127.0.0.1:8000/scim/v2/KEY --token klx_...  # a running Klaxon

Each worker is one keep-alive connection sending what Entra ID sends, chosen at random:
GET ?filter=userName eq then POST /Users; PATCH of attributes; PATCH "active": "False" /
"True" (strings, as Entra sends them); GET ?filter=displayName eq then POST /Groups; member
Add PATCHes; member Remove PATCHes in both Entra forms (`path: members` with a value list,
and `members[value eq "…"]`); reads; and now and then the same POST again, as Entra retries
after a timeout, which must answer 409 uniqueness. Workers share groups, so member PATCHes of
one group race each other; each user belongs to one worker, so every belief has one owner.
A request without a definite answer (broken connection, 5xx) is retried up to 3 times.

At the end, through SCIM: every user believed in exists exactly once with the believed id,
`active` and displayName; no user or group of this run exists that is not believed in; every
group's members are exactly the believed ones, each listed once. When the script started the
server, the database is counted too (users, memberships, duplicates). Prints requests,
responses by status, throughput, latency and the verdict; exits 1 on any inconsistency, any
5xx or broken connection, or any unexpected status. Traffic is bounded by --duration and
--max-requests, and goes to loopback addresses only.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ is not a package; import its sibling as bench.run

from bench.run import KLAXON, PATCH_SCHEMA, USER_SCHEMA, Client, Server, pct, quote_filter  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOCATIONS = ["London", "Leeds", "Manchester"]
RETRIES = 3


class Budget(Exception):
    """The time or request budget is spent: the worker stops."""


class SoakClient(Client):
    """bench.run's Client, answering (status, document) instead of raising on errors."""

    def __init__(self, base_url, token, *, deadline: float, max_requests: int):
        super().__init__(base_url, token)
        self.deadline, self.max_requests = deadline, max_requests
        self.lock = threading.Lock()
        self.requests, self.statuses, self.latencies = 0, Counter(), []
        self.broken, self.unexpected, self.checking = 0, [], False

    def send(self, method, path, body=None, *, expect=(200,)):
        """One request; retried when the answer is not definite. Returns (status, document)."""
        for _ in range(RETRIES):
            status, document = self._once(method, path, body)
            if status is not None and status < 500:
                break
        if status not in expect:
            with self.lock:
                self.unexpected.append(f"{method} {path}: {status} {json.dumps(document)[:200] if document else ''}")
        return status, document

    def _once(self, method, path, body):
        with self.lock:
            if not self.checking:  # the final check's reads are not traffic
                if self.requests >= self.max_requests or time.monotonic() > self.deadline:
                    raise Budget
                self.requests += 1
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"}
        started = time.perf_counter()
        try:
            connection.request(
                method, self.prefix + path, body=json.dumps(body) if body is not None else None, headers=headers
            )
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self.local.connection = None
            with self.lock:
                self.broken += 1
            return None, None
        if not self.checking:
            with self.lock:
                self.statuses[response.status] += 1
                self.latencies.append(time.perf_counter() - started)
        try:
            return response.status, (json.loads(payload) if payload else None)
        except ValueError:
            return response.status, None


class IdentityProvider:
    """What the identity provider believes, shared by the workers (each owns its users)."""

    def __init__(self, client: SoakClient, run: str, max_users: int):
        self.client, self.run, self.max_users = client, run, max_users
        self.lock = threading.Lock()
        self.users = {}  # userName: {"id", "active", "displayName"}
        self.groups = {}  # displayName: id
        self.members = defaultdict(set)  # group id: user ids
        self.expected_409 = 0
        self.mismatches = []

    # Users ----------------------------------------------------------------------------

    def create_user(self, worker: int, n: int):
        name = f"{self.run}-w{worker}-u{n}@soak.test"
        search = "/Users?filter=" + quote_filter(f'userName eq "{name}"')
        _, found = self.client.send("GET", search)
        body = {
            "schemas": [USER_SCHEMA],
            "userName": name,
            "externalId": f"{self.run}-w{worker}-u{n}",
            "active": True,
            "displayName": f"Worker {worker} user {n}",
            "name": {"givenName": "Soak", "familyName": f"User{n}"},
            "emails": [{"value": name, "type": "work", "primary": True}],
            KLAXON: {"location": random.choice(LOCATIONS)},
        }
        if found and found.get("totalResults"):  # an earlier POST did arrive after all
            created = found["Resources"][0]
        else:
            status, created = self.client.send("POST", "/Users", body, expect=(201, 409))
            if status == 409:  # a retried POST had succeeded: match on userName, as Entra does
                created = self.client.send("GET", search)[1]["Resources"][0]
            elif status != 201:
                return
        with self.lock:
            self.users[name] = {
                "id": created["id"],
                "active": created["active"],
                "displayName": body["displayName"],
                "worker": worker,
            }
        if random.random() < 0.1:
            status, error = self.client.send("POST", "/Users", body, expect=(409,))
            if status == 409 and error.get("scimType") == "uniqueness":
                with self.lock:
                    self.expected_409 += 1

    def own_users(self, worker):
        with self.lock:
            return [(name, user) for name, user in self.users.items() if user["worker"] == worker]

    def patch_user(self, user, operations):
        return self.client.send("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH_SCHEMA], "Operations": operations})

    def change_attributes(self, user):
        name = f"Renamed {random.randrange(10**6)}"
        status, _ = self.patch_user(
            user,
            [
                {"op": "Replace", "path": "displayName", "value": name},
                {"op": "Replace", "path": f"{KLAXON}:location", "value": random.choice(LOCATIONS)},
            ],
        )
        if status == 200:
            user["displayName"] = name

    def toggle_active(self, user):
        wanted = not user["active"]
        status, _ = self.patch_user(user, [{"op": "Replace", "path": "active", "value": str(wanted)}])
        if status == 200:
            user["active"] = wanted

    def read_user(self, user):
        status, document = self.client.send("GET", f"/Users/{user['id']}")
        if status == 200 and (document["active"], document.get("displayName")) != (user["active"], user["displayName"]):
            with self.lock:
                self.mismatches.append(
                    f"read {user['id']}: {document.get('displayName')!r}, active "
                    f"{document['active']} (believed {user['displayName']!r}, {user['active']})"
                )

    # Groups ---------------------------------------------------------------------------

    def create_group(self, name):
        search = "/Groups?excludedAttributes=members&filter=" + quote_filter(f'displayName eq "{name}"')
        _, found = self.client.send("GET", search)
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []}
        if found and found.get("totalResults"):
            created = found["Resources"][0]
        else:
            status, created = self.client.send("POST", "/Groups", body, expect=(201, 409))
            if status == 409:
                created = self.client.send("GET", search)[1]["Resources"][0]
            elif status != 201:
                return
        with self.lock:
            self.groups[name] = created["id"]
        if random.random() < 0.2:
            status, _ = self.client.send("POST", "/Groups", body, expect=(409,))
            if status == 409:
                with self.lock:
                    self.expected_409 += 1

    def change_members(self, worker):
        with self.lock:
            group = random.choice(list(self.groups.values()))
            believed = set(self.members[group])
        mine = [user["id"] for _, user in self.own_users(worker)]
        outside = [i for i in mine if i not in believed]
        inside = [i for i in mine if i in believed]
        path = f"/Groups/{group}"
        if outside and (not inside or random.random() < 0.6):
            chosen = random.sample(outside, min(len(outside), random.choice([1, 1, 1, 3])))
            operation = {"op": "Add", "path": "members", "value": [{"value": i} for i in chosen]}
            status, _ = self.client.send(
                "PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": [operation]}, expect=(204,)
            )
            if status == 204:
                with self.lock:
                    self.members[group] |= set(chosen)
        elif inside:
            chosen = random.choice(inside)
            operation = random.choice(
                [
                    {"op": "Remove", "path": "members", "value": [{"value": chosen}]},
                    {"op": "remove", "path": f'members[value eq "{chosen}"]'},
                ]
            )
            status, _ = self.client.send(
                "PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": [operation]}, expect=(204,)
            )
            if status == 204:
                with self.lock:
                    self.members[group].discard(chosen)

    # One worker -----------------------------------------------------------------------

    def work(self, worker: int, users_per_worker: int):
        made = 0
        try:
            while True:
                mine = self.own_users(worker)
                roll = random.random()
                if made < users_per_worker and (len(mine) < 5 or roll < 0.25):
                    self.create_user(worker, made)
                    made += 1
                elif not mine:
                    return
                elif roll < 0.45:
                    self.change_members(worker)
                elif roll < 0.65:
                    self.change_attributes(random.choice(mine)[1])
                elif roll < 0.75:
                    self.toggle_active(random.choice(mine)[1])
                elif roll < 0.78:
                    self.create_group(f"{self.run}-w{worker}-g{random.randrange(10**9)}")
                else:
                    self.read_user(random.choice(mine)[1])
        except Budget:
            pass
        finally:
            connection = getattr(self.client.local, "connection", None)
            if connection is not None:
                connection.close()

    # The final check ------------------------------------------------------------------

    def listed(self, resource: str, attribute: str) -> list[dict]:
        """Every resource of this run, paged through SCIM (nothing writes any more)."""
        documents, start = [], 1
        while True:
            text = quote_filter(f'{attribute} sw "{self.run}-"')
            status, page = self.client.send("GET", f"/{resource}?filter={text}&startIndex={start}&count=200")
            if status != 200:
                raise SystemExit(f"Listing {resource} failed: {status}")
            documents += page["Resources"]
            start += page["itemsPerPage"]
            if not page["itemsPerPage"] or start > page["totalResults"]:
                return documents

    def check(self) -> list[str]:
        problems = list(self.mismatches)
        by_name = defaultdict(list)
        for document in self.listed("Users", "userName"):
            by_name[document["userName"].lower()].append(document)
        for name, user in self.users.items():
            found = by_name.pop(name.lower(), [])
            if len(found) != 1:
                problems.append(f"user {name}: found {len(found)} times")
            elif (found[0]["id"], found[0]["active"], found[0].get("displayName")) != (
                user["id"],
                user["active"],
                user["displayName"],
            ):
                problems.append(
                    f"user {name}: {found[0]['id']} active={found[0]['active']} "
                    f"{found[0].get('displayName')!r}, believed {user}"
                )
        problems += [f"user {name} exists but the identity provider never created it" for name in by_name]

        groups = defaultdict(list)
        for document in self.listed("Groups", "displayName"):
            groups[document["displayName"]].append(document)
        for name, group_id in self.groups.items():
            found = groups.pop(name, [])
            if len(found) != 1 or found[0]["id"] != group_id:
                problems.append(f"group {name}: found {len(found)} times")
                continue
            values = [member["value"] for member in found[0].get("members") or []]
            if len(values) != len(set(values)):
                problems.append(f"group {name}: a member is listed twice")
            if set(values) != self.members[group_id]:
                missing, extra = self.members[group_id] - set(values), set(values) - self.members[group_id]
                problems.append(f"group {name}: {len(missing)} believed members missing, {len(extra)} unexpected")
        problems += [f"group {name} exists but the identity provider never created it" for name in groups]
        return problems


DATABASE_CHECK = """
import json
from django.db.models import Count
from accounts.models import GroupMembership, User
users = User.objects.filter(organisation__slug=%r, source="identity_provider")
memberships = GroupMembership.objects.filter(group__organisation__slug=%r)
print(json.dumps({
    "users": users.count(),
    "memberships": memberships.count(),
    "duplicate_users": users.values("user_name").annotate(n=Count("pk")).filter(n__gt=1).count(),
    "duplicate_memberships": memberships.values("group", "user").annotate(n=Count("pk")).filter(n__gt=1).count(),
}))
"""


def check_database(server: Server, slug: str, idp: IdentityProvider) -> list[str]:
    counts = json.loads(server.manage("shell", "-c", DATABASE_CHECK % (slug, slug)).strip().splitlines()[-1])
    believed = {
        "users": len(idp.users),
        "memberships": sum(len(m) for m in idp.members.values()),
        "duplicate_users": 0,
        "duplicate_memberships": 0,
    }
    print(f"database: {counts}")
    return [
        f"database {key}: {counts[key]}, believed {value}" for key, value in believed.items() if counts[key] != value
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300, help="seconds of traffic (default 300)")
    parser.add_argument("--workers", type=int, default=4, help="parallel identity-provider connections (default 4)")
    parser.add_argument("--max-requests", type=int, default=500_000, help="stop after this many requests")
    parser.add_argument("--users-per-worker", type=int, default=400, help="users each worker creates at most")
    parser.add_argument("--groups", type=int, default=4, help="groups shared by all workers (default 4)")
    parser.add_argument("--server-workers", type=int, default=5, help="gunicorn sync workers (default 5)")
    parser.add_argument("--port", type=int, default=8766, help="port for the gunicorn this script starts")
    parser.add_argument("--url", help="SCIM endpoint URL of a running Klaxon on this machine")
    parser.add_argument("--token", help="SCIM token for --url")
    args = parser.parse_args()
    run = f"soak{int(time.time())}"

    server = slug = None
    if args.url:
        if not args.token:
            sys.exit("--url needs --token.")
        if urllib.parse.urlsplit(args.url).hostname not in LOOPBACK:
            sys.exit("The soak test only drives a Klaxon on this machine (127.0.0.1, localhost, ::1).")
        url, token = args.url, args.token
    else:
        if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
            sys.exit("Set DATABASE_URL to a PostgreSQL database, or run `make soak` (it starts one).")
        server, slug = Server(args.server_workers, args.port), run
        server.start()
    try:
        if server:
            server.manage(
                "bootstrap_site",
                "--organisation",
                "Soak",
                "--slug",
                slug,
                "--admin-email",
                "admin@soak.test",
                "--admin-password",
                "soak-admin-pass",
                "--locations",
                ",".join(LOCATIONS),
            )
            credentials = json.loads(server.manage("scim_credentials", slug, "--json"))
            url, token = credentials["endpoint_url"], credentials["token"]
        problems, idp, elapsed = soak(args, url, token, run)
        if server:
            problems += check_database(server, slug, idp)
    finally:
        if server:
            server.stop()
    report(args, idp, problems, elapsed)


def soak(args, url, token, run):
    client = SoakClient(url, token, deadline=time.monotonic() + 3600, max_requests=args.max_requests)
    idp = IdentityProvider(client, run, args.users_per_worker)
    for g in range(args.groups):
        idp.create_group(f"{run}-shared-{g}")
    client.deadline = time.monotonic() + args.duration
    print(f"Klaxon soak: {args.duration:.0f} s, {args.workers} workers, {os.cpu_count()} cores, run {run}", flush=True)
    started = time.monotonic()
    threads = [threading.Thread(target=idp.work, args=(w, args.users_per_worker)) for w in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    client.checking = True
    problems = idp.check()
    return problems, idp, elapsed


def report(args, idp, problems, elapsed):
    client = idp.client
    errors = sum(n for status, n in client.statuses.items() if status >= 500)
    print(
        f"requests: {client.requests} in {elapsed:.1f} s ({client.requests / elapsed:.1f} req/s), "
        f"p50 {pct(client.latencies, 50):.1f} ms, p95 {pct(client.latencies, 95):.1f} ms, "
        f"p99 {pct(client.latencies, 99):.1f} ms"
    )
    print("responses by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(client.statuses.items())))
    print(
        f"expected 409s (repeated POSTs): {idp.expected_409}; 5xx: {errors}; broken connections: {client.broken}; "
        f"unexpected statuses: {len(client.unexpected)}"
    )
    memberships = sum(len(m) for m in idp.members.values())
    active = sum(user["active"] for user in idp.users.values())
    print(
        f"identity provider believes: {len(idp.users)} users ({active} active), {len(idp.groups)} groups, "
        f"{memberships} memberships"
    )
    for line in client.unexpected[:10] + problems[:20]:
        print(f"  ! {line}")
    failed = problems or errors or client.broken or client.unexpected
    print(
        "verdict: "
        + (
            "INCONSISTENT or FAILED"
            if failed
            else "CONSISTENT: every believed user and membership exists exactly once, no 5xx"
        )
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
