"""The SCIM activity log: writing it (one row per request, batched per worker), pruning it,
and reading it as site administrators do (filters, links to people and groups, CSV).

The Synchronisation page and its CSV export read the same filters through ActivityFilterForm,
so the export holds exactly the rows the page lists.
"""

import csv
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

from django import forms
from django.conf import settings
from django.db import connection, connections
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts import time_zones
from accounts.identity import identity_key
from accounts.models import Group, Organisation, ProvisioningChange, User
from scim_sync.models import PORTAL_METHOD, AuthFailureSummary, ScimActivity

# A search box's text is cut here; the rest is never a name (userNames are 255 at most).
logger = logging.getLogger(__name__)

MAX_PERSON_CHARACTERS = 200
# People a "person" filter matches by name: enough for a family sharing a surname.
MAX_PEOPLE_MATCHED = 100
# Rows of the export fetched from the database at a time while the response streams.
CSV_CHUNK = 2000

_ANY = ("", "Any")


def _choices(*pairs):
    return [_ANY, *pairs]


class ActivityFilterForm(forms.Form):
    """The log's filters, read from the query string. An invalid value is a form error shown
    on the page, and that filter is not applied (see `applied`)."""

    result = forms.ChoiceField(
        label="Result", required=False, choices=_choices(*ScimActivity.Result.choices, ("errors", "Any error"))
    )
    method = forms.ChoiceField(
        label="Method",
        required=False,
        choices=_choices(
            *((m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")), (PORTAL_METHOD, "Portal (token actions)")
        ),
    )
    resource = forms.ChoiceField(
        label="Resource",
        required=False,
        choices=_choices(
            ("User", "Users"),
            ("Group", "Groups"),
            ("Token", "Tokens"),
            ("Search", "Searches"),
            ("ServiceProviderConfig", "ServiceProviderConfig"),
            ("ResourceType", "ResourceTypes"),
            ("Schema", "Schemas"),
        ),
    )
    person = forms.CharField(
        label="Person",
        required=False,
        max_length=None,
        help_text="userName, e-mail or name, or a SCIM id",
        widget=forms.TextInput(attrs={"type": "search", "maxlength": MAX_PERSON_CHARACTERS}),
    )

    def __init__(self, data=None, **kwargs):
        if data is not None and data.get("errors") == "1" and not data.get("result"):
            data = data.copy()  # the old "Show errors only" link, still in bookmarks
            data["result"] = "errors"
        super().__init__(data, **kwargs)

    def clean_person(self):
        return self.cleaned_data["person"][:MAX_PERSON_CHARACTERS].strip()

    def applied(self) -> dict[str, str]:
        """The valid, non-empty filters, in the query string's shape."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


def filtered(organisation: Organisation, filters: dict[str, str]) -> QuerySet:
    """The organisation's activity matching `filters` (ActivityFilterForm.applied), newest first."""
    rows = ScimActivity.objects.filter(organisation=organisation)
    if result := filters.get("result"):
        rows = rows.filter(Q(status__gte=400) if result == "errors" else ScimActivity.result_q(result))
    if method := filters.get("method"):
        rows = rows.filter(method=method)
    if resource := filters.get("resource"):
        rows = rows.filter(resource_type=resource)
    if person := filters.get("person"):
        rows = rows.filter(resource_type="User").filter(_person_q(organisation, person))
    return rows.order_by("-at", "-pk")


def _person_q(organisation: Organisation, text: str) -> Q:
    """Requests about the people `text` names: by the userName the request carried, by a
    SCIM id, or by the SCIM id of people whose userName, e-mail or name contains it now (so a
    renamed person's older requests are found too)."""
    ids = {
        str(scim_id)
        for scim_id in User.objects.filter(organisation=organisation)
        .filter(
            Q(user_name_key=identity_key(text))
            | Q(email_key=identity_key(text))
            | Q(user_name__icontains=text)
            | Q(email__icontains=text)
            | Q(display_name__icontains=text)
        )
        .values_list("scim_id", flat=True)[:MAX_PEOPLE_MATCHED]
    }
    if scim_id := _scim_id(text):
        ids.add(scim_id)
    return Q(label__icontains=text) | Q(resource_id__in=ids)


def _scim_id(text: str) -> str | None:
    """`text` as Klaxon writes SCIM ids (lower-case UUID), or None if it is not one."""
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError):
        return None


def with_links(organisation: Organisation, activity: list[ScimActivity]) -> list[dict]:
    """Each row with the portal page of its person or group, when it still exists: two
    queries for a whole page of rows."""
    wanted: dict[str, set[str]] = {"User": set(), "Group": set()}
    for row in activity:
        if row.resource_type in wanted and (scim_id := _scim_id(row.resource_id)):
            wanted[row.resource_type].add(scim_id)
    pages: dict[tuple[str, str], str] = {}
    for kind, model, url_name in (("User", User, "accounts:person"), ("Group", Group, "accounts:group")):
        if wanted[kind]:
            found = model.objects.filter(organisation=organisation, scim_id__in=wanted[kind]).values_list(
                "scim_id", "pk"
            )
            pages.update({(kind, str(scim_id)): reverse(url_name, args=[pk]) for scim_id, pk in found})
    return [
        {"activity": row, "link": pages.get((row.resource_type, _scim_id(row.resource_id) or ""))} for row in activity
    ]


# CSV export ------------------------------------------------------------------------------

CSV_HEADER = [
    "time",
    "time zone",
    "method",
    "resource type",
    "SCIM id",
    "userName or name",
    "status",
    "result",
    "scimType",
    "detail",
    "duration (ms)",
]
# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): userNames and group
# names come from the identity provider.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    """csv.writer writes into this and gets the line back, so the response can stream it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(organisation: Organisation, rows: QuerySet) -> Iterator[str]:
    """The header, then one line per activity row, read from the database in chunks.

    Holds what the log holds (never tokens, bodies or phone numbers); times in the
    organisation's zone, with the zone named in its own column.
    """
    zone, zone_name = time_zones.zone_of(organisation), time_zones.zone_name(organisation)
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    columns = ("at", "method", "resource_type", "resource_id", "label", "status", "scim_type", "detail", "duration_ms")
    for at, method, kind, resource_id, label, status, scim_type, detail, duration in rows.values_list(
        *columns
    ).iterator(chunk_size=CSV_CHUNK):
        result = ScimActivity.result_for(status).label
        yield writer.writerow(
            [
                _cell(value)
                for value in (
                    at.astimezone(zone).isoformat(timespec="seconds"),
                    zone_name,
                    method,
                    kind,
                    resource_id,
                    label,
                    status,
                    result,
                    scim_type,
                    detail,
                    duration,
                )
            ]
        )


# Writing and pruning -------------------------------------------------------------------


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
        organisation.pk,
        connection.ops.adapt_datetimefield_value(timezone.now()),
        _clip(method.upper(), 10),
        _clip(resource_type, 40),
        _clip(str(resource_id or ""), 255),
        _clip(label or "", 255),
        status,
        _clip(scim_type or "", 40),
        _clip(detail or "", 255),
        max(0, int(duration_ms)),
    )
    if settings.KLAXON_SCIM_ACTIVITY_DELAY > 0:
        pending_activity.add(row)
    else:
        _write_activity([row])


def _write_activity(rows: list) -> None:
    """Hand-written multi-row INSERTs: the ORM's save() machinery cost more than the write."""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            cursor.execute(
                _INSERT_ACTIVITY_SQL + ", ".join([_ACTIVITY_VALUES] * len(chunk)),
                [value for row in chunk for value in row],
            )


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
    """Delete activity, summaries of refused requests and people's provisioning history older
    than `days` days (KLAXON_SCIM_LOG_DAYS); return how many activity rows went."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = ScimActivity.objects.filter(at__lt=cutoff).delete()
    ProvisioningChange.objects.filter(at__lt=cutoff).delete()
    AuthFailureSummary.objects.filter(last_at__lt=cutoff).delete()
    return deleted
