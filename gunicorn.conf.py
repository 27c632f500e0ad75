"""Gunicorn settings for Klaxon (`gunicorn -c gunicorn.conf.py klaxon_site.wsgi`).

Workers: sync workers, (2 × cores) + 1 by default, the usual formula for
request handlers that wait on the database about as long as they compute.
Override with WEB_CONCURRENCY. Each worker keeps one persistent database
connection (CONN_MAX_AGE), so PostgreSQL needs max_connections ≥ instances × workers.
"""

import multiprocessing
import os

from gunicorn.glogging import Logger

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A sync worker touches its heartbeat file between requests. On a disk-backed /tmp that is a
# journalled metadata write: moving it to memory (as gunicorn's FAQ advises) made SCIM reads
# faster and cheaper (bench/RESULTS.md).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Recycle workers now and then so that no slow leak can grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# Klaxon's own middleware writes one access line per request (klaxon.access), with the
# request id and without the query string; gunicorn's would repeat it with SCIM filters in
# it, so it stays off unless GUNICORN_ACCESS_LOG names a destination.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"


class KlaxonLogger(Logger):
    """gunicorn's own lines (boot, worker exits, timeouts) in Klaxon's format, so that a
    JSON log stream holds nothing but JSON, redacted like the rest."""

    def setup(self, cfg):
        super().setup(cfg)
        debug = os.environ.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
        if os.environ.get("LOG_FORMAT", "text" if debug else "json") != "json":
            return
        from klaxon_site.lib.logging import JsonFormatter

        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(JsonFormatter())


logger_class = KlaxonLogger


def worker_exit(server, worker):
    """Write the SCIM activity rows still waiting in this worker (scim_sync.credentials)."""
    from scim_sync.activity import pending_activity

    pending_activity.flush()


def post_worker_init(worker):
    """Load every view now, then freeze what is loaded (gc.freeze) so that Python's full
    garbage collections skip the ~100,000 objects of the code itself.

    Unfrozen, each worker paused for a full collection every few seconds under load, and
    those pauses were the slowest 1% of SCIM requests (figures in bench/RESULTS.md).
    """
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view, as the first request would)
    gc.freeze()
