"""Provisioning health: notice when synchronisation goes wrong and tell the site administrators.

Klaxon decides who receives emergency alerts, so a stale token, a stopped identity provider
or a mass deactivation is a safety problem that nobody sees on the provider's side. Four
conditions are evaluated per organisation:

(a) auth_failures: at least KLAXON_ALERT_AUTH_FAILURES (10) SCIM requests refused (401 or
    429) in the last KLAXON_ALERT_AUTH_WINDOW_MINUTES (15) minutes, counted from the per-minute
    summaries of `scim_sync.refusals`. Anyone who knows the endpoint URL can cause this, so
    what administrators read depends on whether the identity provider's own requests are
    still accepted (an authenticated request in the same window): if so, the refused ones
    come from something else and nothing needs to change; only if not may the provider's
    token be wrong, and the advice explains how to replace it.
(b) silence: synchronisation was set up (a token generated), and no authenticated SCIM
    request has arrived for KLAXON_ALERT_SILENCE_HOURS (24) hours. Refused requests do not
    count: Entra ID quarantines a job whose token fails and then retries too rarely for (a).
(c) mass_deactivation: the identity provider deactivated at least
    KLAXON_ALERT_DEACTIVATION_MINIMUM (3) people in the last hour, and more than
    KLAXON_ALERT_DEACTIVATION_SHARE (0.10) of those active an hour ago (active now plus
    deactivated since).
(d) token_expiry: the token the identity provider should be using (the newest live one)
    stops working by itself within KLAXON_ALERT_TOKEN_EXPIRY_DAYS (7) days: the expiry an
    administrator chose when generating or rotating it. Tokens kept by a rotation's grace
    period are meant to stop and raise nothing. E-mailed once per warning period, not daily.

A raised condition e-mails the organisation's active site administrators at most once a day
((d): once in its warning period) and shows on the Synchronisation page until it clears.
`check_provisioning_health` (cron, every 15 minutes) evaluates all four and clears what no
longer holds; (a) is also evaluated
when the failure counter of `scim_sync.auth` reaches the threshold, and (c) after SCIM
deactivations, so the first e-mail need not wait for cron.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Case, Count, F, Max, Q, Value, When
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from accounts import time_zones
from accounts.models import Organisation, User
from accounts.signals import user_deactivated_by_provider
from klaxon_site.lib import counters
from scim_sync import refusals
from scim_sync.models import ProvisioningAlert, ScimActivity, ScimEndpoint, ScimToken, sources_text

logger = logging.getLogger(__name__)
Condition = ProvisioningAlert.Condition
# "At most once per condition per day": a rolling day, decided by the database.
RENOTIFY_AFTER = timedelta(days=1)
DEACTIVATION_WINDOW = timedelta(hours=1)

# What administrators read, in the e-mail and on the Synchronisation page; `advice` picks the
# text for one evaluation. (a) here is for when no authenticated request arrived in the window.
ADVICE = {
    Condition.AUTH_FAILURES: (
        "SCIM requests with a wrong token were refused",
        "No request with a valid token has arrived in the last {minutes} minutes, so the token your identity "
        "provider sends may be wrong: rotated here, or mistyped there. First look at the provisioning log in "
        "Entra ID or Okta (Entra ID sends changes only about every 40 minutes, so a quiet quarter of an hour "
        "proves nothing by itself): if it shows no authentication errors, these requests did not come from your "
        "identity provider and nothing needs to change. If it does, generate or rotate the token on the "
        "Synchronisation page and paste it as the Secret Token in Entra ID (Provisioning › Admin Credentials) "
        "or as the API token in Okta (Provisioning › Integration). Until then, changes to people and groups do "
        "not reach Klaxon.",
    ),
    Condition.SILENCE: (
        "Your identity provider has stopped sending changes",
        "Provisioning may be paused, in quarantine or pointed at another URL. In Entra ID open the application's "
        "Provisioning page and check its status (restart provisioning if it is stopped or quarantined); in Okta "
        "check that provisioning to the app is enabled. The Tenant URL must be the Endpoint URL shown on the "
        "Synchronisation page.",
    ),
    Condition.MASS_DEACTIVATION: (
        "Many people were deactivated in the last hour",
        "This is often a mistake at the identity provider: an application assignment, a group or a scoping "
        "filter changed. Deactivated people receive no emergency alerts. Check the Klaxon application's "
        "assignments in Entra ID or Okta; people assigned again are reactivated at the next synchronisation.",
    ),
    Condition.TOKEN_EXPIRY: (
        "Your identity provider's token expires soon",
        "When it expires, Klaxon refuses your identity provider's requests and changes to people stop reaching "
        "Klaxon. Before then, rotate the token on the Synchronisation page (keep the old one working for 24 "
        "hours) and paste the new token as the Secret Token in Entra ID (Provisioning › Admin Credentials) or "
        "as the API token in Okta (Provisioning › Integration).",
    ),
}


# (a) while the identity provider's own requests are still accepted: someone else, or something
# else, sends the wrong token. Telling administrators to replace the token would break the
# working provider, which is what someone sending wrong tokens on purpose would want.
STILL_ACCEPTED = (
    "SCIM requests with a wrong token were refused",
    "Your identity provider's requests are still accepted (last at {last:%H:%M} UTC); these refused requests "
    "come from other addresses: nothing needs to change unless you do not recognise them. Klaxon answers them "
    "without revealing anything and slows them down. A second provisioning job still holding an old token "
    "(another Entra ID application or Okta integration) would explain them; the Synchronisation page lists "
    "them minute by minute.",
)
# Room for the detail of an alert (ProvisioningAlert.detail).
DETAIL_LENGTH = 255


def setting(name: str):
    """A KLAXON_ALERT_* setting (klaxon_site/settings.py), read at each evaluation so tests and
    operators can change it without reloading this module."""
    return getattr(settings, name)


# The conditions: each returns a sentence describing the problem, or None. ------------


def auth_failures(organisation: Organisation, now: datetime) -> str | None:
    """(a), from the summaries of refused requests: how many, and from which addresses."""
    minutes = setting("KLAXON_ALERT_AUTH_WINDOW_MINUTES")
    seen = refusals.since(organisation, now - timedelta(minutes=minutes))
    if seen.refused < setting("KLAXON_ALERT_AUTH_FAILURES"):
        return None
    detail = f"{seen.refused:,} SCIM requests were refused for a wrong or missing token in the last {minutes} minutes."
    unrecorded = " and further addresses" if seen.unlisted else ""
    room = DETAIL_LENGTH - len(detail) - len(" They came from .") - len(unrecorded)
    return f"{detail} They came from {sources_text(seen.addresses, room=room)}{unrecorded}."


def provider_last_accepted(organisation: Organisation, since: datetime) -> datetime | None:
    """The latest authenticated SCIM request at or after `since`, or None: the tokens'
    last_used_at (written at most once a minute) or an activity row, whichever is later.
    Refused requests are summarised, never logged as activity (scim_sync.refusals); rows
    with 401 or 429 from before that are left out."""
    used = ScimToken.objects.filter(organisation=organisation, last_used_at__gte=since).aggregate(
        last=Max("last_used_at")
    )["last"]
    logged = (
        ScimActivity.objects.requests()
        .filter(organisation=organisation, at__gte=since)
        .exclude(status__in=(401, 429))
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    return max(filter(None, (used, logged)), default=None)


def silence(organisation: Organisation, now: datetime) -> str | None:
    """(b): the last authenticated request (token last_used_at, kept to the minute) or, if
    none came, the moment synchronisation was set up, is too long ago."""
    started = ScimEndpoint.objects.filter(organisation=organisation).values_list("sync_started_at", flat=True).first()
    if started is None:
        return None
    last_used = ScimToken.objects.filter(organisation=organisation).aggregate(last=Max("last_used_at"))["last"]
    hours = setting("KLAXON_ALERT_SILENCE_HOURS")
    if now - max(started, last_used or started) < timedelta(hours=hours):
        return None
    if last_used is None:
        return f"No request has arrived since synchronisation was set up on {started:%d %b %Y, %H:%M} UTC."
    return f"No request has arrived for more than {hours} hours (the last on {last_used:%d %b %Y, %H:%M} UTC)."


def mass_deactivation(organisation: Organisation, now: datetime) -> str | None:
    """(c), in one query over the organisation's people."""
    counts = User.objects.filter(organisation=organisation).aggregate(
        active=Count("pk", filter=Q(is_active=True)),
        deactivated=Count(
            "pk",
            filter=Q(
                is_active=False, source=User.Source.IDENTITY_PROVIDER, deactivated_at__gte=now - DEACTIVATION_WINDOW
            ),
        ),
    )
    deactivated, before = counts["deactivated"], counts["active"] + counts["deactivated"]
    if (
        deactivated < setting("KLAXON_ALERT_DEACTIVATION_MINIMUM")
        or deactivated <= setting("KLAXON_ALERT_DEACTIVATION_SHARE") * before
    ):
        return None
    return f"The identity provider deactivated {deactivated} of {before} active people in the last hour."


