"""The time zone an organisation reads times in (`Organisation.time_zone`, an IANA name).

Klaxon stores and compares every moment in UTC; the portal shows them in the organisation's
zone and names it, so that "deactivated at 10:02" means 10:02 where the administrators are.
"""

import datetime
import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError

from accounts.models import Organisation

UTC_NAME = "UTC"


@lru_cache(maxsize=1)
def names() -> tuple[str, ...]:
    """Every IANA zone this system knows, sorted ("Africa/Abidjan" … "Zulu")."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate(name: str) -> None:
    """An empty name (UTC) or one of `names()`; anything else is a ValidationError."""
    if name and name not in names():
        raise ValidationError(f"{name!r} is not an IANA time zone, such as Europe/London.")


def zone_of(organisation: Organisation) -> datetime.tzinfo:
    """The organisation's zone; UTC when none is set (or the system lost a zone it knew)."""
    if organisation.time_zone:
        try:
            return zoneinfo.ZoneInfo(organisation.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.UTC


def zone_name(organisation: Organisation) -> str:
    """What the page says times are in: "Europe/London", or "UTC"."""
    zone = zone_of(organisation)
    return organisation.time_zone if zone is not datetime.UTC else UTC_NAME


def set_time_zone(organisation: Organisation, name: str) -> None:
    """Show the organisation's times in `name` ("" for UTC) from now on."""
    name = name.strip()
    validate(name)
    Organisation.objects.filter(pk=organisation.pk).update(time_zone=name)
    organisation.time_zone = name
