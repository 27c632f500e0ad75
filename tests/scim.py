"""The suite's SCIM toolkit: schema constants, error assertions, request builders."""

from accounts.models import Group, GroupMembership, User
from locations.models import Location

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KLAXON = "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def assert_scim_error(response, status: int, scim_type: str | None = None) -> dict:
    """The response is RFC 7644 §3.12 error JSON with this status and scimType (None: none),
    a detail for people, and nothing else."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    expected = {"schemas": [ERROR], "status": str(status), "detail": body.get("detail")}
    if scim_type:
        expected["scimType"] = scim_type
    assert body == expected
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def new_user(user_name: str, **attributes) -> dict:
    """A POST /Users body; keyword arguments are further attributes as sent."""
    return {"schemas": [CORE_USER], "userName": user_name, "active": True, **attributes}


def new_group(display_name: str, members=(), **attributes) -> dict:
    return {
        "schemas": [CORE_GROUP],
        "displayName": display_name,
        "members": [{"value": str(m)} for m in members],
        **attributes,
    }


def patch_op(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def directory_snapshot(organisation) -> dict:
    """Everything an organisation's directory holds, to prove a refused request changed nothing."""
    return {
        "users": list(User.objects.filter(organisation=organisation).order_by("pk").values()),
        "groups": list(Group.objects.filter(organisation=organisation).order_by("pk").values()),
        "memberships": list(GroupMembership.objects.filter(group__organisation=organisation).order_by("pk").values()),
        "locations": list(Location.objects.filter(organisation=organisation).order_by("pk").values()),
    }