def token_expiry(organisation: Organisation, now: datetime) -> str | None:
    """(d): the newest live token has an expiry within the warning period."""
    newest = (
        ScimToken.objects.filter(organisation=organisation)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-pk")
        .first()
    )
    if newest is None or newest.expires_at is None:
        return None
    if newest.expires_at > now + timedelta(days=setting("KLAXON_ALERT_TOKEN_EXPIRY_DAYS")):
        return None
    when = newest.expires_at.astimezone(time_zones.zone_of(organisation))
    return (
        f"The token {newest.shown_name} stops working on {when:%d %b %Y, %H:%M} {time_zones.zone_name(organisation)}."
    )


CHECKS = {
    Condition.AUTH_FAILURES: auth_failures,
    Condition.SILENCE: silence,
    Condition.MASS_DEACTIVATION: mass_deactivation,
    Condition.TOKEN_EXPIRY: token_expiry,
}


# Raising, notifying, clearing. ----------------------------------------------------------


def renotify_after(condition: str) -> timedelta:
    """How long after an e-mail the same open condition may e-mail again: a day, but an
    expiring token is announced once in its warning period (a daily reminder about the same
    date would teach people to ignore the mail)."""
    if condition == Condition.TOKEN_EXPIRY:
        return timedelta(days=setting("KLAXON_ALERT_TOKEN_EXPIRY_DAYS"))
    return RENOTIFY_AFTER


