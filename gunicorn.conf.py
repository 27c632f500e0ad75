"""Gunicorn settings for Klaxon (`gunicorn -c gunicorn.conf.py klaxon_site.wsgi`).

Workers: sync workers, (2 × cores) + 1 by default, the usual formula for
request handlers that wait on the database about as long as they compute.
Override with WEB_CONCURRENCY. Each worker keeps one persistent database
connection (CONN_MAX_AGE), so PostgreSQL needs max_connections ≥ instances × workers.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that no slow leak can grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
