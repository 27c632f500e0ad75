#!/usr/bin/env python
"""Klaxon's SCIM benchmark: drive the server the way Entra ID and Okta do, and compare
every phase with the stack's ceiling measured in the same run.

    make bench                          # 2,000 users, starts PostgreSQL and gunicorn itself
    make bench BENCH_ARGS="--preset large"   # 100,000 users
    .venv/bin/python bench/run.py --url URL --token T   # against a running Klaxon
    make bench BENCH_ARGS="--pgbouncer"      # the initial sync also through PgBouncer (transaction mode)
    make bench BENCH_ARGS="--preset large --tenants 200 --people 1000000"   # one of many tenants

Prints, per phase: requests/s, items/s, p50/p95/p99 latency, CPU per request of the
server (gunicorn), of PostgreSQL (DB CPU, every postgres process on the machine) and of
this client, and the ratio of its requests/s to the ceiling's: a bare Django project
(bench/ceiling: Django's default middleware, one view doing one indexed SELECT and one INSERT)
under gunicorn with the same workers on the same PostgreSQL, with nothing of Klaxon's.
"""

import argparse
import http.client
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
KLAXON = "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User"
PRESETS = {"small": 2_000, "large": 100_000}
LOCATIONS = ["London", "Leeds", "Manchester", "Bristol", "Atlantis"]


class Client:
    """One keep-alive connection per thread, like an identity provider's connection pool."""

    def __init__(self, base_url: str, token: str):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.prefix = parsed.hostname, parsed.port or 80, parsed.path.rstrip("/")
        self.token = token
        self.local = threading.local()

    def call(self, method: str, path: str, body=None, *, raw_path=False):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"}
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        connection.request(method, path if raw_path else self.prefix + path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return elapsed, (json.loads(payload) if payload else None)


class Portal:
    """Signed-in site administrators' browsers, for timing portal pages.

    Sessions are signed in before any page is timed: a sign-in hashes a password, which
    would otherwise land in the first pages' latency and in the CPU per page.
    """

    def __init__(self, client: Client, slug: str, sessions: int):
        self.client, self.slug = client, slug
        self.idle = queue.Queue()
        for _ in range(sessions):
            self.idle.put(self._signed_in())

    def _signed_in(self):
        session = {
            "connection": http.client.HTTPConnection(self.client.host, self.client.port, timeout=120),
            "cookies": {},
        }
        page = self._request(session, "GET", "/sign-in/")
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                "organisation": self.slug,
                "username": "admin@bench.test",
                "password": "bench-admin-pass",
            }
        )
        self._request(session, "POST", "/sign-in/", form, {"Content-Type": "application/x-www-form-urlencoded"})
        return session

    def _request(self, session, method, path, body=None, headers=None):
        cookie = "; ".join(f"{k}={v}" for k, v in session["cookies"].items())
        headers = {**(headers or {}), "Cookie": cookie, "Referer": f"http://{self.client.host}:{self.client.port}/"}
        session["connection"].request(method, path, body=body, headers=headers)
        response = session["connection"].getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                session["cookies"][name] = rest.split(";", 1)[0]
        payload = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status}")
        return payload

    def get(self, path: str) -> float:
        session = self.idle.get()
        try:
            started = time.perf_counter()
            self._request(session, "GET", path)
            return time.perf_counter() - started
        finally:
            self.idle.put(session)


def quote_filter(text: str) -> str:
    return urllib.parse.quote(text, safe="")


