"""Settings come from the environment, and production values pass Django's own checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from klaxon_site.lib.env import cache_from_url, env_bool, env_int

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-like-secret-key-with-enough-length-and-entropy-0123456789",
    "ALLOWED_HOSTS": "klaxon.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://klaxon.example.com",
    "KLAXON_PUBLIC_URL": "https://klaxon.example.com",
}


def manage(*args, **env):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their own process only.
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True
    )


def test_check_deploy_reports_no_errors_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "ERROR", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "ERRORS" not in result.stderr


def test_the_secret_key_is_required_when_debug_is_off():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_migrations_match_the_models():
    result = manage("makemigrations", "--check", "--dry-run", DEBUG="true")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("raw, expected", [("true", True), ("0", False), ("Yes", True), ("off", False)])
def test_booleans_are_read_leniently(monkeypatch, raw, expected):
    monkeypatch.setenv("KLAXON_FLAG", raw)
    assert env_bool("KLAXON_FLAG") is expected


def test_a_bad_value_stops_the_start_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("KLAXON_NUMBER", "many")
    with pytest.raises(ImproperlyConfigured, match="KLAXON_NUMBER must be an integer"):
        env_int("KLAXON_NUMBER", 1)
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        cache_from_url("ftp://nowhere")


def test_cache_urls_name_a_shared_cache():
    assert cache_from_url("db://klaxon_cache")["BACKEND"].endswith("DatabaseCache")
    assert cache_from_url("redis://cache:6379/0")["LOCATION"] == "redis://cache:6379/0"


def test_behind_a_transaction_pooler_no_statement_is_prepared_on_the_server():
    """PgBouncer in transaction mode (docs/deployment.md): each transaction may land on another
    server connection, where a prepared statement or a named cursor does not exist."""
    show = (
        "from django.conf import settings; database = settings.DATABASES['default']; "
        "print(database['OPTIONS'], database.get('DISABLE_SERVER_SIDE_CURSORS'))"
    )
    pooled = {"DEBUG": "true", "DATABASE_URL": "postgres://klaxon@pgbouncer.internal:6432/klaxon"}

    through_pooler = manage("shell", "-c", show, **pooled, DATABASE_TRANSACTION_POOLING="true")
    direct = manage("shell", "-c", show, **pooled)

    assert through_pooler.stdout.splitlines()[-1] == "{'prepare_threshold': None} True", through_pooler.stderr
    assert direct.stdout.splitlines()[-1] == "{} False", direct.stderr
