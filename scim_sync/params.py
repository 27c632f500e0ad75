"""What a SCIM request asks for, parsed once: list parameters, group bodies, PATCH size.

The views read these objects instead of picking values out of query strings and bodies
themselves (as Sentry's SCIMQueryParamSerializer does for its SCIM endpoints).
"""

import json
from dataclasses import dataclass

from accounts import memberships
from scim_sync.groups import canonical_group_body, member_displays, member_values
from scim_sync.projection import Projection
from scim_sync.protocol import ScimError
from scim_sync.schema import MAX_PAGE_SIZE, MAX_PATCH_OPERATIONS

DEFAULT_PAGE_SIZE = 100


def search_params(body: dict) -> dict:
    """A SearchRequest body as query parameters: text values, lists joined with commas.

    RFC 7644 §3.4.3 sends `"attributes": ["userName", "emails"]` where a query says
    `attributes=userName,emails`.
    """
    params = {}
    for name, value in body.items():
        if value is None:
            continue
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = ",".join(value)
        elif isinstance(value, dict | list):
            raise ScimError(400, f"{name} must be text or a number.", "invalidValue")
        params[name] = value if isinstance(value, str) else json.dumps(value)
    return params


def _integer(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ScimError(400, f"{name} must be an integer.", "invalidValue") from None


@dataclass(frozen=True)
class ListParams:
    """RFC 7644 §3.4.2: filter, sorting and index paging of a list or search request."""

    filter: str
    sort_by: str
    descending: bool
    start_index: int  # 1-based
    count: int  # clamped to MAX_PAGE_SIZE

    @classmethod
    def parse(cls, params) -> "ListParams":
        return cls(
            filter=str(params.get("filter") or ""),
            sort_by=str(params.get("sortBy") or ""),
            descending=str(params.get("sortOrder", "ascending")).lower() == "descending",
            start_index=max(_integer(params, "startIndex", 1), 1),
            count=min(max(_integer(params, "count", DEFAULT_PAGE_SIZE), 0), MAX_PAGE_SIZE),
        )


def projection_of(params) -> Projection:
    """`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5)."""
    return Projection.parse(params.get("attributes"), params.get("excludedAttributes"))


@dataclass(frozen=True)
class GroupBody:
    """A POST or PUT /Groups body, with its members resolved to this organisation's people."""

    display_name: str
    external_id: str | None
    member_keys: list[int]  # the people's database keys
    displays: dict[int, str]  # person's key → the name the provider gave them, as sent

    @classmethod
    def parse(cls, data: dict, organisation) -> "GroupBody":
        data = canonical_group_body(data)
        display_name = data.get("displayName")
        if not isinstance(display_name, str) or not display_name.strip():
            raise ScimError(400, "displayName is required.", "invalidValue")
        external_id = data.get("externalId")
        if external_id is not None and not isinstance(external_id, str):
            raise ScimError(400, "externalId must be text.", "invalidValue")
        members = memberships.find_all(organisation, member_values(data.get("members"), "members"))
        displays = {members[i]: name for i, name in member_displays(data.get("members")).items() if i in members}
        return cls(display_name, external_id or None, list(members.values()), displays)


def check_operation_count(body) -> None:
    """One PATCH carries at most MAX_PATCH_OPERATIONS operations (Users and Groups alike)."""
    operations = body.get("Operations") if isinstance(body, dict) else None
    if isinstance(operations, list) and len(operations) > MAX_PATCH_OPERATIONS:
        raise ScimError(400, f"At most {MAX_PATCH_OPERATIONS} operations per PATCH.", "tooMany")