class Server:
    """Klaxon under gunicorn on PostgreSQL."""

    def __init__(self, workers: int, port: int, **env):
        self.port, self.workers = port, workers
        self.env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijkl",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "KLAXON_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "BIND": f"127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
            # No worker recycling: CPU and memory are read from the workers' /proc entries,
            # and a flat memory curve must be earned, not reset.
            "GUNICORN_MAX_REQUESTS": "0",
        }
        self.env.update(env)
        self.process = None

    def manage(self, *args) -> str:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self):
        self.manage("migrate", "--no-input", "-v0")
        self.manage("collectstatic", "--no-input", "-v0")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "klaxon_site.wsgi"], cwd=ROOT, env=self.env
        )
        self.wait_until_serving("/sign-in/")

    def wait_until_serving(self, path: str):
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", self.port, timeout=1).request("GET", path)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self):
        if self.process:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def pids(self) -> list[int]:
        if not self.process:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [self.process.pid, *map(int, children)]

    def cpu_seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except FileNotFoundError:
                pass
        return total / ticks

    @staticmethod
    def database_cpu_seconds() -> float:
        """CPU time of the PostgreSQL processes on this machine (the benchmark's own cluster):
        the live ones, plus what the postmaster's exited children (backends, autovacuum
        workers) used, which it accounts for once it has reaped them."""
        ticks, total = os.sysconf("SC_CLK_TCK"), 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                name, fields = stat.read_text().split("(", 1)[1].rsplit(")", 1)
            except (OSError, IndexError):
                continue
            if name.startswith("postgres"):
                fields = fields.split()
                total += int(fields[11]) + int(fields[12])
                if Path(f"/proc/{fields[1]}/comm").exists() and not Path(
                    f"/proc/{fields[1]}/comm"
                ).read_text().startswith("postgres"):
                    total += int(fields[13]) + int(fields[14])  # the postmaster: its reaped children
        return total / ticks

    def worker_memory_mb(self, field="VmRSS") -> list[float]:
        sizes = []
        for pid in self.pids()[1:]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            sizes.append(int(re.search(rf"{field}:\s+(\d+)", status).group(1)) / 1024)
        return sizes


class CeilingServer(Server):
    """The yardstick: bench/ceiling, a bare Django project, under gunicorn with Klaxon's number
    of sync workers (and heartbeats in /dev/shm, as Klaxon's), on the same PostgreSQL."""

    def start(self):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.ceiling.settings"}
        subprocess.run([PYTHON, "-m", "django", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "-w",
                str(self.workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--worker-tmp-dir",
                "/dev/shm",
                "--log-level",
                "warning",
                "bench.ceiling.wsgi",
            ],
            cwd=ROOT,
            env=env,
        )
        self.wait_until_serving("/ceiling/")


class PgBouncer:
    """PgBouncer in transaction mode in front of the benchmark's PostgreSQL (Debian's package,
    installed when missing), the way many instances × workers share one database."""

    def __init__(self, database_url: str, port: int):
        self.target = urllib.parse.urlsplit(database_url)
        self.port = port
        self.directory = Path(f"/tmp/klaxon-pgbouncer-{port}")
        self.process = None

    @property
    def url(self) -> str:
        user = self.target.username or "klaxon"
        return f"postgres://{user}@127.0.0.1:{self.port}{self.target.path}"

    def start(self):
        if not Path("/usr/sbin/pgbouncer").exists():
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "pgbouncer"], env=env, check=True
            )
        self.directory.mkdir(exist_ok=True)
        user, database = self.target.username or "klaxon", self.target.path.lstrip("/")
        (self.directory / "users.txt").write_text(f'"{user}" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            f"""[databases]
{database} = host={self.target.hostname} port={self.target.port} dbname={database} user={user}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.directory / "users.txt"}
pool_mode = transaction
default_pool_size = 10
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = {self.directory / "pgbouncer.log"}
"""
        )
        subprocess.run(["chown", "-R", "postgres", str(self.directory)], check=True)
        # PgBouncer refuses to run as root; -u drops to the PostgreSQL cluster's own user.
        self.process = subprocess.Popen(
            ["/usr/sbin/pgbouncer", "-q", "-u", "postgres", str(self.directory / "pgbouncer.ini")]
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        sys.exit("PgBouncer did not start: " + (self.directory / "pgbouncer.log").read_text()[-2000:])

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)


def database_size() -> str:
    """The benchmark database's size on disk, as PostgreSQL reports it."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
        return connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]


