"""SCIM discovery (RFC 7644 §4, RFC 7643 §5-7): what Entra ID reads when provisioning is saved."""

import pytest
from django.conf import settings

from accounts.models import User
from locations.models import Location
from tests.scim import CORE_GROUP, CORE_USER, ERROR

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
KLAXON_USER = "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"


def nulls(value, where="$") -> list[str]:
    """Where `null` appears in a JSON document."""
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{where}[{i}]")]
    return []


def test_service_provider_config_states_what_entra_and_okta_need(scim):
    response = scim.get("/ServiceProviderConfig")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://klaxon.io/docs/scim",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The secret token from Klaxon's Configuration > Synchronisation page.",
                "primary": True,
            }
        ],
        "pagination": {
            "cursor": False,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": 100,
            "maxPageSize": 200,
        },
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{scim.endpoint.url}/ServiceProviderConfig"},
    }


def test_the_advertised_page_size_is_the_one_lists_obey(scim, acme):
    config = scim.get("/ServiceProviderConfig").json()
    default = Location.objects.get(organisation=acme.organisation, is_default=True)
    User.objects.bulk_create(
        [User(organisation=acme.organisation, user_name=f"p{i}@acme.test", location=default) for i in range(210)]
    )

    listed = scim.get("/Users?count=100000").json()

    assert listed["totalResults"] == 212
    assert listed["itemsPerPage"] == config["filter"]["maxResults"] == config["pagination"]["maxPageSize"]


def test_resource_types_list_users_with_both_extensions_and_groups(scim):
    response = scim.get("/ResourceTypes")

    assert response.status_code == 200
    assert response.json() == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 2,
        "startIndex": 1,
        "itemsPerPage": 2,
        "Resources": [
            {
                "schemas": [RESOURCE_TYPE],
                "id": "User",
                "name": "User",
                "description": "User",
                "endpoint": "/Users",
                "schema": CORE_USER,
                "schemaExtensions": [
                    {"schema": ENTERPRISE_USER, "required": False},
                    {"schema": KLAXON_USER, "required": False},
                ],
                "meta": {"resourceType": "ResourceType", "location": f"{scim.endpoint.url}/ResourceTypes/User"},
            },
            {
                "schemas": [RESOURCE_TYPE],
                "id": "Group",
                "name": "Group",
                "description": "Group",
                "endpoint": "/Groups",
                "schema": CORE_GROUP,
                "meta": {"resourceType": "ResourceType", "location": f"{scim.endpoint.url}/ResourceTypes/Group"},
            },
        ],
    }


def test_one_resource_type_is_served_at_its_location(scim):
    listed = {rt["id"]: rt for rt in scim.get("/ResourceTypes").json()["Resources"]}

    for ident in ("User", "Group"):
        response = scim.get(f"/ResourceTypes/{ident}")
        assert response.status_code == 200
        assert response.json() == listed[ident]
        assert listed[ident]["meta"]["location"].endswith(f"/ResourceTypes/{ident}")


def test_schemas_are_a_list_response_with_the_klaxon_extension(scim):
    response = scim.get("/Schemas")

    assert response.status_code == 200
    body = response.json()
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == body["itemsPerPage"] == len(body["Resources"])
    by_id = {schema["id"]: schema for schema in body["Resources"]}
    assert set(by_id) == {CORE_USER, ENTERPRISE_USER, KLAXON_USER, CORE_GROUP}
    klaxon = by_id[KLAXON_USER]
    assert klaxon == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": KLAXON_USER,
        "name": klaxon["name"],
        "description": klaxon["description"],
        "attributes": [
            {
                "name": "location",
                "type": "string",
                "multiValued": False,
                "required": False,
                "caseExact": False,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
            },
            {
                "name": "notificationPhoneNumber",
                "type": "string",
                "multiValued": False,
                "required": False,
                "caseExact": False,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
            },
        ],
        "meta": {"resourceType": "Schema", "location": f"{scim.endpoint.url}/Schemas/{KLAXON_USER}"},
    }


def test_every_extension_of_a_resource_type_is_a_schema_served(scim):
    # Microsoft's validator flattens every schema a resource type names (Schema_Discoverability_Test).
    schemas = {s["id"] for s in scim.get("/Schemas").json()["Resources"]}

    for resource_type in scim.get("/ResourceTypes").json()["Resources"]:
        assert resource_type["schema"] in schemas
        assert {e["schema"] for e in resource_type.get("schemaExtensions", [])} <= schemas


def test_schemas_hold_no_null_values(scim):
    # MS-TUT: "Don't return null values" in /Schemas.
    assert nulls(scim.get("/Schemas").json()) == []
    assert nulls(scim.get("/ResourceTypes").json()) == []
    assert nulls(scim.get("/ServiceProviderConfig").json()) == []


@pytest.mark.parametrize("urn", [KLAXON_USER, CORE_USER, ENTERPRISE_USER, CORE_GROUP])
def test_one_schema_is_served_at_its_urn(scim, urn):
    listed = {s["id"]: s for s in scim.get("/Schemas").json()["Resources"]}

    response = scim.get(f"/Schemas/{urn}")

    assert response.status_code == 200
    assert response.json() == listed[urn]


@pytest.mark.parametrize("path", ["/Schemas/urn:example:unknown", "/ResourceTypes/Printer"])
def test_an_unknown_schema_or_resource_type_is_404(scim, path):
    response = scim.get(path)

    assert response.status_code == 404
    body = response.json()
    assert body == {"schemas": [ERROR], "status": "404", "detail": body["detail"]}


@pytest.mark.parametrize("path", ["/Schemas", "/ResourceTypes", "/ServiceProviderConfig"])
def test_filtering_discovery_is_forbidden(scim, path):
    # RFC 7644 §4: "If a "filter" is provided, the service provider SHOULD respond with
    # HTTP status code 403 (Forbidden)", so no client believes its filter was applied.
    response = scim.get(f'{path}?filter=id eq "User"')

    assert response.status_code == 403
    assert response.json() == {"schemas": [ERROR], "status": "403", "detail": response.json()["detail"]}


@pytest.mark.parametrize("path", ["/Schemas", "/ResourceTypes", "/ServiceProviderConfig"])
def test_discovery_needs_the_token(scim, path):
    response = scim.get(path, HTTP_AUTHORIZATION="")

    assert response.status_code == 401


def test_group_display_names_are_published_as_unique(scim):
    group_schema = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").json()
    display_name = next(a for a in group_schema["attributes"] if a["name"] == "displayName")
    assert display_name["uniqueness"] == "server"
