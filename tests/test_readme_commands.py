"""The commands README.md shows work when pasted into a plain shell after `make run`."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def plain_shell(*command: str) -> subprocess.CompletedProcess:
    """Run as a newcomer's shell would: no DEBUG, SECRET_KEY or KLAXON_PUBLIC_URL set."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "DATABASE_URL": database_url()}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def readme_commands() -> list[str]:
    return [
        line.split("#")[0].strip()
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("bin/manage ")
    ]


@pytest.mark.django_db(transaction=True)
def test_the_readme_scim_credential_commands_work_in_a_plain_shell(acme):
    commands = readme_commands()
    assert len(commands) == 2

    for command in commands:
        result = plain_shell(*command.replace("demo", "acme").split())
        assert result.returncode == 0, result.stderr
        assert "ImproperlyConfigured" not in result.stderr
        assert re.search(r"http://127\.0\.0\.1:\d+/scim/v2/\S+", result.stdout), result.stdout
    rotated = json.loads(result.stdout)
    assert rotated["token"].startswith("klx_")


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
