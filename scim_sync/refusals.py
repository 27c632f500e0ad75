"""Refused SCIM requests (missing or wrong token), summarised per endpoint and minute.

Why a summary and not the activity log: anyone who knows an endpoint URL can send requests
with a wrong token. Logged one row each, 1,500 of them added 1,492 rows to an organisation's
activity log and buried its identity provider's own requests. Here one row per organisation
and minute (`AuthFailureSummary`) holds how many were refused (and how many of those were
throttled), when the first and last arrived, and the first MAX_SUMMARY_ADDRESSES distinct
source addresses; requests from further addresses are counted, not recorded, so the row stays
small whatever the flood.

Why hand-written SQL: the count must stay exact while refused requests arrive in parallel on
several workers, and the ORM cannot do that in one statement. A read-modify-write through it
loses increments, and `bulk_create(update_conflicts=True)` can only copy the new row's values
(SET refused = EXCLUDED.refused), not add to the stored ones. `INSERT … ON CONFLICT DO UPDATE
SET refused = refused + 1` is atomic on PostgreSQL (the conflicting row is locked and updated
as last committed) and on SQLite (3.24+, one writer at a time), in one round trip, and the
same text runs on both. tests/test_scim_auth_failures.py::test_parallel_refusals_lose_no_count
proves it on both databases.
"""

import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Max, Min, Sum
from django.utils import timezone

from klaxon_site.lib.client_address import client_address
from scim_sync.models import MAX_SUMMARY_ADDRESSES, AuthFailureSummary

logger = logging.getLogger(__name__)

_TABLE = AuthFailureSummary._meta.db_table
# How many addresses the stored list holds: it is " a b c ", one space around each.
_LISTED = "(length(s.addresses) - length(replace(s.addresses, ' ', '')) - 1)"
# All SET expressions read the row as it was before this statement (SQL standard, both databases).
_RECORD_SQL = f"""
    INSERT INTO {_TABLE} AS s (organisation_id, minute, refused, throttled, first_at, last_at, addresses, unlisted)
    VALUES (%s, %s, 1, %s, %s, %s, %s, 0)
    ON CONFLICT (organisation_id, minute) DO UPDATE SET
        refused = s.refused + 1,
        throttled = s.throttled + excluded.throttled,
        first_at = CASE WHEN excluded.first_at < s.first_at THEN excluded.first_at ELSE s.first_at END,
        last_at = CASE WHEN excluded.last_at > s.last_at THEN excluded.last_at ELSE s.last_at END,
        addresses = CASE WHEN s.addresses LIKE %s OR {_LISTED} >= %s THEN s.addresses ELSE s.addresses || %s END,
        unlisted = s.unlisted + CASE WHEN s.addresses LIKE %s OR {_LISTED} < %s THEN 0 ELSE 1 END
"""


def source_address(request) -> str:
    """The client's address (behind KLAXON_TRUSTED_PROXIES proxies) in its canonical form, or
    "unknown". Canonical, so that one address is stored once; and never a character that LIKE
    treats specially (an IPv6 zone such as "%eth0" is dropped)."""
    try:
        return str(ipaddress.ip_address(client_address(request).split("%")[0]))
    except ValueError:
        return "unknown"


def record(organisation_id: int, *, status: int, address: str, now: datetime | None = None) -> None:
    """Count one refused request (`status` 401 or 429) from `address` in the summary of its
    minute. One statement; never raises, because a log must not change the answer."""
    now = now or timezone.now()
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    adapt = connection.ops.adapt_datetimefield_value
    listed = f"% {address} %"
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                _RECORD_SQL,
                [
                    organisation_id,
                    adapt(minute),
                    int(status == 429),
                    adapt(now),
                    adapt(now),
                    f" {address} ",
                    listed,
                    MAX_SUMMARY_ADDRESSES,
                    f"{address} ",
                    listed,
                    MAX_SUMMARY_ADDRESSES,
                ],
            )
    except Exception:
        logger.exception("Could not count a refused SCIM request")


@dataclass
class Refused:
    """The refused requests of one organisation over a period, from its summaries."""

    refused: int = 0
    throttled: int = 0
    unlisted: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    addresses: list[str] = field(default_factory=list)  # distinct, first seen first


def since(organisation, moment: datetime) -> Refused:
    """What was refused from `moment` on, to the minute: a summary whose last request came at
    or after `moment` counts whole. Two queries: the totals, then the address lists."""
    rows = AuthFailureSummary.objects.filter(
        organisation=organisation,
        minute__gte=moment.replace(second=0, microsecond=0),  # the index of the unique constraint
        last_at__gte=moment,
    )
    totals = rows.aggregate(
        refused=Sum("refused"),
        throttled=Sum("throttled"),
        unlisted=Sum("unlisted"),
        first_at=Min("first_at"),
        last_at=Max("last_at"),
    )
    if not totals["refused"]:
        return Refused()
    addresses = {}
    for listed in rows.order_by("minute").values_list("addresses", flat=True):
        addresses.update(dict.fromkeys(listed.split()))
    return Refused(**totals, addresses=list(addresses))
