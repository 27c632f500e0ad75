"""The commands README.md shows work when pasted into a plain shell after `make run`."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests
from django.db import connection

from sso.models import IdentityProvider

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def plain_shell(*command: str, **env) -> subprocess.CompletedProcess:
    """Run as a newcomer's shell would: no DEBUG, SECRET_KEY, KLAXON_PUBLIC_URL or DATABASE_URL set."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def readme_commands() -> list[str]:
    return [
        line.split("#")[0].strip()
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("bin/manage ")
    ]


@pytest.fixture
def made_run(tmp_path):
    """The files `make run` leaves for bin/manage (its public URL and its DATABASE_URL, empty for
    SQLite), kept as they were before the test."""
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    files = {name: var / name for name in ("dev-url", "dev-database-url")}
    saved = {name: path.read_bytes() for name, path in files.items() if path.exists()}

    def write(url: str, database_url: str) -> None:
        files["dev-url"].write_text(url + "\n")
        files["dev-database-url"].write_text(database_url + "\n")

    yield write
    for name, path in files.items():
        if name in saved:
            path.write_bytes(saved[name])
        else:
            path.unlink(missing_ok=True)


@pytest.mark.django_db(transaction=True)
def test_the_readme_scim_credential_commands_work_in_a_plain_shell(acme, made_run):
    made_run("http://127.0.0.1:8144", database_url())
    commands = [command for command in readme_commands() if "scim_credentials" in command]
    assert len(commands) == 2

    for command in commands:
        result = plain_shell(*command.replace("demo", "acme").split())
        assert result.returncode == 0, result.stderr
        assert "ImproperlyConfigured" not in result.stderr
        assert "http://127.0.0.1:8144/scim/v2/" in result.stdout, result.stdout
    rotated = json.loads(result.stdout)
    assert rotated["token"].startswith("klx_")


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_the_readme_single_sign_on_command_works_against_the_test_provider(acme, made_run, oidc_provider):
    """The command the README gives for trying single sign-on locally, its issuer pointed at the
    suite's provider (same provider.js, another port): the built-in client it names exists."""
    made_run("http://127.0.0.1:8000", database_url())
    [command] = [command for command in readme_commands() if "configure_sso" in command]
    arguments = command.replace("demo", "acme").replace("http://127.0.0.1:9090", oidc_provider.issuer).split()

    result = plain_shell(*arguments)

    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:8000/sso/callback/" in result.stdout, result.stdout
    configured = IdentityProvider.objects.get(organisation=acme.organisation)
    assert configured.client_id == "klaxon-local"
    authorization = requests.get(
        f"{oidc_provider.issuer}/auth",
        params={
            "client_id": "klaxon-local",
            "redirect_uri": "http://127.0.0.1:8000/sso/callback/",
            "response_type": "code",
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert authorization.status_code in (302, 303), authorization.text[:300]  # a known client: on to sign-in


def test_bin_manage_after_make_run_on_sqlite_uses_the_default_database(made_run):
    made_run("http://127.0.0.1:8144", "")  # what `make run` writes when DATABASE_URL is unset

    result = plain_shell("bin/manage", "check")

    assert result.returncode == 0, result.stderr


def test_nothing_that_ships_points_at_the_shared_folder():
    shipped = [
        p
        for p in ROOT.rglob("*")
        if p.is_file()
        and not any(
            part in (".git", ".venv", "var", "test-artifacts", "staticfiles", "__pycache__") for part in p.parts
        )
        and p.suffix in (".py", ".md", ".html", ".txt", ".toml", ".cfg", "")
        and p.name != Path(__file__).name
    ]
    offenders = [str(p.relative_to(ROOT)) for p in shipped if "../shared" in p.read_text(errors="ignore")]
    assert offenders == []
