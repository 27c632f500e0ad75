"""Read-side questions the portal asks about an organisation's people."""

from django.db.models import Count, Q

from accounts import reachability, search
from accounts.models import Group, User
from klaxon_site.lib.keys import database_key
from locations.models import Location

PHONE_FILTERS = {
    "missing": Q(notification_phone="", phone_problem=""),
    "problem": ~Q(phone_problem=""),
    "usable": ~Q(notification_phone=""),
}
UNMATCHED_LOCATION = Q(location__is_default=True) & ~Q(idp_location=None) & ~Q(idp_location="")
# Where a number or location came from (User.number_source, location_source), as the
# People page's filters name them: "none" for nothing sent.
SOURCES = (
    reachability.KLAXON,
    *(f"phone:{kind}" for kind in reachability.PHONE_TYPES),
    *(f"address:{field}" for field in reachability.ADDRESS_FIELDS),
    *reachability.SET_IN_KLAXON,
)
SOURCE_FILTERS = {**{source: source for source in SOURCES}, "none": ""}
# Longer search text is cut: a LIKE over five columns with a huge pattern only costs.
MAX_SEARCH_CHARACTERS = 200


def people(organisation, params, *, sync_started_at=None):
    """The organisation's people matching the People page's search and filters.

    `params` maps filter names to text (a QueryDict, or PeopleFilterForm.applied() from the
    People page, which also tells the person what it refused). A value this cannot use is
    ignored, never an error: keys must be ASCII digits within the bigint range (str.isdigit()
    accepts "²"), search text is cut at MAX_SEARCH_CHARACTERS and may not hold NUL (PostgreSQL
    refuses it).
    """
    found = User.objects.filter(organisation=organisation).select_related("location")
    text = (params.get("q") or "").replace("\x00", "")[:MAX_SEARCH_CHARACTERS].strip()
    if text:
        condition = search.matching(text, organisation.phone_region)
        found = found.filter(condition) if condition is not None else found.none()
    if (location := database_key(params.get("location"))) is not None:
        found = found.filter(location_id=location)
    if (group := database_key(params.get("group"))) is not None:
        found = found.filter(memberships__group_id=group)
    if params.get("active") in ("yes", "no"):
        found = found.filter(is_active=params["active"] == "yes")
    if params.get("source") in User.Source.values:
        found = found.filter(source=params["source"])
    for field in ("number_source", "location_source"):
        if params.get(field) in SOURCE_FILTERS:
            found = found.filter(**{field: SOURCE_FILTERS[params[field]]})
    if params.get("phone") in PHONE_FILTERS:
        found = found.filter(PHONE_FILTERS[params["phone"]])
    if params.get("unmatched") == "1":
        found = found.filter(UNMATCHED_LOCATION)
    if params.get("orphans") == "1" and sync_started_at:
        # Not written by the identity provider since synchronisation began.
        found = found.filter(Q(idp_last_seen_at=None) | Q(idp_last_seen_at__lt=sync_started_at))
    return found.order_by("user_name", "pk")


def reach(organisation) -> dict:
    """Who would we reach? The dashboard's answer.

    Every count but `provisioned` counts active people only. `provisioned` counts everyone
    the identity provider created, active or not, as the Synchronisation page's
    "Provisioned" does; `provisioned_active` those of them who are active, so that the
    dashboard can say how the two pages' figures fit together.
    """
    active = Q(is_active=True)
    from_provider = Q(source=User.Source.IDENTITY_PROVIDER)
    totals = User.objects.filter(organisation=organisation).aggregate(
        active=Count("pk", filter=active),
        reachable=Count("pk", filter=active & PHONE_FILTERS["usable"]),
        missing=Count("pk", filter=active & PHONE_FILTERS["missing"]),
        problem=Count("pk", filter=active & PHONE_FILTERS["problem"]),
        unmatched=Count("pk", filter=active & UNMATCHED_LOCATION),
        provisioned=Count("pk", filter=from_provider),
        provisioned_active=Count("pk", filter=from_provider & active),
    )
    totals["manual_active"] = totals["active"] - totals["provisioned_active"]
    totals["provisioned_inactive"] = totals["provisioned"] - totals["provisioned_active"]
    active_here = Q(users__is_active=True)
    locations = (
        Location.objects.filter(organisation=organisation)
        .annotate(
            active=Count("users", filter=active_here),
            reachable=Count("users", filter=active_here & ~Q(users__notification_phone="")),
        )
        .order_by("-is_default", "name")
    )
    return {**totals, "locations": locations}


def groups(organisation):
    return Group.objects.filter(organisation=organisation).annotate(member_count=Count("memberships"))
