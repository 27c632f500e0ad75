"""PATCH of a SCIM Group (RFC 7644 §3.5.2), with member changes as set operations.

A group may have tens of thousands of members, so the PATCH is not applied to an
in-memory document: each operation becomes one SQL set operation.
"""

from dataclasses import dataclass, field

from django.db import transaction
from scim2_models.path import Comparison, LogicalExpr, ValuePath
from scim2_models.path.expressions import CompareOperator, LogicalOperator

from accounts import actions, memberships
from accounts.models import Group, GroupMembership, Organisation, max_length
from scim_sync.filters import parse_filter
from scim_sync.protocol import ScimError
from scim_sync.resources import check_version
from scim_sync.schema import CORE_GROUP_SCHEMA

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class GroupChange:
    """What one PATCH asks for, in the order the operations came."""

    display_name: str | None = None
    external_id: str | None = None
    external_id_set: bool = False
    steps: list = field(default_factory=list)  # ("add" | "remove" | "replace" | "clear", [scim ids])
    displays: dict = field(default_factory=dict)  # scim id -> display, as sent

    def member_ids(self) -> set:
        return {i for _, ids in self.steps for i in ids}

    def only_adds_members(self) -> bool:
        """The PATCH identity providers send most: members added, nothing else changed."""
        return (
            bool(self.steps)
            and all(step == "add" for step, _ in self.steps)
            and not (self.display_name is not None or self.external_id_set)
        )


_GROUP_NAMES = {name.lower(): name for name in ("schemas", "id", "externalId", "displayName", "members", "meta")}
_MEMBER_NAMES = {name.lower(): name for name in ("value", "display", "$ref", "type")}


def canonical_group_body(data: dict) -> dict:
    """A Group body with its attribute names spelled as RFC 7643 §4.2 does, whatever the
    letter case sent (RFC 7643 §2.1: attribute names are case-insensitive)."""
    body = {_GROUP_NAMES.get(key.lower(), key): value for key, value in data.items()}
    if isinstance(body.get("members"), list):
        body["members"] = [
            {_MEMBER_NAMES.get(k.lower(), k): v for k, v in item.items()} if isinstance(item, dict) else item
            for item in body["members"]
        ]
    return body


MAX_MEMBER_DISPLAY_CHARS = max_length(GroupMembership, "display")


def member_displays(value) -> dict[str, str]:
    """The `display` the provider sent for each member id, to echo back as sent."""
    items = value if isinstance(value, list) else [value]
    displays = {
        item["value"]: item["display"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("value"), str) and isinstance(item.get("display"), str)
    }
    if any(len(display) > MAX_MEMBER_DISPLAY_CHARS for display in displays.values()):
        raise ScimError(400, f"members.display is longer than {MAX_MEMBER_DISPLAY_CHARS} characters.", "invalidValue")
    return displays


