"""The caps that keep one SCIM request cheap, each answered with its SCIM error (RFC 7644 §3.12).

Complements test_scim_errors_and_auth.py (which sends far-over-the-limit bodies, JSON nested
thousands deep and a 1001-operation group PATCH, and only checks for a 4xx) and
test_scim_filters.py (count clamped on GET /Users): here each limit is tried at its edge, on
the endpoints those files do not reach, with the exact scimType.
"""

import json
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings

from accounts.models import Group
from scim_sync.protocol import MAX_JSON_DEPTH
from scim_sync.schema import MAX_FILTER_LENGTH, MAX_FILTER_NODES, MAX_PAGE_SIZE, MAX_PATCH_OPERATIONS
from tests.scim import CORE_GROUP, CORE_USER, PATCH_OP, SEARCH, assert_scim_error


def search(scim, path: str, method: str, **params):
    """GET with query parameters, or POST a SearchRequest carrying the same."""
    if method == "get":
        return scim.get(f"{path}?" + urlencode(params, quote_via=quote))
    return scim.post(path, {"schemas": [SEARCH], **params})


def or_chain(terms: int) -> str:
    """`terms` comparisons joined by `or`: terms + 1 nodes."""
    return " or ".join(f'userName eq "u{i}@acme.test"' for i in range(terms))


SEARCHES = [("/Users", "get"), ("/Groups", "get"), ("/Users/.search", "post"), ("/.search", "post")]


# Filter complexity ------------------------------------------------------------------


@pytest.mark.parametrize("path, method", SEARCHES)
def test_a_filter_of_the_largest_allowed_complexity_is_run(scim, path, method):
    text = or_chain(MAX_FILTER_NODES - 1).replace("userName", "displayName" if "Groups" in path else "userName")

    response = search(scim, path, method, filter=text)

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path, method", SEARCHES)
def test_a_filter_one_node_more_complex_is_400_invalid_filter(scim, path, method):
    text = or_chain(MAX_FILTER_NODES).replace("userName", "displayName" if "Groups" in path else "userName")

    body = assert_scim_error(search(scim, path, method, filter=text), 400, "invalidFilter")

    assert body["detail"] == "The filter is too complex."


