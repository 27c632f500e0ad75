"""A person's provisioning history: what the identity provider changed, and when.

`accounts.actions._write_provisioned` records each changed attribute as a ProvisioningChange;
this module names the attributes, masks numbers before they are stored and builds the
timeline the person page shows (templates/accounts/_provisioning_history.html). It answers
"why wasn't Sam alerted?": "deactivated", "location London → Leeds", "number •••• 0123 → none".
"""

import datetime
from dataclasses import dataclass

from accounts import time_zones
from accounts.models import ProvisioningChange, User

# How the person page names each recorded attribute (ProvisioningChange.attribute).
ATTRIBUTE_NAMES = {
    "userName": "userName",
    "externalId": "externalId",
    "displayName": "display name",
    "givenName": "given name",
    "familyName": "family name",
    "email": "e-mail",
    "department": "department",
    "location": "location",
    "number": "notification number",
    "active": "active",
}
# What a number that could not be read is recorded as: the text itself may be a number.
UNUSABLE_NUMBER = "unusable number"


def masked_number(e164: str, problem: str = "") -> str:
    """A notification number as history keeps it: its last four digits ("•••• 0123").

    docs/security.md keeps whole phone numbers out of logs, and the history is a log.
    "" for no number; UNUSABLE_NUMBER when the provider sent something unusable.
    """
    if e164:
        return f"•••• {e164[-4:]}"
    return UNUSABLE_NUMBER if problem else ""


def describe(change: ProvisioningChange) -> str:
    """ "deactivated", "location London → Leeds", "notification number •••• 0123 → none"."""
    if change.attribute == "active":
        return change.new
    name = ATTRIBUTE_NAMES.get(change.attribute, change.attribute)
    return f"{name} {change.old or 'none'} → {change.new or 'none'}"


@dataclass(frozen=True)
class Entry:
    at: datetime.datetime
    attribute: str
    text: str


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]
    more: bool  # older changes exist beyond the limit
    started: datetime.datetime  # the person's creation: where the timeline begins
    by_identity_provider: bool
    zone: datetime.tzinfo
    zone_name: str


def timeline(person: User, limit: int = 50) -> Timeline:
    """The person's latest `limit` recorded changes, newest first, in the organisation's zone.

    Two queries: the organisation's zone (unless already loaded) and the changes.
    """
    changes = list(ProvisioningChange.objects.filter(user=person).order_by("-at", "-pk")[: limit + 1])
    organisation = person.organisation
    assert organisation is not None, "Klaxon staff have no provisioning history"
    return Timeline(
        entries=[Entry(change.at, change.attribute, describe(change)) for change in changes[:limit]],
        more=len(changes) > limit,
        started=person.date_joined,
        by_identity_provider=person.is_idp_managed,
        zone=time_zones.zone_of(organisation),
        zone_name=time_zones.zone_name(organisation),
    )
