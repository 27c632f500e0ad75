"""Every change to SCIM endpoints, tokens and the activity log goes through these functions.

The portal, the Django admin, management commands and the SCIM views all call them.
"""

import logging
import secrets
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organisation, User
from klaxon_site.lib.paging import SNAPSHOT_SECONDS
from scim_sync.models import (
    AuthFailureSummary,
    PageBookmark,
    SHOWN_PREFIX_LENGTH,
    TOKEN_PREFIX,
    ScimActivity,
    ScimEndpoint,
    ScimToken,
    hash_token,
    new_endpoint_key,
)

logger = logging.getLogger(__name__)

# What an administrator may choose when rotating: how long the previous token keeps
# working, so the identity provider can be updated without an outage.
GRACE_CHOICES: dict[str, timedelta | None] = {
    "none": None,
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
}


def endpoint_for(organisation: Organisation) -> ScimEndpoint:
    """The organisation's endpoint, created with a fresh key the first time it is asked for."""
    endpoint, _ = ScimEndpoint.objects.get_or_create(organisation=organisation)
    return endpoint


@transaction.atomic
def rotate_endpoint(organisation: Organisation) -> ScimEndpoint:
    """Give the endpoint a new key: the old URL answers 404 from now on."""
    endpoint = endpoint_for(organisation)
    endpoint.key = new_endpoint_key()
    endpoint.rotated_at = timezone.now()
    endpoint.save(update_fields=["key", "rotated_at"])
    return endpoint


@transaction.atomic
def generate_token(
    organisation: Organisation, *, created_by: User | None = None, grace: timedelta | None = None
) -> str:
    """Create a token and return it in clear: the only time anyone sees it.

    Tokens that are still live stop working after `grace` (at once when None); a token
    already due to expire sooner keeps its earlier expiry, so a rotation never extends one.
    """
    endpoint = endpoint_for(organisation)
    # Lock the endpoint row so that two rotations at once cannot both leave a live token.
    endpoint = ScimEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    now = timezone.now()
    cutoff = now + grace if grace else now
    ScimToken.objects.filter(organisation=organisation).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=cutoff)
    ).update(expires_at=cutoff)

    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ScimToken.objects.create(
        organisation=organisation,
        prefix=raw[:SHOWN_PREFIX_LENGTH],
        token_hash=hash_token(raw),
        created_at=now,
        created_by=created_by,
    )
    if endpoint.sync_started_at is None:
        endpoint.sync_started_at = now
        endpoint.save(update_fields=["sync_started_at"])
    return raw


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record_activity(
    organisation: Organisation,
    *,
    method: str,
    resource_type: str,
    status: int,
    resource_id: str = "",
    label: str = "",
    scim_type: str = "",
    detail: str = "",
    duration_ms: int = 0,
) -> None:
    """Log one SCIM request: at once, or within KLAXON_SCIM_ACTIVITY_DELAY seconds together
    with the worker's other requests (see PendingActivity).

    Callers pass no tokens, bodies or phone numbers; long texts are clipped rather than
    refused, because logging must never make a request fail.
    """
    row = (
        organisation.pk, connection.ops.adapt_datetimefield_value(timezone.now()), _clip(method.upper(), 10),
        _clip(resource_type, 40), _clip(str(resource_id or ""), 255), _clip(label or "", 255), status,
        _clip(scim_type or "", 40), _clip(detail or "", 255), max(0, int(duration_ms)),
    )
    if settings.KLAXON_SCIM_ACTIVITY_DELAY > 0:
        pending_activity.add(row)
    else:
        _write_activity([row])


def _write_activity(rows: list) -> None:
    """Hand-written multi-row INSERTs: the ORM's save() machinery cost more than the write."""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start:start + _ROWS_PER_INSERT]
            cursor.execute(_INSERT_ACTIVITY_SQL + ", ".join([_ACTIVITY_VALUES] * len(chunk)),
                           [value for row in chunk for value in row])


_INSERT_ACTIVITY_SQL = (
    f"INSERT INTO {ScimActivity._meta.db_table} (organisation_id, at, method, resource_type, resource_id, label, "
    "status, scim_type, detail, duration_ms) VALUES "
)
_ACTIVITY_VALUES = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_ROWS_PER_INSERT = 90  # 10 parameters a row; SQLite allows 999 in one statement


class PendingActivity:
    """Activity rows of this worker that are waiting to be written, many to an INSERT.

    One INSERT per request cost as much as the request's own work during an initial
    synchronisation. Rows wait KLAXON_SCIM_ACTIVITY_DELAY seconds: the request that finds
    the oldest row due (or BATCH_ROWS waiting) writes them all on its own connection; when
    no request comes, a timer writes them after twice that. The worker writes what waits
    when it stops (gunicorn's worker_exit hook). Only a worker killed outright (SIGKILL,
    power loss) loses its last seconds of log; provisioning data is never held back.
    """

    BATCH_ROWS = 2 * _ROWS_PER_INSERT

    def __init__(self):
        self.rows, self.first_at = [], 0.0
        self.lock = threading.Lock()
        self.timer = None

    def add(self, row) -> None:
        delay = settings.KLAXON_SCIM_ACTIVITY_DELAY
        with self.lock:
            if not self.rows:
                self.first_at = time.monotonic()
                self.timer = threading.Timer(2 * delay, self._flush_from_timer)
                self.timer.daemon = True
                self.timer.start()
            self.rows.append(row)
            due = len(self.rows) >= self.BATCH_ROWS or time.monotonic() - self.first_at >= delay
        if due:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            rows, self.rows = self.rows, []
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
        if not rows:
            return
        try:
            _write_activity(rows)
        except Exception:  # The log must never turn a served request into an error.
            logger.exception("Could not record %d SCIM activity rows", len(rows))

    def _flush_from_timer(self) -> None:
        try:
            self.flush()
        finally:
            connections.close_all()  # this thread's own connection


pending_activity = PendingActivity()


def prune_activity(days: int) -> int:
    """Delete activity and summaries of refused requests older than `days` days
    (KLAXON_SCIM_LOG_DAYS), and page bookmarks past use; return how many activity rows went."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = ScimActivity.objects.filter(at__lt=cutoff).delete()
    AuthFailureSummary.objects.filter(last_at__lt=cutoff).delete()
    PageBookmark.objects.filter(written_at__lt=timezone.now() - timedelta(seconds=SNAPSHOT_SECONDS)).delete()
    return deleted