@pytest.mark.parametrize(
    "text",
    [
        # not, and, value paths and presence tests count as much as comparisons.
        " and ".join("not (title pr)" for _ in range(MAX_FILTER_NODES // 2)),
        " or ".join('emails[type eq "work" and value eq "x"]' for _ in range(MAX_FILTER_NODES // 4 + 1)),
    ],
)
def test_every_kind_of_node_counts_towards_the_complexity(scim, text):
    body = assert_scim_error(search(scim, "/Users", "get", filter=text), 400, "invalidFilter")

    assert body["detail"] == "The filter is too complex."


# Filter length ----------------------------------------------------------------------


@pytest.mark.parametrize("path, method", SEARCHES)
def test_a_filter_of_the_largest_allowed_length_is_run(scim, path, method):
    attribute = "displayName" if "Groups" in path else "userName"
    prefix = f'{attribute} eq "'
    text = prefix + "x" * (MAX_FILTER_LENGTH - len(prefix) - 1) + '"'
    assert len(text) == MAX_FILTER_LENGTH

    assert search(scim, path, method, filter=text).status_code == 200


@pytest.mark.parametrize("path, method", SEARCHES)
def test_a_filter_one_character_longer_is_400_invalid_filter(scim, path, method):
    text = 'userName eq "' + "x" * (MAX_FILTER_LENGTH - 13) + '"'
    assert len(text) == MAX_FILTER_LENGTH + 1

    body = assert_scim_error(search(scim, path, method, filter=text), 400, "invalidFilter")

    assert body["detail"] == "The filter is too long."


# count ------------------------------------------------------------------------------


@pytest.mark.parametrize("path, method", [("/Groups", "get"), ("/Groups/.search", "post"), ("/.search", "post")])
def test_a_count_above_the_maximum_is_clamped_on_groups_and_root_search(scim, acme, path, method):
    Group.objects.bulk_create(
        Group(organisation=acme.organisation, display_name=f"Team {i:04}") for i in range(MAX_PAGE_SIZE + 1)
    )

    body = search(scim, path, method, count=10**9).json()

    assert body["totalResults"] == MAX_PAGE_SIZE + 1 + (2 if path == "/.search" else 0)  # + the two users
    assert body["itemsPerPage"] == len(body["Resources"]) == MAX_PAGE_SIZE


# PATCH operations -------------------------------------------------------------------


def new_user(scim) -> dict:
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "ops@acme.test", "title": "Before"})
    assert response.status_code == 201, response.content
    return response.json()


def new_group(scim) -> dict:
    response = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Ops", "members": []})
    assert response.status_code == 201, response.content
    return response.json()


RESOURCES = {
    "user": (new_user, "/Users", {"op": "replace", "path": "title", "value": "After"}),
    "group": (new_group, "/Groups", {"op": "replace", "path": "displayName", "value": "After"}),
}


@pytest.mark.parametrize("kind", RESOURCES)
def test_a_patch_with_the_largest_allowed_number_of_operations_is_applied(scim, kind):
    create, path, operation = RESOURCES[kind]
    resource = create(scim)

    response = scim.patch(
        f"{path}/{resource['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [operation] * MAX_PATCH_OPERATIONS,
        },
    )

    assert response.status_code in (200, 204), response.content
    after = scim.get(f"{path}/{resource['id']}").json()
    assert after.get("title", after.get("displayName")) == "After"


@pytest.mark.parametrize("kind", RESOURCES)
def test_one_operation_more_is_400_too_many_and_changes_nothing(scim, kind):
    create, path, operation = RESOURCES[kind]
    resource = create(scim)

    response = scim.patch(
        f"{path}/{resource['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [operation] * (MAX_PATCH_OPERATIONS + 1),
        },
    )

    body = assert_scim_error(response, 400, "tooMany")
    assert str(MAX_PATCH_OPERATIONS) in body["detail"]
    assert scim.get(f"{path}/{resource['id']}").json() == resource


# Body size and depth ----------------------------------------------------------------


def search_body_of(size: int) -> bytes:
    """A SearchRequest of exactly `size` bytes; the padding is a parameter Klaxon ignores."""
    empty = json.dumps({"schemas": [SEARCH], "count": 1, "padding": ""}).encode()
    body = json.dumps({"schemas": [SEARCH], "count": 1, "padding": "x" * (size - len(empty))}).encode()
    assert len(body) == size
    return body


def test_a_body_of_exactly_the_size_limit_is_read(scim):
    response = scim.post("/Users/.search", search_body_of(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))

    assert response.status_code == 200, response.content


def test_a_body_one_byte_over_the_size_limit_is_413(scim):
    response = scim.post("/Users/.search", search_body_of(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))

    assert_scim_error(response, 413)


def test_put_and_user_patch_refuse_an_oversized_body_too(scim):
    user = new_user(scim)
    padding = "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    for method in ("put", "patch"):
        response = scim.request(method, f"/Users/{user['id']}", {"schemas": [CORE_USER], "userName": padding})
        assert_scim_error(response, 413)
    assert scim.get(f"/Users/{user['id']}").json() == user


def nested_patch(depth: int) -> str:
    """A group PATCH whose JSON nests `depth` levels, counting the outer object as one."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return '{"schemas":["%s"],"Operations":[],"x":%s}' % (PATCH_OP, inner)


def test_json_nested_exactly_to_the_limit_is_read(scim):
    group = new_group(scim)

    response = scim.patch(f"/Groups/{group['id']}", nested_patch(MAX_JSON_DEPTH))

    assert response.status_code == 204, response.content


def test_json_nested_one_level_deeper_is_400_invalid_syntax(scim):
    group = new_group(scim)

    response = scim.patch(f"/Groups/{group['id']}", nested_patch(MAX_JSON_DEPTH + 1))

    assert_scim_error(response, 400, "invalidSyntax")
    assert scim.get(f"/Groups/{group['id']}").json() == group