class Bench:
    def __init__(self, client: Client, server: Server | None, concurrency: int, slug: str):
        self.client, self.server, self.concurrency, self.slug = client, server, concurrency, slug
        self.results = []

    def run(self, name: str, jobs, *, items=None, unit="req"):
        """Run callables in parallel (each returns a list of request latencies); report one phase."""
        return self.report(name, [self.measure(jobs, items)], unit)

    def measure(self, jobs, items=None, server=None) -> dict:
        """Run callables in parallel; what they took, unreported (server CPU: `server`'s, else Klaxon's)."""
        server = server or self.server
        cpu_before = server.cpu_seconds() if server else 0
        db_before, client_before = Server.database_cpu_seconds(), time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(self.concurrency) as pool:
            latencies = [lat for batch in pool.map(lambda job: job(), jobs) for lat in batch]
        return {
            "latencies": latencies,
            "seconds": time.perf_counter() - started,
            "items": len(jobs) if items is None else items,
            "cpu": (server.cpu_seconds() - cpu_before) if server else None,
            "db_cpu": Server.database_cpu_seconds() - db_before,
            "client_cpu": time.process_time() - client_before,
        }

    def report(self, name: str, parts: list[dict], unit="req") -> dict:
        """One phase from one or more measured parts of it."""
        latencies = [lat for part in parts for lat in part["latencies"]]
        elapsed = sum(part["seconds"] for part in parts)
        cpu = None if parts[0]["cpu"] is None else sum(part["cpu"] for part in parts)
        row = {
            "phase": name,
            "requests": len(latencies),
            "seconds": elapsed,
            "req_per_s": len(latencies) / elapsed,
            "items_per_s": sum(part["items"] for part in parts) / elapsed,
            "unit": unit,
            "p50_ms": pct(latencies, 50),
            "p95_ms": pct(latencies, 95),
            "p99_ms": pct(latencies, 99),
            "cpu_ms_per_req": (cpu * 1000 / len(latencies)) if cpu is not None else None,
            "db_cpu_ms_per_req": sum(part["db_cpu"] for part in parts) * 1000 / len(latencies),
            "client_cpu_ms_per_req": sum(part["client_cpu"] for part in parts) * 1000 / len(latencies),
        }
        self.results.append(row)
        print(
            f"  {name}: {row['req_per_s']:.0f} req/s, {row['items_per_s']:.0f} {unit}/s, p99 {row['p99_ms']:.1f} ms",
            flush=True,
        )
        return row


def pct(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000


def chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="small", help="2,000 (small) or 100,000 (large) users")
    parser.add_argument("--users", type=int, help="number of users (overrides --preset)")
    parser.add_argument("--concurrency", type=int, default=4, help="parallel client connections (default 4)")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn sync workers (default 5)")
    parser.add_argument("--port", type=int, default=8765, help="port for the gunicorn this script starts")
    parser.add_argument("--url", help="SCIM endpoint URL of a running Klaxon (skips starting a server)")
    parser.add_argument("--token", help="SCIM token for --url")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--pgbouncer", action="store_true", help="also run the initial sync through PgBouncer in transaction mode"
    )
    parser.add_argument("--tenants", type=int, default=1, help="organisations sharing the database (default 1)")
    parser.add_argument("--people", type=int, help="people in all organisations together (with --tenants)")
    args = parser.parse_args()
    users = args.users or PRESETS[args.preset]
    slug = f"bench-{int(time.time())}"

    server = ceiling_server = bouncer = pooled_server = None
    pooled = None
    if args.url:
        url, token = args.url, args.token
    else:
        if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
            sys.exit("Set DATABASE_URL to a PostgreSQL database, or run `make bench` (it starts one).")
        server = Server(args.workers, args.port)
        server.start()
        ceiling_server = CeilingServer(args.workers, args.port + 1)
        ceiling_server.start()
        if args.tenants > 1:
            others = (args.people or args.tenants * users) - users
            print(f"Building {args.tenants - 1} other organisations with {others} people ...", flush=True)
            built = subprocess.run(
                [PYTHON, "bench/tenants.py", "--organisations", str(args.tenants - 1), "--people", str(others)],
                cwd=ROOT,
                env=server.env,
                capture_output=True,
                text=True,
            )
            if built.returncode:
                sys.exit(f"bench/tenants.py failed:\n{built.stderr[-3000:]}")
            print(f"  built: {built.stdout.strip()}; database {database_size()}", flush=True)
        url, token = organisation_with_credentials(server, slug)
        if args.pgbouncer:
            bouncer = PgBouncer(os.environ["DATABASE_URL"], args.port + 2)
            bouncer.start()
            pooled_server = Server(
                args.workers, args.port + 3, DATABASE_URL=bouncer.url, DATABASE_TRANSACTION_POOLING="true"
            )
            pooled_server.start()
            pooled = (Client(*organisation_with_credentials(pooled_server, slug + "-pooled")), pooled_server)
    print(
        f"Klaxon SCIM benchmark: {users} users, {args.concurrency} connections, "
        f"{args.workers if server else '?'} workers, {os.cpu_count()} cores"
        + (f", {args.tenants} organisations in the database" if args.tenants > 1 else ""),
        flush=True,
    )
    try:
        report = drive(Bench(Client(url, token), server, args.concurrency, slug), users, ceiling_server, pooled)
        if args.tenants > 1:
            report["database_size"] = database_size()
            print(f"\ndatabase size after the run: {report['database_size']}")
    finally:
        for process in (server, ceiling_server, pooled_server, bouncer):
            if process:
                process.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def organisation_with_credentials(server: Server, slug: str) -> tuple[str, str]:
    """A new organisation with the benchmark's locations and an administrator; its SCIM URL and token."""
    server.manage(
        "bootstrap_site",
        "--organisation",
        f"Benchmark {slug}",
        "--slug",
        slug,
        "--admin-email",
        "admin@bench.test",
        "--admin-password",
        "bench-admin-pass",
        "--locations",
        ",".join(LOCATIONS[:-1]),
    )
    credentials = json.loads(server.manage("scim_credentials", slug, "--json"))
    return credentials["endpoint_url"], credentials["token"]