def member_values(value, op: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        ident = item.get("value") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident:
            raise ScimError(400, f'Each member in {op!r} needs a "value" holding a user id.', "invalidValue")
        ids.append(ident)
    return ids


def _filtered_member_ids(path: str) -> list[str]:
    """The ids named by `members[value eq "…"]` (joined with `or`)."""
    try:
        node = parse_filter(path)
    except Exception:
        raise ScimError(400, f"The path {path!r} is not valid.", "invalidPath") from None
    if not isinstance(node, ValuePath) or node.attr_path.attr.lower() != "members" or node.sub_attr:
        raise ScimError(400, f"The path {path!r} is not supported on groups.", "invalidPath")
    terms = (
        node.val_filter.terms
        if (isinstance(node.val_filter, LogicalExpr) and node.val_filter.op == LogicalOperator.or_)
        else (node.val_filter,)
    )
    ids = []
    for term in terms:
        if not (
            isinstance(term, Comparison)
            and term.attr_path.attr.lower() == "value"
            and term.op == CompareOperator.eq
            and not term.attr_path.sub_attr
        ):
            raise ScimError(400, 'Members are selected with members[value eq "<id>"].', "invalidFilter")
        ids.append(str(term.value))
    return ids


def read_patch(group_id: str, body: dict) -> GroupChange:
    """What a PATCH of the group whose SCIM id is `group_id` asks for (nothing is written)."""
    operations = body.get("Operations")
    schemas = body.get("schemas") or [PATCH_SCHEMA]
    if not isinstance(schemas, list) or PATCH_SCHEMA not in schemas:  # `"schemas": true` is no list
        raise ScimError(400, f"A PATCH request names the {PATCH_SCHEMA} schema.", "invalidSyntax")
    if not isinstance(operations, list):
        raise ScimError(400, 'A PATCH request needs an "Operations" list.', "invalidSyntax")
    change = GroupChange()
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each operation is a JSON object.", "invalidSyntax")
        op = str(operation.get("op", "")).lower()  # Entra sends "Add", "Replace", "Remove".
        if op not in ("add", "remove", "replace"):
            raise ScimError(
                400, f"{operation.get('op')!r} is not a PATCH operation: add, remove or replace.", "invalidValue"
            )
        path = operation.get("path")
        if path is not None and not isinstance(path, str):
            raise ScimError(400, '"path" must be a string.', "invalidPath")
        if path:
            _apply_path(change, op, path.strip(), operation)
        else:
            _apply_pathless(change, group_id, op, operation)
    return change


def _apply_path(change: GroupChange, op: str, path: str, operation: dict) -> None:
    name = path
    if name.lower().startswith(CORE_GROUP_SCHEMA.lower() + ":"):
        name = name[len(CORE_GROUP_SCHEMA) + 1 :]
    key = name.lower()
    value = operation.get("value")
    if key == "members":
        if op == "remove":
            # Entra without aadOptscim062020 removes with a value; without one, all leave.
            # An empty value removes no one: reading it as "everyone" wipes groups
            # (AzureAD/SCIMReferenceCode#10).
            change.steps.append(("clear", []) if value is None else ("remove", member_values(value, op)))
        else:
            change.steps.append(("add" if op == "add" else "replace", member_values(value, op)))
            change.displays.update(member_displays(value))
    elif key.startswith("members["):
        if op != "remove":
            raise ScimError(400, "Only remove can target members by filter.", "invalidPath")
        change.steps.append(("remove", _filtered_member_ids(name)))
    elif key == "displayname":
        if op == "remove" or not isinstance(value, str) or not value.strip():
            raise ScimError(400, "displayName is required and must be text.", "invalidValue")
        change.display_name = value
    elif key == "externalid":
        if op != "remove" and value is not None and not isinstance(value, str):
            raise ScimError(400, "externalId must be text.", "invalidValue")
        change.external_id, change.external_id_set = (None if op == "remove" else value or None), True
    elif key in ("id", "meta") or key.startswith("meta."):
        raise ScimError(400, f"{path} is read-only.", "mutability")
    else:
        raise ScimError(400, f"Groups have no attribute {path!r}.", "noTarget")


def _apply_pathless(change: GroupChange, group_id: str, op: str, operation: dict) -> None:
    value = operation.get("value")
    if op == "remove":
        raise ScimError(400, "A remove operation needs a path.", "noTarget")
    if not isinstance(value, dict):
        raise ScimError(400, "An operation without a path carries an object value.", "invalidValue")
    for key, item in value.items():
        name = key.lower().removeprefix(CORE_GROUP_SCHEMA.lower() + ":")
        if name == "id":
            # Okta's rename carries the group's own id: tolerated when it is this group's.
            if str(item).lower() != str(group_id).lower():
                raise ScimError(400, "id is read-only.", "mutability")
        elif name in ("displayname", "externalid", "members"):
            _apply_path(change, op, name, {"op": op, "value": item})
        # schemas, meta and attributes Klaxon does not keep are ignored.


def apply_patch(organisation: Organisation, group_id, change: GroupChange, *, if_match: str | None) -> Group:
    """Write a PATCH of the group whose SCIM id is `group_id`; no such group raises
    Group.DoesNotExist.

    Member additions alone, the PATCH identity providers send most, take the one-statement
    path of memberships.add_by_scim_id. Anything else, or a request pinned to a version
    with If-Match, runs in a transaction holding the group's row lock, which serialises
    PATCHes of one group: parallel member changes lose nothing.
    """
    if change.only_adds_members() and not if_match:
        return memberships.add_by_scim_id(organisation, group_id, change.member_ids(), displays=change.displays)
    with transaction.atomic():
        group = Group.objects.select_for_update().get(organisation=organisation, scim_id=group_id)
        group.organisation = organisation  # Known already: member look-ups need no query for it.
        check_version(group, if_match)
        _apply_change(group, change)
    return group


def _apply_change(group: Group, change: GroupChange) -> None:
    ids = change.member_ids()
    resolved = memberships.find(group.organisation, ids) if ids else {}
    # Adding someone unknown refuses the request; removing someone unknown changes nothing.
    added = {i for step, step_ids in change.steps if step in ("add", "replace") for i in step_ids}
    memberships.refuse_unknown(added - set(resolved))
    displays = {resolved[i]: name for i, name in change.displays.items() if i in resolved}
    for step, ids in change.steps:
        user_pks = [resolved[i] for i in ids if i in resolved]
        if step == "add":
            memberships.add(group, user_pks, displays=displays)
        elif step == "remove":
            memberships.remove(group, user_pks)
        elif step == "clear":
            memberships.remove(group)
        else:
            memberships.replace(group, user_pks, displays=displays)
    if change.display_name is not None or change.external_id_set:
        actions.save_group(
            group,
            display_name=change.display_name if change.display_name is not None else group.display_name,
            external_id=change.external_id if change.external_id_set else group.external_id,
        )
    elif change.steps:
        memberships.touch(group)
