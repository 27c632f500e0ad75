"""Translation between Klaxon's people and groups and their SCIM documents.

Only translation lives here; every change is made by the domain actions.
"""

import json
from typing import Any

from django.db.models import F
from pydantic import ValidationError
from scim2_models import Context, InvalidValueException, PatchOp

from accounts.models import Group, User
from scim_sync.protocol import ScimError, refuse_unstorable_text
from scim_sync.schema import (
    CORE_GROUP_SCHEMA,
    CORE_USER_SCHEMA,
    ENTERPRISE_USER_SCHEMA,
    KLAXON_USER_SCHEMA,
    MAX_ATTRIBUTE_CHARS,
    MAX_STORED_BYTES,
    TOLERANT,
    ScimUser,
)

_NOT_STORED = ("id", "meta", "schemas", "password", "groups")
# What user_document reads. Reads and lists take only these, as plain rows: building a
# model instance per person was half the CPU of a page of 100.
USER_ROW_FIELDS = (
    "pk",
    "scim_id",
    "user_name",
    "external_id",
    "is_active",
    "scim_attributes",
    "date_joined",
    "updated_at",
    "given_name",
    "family_name",
    "display_name",
    "email",
    "notification_phone",
    "location_name",
)


def user_rows(users):
    """`users` as named rows with the attributes of a User that user_document reads."""
    return users.annotate(location_name=F("location__name")).values_list(*USER_ROW_FIELDS, named=True)


def version_of(obj) -> str:
    """meta.version / ETag: changes whenever the row is written (RFC 7644 §3.14)."""
    return f'W/"{int(obj.updated_at.timestamp() * 1_000_000):x}"'


def check_version(obj, if_match: str | None) -> None:
    """If-Match (RFC 7644 §3.14): a stale version is 412."""
    if if_match and if_match.strip() != "*" and version_of(obj) not in [v.strip() for v in if_match.split(",")]:
        raise ScimError(412, "The resource changed since that version was read.")


def _meta(obj, resource_type: str, created, location: str) -> dict:
    return {
        "resourceType": resource_type,
        "created": created.isoformat().replace("+00:00", "Z"),
        "lastModified": obj.updated_at.isoformat().replace("+00:00", "Z"),
        "location": location,
        "version": version_of(obj),
    }


def user_document(user: User, base_url: str) -> dict:
    """The SCIM User as the provider last wrote it, with Klaxon's id and meta.

    `user` is a User or one of user_rows.
    """
    doc = dict(user.scim_attributes) if user.scim_attributes else _manual_user_attributes(user)
    doc["userName"] = user.user_name
    if "active" in doc or not user.scim_attributes:
        doc["active"] = user.is_active  # Klaxon's own state wins (deactivated in Klaxon).
    if user.external_id is not None:
        doc["externalId"] = user.external_id
    extensions = [urn for urn in (ENTERPRISE_USER_SCHEMA, KLAXON_USER_SCHEMA) if doc.get(urn)]
    return {
        "schemas": [CORE_USER_SCHEMA, *extensions],
        "id": str(user.scim_id),
        **doc,
        "meta": _meta(user, "User", user.date_joined, f"{base_url}/Users/{user.scim_id}"),
    }


def _manual_user_attributes(user: User) -> dict:
    """A person created in Klaxon, described from the columns until a provider writes them.

    Only what identifies them (names and e-mail), so the provider can match and adopt them:
    never the location or number chosen in Klaxon by an administrator or the person. The
    rule (docs/security.md): a SCIM document carries what the provider wrote, and nothing
    set in Klaxon.
    """
    doc: dict[str, Any] = {
        "name": {k: v for k, v in (("givenName", user.given_name), ("familyName", user.family_name)) if v}
    }
    if user.display_name:
        doc["displayName"] = user.display_name
    if user.email:
        doc["emails"] = [{"value": user.email, "type": "work", "primary": True}]
    return {k: v for k, v in doc.items() if v}


