"""Real Klaxon server processes, for tests that need more than Django's test client:
several processes on one database, a worker killed mid-request, a database that is down."""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.db import connection

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_database_url() -> str:
    """The test database this process uses, as a DATABASE_URL for server processes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        # settings.py gives every test process its own file (never :memory:), so other
        # processes can open it.
        return "sqlite:///" + str(db["NAME"])
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"
    raise NotImplementedError(f"Klaxon runs on SQLite or PostgreSQL, not {connection.vendor}")


test_database_url.__test__ = False  # a helper, not a test


class KlaxonProcess:
    """Klaxon under gunicorn with one worker, configured as deployed (gunicorn.conf.py)."""

    def __init__(self, log: Path, *, database_url: str | None = None, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {
            **os.environ,
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "1",
            "DEBUG": "true",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "KLAXON_PUBLIC_URL": self.url,
            # As tests/conftest.py: the suite's administrators sign in with a password alone.
            "KLAXON_MFA_FOR_SITE_ADMINS": "false",
            "DATABASE_URL": database_url or test_database_url(),
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "klaxon_site.wsgi"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def worker(self) -> int | None:
        """The pid of the gunicorn worker (the master's only child)."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