def raise_alert(organisation: Organisation, condition: str, detail: str, now: datetime) -> bool:
    """Open the alert (or keep it open) and e-mail the site administrators unless they were
    e-mailed about it in the last day (`renotify_after`); return whether this call sent the e-mail.

    The database decides who sends: one row per organisation and condition (unique
    constraint), and the claim is a conditional UPDATE in the transaction that sends. Of two
    workers evaluating at once, the second's UPDATE waits for the first to commit and then
    matches no row. A failed send rolls the claim back, so the next evaluation retries.
    """
    ProvisioningAlert.objects.get_or_create(
        organisation=organisation, condition=condition, defaults={"first_raised_at": now, "detail": detail[:255]}
    )
    alert = ProvisioningAlert.objects.filter(organisation=organisation, condition=condition)
    # SET reads the row as it was: a cleared alert reopens with a new first_raised_at.
    alert.update(
        detail=detail[:255],
        cleared_at=None,
        first_raised_at=Case(When(cleared_at__isnull=False, then=Value(now)), default=F("first_raised_at")),
    )
    with transaction.atomic():
        due = Q(last_notified_at__isnull=True) | Q(last_notified_at__lte=now - renotify_after(condition))
        if not alert.filter(due).update(last_notified_at=now):
            return False
        notify(organisation, condition, detail, now)
    return True


def clear_alert(organisation: Organisation, condition: str, now: datetime) -> bool:
    """Close the open alert, if any; its last_notified_at stays, so a flap cannot re-send."""
    return bool(
        ProvisioningAlert.objects.filter(
            organisation=organisation, condition=condition, cleared_at__isnull=True
        ).update(cleared_at=now)
    )


def advice(organisation: Organisation, condition: str, now: datetime) -> tuple[str, str]:
    """The title and advice administrators read about `condition` as things stand at `now`.

    For (a) it depends on whether the identity provider's own requests are still accepted:
    if one was in the window, the text says so and does not ask for a new token.
    """
    title, text = ADVICE[Condition(condition)]
    if condition == Condition.AUTH_FAILURES:
        minutes = setting("KLAXON_ALERT_AUTH_WINDOW_MINUTES")
        last = provider_last_accepted(organisation, now - timedelta(minutes=minutes))
        if last is not None:
            title, text = STILL_ACCEPTED
            last = last.astimezone(UTC)
        return title, text.format(minutes=minutes, last=last)
    return title, text


