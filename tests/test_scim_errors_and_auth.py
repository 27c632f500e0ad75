"""SCIM errors (RFC 7644 §3.12), authentication and the activity log, through the real SCIM views.

Every error is SCIM JSON with `status` as a string and `application/scim+json`; no input
makes Klaxon answer 500 or say more than it should.
"""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.models import Group, User
from scim_sync import credentials
from scim_sync.auth import FAILURE_WINDOW_SECONDS, MAX_FAILURES
from scim_sync.models import AuthFailureSummary, ScimActivity
from tests.scim import CORE_GROUP, CORE_USER, ERROR, PATCH_OP, assert_scim_error

KLAXON_USER = "urn:ietf:params:scim:schemas:extension:klaxon:2.0:User"
UNAUTHORISED = {"schemas": [ERROR], "status": "401", "detail": "Authorization failure"}


@pytest.fixture(autouse=True)
def empty_cache(db):  # the default cache is a database table
    """The failure counter lives in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def new_user(scim, user_name="bjensen@acme.test", **extra) -> dict:
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": user_name, **extra})
    assert response.status_code == 201, response.json()
    return response.json()


def new_group(scim, display_name="Night shift") -> str:
    response = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": display_name})
    assert response.status_code == 201, response.json()
    return response.json()["id"]


# Authentication -------------------------------------------------------------------


def test_a_request_without_authorization_is_401(scim, client):
    response = client.get(f"{scim.base}/Users")

    assert_scim_error(response, 401)
    assert response.json() == UNAUTHORISED
    assert response["WWW-Authenticate"] == 'Bearer realm="Klaxon SCIM"'


@pytest.mark.parametrize(
    "authorization",
    [
        "non-token",  # Okta's SCIM 2.0 spec test, step 11.
        "Bearer klx_this-is-not-the-token",
        "Bearer Bearer klx_this-is-not-the-token",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNzd29yZA==",
        "{token}x",
        "Bearer {token}x",
        "Token {token}",
        "Bearer {token} extra",
        "Bearer {globex}",  # Another organisation's valid token.
    ],
)
def test_a_wrong_token_is_401_and_reveals_nothing(scim, scim_globex, client, authorization):
    header = authorization.format(token=scim.token, globex=scim_globex.token)
    no_header = client.get(f"{scim.base}/Users")

    response = scim.get("/Users", HTTP_AUTHORIZATION=header)

    assert_scim_error(response, 401)
    assert response.json() == UNAUTHORISED
    assert response["WWW-Authenticate"] == 'Bearer realm="Klaxon SCIM"'
    # Exactly the answer to a request without any token: nothing tells the cases apart.
    assert (response.content, same_for_all(response)) == (no_header.content, same_for_all(no_header))


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/Users/{user}"),
        ("patch", "/Users/{user}"),
        ("delete", "/Users/{user}"),
        ("get", "/Groups/{group}"),
        ("delete", "/Groups/{group}"),
        ("post", "/Groups"),
        ("get", "/Schemas"),
        ("get", "/NoSuchThing"),
    ],
)
def test_every_view_refuses_another_organisations_token(scim, scim_globex, method, path):
    user, group = new_user(scim)["id"], new_group(scim)

    response = scim.request(
        method,
        path.format(user=user, group=group),
        {"schemas": [CORE_GROUP], "displayName": "x"} if method in ("post", "patch") else None,
        token=scim_globex.token,
    )

    assert response.json() == UNAUTHORISED
    assert User.objects.filter(scim_id=user).exists() and Group.objects.filter(scim_id=group).exists()


@pytest.mark.parametrize(
    "template", ["Bearer {}", "bearer {}", "BEARER {}", "Bearer Bearer {}", "bearer Bearer {}", "Bearer   {}"]
)
def test_the_token_is_accepted_as_the_setup_guide_allows(scim, template):
    response = scim.get("/Users", HTTP_AUTHORIZATION=template.format(scim.token))

    assert response.status_code == 200


def test_an_unknown_endpoint_key_is_404_whatever_the_token(scim, client):
    unknown = "A" * 32
    for headers in ({"HTTP_AUTHORIZATION": f"Bearer {scim.token}"}, {}):
        response = client.get(f"/scim/v2/{unknown}/Users", **headers)
        assert_scim_error(response, 404)


def test_a_rotated_endpoint_key_leaves_the_old_url_not_found(scim, client):
    old_base = scim.base
    endpoint = credentials.rotate_endpoint(scim.tenant.organisation)

    old = client.get(f"{old_base}/Users", HTTP_AUTHORIZATION=f"Bearer {scim.token}")
    new = client.get(f"/scim/v2/{endpoint.key}/Users", HTTP_AUTHORIZATION=f"Bearer {scim.token}")

    assert_scim_error(old, 404)
    assert new.status_code == 200


def test_a_token_rotated_without_grace_is_refused_at_once(scim):
    old = scim.token
    new = credentials.generate_token(scim.tenant.organisation, grace=credentials.GRACE_CHOICES["none"])

    assert scim.get("/Users", token=old).json() == UNAUTHORISED
    assert scim.get("/Users", token=new).status_code == 200


def test_a_token_rotated_with_an_hour_of_grace_still_works(scim):
    old = scim.token
    new = credentials.generate_token(scim.tenant.organisation, grace=credentials.GRACE_CHOICES["1h"])

    assert scim.get("/Users", token=old).status_code == 200
    assert scim.get("/Users", token=new).status_code == 200
    assert credentials.GRACE_CHOICES["1h"] == timedelta(hours=1)


def test_repeated_failures_are_throttled_with_retry_after(scim):
    for _ in range(MAX_FAILURES):
        assert scim.get("/Users", token="klx_guess").status_code == 401

    response = scim.get("/Users", token="klx_guess")

    assert_scim_error(response, 429)
    assert 0 < int(response["Retry-After"]) <= FAILURE_WINDOW_SECONDS + 1
    # Only failures are throttled: someone guessing cannot lock the identity provider out.
    assert scim.get("/Users").status_code == 200
    assert MAX_FAILURES == 20


def test_throttling_one_endpoint_leaves_the_others_alone(scim, scim_globex):
    for _ in range(MAX_FAILURES + 1):
        scim.get("/Users", token="klx_guess")

    assert scim_globex.get("/Users", token="klx_guess").json() == UNAUTHORISED


# Error responses --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("patch", "/Users"),
        ("delete", "/Users"),
        ("put", "/Users"),
        ("put", "/Groups"),
        ("delete", "/Groups"),
        ("post", "/Users/{user}"),
        ("post", "/Groups/{group}"),
        ("post", "/ServiceProviderConfig"),
        ("delete", "/Schemas"),
        ("put", "/ResourceTypes/User"),
    ],
)
def test_an_unsupported_method_is_405(scim, method, path):
    user, group = new_user(scim)["id"], new_group(scim)

    response = scim.request(method, path.format(user=user, group=group), {} if method != "delete" else None)

    assert_scim_error(response, 405)


@pytest.mark.parametrize("path", ["/Printers", "/Users/abc/def", "/v2/Users", "/Me", "/Bulk", "/users/x/y/z"])
def test_an_unknown_path_is_404(scim, path):
    assert_scim_error(scim.get(path), 404)


def test_okta_spec_step_12_an_unknown_user_id_is_404_with_detail(scim):
    response = scim.get("/Users/00919288221112222")

    assert response.json() == {"schemas": [ERROR], "status": "404", "detail": "User 00919288221112222 not found."}
    assert response["Content-Type"] == "application/scim+json"


@pytest.mark.parametrize("path", ["/Users", "/Groups", "/Groups/{group}"])
def test_an_oversized_body_is_413(scim, path):
    group = new_group(scim)
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = {"schemas": [CORE_USER], "userName": "big@acme.test", "displayName": padding}
    method = "patch" if "{group}" in path else "post"

    response = scim.request(method, path.format(group=group), body)

    assert_scim_error(response, 413)
    assert not User.objects.filter(user_name="big@acme.test").exists()


@pytest.mark.parametrize("depth", [40, 1_000, 100_000])
def test_deeply_nested_json_is_400_invalid_syntax(scim, depth):
    body = '{"schemas":["%s"],"userName":"deep@acme.test","title":' % CORE_USER + "[" * depth + "]" * depth + "}"

    assert_scim_error(scim.post("/Users", body), 400, "invalidSyntax")


@pytest.mark.parametrize("body", ["[]", '["a"]', '"text"', "42", "true", "null"])
def test_json_that_is_not_an_object_is_400(scim, body):
    for method, path in (("post", "/Users"), ("post", "/Groups"), ("patch", f"/Groups/{new_group(scim, body)}")):
        assert_scim_error(scim.request(method, path, body), 400, "invalidSyntax")


@pytest.mark.parametrize("body", ['{"userName": ', "{'userName': 'x'}", b'{"userName": "\xff\xfe"}', "{}}"])
def test_malformed_json_is_400_invalid_syntax(scim, body):
    assert_scim_error(scim.post("/Users", body), 400, "invalidSyntax")


def group_patch(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


ODD_REQUESTS = [
    ("post", "/Groups", {"displayName": 12}),
    ("post", "/Groups", {"displayName": ["a"]}),
    ("post", "/Groups", {"displayName": "   "}),
    ("post", "/Groups", {"displayName": "x" * 300}),
    ("post", "/Groups", {"displayName": "ok", "externalId": {"a": 1}}),
    ("post", "/Groups", {"displayName": "ok", "externalId": "e" * 300}),
    ("post", "/Groups", {"displayName": "ok", "members": "someone"}),
    ("post", "/Groups", {"displayName": "ok", "members": [1, 2]}),
    ("post", "/Groups", {"displayName": "ok", "members": [{"value": 5}]}),
    ("post", "/Groups", {"displayName": "ok", "members": [{"value": None}]}),
    ("post", "/Groups", {"displayName": "ok", "members": {"value": "x"}}),
    ("post", "/Groups", {"displayName": "nul\u0000byte"}),
    ("patch", "/Groups/{group}", {"Operations": "add"}),
    ("patch", "/Groups/{group}", {"Operations": [1]}),
    ("patch", "/Groups/{group}", {"Operations": [{"op": "move", "path": "members"}]}),
    ("patch", "/Groups/{group}", {"Operations": [{"op": None}]}),
    ("patch", "/Groups/{group}", {"Operations": [{"op": {"a": 1}, "path": "members"}]}),
    ("patch", "/Groups/{group}", group_patch({"op": "add", "path": 5, "value": []})),
    ("patch", "/Groups/{group}", group_patch({"op": "add", "path": "members[", "value": []})),
    ("patch", "/Groups/{group}", group_patch({"op": "remove", "path": 'members[display eq "x"]'})),
    ("patch", "/Groups/{group}", group_patch({"op": "remove", "path": 'members[value gt "x"]'})),
    ("patch", "/Groups/{group}", group_patch({"op": "remove", "path": 'members[value eq "x"].display'})),
    ("patch", "/Groups/{group}", group_patch({"op": "remove", "path": 'members[value eq 5 and value eq "x"]'})),
    ("patch", "/Groups/{group}", group_patch({"op": "add", "path": 'members[value eq "x"]', "value": []})),
    ("patch", "/Groups/{group}", group_patch({"op": "remove"})),
    ("patch", "/Groups/{group}", group_patch({"op": "replace", "value": "text"})),
    ("patch", "/Groups/{group}", group_patch({"op": "replace", "value": {"id": None}})),
    ("patch", "/Groups/{group}", group_patch({"op": "replace", "value": {"displayName": None}})),
    ("patch", "/Groups/{group}", group_patch({"op": "replace", "path": "displayName", "value": 7})),
    ("patch", "/Groups/{group}", group_patch({"op": "replace", "path": "externalId", "value": []})),
    ("patch", "/Groups/{group}", group_patch({"op": "replace", "path": "meta.created", "value": "x"})),
    ("patch", "/Groups/{group}", group_patch({"op": "replace", "path": "colour", "value": "red"})),
    ("patch", "/Groups/{group}", group_patch({"op": "add", "path": "members", "value": "x"})),
    ("patch", "/Groups/{group}", group_patch({"op": "add", "path": "members", "value": [{"value": ["x"]}]})),
    ("patch", "/Groups/{group}", group_patch(*[{"op": "add", "path": "members", "value": []}] * 1001)),
    ("patch", "/Groups/{group}", {"schemas": ["urn:example:not-patch"], "Operations": []}),
    ("patch", "/Groups/{group}", {"schemas": "not-a-list", "Operations": []}),
    ("put", "/Groups/{group}", {"members": []}),
    ("put", "/Groups/{group}", {"displayName": "ok", "members": [{"value": "x"}]}),
    ("get", "/Groups?filter=displayName eq", None),
    ("get", '/Groups?filter=colour eq "red"', None),
    ("get", "/Groups?filter=" + "(" * 500 + 'displayName eq "x"' + ")" * 500, None),
    ("get", "/Groups?filter=" + " or ".join(['displayName eq "x"'] * 400), None),
    ("get", '/Groups?filter=members[value eq "x"]', None),
    ("get", '/Groups?filter=meta.lastModified gt "yesterday"', None),
    ("get", "/Groups?sortBy=members", None),
    ("get", "/Groups?sortBy=((", None),
    ("get", "/Groups?startIndex=abc", None),
    ("get", "/Groups?count=1e9", None),
    ("get", "/Groups?count=99999999999999999999999", None),
    ("get", "/Groups?startIndex=-99999999999999999999999", None),
    ("get", "/Groups?startIndex=99999999999999999999999", None),
    ("get", "/Users?startIndex=9223372036854775807&count=5", None),
    ("post", "/Groups/.search", {"startIndex": 10**30}),
    ("get", "/Groups?attributes=,,,&excludedAttributes=...", None),
    ("get", "/Groups/{group}?attributes=urn:", None),
    ("get", "/Groups/not-a-uuid", None),
    ("get", "/Groups/%00", None),
    ("post", "/Groups/.search", {"filter": 5}),
    ("post", "/Groups/.search", {"startIndex": [1], "count": {"a": 1}}),
    ("post", "/Groups/.search", {"attributes": ["displayName"], "excludedAttributes": 3}),
    ("post", "/Users", {"userName": None}),
    ("post", "/Users", {"userName": {"a": 1}}),
    ("post", "/Users", {"userName": "u@acme.test", "emails": "nope"}),
    ("post", "/Users", {"userName": "u@acme.test", "active": "sometimes"}),
    ("post", "/Users", {"userName": "u@acme.test", KLAXON_USER: ["London"]}),
    ("get", '/Users?filter=userName eq "x" and', None),
    ("get", "/Users/%20", None),
    # U+0000 cannot be stored by PostgreSQL.
    ("post", "/Users", {"userName": "nul\u0000@acme.test"}),
    ("post", "/Users", {"userName": "nul@acme.test", "title": {"\u0000": 1}}),
    ("patch", "/Groups/{group}", group_patch({"op": "remove", "path": 'members[value eq "\u0000"]'})),
    ("get", '/Groups?filter=displayName eq "a%00b"', None),
    ("get", '/Users?filter=userName eq "%00"', None),
    ("get", "/Users?attributes=user%00Name", None),
]


@pytest.mark.parametrize("method, path, body", ODD_REQUESTS, ids=range(len(ODD_REQUESTS)))
def test_odd_requests_are_answered_as_scim_errors_never_500(scim, method, path, body):
    group = new_group(scim)

    response = scim.request(method, path.format(group=group), body)

    assert response.status_code < 500
    if response.status_code >= 400:
        assert_scim_error(response, response.status_code, response.json().get("scimType"))
        assert response.status_code in (400, 404, 409, 413)


def test_a_request_without_a_content_type_still_reads_the_body(scim):
    # Entra and Okta always send one; curl users sometimes forget it.
    response = scim.client.post(
        f"{scim.base}/Groups",
        data=json.dumps({"displayName": "No type"}),
        content_type="",
        HTTP_AUTHORIZATION=f"Bearer {scim.token}",
    )

    assert response.status_code == 201
    assert response["Content-Type"] == "application/scim+json"
    assert Group.objects.filter(display_name="No type").exists()


# Activity log -------------------------------------------------------------------------


def test_every_authenticated_request_is_logged_without_tokens_or_phone_numbers(scim):
    phone, national = "+44 7700 900123", "07700 900123"
    created = new_user(scim, "bjensen@acme.test", **{KLAXON_USER: {"notificationPhoneNumber": phone}})
    scim.patch(
        f"/Users/{created['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": f"{KLAXON_USER}:notificationPhoneNumber", "value": national}],
        },
    )
    scim.post(
        "/Users",
        {"schemas": [CORE_USER], "userName": "other@acme.test", KLAXON_USER: {"notificationPhoneNumber": [phone]}},
    )
    group = new_group(scim)
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "NIGHT SHIFT"})
    scim.patch(f"/Groups/{group}", group_patch({"op": "add", "path": "members", "value": [{"value": "nobody"}]}))
    scim.get('/Users?filter=userName eq "bjensen@acme.test"')
    scim.get("/Users/00919288221112222")
    scim.get("/Users", token="klx_wrong-token")
    scim.patch("/Users", {})
    scim.get("/ServiceProviderConfig")
    scim.delete(f"/Groups/{group}")

    rows = list(ScimActivity.objects.requests().filter(organisation=scim.tenant.organisation).order_by("at", "pk"))
    assert [(r.method, r.resource_type, r.status, r.scim_type) for r in rows] == [
        ("POST", "User", 201, ""),
        ("PATCH", "User", 200, ""),
        ("POST", "User", 400, rows[2].scim_type),
        ("POST", "Group", 201, ""),
        ("POST", "Group", 409, "uniqueness"),
        ("PATCH", "Group", 400, "invalidValue"),
        ("GET", "User", 200, ""),
        ("GET", "User", 404, ""),
        ("PATCH", "User", 405, ""),
        ("GET", "ServiceProviderConfig", 200, ""),
        ("DELETE", "Group", 204, ""),
    ]
    # The refused request is counted in its minute's summary instead (tests/test_scim_auth_failures.py).
    refused = AuthFailureSummary.objects.get(organisation=scim.tenant.organisation)
    assert (refused.refused, refused.address_list) == (1, ["127.0.0.1"])
    assert rows[2].scim_type in ("invalidValue", "invalidSyntax")
    assert (rows[0].resource_id, rows[0].label) == (created["id"], "bjensen@acme.test")
    assert (rows[3].resource_id, rows[3].label) == (group, "Night shift")
    assert rows[5].detail and rows[7].detail
    secrets = [scim.token, "klx_wrong-token", "7700", "900123", "+447700900123"]
    for row in [*rows, refused]:
        # Text columns only: a timestamp's microseconds may contain "7700" by chance.
        for field in row._meta.concrete_fields:
            text = getattr(row, field.attname)
            if isinstance(text, str):
                assert not any(secret in text for secret in secrets), (field.name, text)


@pytest.mark.parametrize("path", ["/scim/v2/", "/scim/v2/Users", "/scim/v2/short/Users", "/scim/v2/bad key!/Users"])
def test_a_path_without_a_valid_endpoint_key_is_a_scim_404(client, db, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "404",
        "detail": "There is no such SCIM endpoint.",
    }


def same_for_all(response) -> dict:
    """Every header but the request id, which is new on each request."""
    return {name: value for name, value in response.headers.items() if name != "X-Request-ID"}