def _key(mapping: dict, name: str) -> str | None:
    """The key of `mapping` that is `name` in any letter case (RFC 7643 §2.1: attribute
    names and schema URNs are case-insensitive), or None."""
    lowered = name.lower()
    return next((key for key in mapping if isinstance(key, str) and key.lower() == lowered), None)


def normalise_user_payload(payload: dict, base_url: str) -> dict:
    """Tolerate what Entra ID sends that the schema would refuse.

    Entra sends `manager` as a bare id, or as an object without `$ref`; Microsoft's
    validator spells it `"Manager": {"Value": …}`.
    """
    urn = _key(payload, ENTERPRISE_USER_SCHEMA)
    enterprise = payload.get(urn) if urn else None
    if isinstance(enterprise, dict):
        payload = {key: value for key, value in payload.items() if key != urn}
        payload[ENTERPRISE_USER_SCHEMA] = _with_manager(enterprise, base_url)
    return payload


def _with_manager(attributes: dict, base_url: str) -> dict:
    """`attributes` with its manager (any letter case) in the shape the schema reads."""
    name = _key(attributes, "manager")
    if name is None:
        return attributes
    fixed = {key: value for key, value in attributes.items() if key != name}
    fixed["manager"] = _manager(attributes[name], base_url)
    return fixed


def _manager(value, base_url: str):
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        value = {"value": value} if value else None
    if not isinstance(value, dict):
        return value
    ident = value.get(_key(value, "value") or "value")
    if not ident:
        return None
    manager = {"value": ident, "$ref": value.get(_key(value, "$ref") or "$ref") or f"{base_url}/Users/{ident}"}
    display = value.get(_key(value, "displayName") or "displayName")
    if display is not None:
        manager["displayName"] = display
    return manager


def normalise_patch_payload(payload: dict, base_url: str) -> dict:
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    fixed = []
    for operation in operations:
        if isinstance(operation, dict):
            path = str(operation.get("path") or "").lower()
            if path == "manager":
                # Entra's older form names the enterprise manager without its URN (MS-TUT example 5).
                operation = {**operation, "path": f"{ENTERPRISE_USER_SCHEMA}:manager"}
            if path.endswith("manager") and "value" in operation:
                operation = {**operation, "value": _manager(operation["value"], base_url)}
            elif not path and isinstance(operation.get("value"), dict):
                value = _with_manager(operation["value"], base_url)
                urn = _key(value, ENTERPRISE_USER_SCHEMA)
                if urn and isinstance(value[urn], dict):
                    value = {**value, urn: _with_manager(value[urn], base_url)}
                for key in list(value):
                    if key.lower().endswith(":manager"):  # "urn:…:enterprise:2.0:User:manager": {...}
                        value[key] = _manager(value[key], base_url)
                operation = {**operation, "value": value}
        fixed.append(operation)
    return {**payload, "Operations": fixed}


def parse_user(payload: dict, context: Context, base_url: str):
    return ScimUser.model_validate(normalise_user_payload(payload, base_url), scim_ctx=context, scim_policy=TOLERANT)


def patched_user(user: User, payload: dict, base_url: str):
    """Apply a PATCH (RFC 7644 §3.5.2) to the user's document with scim2-models."""
    current = ScimUser.model_validate(user_document(user, base_url), scim_policy=TOLERANT)
    patch = PatchOp[ScimUser].model_validate(
        normalise_patch_payload(payload, base_url), scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=TOLERANT
    )
    try:
        patch.patch(current, scim_policy=TOLERANT)
    except InvalidValueException as error:
        # scim2-models puts pydantic's whole report (model names, a URL) in the detail;
        # re-raise the validation error itself, answered as "active: Input should be ...".
        if isinstance(error.__cause__, ValidationError):
            raise error.__cause__ from None
        raise
    return current


