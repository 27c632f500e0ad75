"""Production serving: health probes, request ids, JSON logs without secrets, error pages,
the portal's answer to a database outage, and `make serve`."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connections
from django.template.loader import render_to_string
from django.test import RequestFactory

from klaxon_site.lib.logging import JsonFormatter, RequestContextFilter, TextFormatter
from klaxon_site.middleware import DatabaseUnavailableMiddleware

ROOT = Path(__file__).resolve().parent.parent
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
TOKEN = "klx_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"


@pytest.fixture
def log_lines():
    """The JSON lines the production handler writes for Klaxon's own loggers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("klaxon", "klaxon_site")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def broken_cursor(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")


@pytest.fixture
def database_down(db, monkeypatch):
    """Every new cursor fails, as when PostgreSQL refuses connections; undone before the
    test database is cleaned up (which needs a cursor)."""
    with monkeypatch.context() as patch:
        patch.setattr(type(connections["default"]), "cursor", broken_cursor)
        yield


# Health probes


def test_healthz_answers_ok_without_the_database_or_a_sign_in(client):
    # No `db` fixture: any query here would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_answers_ok_when_the_database_answers(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_when_the_database_is_unreachable(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_probes_are_exempt_from_the_https_redirect_and_nothing_else_is(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    response = client.get("/sign-in/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/sign-in/"


# Request ids and logs


def test_a_sane_incoming_request_id_is_returned_unchanged(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-4f2a9c.01:7")
    assert response["X-Request-ID"] == "lb-4f2a9c.01:7"


@pytest.mark.parametrize("incoming", [None, "", "two words", "x" * 129, "id\nforged line", "07700900123", TOKEN])
def test_a_request_id_is_generated_when_absent_or_not_a_plain_token(client, incoming):
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    response = client.get("/healthz", **headers)
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])


def test_every_request_writes_one_access_line_without_its_query_string(client, db, log_lines):
    response = client.get("/sign-in/?next=/people/%3Ffilter%3Dphone%2007700900123")
    [line] = [entry for entry in log_lines() if entry["logger"] == "klaxon.access"]
    assert line["request_id"] == response["X-Request-ID"]
    assert (line["level"], line["method"], line["path"], line["status"]) == ("INFO", "GET", "/sign-in/", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["message"].startswith("GET /sign-in/ 200 ")
    assert "?" not in json.dumps(line) and "07700900123" not in json.dumps(line)


def test_health_probes_are_logged_only_at_debug_level(client, log_lines):
    client.get("/healthz")
    assert [entry for entry in log_lines() if entry["logger"] == "klaxon.access"] == []


def test_records_logged_during_a_request_carry_its_id(client, database_down, log_lines):
    client.get("/readyz", HTTP_X_REQUEST_ID="probe-1")
    warning = next(entry for entry in log_lines() if entry["logger"] == "klaxon_site.health")
    assert (warning["level"], warning["request_id"], warning["method"], warning["path"]) == (
        "WARNING",
        "probe-1",
        "GET",
        "/readyz",
    )
    assert "Connection refused" in warning["exception"]


def test_a_json_log_line_has_the_documented_fields():
    record = logging.makeLogRecord(
        {
            "name": "klaxon.access",
            "levelname": "INFO",
            "levelno": logging.INFO,
            "msg": "GET %s 200",
            "args": ("/people/",),
            "created": 1767225600.5,
            "request_id": "abc",
            "method": "GET",
            "path": "/people/",
            "status": 200,
            "duration_ms": 3.2,
        }
    )
    assert json.loads(JsonFormatter().format(record)) == {
        "time": "2026-01-01T00:00:00.500+00:00",
        "level": "INFO",
        "logger": "klaxon.access",
        "message": "GET /people/ 200",
        "request_id": "abc",
        "method": "GET",
        "path": "/people/",
        "status": 200,
        "duration_ms": 3.2,
    }


SECRETS = [
    TOKEN,
    "Zm9vYmFyYmF6cXV4",
    "dXNlcjpwYXNzd29yZA",
    "jo@acme.test",
    "+44 7700 900123",
    "+447700900123",
    "07700900123",
    "5551234567",
    "Xk3pQ9vR2sT8uW1yZ4aB6cD0eF7gH5jJ",
]
USERS = "/scim/v2/Xk3pQ9vR2sT8uW1yZ4aB6cD0eF7gH5jJ/Users"


def test_tokens_authorization_filters_and_phone_numbers_never_reach_a_log_line():
    try:
        raise ValueError("bad number +447700900123 for jo")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.makeLogRecord(
        {
            "name": "scim_sync.views",
            "levelname": "ERROR",
            "levelno": logging.ERROR,
            "exc_info": exc_info,
            "msg": (
                f"Authorization: Bearer {TOKEN} headers={{'HTTP_AUTHORIZATION': 'Basic dXNlcjpwYXNzd29yZA=='}} "
                f"token {TOKEN} url {USERS}?filter=userName%20eq%20%22jo%40acme.test%22&count=5 "
                'body {"filter": "emails.value eq \\"jo@acme.test\\""} '
                "phones +44 7700 900123 and 07700900123 and (555)5551234567 kept: 2026-01-01 count=5 id 42"
            ),
            "path": f"{USERS}/5551234567",
        }
    )
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        for secret in SECRETS:
            assert secret not in line, (secret, line)
        for kept in ("count=5", "2026-01-01", "id 42", "/scim/v2/Xk3p…/Users", "ValueError"):
            assert kept in line, (kept, line)
    entry = json.loads(JsonFormatter().format(record))
    assert "[redacted]" in entry["exception"]


def test_json_logs_are_the_default_when_debug_is_off():
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "LOG_FORMAT")},
        "SECRET_KEY": "x" * 60,
        "DEBUG": "false",
    }
    script = "from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'])"
    printed = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert printed.stdout.split()[-1:] == ["json"], printed.stderr
    refused = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "LOG_FORMAT must be json or text" in refused.stderr