def notify(organisation: Organisation, condition: str, detail: str, now: datetime | None = None) -> int:
    """One e-mail per active site administrator (addresses are not shared); returns how many."""
    title, advice_text = advice(organisation, condition, now or timezone.now())
    page = settings.KLAXON_PUBLIC_URL + reverse("scim_sync:synchronisation")
    body = (
        f"{detail}\n\n{advice_text}\n\nSynchronisation page: {page}\n\n"
        "Klaxon sends this at most once a day while the problem lasts."
    )
    # The verified recovery address, never the e-mail the identity provider writes: the
    # provider's token must not be able to redirect the alerts meant to catch its misuse.
    recipients = (
        User.objects.filter(organisation=organisation, role=User.Role.SITE_ADMIN, is_active=True)
        .exclude(recovery_email="")
        .values_list("recovery_email", flat=True)
    )
    subject = f"Klaxon: {title} ({organisation.name})"
    return send_mass_mail([(subject, body, None, [address]) for address in recipients])


@dataclass
class Health:
    """What one evaluation found for one organisation (the command prints it)."""

    organisation: str
    open: dict[str, str] = field(default_factory=dict)  # condition: detail
    notified: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)


def evaluate(organisation: Organisation, *, now: datetime | None = None) -> Health:
    """Evaluate every condition: raise (and e-mail when due) what holds, clear what does not."""
    now = now or timezone.now()
    health = Health(organisation.slug)
    for condition, check in CHECKS.items():
        detail = check(organisation, now)
        if detail:
            health.open[condition] = detail
            if raise_alert(organisation, condition, detail, now):
                health.notified.append(condition)
        elif clear_alert(organisation, condition, now):
            health.cleared.append(condition)
    return health


def open_alerts(organisation: Organisation) -> list[dict]:
    """The Synchronisation page's banner: each open alert with what to do about it now."""
    alerts = ProvisioningAlert.objects.filter(organisation=organisation, cleared_at__isnull=True)
    now = timezone.now()
    shown = []
    for a in alerts.order_by("first_raised_at"):
        if a.condition in ADVICE:
            title, text = advice(organisation, a.condition, now)
            shown.append(
                {
                    "condition": a.condition,
                    "title": title,
                    "advice": text,
                    "detail": a.detail,
                    "since": a.first_raised_at,
                }
            )
    return shown


# Hooks: evaluate early, but only when it is cheap. ------------------------------------------


def failed_authentication_counted(organisation: Organisation, failures: int) -> None:
    """Called by scim_sync.auth with the running count of failed authentications.

    Only the failure that brings the count to the threshold evaluates (a), so neither
    successful requests nor the other failures cost a query. The request being answered is
    already counted in its minute's summary. Never raises: a health check must not change
    the answer to a SCIM request.
    """
    if failures != setting("KLAXON_ALERT_AUTH_FAILURES"):
        return
    try:
        now = timezone.now()
        detail = auth_failures(organisation, now)
        if detail:
            raise_alert(organisation, Condition.AUTH_FAILURES, detail, now)
    except Exception:
        logger.exception("Could not evaluate provisioning health")


def deactivations_worth_a_look(count: int, minimum: int) -> bool:
    """True at the minimum-th, 2·minimum-th, 4·minimum-th… deactivation: a mass
    deactivation is noticed within a factor of two of its size, with O(log n) evaluations."""
    multiple, rest = divmod(count, max(minimum, 1))
    return multiple > 0 and rest == 0 and multiple & (multiple - 1) == 0


@receiver(user_deactivated_by_provider, dispatch_uid="scim_sync.health.deactivation")
def deactivated_by_provider(sender, organisation, user, **kwargs):
    """Evaluate (c) after some SCIM deactivations, once the deactivating request commits.

    Counting an organisation's people is a scan, too much for each of 10,000 PATCHes of a
    mass deactivation: a cache counter (about an hour long) picks the ones that look.
    """
    counter = f"health:deactivations:{organisation.pk}"
    count = counters.count(counter, int(DEACTIVATION_WINDOW.total_seconds()))
    if deactivations_worth_a_look(count, setting("KLAXON_ALERT_DEACTIVATION_MINIMUM")):
        transaction.on_commit(lambda: _check_deactivations(organisation), robust=True)


def _check_deactivations(organisation: Organisation) -> None:
    now = timezone.now()
    detail = mass_deactivation(organisation, now)
    if detail:
        raise_alert(organisation, Condition.MASS_DEACTIVATION, detail, now)