def person_name(i: int) -> dict:
    """Every tenth person has accents in their name, for the People search's accented phase."""
    if i % 10 == 0:
        return {"givenName": "Zoë", "familyName": f"Brontë{i}"}
    return {"givenName": "Given", "familyName": f"Family{i}"}


def people_searches(users: int, count: int) -> dict[str, list[str]]:
    """What administrators type into the People search, per kind (`q` values), for `count`
    random people: a fragment of a family name (matches about a dozen people per 10,000),
    an e-mail address, a phone number as people write it, and an accented name typed
    without its accents."""
    sample = random.sample(range(users), min(users, count))
    accented = random.sample(range(0, users, 10), min(len(range(0, users, 10)), count))
    plain = [i for i in random.sample(range(users), min(users, 2 * count)) if i % 10][:count]
    return {
        "name fragment": [f"amily{i}"[:-1] for i in plain],
        "e-mail": [f"user{i:06d}@bench.test" for i in sample],
        "phone": [
            (f"07911 {i % 1000000:06d}" if n % 2 else f"+44 7911 {i % 1000000:06d}") for n, i in enumerate(sample)
        ],
        "accented name": [f"zoe bronte{i}" for i in accented],
    }


def drive(bench: Bench, users: int, ceiling_server: Server | None, pooled=None) -> dict:
    """`pooled`: (Client, Server) of a second Klaxon reaching the database through PgBouncer."""
    call = bench.client.call
    names = [f"user{i:06d}@bench.test" for i in range(users)]
    ids = {}

    # Warm every worker up (imports, connections) before anything is measured.
    warm = [lambda: [call("GET", "/ServiceProviderConfig")[0]]] * 100
    bench.run("warm-up (not a result)", warm, unit="req")
    bench.results.clear()

    # The yardstick: the ceiling view, measured before the initial sync, between its quarters
    # and after it. The machine and the database drift over a run (autovacuum working through
    # the rows just written, other tenants of the VM), so every ratio uses the mean of all five.
    has_ceiling = ceiling_server is not None
    ceiling_parts = []
    if has_ceiling:
        ceiling_call = Client(f"http://127.0.0.1:{ceiling_server.port}", "").call
        ceiling_path = "/ceiling/?name=admin%40bench.test"
        warm = [lambda: [ceiling_call("GET", ceiling_path, raw_path=True)[0]]] * 100
        bench.measure(warm, server=ceiling_server)  # its workers' imports and connections, not measured

    def measure_ceiling():
        if has_ceiling:
            jobs = [
                lambda: [
                    ceiling_call("GET", ceiling_path, raw_path=True)[0],
                    ceiling_call("POST", ceiling_path, raw_path=True)[0],
                ]
            ]
            ceiling_parts.append(bench.measure(jobs * 3000, items=6000, server=ceiling_server))

    measure_ceiling()

    def sync_job(i, call=call, names=names, ids=ids):
        def job():
            name = names[i]
            t1, found = call("GET", "/Users?filter=" + quote_filter(f'userName eq "{name}"'))
            assert found["totalResults"] == 0
            t2, created = call(
                "POST",
                "/Users",
                {
                    "schemas": [USER_SCHEMA],
                    "userName": name,
                    "externalId": f"ext-{i}",
                    "active": True,
                    "name": person_name(i),
                    "emails": [{"value": name, "type": "work", "primary": True}],
                    KLAXON: {
                        "location": LOCATIONS[i % len(LOCATIONS)],
                        "notificationPhoneNumber": f"07911 {i % 1000000:06d}",
                    },
                },
            )
            ids[i] = created["id"]
            return [t1, t2]

        return job

    memory_before = bench.server.worker_memory_mb() if bench.server else []
    sync_parts = []
    for quarter in chunks(range(users), -(-users // 4)):
        sync_parts.append(bench.measure([sync_job(i) for i in quarter]))
        measure_ceiling()
    sync = bench.report("initial sync (GET filter + POST per user)", sync_parts, unit="users")
    memory_after_sync = bench.server.worker_memory_mb() if bench.server else []
    if pooled:
        pooled_client, pooled_server = pooled
        pooled_names = [f"pooled{i:06d}@bench.test" for i in range(users)]
        jobs = [sync_job(i, pooled_client.call, pooled_names, {}) for i in range(users)]
        pooled_sync = bench.measure(jobs, server=pooled_server)
        bench.report("initial sync through PgBouncer (transaction mode)", [pooled_sync], unit="users")
        measure_ceiling()
    ceiling = None
    if has_ceiling:
        rates = [len(part["latencies"]) / part["seconds"] for part in ceiling_parts]
        bench.report("ceiling (bare Django: 1 SELECT + 1 INSERT), 5 times around the sync", ceiling_parts)
        ceiling = {"req_per_s": sum(rates) / len(rates), "rates": rates}

    # Groups: member PATCHes in batches of 100, several groups in parallel.
    group_count = 5
    group_ids = [
        call("POST", "/Groups", {"displayName": f"Team {g}", "members": []})[1]["id"] for g in range(group_count)
    ]
    member_ids = [ids[i] for i in range(users)]

    def add_batch(group_id, batch):
        return lambda: [
            call(
                "PATCH",
                f"/Groups/{group_id}",
                {
                    "schemas": [PATCH_SCHEMA],
                    "Operations": [{"op": "Add", "path": "members", "value": [{"value": m} for m in batch]}],
                },
            )[0]
        ]

    jobs = [add_batch(g, batch) for g in group_ids for batch in chunks(member_ids, 100)]
    bench.run("group member PATCHes (batches of 100)", jobs, items=group_count * users, unit="memberships")

    big = min(users, 10_000)
    big_group = call("POST", "/Groups", {"displayName": "Everyone", "members": []})[1]["id"]
    bench.run(
        f"one PATCH adding {big} members", [add_batch(big_group, member_ids[:big])], items=big, unit="memberships"
    )
    everyone = min(users, 50_000)
    for batch in chunks(member_ids[big:everyone], 10_000):
        add_batch(big_group, batch)()
    okta_group = call("POST", "/Groups", {"displayName": "Okta push", "members": []})[1]["id"]

    def okta_replace():
        members = random.sample(member_ids, min(users, 5000))
        return [
            call(
                "PUT", f"/Groups/{okta_group}", {"displayName": "Okta push", "members": [{"value": m} for m in members]}
            )[0]
        ]

    # One PUT after another, as Okta pushes a group: parallel PUTs of one group wait for each
    # other's row lock, and their latency would be the queue's, not the request's.
    sequential = Bench(bench.client, bench.server, 1, bench.slug)
    sequential.results = bench.results
    sequential.run(
        "Okta full replace (PUT of 5,000 members), one at a time",
        [okta_replace] * 8,
        items=8 * min(users, 5000),
        unit="memberships",
    )

    def change(i, operations):
        return lambda: [call("PATCH", f"/Users/{ids[i]}", {"schemas": [PATCH_SCHEMA], "Operations": operations})[0]]

    chosen = random.sample(range(users), max(1, users // 10))
    jobs = [
        change(
            i,
            [
                {"op": "Replace", "path": "displayName", "value": f"Changed {i}"},
                {"op": "Replace", "path": f"{KLAXON}:location", "value": "Leeds"},
            ],
        )
        for i in chosen
    ]
    jobs += [change(i, [{"op": "Replace", "path": "active", "value": "False"}]) for i in chosen[: len(chosen) // 2]]
    bench.run("incremental cycle (attribute changes, deactivations)", jobs, unit="req")

    def page(start):
        return lambda: [call("GET", f"/Users?startIndex={start}&count=100")[0]]

    pages = [page(start) for start in range(1, users + 2, 100)]
    bench.run("paging /Users with count=100", pages, items=users, unit="users listed")

    sample = random.sample(range(users), min(users, 1000))
    bench.run("GET /Users/{id}", [lambda i=i: [call("GET", f"/Users/{ids[i]}")[0]] for i in sample], unit="req")
    bench.run(
        "GET /Users?filter=externalId eq",
        [lambda i=i: [call("GET", "/Users?filter=" + quote_filter(f'externalId eq "ext-{i}"'))[0]] for i in sample],
        unit="req",
    )
    group_filter = "/Groups?excludedAttributes=members&filter=" + quote_filter('displayName eq "Everyone"')
    bench.run(
        f"GET group of {everyone} by displayName, excludedAttributes=members",
        [lambda: [call("GET", group_filter)[0]]] * 1000,
        unit="req",
    )
    bench.run(
        f"GET /Groups/{{id}} of {everyone}, excludedAttributes=members",
        [lambda: [call("GET", f"/Groups/{big_group}?excludedAttributes=members")[0]]] * 1000,
        unit="req",
    )

    if bench.server:
        portal = Portal(bench.client, bench.slug, bench.concurrency)
        pages = range(1, min(users // 50, 200) + 1)
        bench.run(
            "portal People list pages (50 people each)",
            [lambda n=n: [portal.get(f"/people/?page={n}")] for n in pages],
            unit="pages",
        )
        # People search (accounts/search.py): included in every preset; the target at
        # 100,000 people is p95 < 100 ms (bench/RESULTS.md).
        for kind, texts in people_searches(users, 200).items():
            bench.run(
                f"portal People search: {kind}",
                [lambda text=text: [portal.get("/people/?" + urllib.parse.urlencode({"q": text}))] for text in texts],
                unit="pages",
            )

    print()
    print(
        f"{'phase':58} {'req/s':>8} {'items/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} "
        f"{'DB CPU':>7} {'client':>7} {'x ceiling':>9}"
    )
    for row in bench.results:
        ratio = f"{row['req_per_s'] / ceiling['req_per_s']:.2f}" if ceiling else "-"
        cpu = f"{row['cpu_ms_per_req']:.2f}" if row["cpu_ms_per_req"] is not None else "-"
        print(
            f"{row['phase']:58} {row['req_per_s']:8.0f} {row['items_per_s']:10.0f} {row['p50_ms']:8.1f} "
            f"{row['p95_ms']:8.1f} {row['p99_ms']:8.1f} {cpu:>10} {row['db_cpu_ms_per_req']:7.2f} "
            f"{row['client_cpu_ms_per_req']:7.2f} {ratio:>9}"
        )
    if ceiling:
        print(
            "\nceiling req/s, before the sync, after each quarter of it: "
            + ", ".join(f"{rate:.0f}" for rate in ceiling["rates"])
            + f" (mean {ceiling['req_per_s']:.0f})"
        )
    if bench.server:
        peak = bench.server.worker_memory_mb("VmHWM")
        print(
            f"\nworker RSS MB before sync {fmt(memory_before)}, after sync {fmt(memory_after_sync)}, peak {fmt(peak)}"
        )
    return {
        "users": users,
        "results": bench.results,
        "ceiling_req_per_s": ceiling["req_per_s"] if ceiling else None,
        "ceiling_rates": ceiling["rates"] if ceiling else None,
        "sync_users_per_s": sync["items_per_s"],
    }


def fmt(sizes):
    return f"{max(sizes):.0f} (max of {len(sizes)})" if sizes else "-"


if __name__ == "__main__":
    main()