def user_values(resource, *, keep_active: bool | None = None) -> dict:
    """What the provider said about a person, in the shape `provision_user` takes.

    `keep_active` is the state a document without `active` stands for (POST, PUT);
    after a PATCH that removed it there is none: the person stays as they are and
    `active` is no longer reported.
    """
    stored = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    for key in _NOT_STORED:
        stored.pop(key, None)
    stored = {key: value for key, value in stored.items() if value not in (None, [], {})}
    check_stored_size(stored)
    # A PATCH path whose filter matches nothing creates an entry from the filter's text,
    # which the request body's check saw only as an escape ("\u0000").
    refuse_unstorable_text(stored)
    if resource.active is None and keep_active is not None:
        stored["active"] = keep_active
    name = resource.name
    enterprise = stored.get(ENTERPRISE_USER_SCHEMA) or {}
    klaxon = stored.get(KLAXON_USER_SCHEMA) or {}
    return {
        "user_name": resource.user_name,
        "external_id": resource.external_id or None,
        "given_name": (name.given_name if name else None) or "",
        "family_name": (name.family_name if name else None) or "",
        "display_name": resource.display_name or "",
        "email": _work_email(resource.emails),
        "is_active": resource.active,
        "department": enterprise.get("department") or "",
        "employee_number": enterprise.get("employeeNumber") or "",
        "idp_location": klaxon.get("location"),
        "idp_notification_phone": klaxon.get("notificationPhoneNumber"),
        "idp_phones": [[str(p.type or ""), p.value] for p in resource.phone_numbers or [] if p.value],
        "idp_address": _work_address(stored.get("addresses")),
        "scim_attributes": stored,
    }


def check_stored_size(document: dict) -> None:
    """Attributes Klaxon keeps only to echo them back (title, addresses, photos, ...) have
    limits too: each text at most MAX_ATTRIBUTE_CHARS, the whole at most MAX_STORED_BYTES
    as JSON. Columns have their own, smaller maxima (accounts.actions)."""
    for path, text in _texts(document):
        if len(text) > MAX_ATTRIBUTE_CHARS:
            raise ScimError(400, f"{path} is longer than {MAX_ATTRIBUTE_CHARS} characters.", "invalidValue")
    size = len(json.dumps(document, ensure_ascii=False).encode())
    if size > MAX_STORED_BYTES:
        raise ScimError(
            400, f"The user's attributes take {size} bytes; Klaxon keeps at most {MAX_STORED_BYTES}.", "invalidValue"
        )


def _texts(value, path: str = ""):
    """(attribute path, text) for every text in a document; list positions are not named.
    An extension's attributes are named after its URN: `urn:…:User:department`."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not path:
                child = key
            elif path.startswith("urn:") and path.rsplit(":", 1)[-1][:1].isupper():
                child = f"{path}:{key}"  # the extension's own attributes: its URN ends in its resource type
            else:
                child = f"{path}.{key}"
            yield from _texts(item, child)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, path)


def _work_address(addresses) -> dict:
    """The work address's fields (else the primary one's), as stored (RFC 7643 names)."""
    if not addresses:
        return {}
    chosen = next((a for a in addresses if str(a.get("type") or "").lower() == "work"), None) or next(
        (a for a in addresses if a.get("primary")), None
    )
    return {k: v for k, v in (chosen or {}).items() if k not in ("type", "primary") and isinstance(v, str)}


def _work_email(emails) -> str:
    if not emails:
        return ""
    chosen = (
        next((e for e in emails if e.primary), None)
        or next((e for e in emails if str(e.type or "").lower() == "work"), None)
        or emails[0]
    )
    return chosen.value or ""


def group_document(group: Group, base_url: str, *, members: list | None) -> dict:
    doc: dict[str, Any] = {"schemas": [CORE_GROUP_SCHEMA], "id": str(group.scim_id), "displayName": group.display_name}
    if group.external_id is not None:
        doc["externalId"] = group.external_id
    if members is not None:
        doc["members"] = [
            {"value": str(scim_id), "display": user_name, "$ref": f"{base_url}/Users/{scim_id}", "type": "User"}
            for scim_id, user_name in members
        ]
    doc["meta"] = _meta(group, "Group", group.created, f"{base_url}/Groups/{group.scim_id}")
    return doc
