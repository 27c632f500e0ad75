"""Probes for load balancers and orchestrators; no sign-in, exempt from the HTTPS redirect."""

import logging

from django import db
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request):
    """Liveness: the process answers. No database access, so that a database outage never
    makes an orchestrator restart processes that are healthy."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """Readiness: `SELECT 1` succeeds, so a load balancer only sends requests to an instance
    that can serve them."""
    try:
        with db.connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except db.Error:
        logger.warning("Readiness probe: database unreachable", exc_info=True)
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
