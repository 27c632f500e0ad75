"""Every change to SCIM endpoints and tokens goes through these functions (the activity log
they write to is scim_sync/activity.py).

The portal, the Django admin, management commands and the SCIM views all call them.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organisation, User
from scim_sync.models import (
    PORTAL_METHOD,
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


# What an administrator may choose when generating or rotating: when the new token stops
# working by itself. Identity providers do not rotate tokens, so none is the default; a token
# about to expire is announced on the page and by a provisioning-health e-mail (scim_sync.health).
EXPIRY_CHOICES: dict[str, timedelta | None] = {
    "none": None,
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "365d": timedelta(days=365),
}


def _by(actor: User | None) -> str:
    """Who acted, as the activity log names them; tokens made without a person come from
    `manage.py scim_credentials`."""
    return actor.user_name if actor is not None else "the command line"


def _duration(span: timedelta) -> str:
    """ "1 hour", "24 hours", "90 days"."""
    if span % timedelta(days=1) == timedelta(0) and span >= timedelta(days=2):
        days = span // timedelta(days=1)
        return f"{days} days"
    hours = int(span.total_seconds() // 3600)
    return f"{hours} hour" + ("" if hours == 1 else "s")


def log_token_event(organisation: Organisation, token: ScimToken, text: str, *, detail: str = "", at=None) -> None:
    """One line in the organisation's activity log about a token, e.g. "Token klx_ab12cdef…
    revoked by ada@acme.test". Written with the change, in its transaction; it names the token
    by its shown prefix only."""
    ScimActivity.objects.create(
        organisation=organisation,
        at=at or timezone.now(),
        method=PORTAL_METHOD,
        resource_type="Token",
        resource_id=token.prefix,
        label=f"Token {token.shown_name} {text}",  # record_activity clips long texts
        status=200,
        detail=detail,
    )


def _lock_endpoint(organisation: Organisation) -> ScimEndpoint:
    """Token changes of one organisation take turns on its endpoint row, so that two at once
    (a rotation and a revocation) cannot both decide from what the other is changing."""
    endpoint = endpoint_for(organisation)
    return ScimEndpoint.objects.select_for_update().get(pk=endpoint.pk)


def _newest_live(organisation: Organisation) -> ScimToken | None:
    """The token the identity provider should be using: the newest live one. Any other live
    token is kept by a rotation's grace period."""
    return ScimToken.objects.filter(organisation=organisation).live().order_by("-created_at", "-pk").first()


@transaction.atomic
def generate_token(
    organisation: Organisation,
    *,
    created_by: User | None = None,
    grace: timedelta | None = None,
    expires_in: timedelta | None = None,
    label: str = "",
) -> str:
    """Create a token and return it in clear: the only time anyone sees it.

    Tokens that are still live stop working after `grace` (at once when None); a token
    already due to expire sooner keeps its earlier expiry, so a rotation never extends one.
    The new token stops working after `expires_in` (never when None). The activity log says
    who generated or rotated it.
    """
    # Lock the endpoint row so that two rotations at once cannot both leave a live token.
    endpoint = _lock_endpoint(organisation)
    now = timezone.now()
    cutoff = now + grace if grace else now
    replaced = _newest_live(organisation)
    ScimToken.objects.filter(organisation=organisation).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=cutoff)
    ).update(expires_at=cutoff, end_logged=grace is None)

    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken.objects.create(
        organisation=organisation,
        prefix=raw[:SHOWN_PREFIX_LENGTH],
        token_hash=hash_token(raw),
        label=label.strip(),
        created_at=now,
        created_by=created_by,
        expires_at=now + expires_in if expires_in else None,
    )
    if replaced is None:
        expiry = f"stops working after {_duration(expires_in)}" if expires_in else "no expiry"
        log_token_event(organisation, token, f"generated by {_by(created_by)}", detail=expiry, at=now)
    else:
        expiry = f"which stops working after {_duration(expires_in)}" if expires_in else "with no expiry"
        kept = f"keeps working for {_duration(grace)}" if grace else "stopped working at once"
        log_token_event(
            organisation,
            replaced,
            f"rotated by {_by(created_by)}",
            at=now,
            detail=f"replaced by {token.shown_name}, {expiry}; the old token {kept}",
        )
    if endpoint.sync_started_at is None:
        endpoint.sync_started_at = now
        endpoint.save(update_fields=["sync_started_at"])
    return raw


@transaction.atomic
def revoke_token(token: ScimToken, *, by: User | None) -> bool:
    """Stop the token at once; False (and nothing written) if it had already stopped."""
    _lock_endpoint(token.organisation)
    now = timezone.now()
    if not ScimToken.objects.filter(pk=token.pk).live().update(expires_at=now, end_logged=True):
        return False
    token.expires_at, token.end_logged = now, True
    log_token_event(token.organisation, token, f"revoked by {_by(by)}", at=now)
    return True


@transaction.atomic
def end_grace_period(token: ScimToken, *, by: User | None) -> bool:
    """Stop a token kept by a rotation's grace period at once. False (and nothing written)
    if it is the newest live token (the one to keep: revoke it instead) or already stopped."""
    _lock_endpoint(token.organisation)
    newest = _newest_live(token.organisation)
    if newest is None or newest.pk == token.pk:
        return False
    now = timezone.now()
    if not ScimToken.objects.filter(pk=token.pk).live().update(expires_at=now, end_logged=True):
        return False
    token.expires_at, token.end_logged = now, True
    log_token_event(token.organisation, token, f"grace period ended by {_by(by)}", at=now)
    return True


@transaction.atomic
def set_token_label(token: ScimToken, label: str, *, by: User | None) -> bool:
    """Rename the token ("Entra production"); False when the label is unchanged."""
    label = label.strip()
    if label == token.label:
        return False
    old = token.label
    ScimToken.objects.filter(pk=token.pk).update(label=label)
    token.label = label
    log_token_event(
        token.organisation,
        token,
        f"label changed by {_by(by)}",
        detail=f"“{old}” → “{label}”" if old else f"labelled “{label}”",
    )
    return True


def log_ended_tokens(organisation: Organisation | None = None, *, now=None) -> int:
    """Write "Token klx_… expired" for each token that reached its expiry or the end of its
    grace period since the last call, dated when it stopped; return how many.

    Called by `check_provisioning_health` (cron) and when the Synchronisation page is opened.
    Each token is claimed by a conditional UPDATE, so two callers at once write one line.
    Tokens that stopped before the oldest activity kept (KLAXON_SCIM_LOG_DAYS) are only marked.
    """
    now = now or timezone.now()
    ended = ScimToken.objects.filter(end_logged=False, expires_at__lte=now)
    if organisation is not None:
        ended = ended.filter(organisation=organisation)
    oldest_kept = now - timedelta(days=settings.KLAXON_SCIM_LOG_DAYS)
    written = 0
    for token in ended.select_related("organisation"):
        with transaction.atomic():
            if not ScimToken.objects.filter(pk=token.pk, end_logged=False).update(end_logged=True):
                continue
            if token.expires_at < oldest_kept:
                continue
            superseded = ScimToken.objects.filter(
                organisation=token.organisation_id, created_at__gt=token.created_at, created_at__lte=token.expires_at
            ).exists()
            log_token_event(
                token.organisation,
                token,
                "expired",
                at=token.expires_at,
                detail="end of the rotation's grace period" if superseded else "its chosen expiry",
            )
            written += 1
    return written