def test_gunicorns_own_lines_are_json_too(monkeypatch, capsys):
    from gunicorn.config import Config

    monkeypatch.setenv("LOG_FORMAT", "json")
    namespace = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)
    namespace["KlaxonLogger"](Config()).error("Worker timeout for %s", "+447700900123")
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (entry["logger"], entry["level"]) == ("gunicorn.error", "ERROR")
    assert entry["message"] == "Worker timeout for [redacted]"


def test_worker_heartbeats_are_kept_in_memory_not_on_disk():
    namespace = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)
    assert os.path.isdir("/dev/shm")  # Linux, as every Klaxon server and CI machine
    assert namespace["worker_tmp_dir"] == "/dev/shm"


def test_a_worker_loads_every_view_and_freezes_it_before_serving():
    """Full garbage collections then skip the code's objects (they paused workers 100-190 ms)."""
    script = """
import gc, sys, django
django.setup()  # what gunicorn's worker has done when post_worker_init runs
namespace = {"__file__": "gunicorn.conf.py"}
exec(open("gunicorn.conf.py").read(), namespace)
before = "scim_sync.views" in sys.modules
namespace["post_worker_init"](None)
print(before, "scim_sync.views" in sys.modules and "accounts.views" in sys.modules, gc.get_freeze_count() > 10000)
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "klaxon_site.settings", "DEBUG": "true"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True", "True"], done.stderr


# Error pages and database outages


def test_a_database_outage_in_the_portal_is_a_503_page_asking_to_retry(client, acme, monkeypatch):
    client.force_login(acme.admin)
    monkeypatch.setattr("accounts.queries.reach", broken_cursor)
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    assert "Klaxon is temporarily unavailable" in response.content.decode()
    assert "Content-Security-Policy" in response and response["X-Request-ID"]


def test_scim_database_errors_are_left_to_the_scim_layer():
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    factory = RequestFactory()
    assert middleware.process_exception(factory.get("/scim/v2/abc/Users"), OperationalError()) is None
    assert middleware.process_exception(factory.get("/people/"), ValueError()) is None
    assert middleware.process_exception(factory.get("/people/"), OperationalError()).status_code == 503


@pytest.mark.parametrize(
    "template, heading", [("500.html", "Something went wrong"), ("503.html", "Klaxon is temporarily unavailable")]
)
def test_the_server_error_pages_render_without_a_request_or_the_database(template, heading):
    # No `db` fixture and no request: these pages must render while the database is down.
    html = render_to_string(template)
    assert f"<h1>{heading}</h1>" in html
    assert "Sign out" not in html


def test_an_unknown_page_is_the_klaxon_404_page(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.content.decode()


def test_a_page_the_person_may_not_open_is_the_klaxon_403_page(client, acme):
    client.force_login(acme.user)
    response = client.get("/configuration/synchronisation/")
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in response.content.decode()


# make serve


def serve(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ALLOW_SQLITE")}
    return subprocess.run(["bin/serve"], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("database", [None, "sqlite:///var/klaxon.sqlite3"])
def test_serve_refuses_sqlite_unless_allowed(database):
    result = serve(**({"DATABASE_URL": database} if database else {}))
    assert result.returncode == 2
    assert "refusing to start on SQLite" in result.stderr
    assert result.stdout == ""


def test_make_serve_runs_the_serve_script():
    # --no-print-directory: under `make test` this is a nested make, which would say where it is.
    result = subprocess.run(["make", "-n", "--no-print-directory", "serve"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "bin/serve"
