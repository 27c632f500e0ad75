"""Where the server's time goes in one initial-sync request pair (GET `userName eq` + POST with
the Klaxon extension), measured in-process: Klaxon's WSGI application called directly, without
gunicorn or the network, on the PostgreSQL in DATABASE_URL, under cProfile.

    PG_EXTRA_OPTIONS="-c synchronous_commit=off" bin/with-postgres .venv/bin/python bench/profile_sync.py

(synchronous_commit off: otherwise every INSERT's time is mostly the disk's WAL flush.)

Prints the mean time per request pair (unprofiled, then profiled), the same for the bare-Django ceiling project's view
(bench/ceiling) called the same way, and the functions that take the most cumulative and own
time. bench/RESULTS.md records the breakdown.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KLAXON_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijkl",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "false",
    "KLAXON_PUBLIC_URL": "http://127.0.0.1:8765",
    "LOG_LEVEL": "WARNING",
}


def environ(method: str, path: str, query: str = "", body: bytes = b"", token: str = "") -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8765",
        "HTTP_HOST": "127.0.0.1:8765",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "CONTENT_TYPE": "application/scim+json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call(application, env: dict) -> tuple[str, bytes]:
    status = []
    body = b"".join(application(env, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], body


def klaxon(users: int, top: int) -> None:
    os.environ.update(KLAXON_ENV)
    os.environ["DJANGO_SETTINGS_MODULE"] = "klaxon_site.settings"
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], cwd=ROOT, check=True)
    slug = f"profile-{int(time.time())}"
    subprocess.run(
        [*manage, "bootstrap_site", "--organisation", "Profile", "--slug", slug, "--admin-email", "admin@profile.test"]
        + ["--admin-password", "profile-admin-pass", "--locations", "London,Leeds,Manchester"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    done = subprocess.run([*manage, "scim_credentials", slug, "--json"], cwd=ROOT, check=True, capture_output=True)
    credentials = json.loads(done.stdout)
    prefix = "/" + credentials["endpoint_url"].split("/", 3)[3]
    token = credentials["token"]

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

    def pair(i: int) -> None:
        name = f"user{i:06d}@profile.test"
        query = "filter=" + quote(f'userName eq "{name}"')
        status, _ = call(application, environ("GET", prefix + "/Users", query, token=token))
        assert status.startswith("200"), status
        body = json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "externalId": f"ext-{i}",
                "active": True,
                "name": {"givenName": f"Given{i}", "familyName": f"Family{i}", "formatted": f"Given{i} Family{i}"},
                "emails": [{"value": name, "type": "work", "primary": True}],
                "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User": {
                    "location": ("London", "Leeds", "Manchester")[i % 3],
                    "notificationPhoneNumber": f"07911 {i % 1000000:06d}",
                },
            }
        ).encode()
        status, created = call(application, environ("POST", prefix + "/Users", body=body, token=token))
        assert status.startswith("201"), (status, created[:300])
        ids[i] = json.loads(created)["id"]

    def change(i: int) -> None:
        """The incremental cycle's PATCH: a new display name and location (Entra ID's shape)."""
        operations = [
            {"op": "Replace", "path": "displayName", "value": f"Changed {i}"},
            {
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User:location",
                "value": "Leeds",
            },
        ]
        body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
        status, answer = call(
            application, environ("PATCH", f"{prefix}/Users/{ids[i]}", body=body.encode(), token=token)
        )
        assert status.startswith("200"), (status, answer[:300])

    ids: dict[int, str] = {}

    warm, timed = users // 10, users // 2
    for i in range(warm):
        pair(i)
    measure(pair, "GET+POST pair", range(warm, timed), range(timed, users), top, orders=("cumulative", "tottime"))
    measure(change, "incremental PATCH", range(warm, timed), range(timed, users), top, orders=("cumulative",))


def measure(request, name: str, unprofiled: range, profiled: range, top: int, *, orders) -> None:
    """`request(i)` over `unprofiled` timed plainly, then over `profiled` under cProfile."""
    started = time.perf_counter()
    for i in unprofiled:
        request(i)
    elapsed = time.perf_counter() - started
    print(f"Klaxon: {elapsed / len(unprofiled) * 1000:.2f} ms per {name} (unprofiled, in-process)")
    profiler = cProfile.Profile()
    profiler.enable()
    for i in profiled:
        request(i)
    profiler.disable()
    print_breakdown(pstats.Stats(profiler), len(profiled))
    for order in orders:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(out.getvalue())


# Where a function's own time is counted: the first of these its file path contains.
PARTS = (
    ("PostgreSQL round trips (send, wait)", ("psycopg/connection.py", "psycopg/waiting.py", "client_cursor.py")),
    ("psycopg (queries, adapting)", ("/psycopg/",)),
    ("Django ORM", ("/django/db/",)),
    ("Django request handling", ("/django/",)),
    ("DRF", ("/rest_framework/",)),
    ("scim2-models and pydantic", ("/scim2_models/", "/pydantic", "/lark/")),
    ("phonenumbers", ("/phonenumbers/",)),
    ("Klaxon", ("/accounts/", "/scim_sync/", "/locations/", "/klaxon_site/", "/sso/")),
)


def print_breakdown(stats: pstats.Stats, pairs: int) -> None:
    """Own time (tottime) per part of the stack, in ms per request or pair (profiled: cProfile
    inflates Python code more than C and waiting, so compare parts, not with the totals above)."""
    totals: dict[str, float] = {}
    for (path, _line, _name), (_calls, _primitive, own, _cumulative, _callers) in stats.stats.items():
        part = next((name for name, markers in PARTS if any(m in path for m in markers)), "other (stdlib, C)")
        totals[part] = totals.get(part, 0.0) + own
    whole = sum(totals.values())
    print("Own time per part of the stack, profiled (ms each, share):")
    for part, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {part:32} {seconds / pairs * 1000:7.2f} ms  {seconds / whole:6.1%}")
    print()


def ceiling(pairs: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.ceiling.settings"
    subprocess.run([sys.executable, "-m", "django", "migrate", "--no-input", "-v0"], cwd=ROOT, check=True)
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    warm = pairs // 10
    started = 0.0
    for i in range(pairs + warm):
        if i == warm:
            started = time.perf_counter()
        for method in ("GET", "POST"):
            status, _ = call(application, environ(method, "/ceiling/", "name=admin%40bench.test"))
            assert status.startswith("200"), status
    elapsed = time.perf_counter() - started
    print(f"bare Django ceiling: {elapsed / pairs * 1000:.2f} ms per GET+POST pair (unprofiled, in-process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--part", choices=("klaxon", "ceiling"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (bin/with-postgres starts one).")
    if args.part == "klaxon":
        klaxon(args.users, args.top)
    elif args.part == "ceiling":
        ceiling(args.users)
    else:  # each in its own process: two Django settings modules cannot share one
        for part in ("klaxon", "ceiling"):  # Klaxon migrates first, as in bench/run.py
            options = ["--part", part, "--users", str(args.users), "--top", str(args.top)]
            subprocess.run([sys.executable, __file__, *options], check=True)


if __name__ == "__main__":
    main()
