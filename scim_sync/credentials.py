"""Every change to SCIM endpoints, tokens and the activity log goes through these functions.

The portal, the Django admin, management commands and the SCIM views all call them.
"""

import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organisation, User
from scim_sync.models import (
    SHOWN_PREFIX_LENGTH,
    TOKEN_PREFIX,
    ScimActivity,
    ScimEndpoint,
    ScimToken,
    hash_token,
    new_endpoint_key,
)

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
    """Log one SCIM request in a single INSERT.

    Callers pass no tokens, bodies or phone numbers; long texts are clipped rather than
    refused, because logging must never make a request fail. The INSERT is written by
    hand: it runs on every SCIM request, and the ORM's save() machinery cost more.
    """
    values = [
        organisation.pk, connection.ops.adapt_datetimefield_value(timezone.now()), _clip(method.upper(), 10),
        _clip(resource_type, 40), _clip(str(resource_id or ""), 255), _clip(label or "", 255), status,
        _clip(scim_type or "", 40), _clip(detail or "", 255), max(0, int(duration_ms)),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_ACTIVITY_SQL, values)


_INSERT_ACTIVITY_SQL = (
    f"INSERT INTO {ScimActivity._meta.db_table} (organisation_id, at, method, resource_type, resource_id, label, "
    "status, scim_type, detail, duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def prune_activity(days: int) -> int:
    """Delete activity older than `days` days (KLAXON_SCIM_LOG_DAYS); return how many rows went."""
    deleted, _ = ScimActivity.objects.filter(at__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted
