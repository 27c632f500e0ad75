"""SCIM credentials (endpoint key and tokens) and the log of SCIM requests.

Changes go through `scim_sync.credentials`; these models only hold the rows.
"""

import datetime
import hashlib
import secrets

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organisation
from klaxon_site.lib.paging import SNAPSHOT_SECONDS, ListingBookmarks

TOKEN_PREFIX = "klx_"
# "klx_" and 8 characters of the random part: enough to tell tokens apart, useless to guess with.
SHOWN_PREFIX_LENGTH = 12


def new_endpoint_key() -> str:
    """192 random bits: the key is part of the URL, so it must be unguessable too."""
    return secrets.token_urlsafe(24)


def hash_token(raw: str) -> str:
    """SHA-256 is enough: tokens carry 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ScimEndpoint(models.Model):
    """Where an organisation's identity provider sends SCIM requests.

    The key in the URL selects the organisation before the token is checked; rotating it
    makes the old URL answer 404, e.g. after the URL leaked into a ticket.
    """

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="scim_endpoint")
    key = models.CharField(max_length=64, default=new_endpoint_key, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    rotated_at = models.DateTimeField("key last rotated", null=True, blank=True)
    sync_started_at = models.DateTimeField(
        "synchronisation switched on",
        null=True,
        blank=True,
        help_text="When the first token was generated; users created by hand before this may be adopted.",
    )

    class Meta:
        verbose_name = "SCIM endpoint"
        constraints = [models.UniqueConstraint(fields=["key"], name="scim_sync_scimendpoint_key_unique")]

    def __str__(self) -> str:
        return f"SCIM endpoint of {self.organisation}"

    @property
    def url(self) -> str:
        return f"{settings.KLAXON_PUBLIC_URL}/scim/v2/{self.key}"


class ScimTokenQuerySet(models.QuerySet):
    def live(self):
        """Tokens that authenticate now: never superseded, or still inside their grace period."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))

    def authenticate(self, endpoint_key: str, raw: str) -> "ScimToken | None":
        """The live token `raw` of the organisation whose endpoint key is `endpoint_key`, or None.

        The only way a token is checked, in production and tests alike. The row is found by
        the SHA-256 of `raw` (a guess is hashed before the database sees it, so an index
        look-up reveals nothing useful about the stored hashes); another organisation's valid
        token gives None. One query on the hot path of every SCIM request: the token comes
        with its organisation and endpoint.
        """
        digest = hash_token(raw)
        # Hand-written SQL read with a plain cursor: this runs on every SCIM request, and
        # compiling the equivalent select_related() query (or building a raw() queryset)
        # cost more than running it.
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_TOKEN_FOR_ENDPOINT_SQL, [digest, endpoint_key, now])
            row = cursor.fetchone()
        if row is None:
            return None
        (
            pk,
            organisation_id,
            prefix,
            token_hash,
            last_used_at,
            expires_at,
            org_name,
            org_slug,
            org_phone_region,
            endpoint_id,
            endpoint_key,
        ) = row
        organisation = Organisation(pk=organisation_id, name=org_name, slug=org_slug, phone_region=org_phone_region)
        token = ScimToken(
            pk=pk,
            organisation=organisation,
            prefix=prefix,
            token_hash=token_hash,
            last_used_at=_aware(last_used_at),
            expires_at=_aware(expires_at),
        )
        organisation.scim_endpoint = ScimEndpoint(pk=endpoint_id, organisation=organisation, key=endpoint_key)
        return token


def _aware(value):
    """SQLite gives timestamps without a zone (they are UTC); PostgreSQL gives them with one."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, datetime.UTC)
    return value


_TOKEN_FOR_ENDPOINT_SQL = """
    SELECT t.id, t.organisation_id, t.prefix, t.token_hash, t.last_used_at, t.expires_at,
           o.name, o.slug, o.phone_region, e.id, e.key
      FROM scim_sync_scimtoken t
      JOIN accounts_organisation o ON o.id = t.organisation_id
      JOIN scim_sync_scimendpoint e ON e.organisation_id = t.organisation_id
     WHERE t.token_hash = %s AND e.key = %s AND (t.expires_at IS NULL OR t.expires_at > %s)
"""


class ScimToken(models.Model):
    """A bearer token of one organisation's identity provider, kept only as a hash."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="scim_tokens")
    prefix = models.CharField(max_length=SHOWN_PREFIX_LENGTH, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    # The administrator's name for it ("Entra production"), shown beside the prefix.
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it stops working: the expiry chosen for it, the end of a rotation's grace period, or "
        "the moment it was revoked. Empty: until rotated or revoked.",
    )
    # So that "Token klx_… expired" is written once (scim_sync.credentials.log_ended_tokens);
    # revoking, ending a grace period and rotating without grace write their own line instead.
    end_logged = models.BooleanField(
        default=False, help_text="The activity log already says when and why this token stopped working."
    )

    objects = ScimTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "SCIM token"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["token_hash"], name="scim_sync_scimtoken_hash_unique")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.organisation})"

    @property
    def shown_name(self) -> str:
        """How administrators and the activity log name it: "klx_ab12cdef… (Entra production)"."""
        return f"{self.prefix}…" + (f" ({self.label})" if self.label else "")


# The method of activity rows that record what a person did in Klaxon (a token generated,
# revoked, relabelled) rather than a SCIM request. The identity provider never reads the log.
PORTAL_METHOD = "PORTAL"
# Refusals an identity provider gets for its credentials rather than for what it sent.
REFUSED_STATUSES = (401, 403, 429)


class ScimActivityQuerySet(models.QuerySet):
    def requests(self):
        """Only the SCIM requests, without the rows of actions taken in the portal."""
        return self.exclude(method=PORTAL_METHOD)


class ScimActivity(models.Model):
    """One SCIM request, as administrators see it on the Synchronisation page, or one action on
    the organisation's tokens (method PORTAL_METHOD, resource type "Token", the token's shown
    prefix as resource id).

    Never holds tokens, request bodies or phone numbers: only what identifies the
    resource and the outcome.
    """

    class Result(models.TextChoices):
        SUCCESS = "success", "Success"
        CLIENT_ERROR = "client_error", "Client error"
        REFUSED = "refused", "Refused"
        SERVER_ERROR = "server_error", "Server error"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="scim_activity")
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    resource_type = models.CharField(max_length=40, help_text="User, Group, ServiceProviderConfig, …")
    resource_id = models.CharField("SCIM id", max_length=255, blank=True)
    label = models.CharField(max_length=255, blank=True, help_text="userName or displayName.")
    status = models.PositiveSmallIntegerField()
    scim_type = models.CharField("scimType", max_length=40, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    objects = ScimActivityQuerySet.as_manager()

    class Meta:
        verbose_name = "SCIM activity"
        verbose_name_plural = "SCIM activity"
        ordering = ["-at"]
        indexes = [models.Index(fields=["organisation", "-at"], name="scim_sync_scimactivity_org_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__gte=100, status__lte=599), name="scim_sync_scimactivity_status_http"
            ),
        ]

    def __str__(self) -> str:
        return self.summary

    @property
    def summary(self) -> str:
        """One line for administrators, e.g. "PATCH user jo@acme.test: 400 invalidValue: …"."""
        if self.is_portal:
            return self.label + (f": {self.detail}" if self.detail else "")
        kind = self.resource_type.lower() if self.resource_type in ("User", "Group") else self.resource_type
        subject = " ".join(filter(None, (self.method, kind, self.label or self.resource_id)))
        outcome = " ".join(filter(None, (str(self.status), self.scim_type)))
        return f"{subject}: {outcome}" + (f": {self.detail}" if self.detail else "")

    @property
    def is_portal(self) -> bool:
        return self.method == PORTAL_METHOD

    @property
    def result(self) -> str:
        """The outcome class shown as a badge and filtered on (see `result_q`)."""
        return self.result_for(self.status)

    @property
    def result_label(self) -> str:
        return self.Result(self.result).label

    @classmethod
    def result_for(cls, status: int) -> "ScimActivity.Result":
        if status >= 500:
            return cls.Result.SERVER_ERROR
        if status in REFUSED_STATUSES:
            return cls.Result.REFUSED
        if status >= 400:
            return cls.Result.CLIENT_ERROR
        return cls.Result.SUCCESS

    @classmethod
    def result_q(cls, result: str) -> Q:
        """The rows whose `result` is `result`, as a database condition."""
        conditions: dict[str, Q] = {
            cls.Result.SUCCESS: Q(status__lt=400),
            cls.Result.REFUSED: Q(status__in=REFUSED_STATUSES),
            cls.Result.CLIENT_ERROR: Q(status__gte=400, status__lt=500) & ~Q(status__in=REFUSED_STATUSES),
            cls.Result.SERVER_ERROR: Q(status__gte=500),
        }
        return conditions[result]


# Source addresses an AuthFailureSummary keeps; requests from further ones are only counted.
MAX_SUMMARY_ADDRESSES = 20


class AuthFailureSummary(models.Model):
    """The SCIM requests one organisation's endpoint refused in one minute: 401 for a missing
    or wrong token, 429 once the failure throttle of `scim_sync.auth` holds.

    Anyone who knows an endpoint URL can send such requests, so they are counted here, one row
    per organisation and minute, instead of one activity row each. Written only by
    `scim_sync.refusals.record`, an atomic upsert that loses no count under parallel requests.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="auth_failure_summaries")
    minute = models.DateTimeField(help_text="Start of the minute (UTC) the requests arrived in.")
    refused = models.PositiveIntegerField(default=0, help_text="Requests answered 401 or 429.")
    throttled = models.PositiveIntegerField(default=0, help_text="Of those, how many were answered 429.")
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    addresses = models.TextField(
        blank=True, help_text=f"The first {MAX_SUMMARY_ADDRESSES} distinct source addresses, separated by spaces."
    )
    unlisted = models.PositiveIntegerField(
        default=0, help_text="Requests from further addresses, once the list was full: counted, not recorded."
    )

    class Meta:
        verbose_name = "refused SCIM requests (per minute)"
        verbose_name_plural = "refused SCIM requests (per minute)"
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "minute"], name="scim_sync_authfailuresummary_one_per_minute"
            ),
            models.CheckConstraint(
                condition=Q(throttled__lte=models.F("refused")) & Q(unlisted__lte=models.F("refused")),
                name="scim_sync_authfailuresummary_parts_within_refused",
            ),
        ]

    def __str__(self) -> str:
        return self.summary

    @property
    def address_list(self) -> list[str]:
        return self.addresses.split()

    @property
    def summary(self) -> str:
        """One line for administrators, e.g. "12 refused requests from 203.0.113.9, 198.51.100.4
        between 10:01:05 and 10:01:58 UTC"."""
        first, last = (f"{moment.astimezone(datetime.UTC):%H:%M:%S}" for moment in (self.first_at, self.last_at))
        when = f"at {first} UTC" if first == last else f"between {first} and {last} UTC"
        line = f"{plural_count(self.refused, 'refused request')} from {sources_text(self.address_list)} {when}"
        if self.throttled:
            line += f"; {self.throttled:,} of them answered 429 (too many failures)"
        if self.unlisted:
            line += f"; {self.unlisted:,} came from further addresses, not recorded"
        return line


def plural_count(count: int, noun: str) -> str:
    """ "1 refused request", "1,500 refused requests"."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def sources_text(addresses: list[str], *, room: int | None = None) -> str:
    """ "203.0.113.9, 198.51.100.4", or as many as fit in `room` characters and "and 3 more"."""
    for shown in range(len(addresses), 0, -1):
        text = ", ".join(addresses[:shown]) + (f" and {len(addresses) - shown} more" if shown < len(addresses) else "")
        if room is None or len(text) <= room:
            return text
    return f"{len(addresses)} addresses" if addresses else "no recorded address"


class ProvisioningAlert(models.Model):
    """One provisioning health condition of one organisation (see `scim_sync.health`).

    A single row per organisation and condition, reopened when the condition comes back:
    `last_notified_at` survives a clear, so a flapping condition still e-mails at most once a
    day. The unique constraint lets the database, not Python, decide that two workers
    raising the same alert share one row.
    """

    class Condition(models.TextChoices):
        AUTH_FAILURES = "auth_failures", "Authentication failing"
        SILENCE = "silence", "No requests"
        MASS_DEACTIVATION = "mass_deactivation", "Many people deactivated"
        TOKEN_EXPIRY = "token_expiry", "Token expiring soon"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="provisioning_alerts")
    condition = models.CharField(max_length=40, choices=Condition.choices)
    first_raised_at = models.DateTimeField(help_text="When the condition became true this time.")
    last_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When site administrators were last e-mailed."
    )
    cleared_at = models.DateTimeField(null=True, blank=True, help_text="Empty while the condition holds.")
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["organisation", "condition"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "condition"], name="scim_sync_provisioningalert_one_per_condition"
            ),
        ]

    def __str__(self) -> str:
        state = "cleared" if self.cleared_at else "open"
        return f"{self.get_condition_display()} at {self.organisation} ({state})"


class PageBookmarkQuerySet(models.QuerySet):
    def prune(self) -> int:
        """Delete the bookmarks no page can use any more (older than a listing's snapshot)."""
        cutoff = timezone.now() - datetime.timedelta(seconds=SNAPSHOT_SECONDS)
        return self.filter(written_at__lt=cutoff).delete()[0]

    def for_listing(self, listing: str) -> ListingBookmarks:
        return ListingBookmarks(self.model, listing)


class PageBookmark(models.Model):
    """Where a served page of a SCIM list ended, so that the next page starts after `key`
    (keyset) instead of walking every row before it (OFFSET), which grows with the page's
    depth (bench/RESULTS.md). Read and written by klaxon_site.lib.paging.ListingBookmarks;
    kept for SNAPSHOT_SECONDS;
    `PageBookmark.objects.prune()` (run by `prune_scim_activity`) deletes older ones."""

    listing = models.CharField(max_length=64, help_text="SHA-256 of organisation, resource type and filter.")
    position = models.PositiveBigIntegerField(help_text="How many rows come before this point.")
    key = models.BigIntegerField(help_text="Primary key of the row just before it.")
    total = models.PositiveBigIntegerField(null=True, help_text="The count the listing's first page took.")
    written_at = models.DateTimeField(default=timezone.now)

    objects = PageBookmarkQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["listing", "position"], name="scim_sync_pagebookmark_unique")]
        indexes = [models.Index(fields=["written_at"], name="scim_sync_pagebookmark_written")]
