"""SCIM Groups (RFC 7644) as Microsoft Entra ID and Okta use them, through HTTP.

Request bodies are the shapes the providers send (tests/payloads/entra|okta/group-*.json,
see docs/idp-behaviour.md sections D and E).
"""

import math
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import actions, memberships
from accounts.models import Group, GroupMembership, User
from locations.models import Location
from tests.payloads import load
from tests.scim import CORE_GROUP, ERROR, PATCH_OP

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def person(tenant, name: str) -> User:
    slug = tenant.organisation.slug
    return actions.create_manual_user(tenant.organisation, f"{name}@{slug}.test", email=f"{name}@{slug}.test")


def bulk_people(organisation, count: int, prefix: str) -> list[str]:
    """`count` people created in one go; returns their SCIM ids."""
    default = Location.objects.get(organisation=organisation, is_default=True)
    users = [
        User(organisation=organisation, user_name=f"{prefix}{i}@bulk.test", location=default) for i in range(count)
    ]
    User.objects.bulk_create(users, batch_size=2000)
    return [str(u.scim_id) for u in users]


def sid(user: User) -> str:
    return str(user.scim_id)


def patch_op(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def member_ids(scim, group_id: str) -> set[str]:
    response = scim.get(f"/Groups/{group_id}")
    assert response.status_code == 200
    return {m["value"] for m in response.json()["members"]}


def new_group(scim, display_name: str = "Night shift", members=()) -> str:
    body = {"schemas": [CORE_GROUP], "displayName": display_name, "members": [{"value": sid(u)} for u in members]}
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def member_entry(scim, user: User) -> dict:
    return {
        "value": sid(user),
        "display": user.user_name,
        "$ref": f"{scim.endpoint.url}/Users/{sid(user)}",
        "type": "User",
    }


@pytest.fixture
def people(acme) -> list[User]:
    return [person(acme, name) for name in ("ann", "ben", "cat", "dan")]


# Create ----------------------------------------------------------------------------


def test_entra_creates_a_group_with_its_extra_schema_and_an_empty_member_list(scim):
    response = scim.post("/Groups", load("entra/group-create"))

    assert response.status_code == 201
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    group = Group.objects.get(organisation=scim.tenant.organisation)
    location = f"{scim.endpoint.url}/Groups/{group.scim_id}"
    assert body == {
        "schemas": [CORE_GROUP],
        "id": str(group.scim_id),
        "displayName": "displayName",
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "members": [],
        "meta": {
            "resourceType": "Group",
            "created": body["meta"]["created"],
            "lastModified": body["meta"]["lastModified"],
            "location": location,
            "version": body["meta"]["version"],
        },
    }
    assert response["Location"] == location
    assert response["ETag"] == body["meta"]["version"]


def test_okta_pushes_a_group_with_an_empty_member_list(scim):
    response = scim.post("/Groups", load("okta/group-push"), content_type="application/json")

    assert response.status_code == 201
    body = response.json()
    assert {k: v for k, v in body.items() if k != "meta"} == {
        "schemas": [CORE_GROUP],
        "id": body["id"],
        "displayName": "Test SCIMv2",
        "members": [],
    }
    assert scim.get(f"/Groups/{body['id']}").json() == body


def test_a_group_is_created_with_its_members(scim, people):
    ann, ben, *_ = people
    response = scim.post(
        "/Groups",
        {
            "schemas": [CORE_GROUP],
            "displayName": "Responders",
            "members": [{"value": sid(ann), "display": ann.user_name}, {"value": sid(ben)}],
        },
    )

    assert response.status_code == 201
    members = response.json()["members"]
    assert sorted(members, key=lambda m: m["display"]) == [member_entry(scim, ann), member_entry(scim, ben)]
    group = Group.objects.get(scim_id=response.json()["id"])
    assert set(group.members.all()) == {ann, ben}


def test_a_display_name_differing_only_in_case_is_a_uniqueness_conflict(scim):
    new_group(scim, "Night shift")

    response = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "NIGHT SHIFT"})

    assert response.status_code == 409
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body == {"schemas": [ERROR], "status": "409", "scimType": "uniqueness", "detail": body["detail"]}
    assert "NIGHT SHIFT" in body["detail"]
    assert Group.objects.filter(organisation=scim.tenant.organisation).count() == 1


def test_renaming_onto_another_groups_name_is_a_uniqueness_conflict(scim):
    new_group(scim, "Night shift")
    day = new_group(scim, "Day shift")

    response = scim.patch(f"/Groups/{day}", patch_op({"op": "Replace", "path": "displayName", "value": "night Shift"}))

    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert scim.get(f"/Groups/{day}").json()["displayName"] == "Day shift"


# Read ------------------------------------------------------------------------------


def test_entra_finds_a_group_by_display_name_without_its_members(scim, people):
    group_id = new_group(scim, "displayName", members=people[:2])
    new_group(scim, "Another group")

    response = scim.get('/Groups?excludedAttributes=members&filter=displayName eq "displayName"')

    assert response.status_code == 200
    full = scim.get(f"/Groups/{group_id}").json()
    expected = {k: v for k, v in full.items() if k != "members"}
    assert response.json() == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 1,
        "startIndex": 1,
        "itemsPerPage": 1,
        "Resources": [expected],
    }


def test_display_name_filters_ignore_case(scim):
    group_id = new_group(scim, "Night shift")

    response = scim.get('/Groups?excludedAttributes=members&filter=DisplayName eq "night SHIFT"')

    assert [g["id"] for g in response.json()["Resources"]] == [group_id]


def test_entra_reads_one_group_without_its_members(scim, people):
    group_id = new_group(scim, "Night shift", members=people)

    response = scim.get(f"/Groups/{group_id}?excludedAttributes=members")

    assert response.status_code == 200
    body = response.json()
    assert "members" not in body
    assert body == {k: v for k, v in scim.get(f"/Groups/{group_id}").json().items() if k != "members"}


@pytest.mark.parametrize(
    "path",
    [
        "/Groups/{id}?excludedAttributes=members",
        '/Groups?excludedAttributes=members&filter=displayName eq "{name}"',
        "/Groups?excludedAttributes=members",
    ],
)
def test_excluding_members_never_loads_them(scim, acme, path, django_assert_max_num_queries):
    empty = new_group(scim, "Empty")
    crowded = new_group(scim, "Crowded")
    memberships.add(
        Group.objects.get(scim_id=crowded),
        User.objects.filter(scim_id__in=bulk_people(acme.organisation, 300, "crowd")).values_list("pk", flat=True),
    )
    scim.get("/Groups")  # The first request of a token records its use: keep it out of the count.

    with CaptureQueriesContext(connection) as baseline:
        assert scim.get(path.format(id=empty, name="Empty")).status_code == 200
    with django_assert_max_num_queries(len(baseline.captured_queries)) as crowded_queries:
        response = scim.get(path.format(id=crowded, name="Crowded"))

    assert response.status_code == 200
    assert "members" not in str(response.json())
    assert not [q["sql"] for q in crowded_queries.captured_queries if "groupmembership" in q["sql"].lower()]


def test_listing_groups_with_members_takes_a_fixed_number_of_queries(scim, people, django_assert_max_num_queries):
    for i in range(5):
        new_group(scim, f"Team {i}", members=people)
    scim.get("/Groups")

    with CaptureQueriesContext(connection) as one:
        scim.get("/Groups?count=1")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = scim.get("/Groups")

    assert response.json()["totalResults"] == 5
    assert all(len(g["members"]) == 4 for g in response.json()["Resources"])


# PATCH members -------------------------------------------------------------------


def test_entra_adds_several_members_in_one_patch_and_is_told_204(scim, people):
    ann, ben, *_ = people
    group_id = new_group(scim)

    response = scim.patch(f"/Groups/{group_id}", load("entra/group-add-members", USER_1=sid(ann), USER_2=sid(ben)))

    assert response.status_code == 204
    assert response.content == b""
    assert member_ids(scim, group_id) == {sid(ann), sid(ben)}


def test_adding_an_existing_member_again_changes_nothing(scim, people):
    ann, ben, *_ = people
    group_id = new_group(scim, members=[ann])
    before = scim.get(f"/Groups/{group_id}").json()["members"]

    response = scim.patch(f"/Groups/{group_id}", load("entra/group-add-members", USER_1=sid(ann), USER_2=sid(ann)))

    assert response.status_code == 204
    assert scim.get(f"/Groups/{group_id}").json()["members"] == before
    assert GroupMembership.objects.filter(group__scim_id=group_id).count() == 1


def test_add_appends_to_the_members_rather_than_replacing_them(scim, people):
    ann, ben, cat, dan = people
    group_id = new_group(scim, members=[ann, ben])

    response = scim.patch(f"/Groups/{group_id}", load("entra/group-add-members", USER_1=sid(cat), USER_2=sid(dan)))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == {sid(ann), sid(ben), sid(cat), sid(dan)}


def test_entra_removes_members_named_in_the_value_and_only_those(scim, people):
    ann, ben, cat, _ = people
    group_id = new_group(scim, members=[ann, ben, cat])

    response = scim.patch(f"/Groups/{group_id}", load("entra/group-remove-members-with-value", USER=sid(ben)))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == {sid(ann), sid(cat)}


def test_entra_removes_a_member_selected_by_a_value_filter(scim, people):
    ann, ben, cat, _ = people
    group_id = new_group(scim, members=[ann, ben, cat])

    response = scim.patch(f"/Groups/{group_id}", load("entra/group-remove-member-by-filter", USER=sid(cat)))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == {sid(ann), sid(ben)}


def test_removing_someone_who_is_no_longer_a_member_changes_nothing(scim, people):
    ann, ben, *_ = people
    group_id = new_group(scim, members=[ann])

    response = scim.patch(f"/Groups/{group_id}", load("entra/group-remove-member-by-filter", USER=sid(ben)))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == {sid(ann)}


def test_remove_without_a_value_empties_the_group(scim, people):
    group_id = new_group(scim, members=people)

    response = scim.patch(f"/Groups/{group_id}", patch_op({"op": "remove", "path": "members"}))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == set()


def test_remove_with_an_empty_value_removes_no_one(scim, people):
    # Servers that read this as "remove everyone" wipe groups (AzureAD/SCIMReferenceCode#10).
    group_id = new_group(scim, members=people)

    response = scim.patch(f"/Groups/{group_id}", patch_op({"op": "Remove", "path": "members", "value": []}))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == {sid(p) for p in people}


def test_okta_removes_by_filter_and_adds_in_one_patch(scim, people):
    ann, ben, cat, _ = people
    group_id = new_group(scim, members=[ann, ben])

    response = scim.patch(f"/Groups/{group_id}", load("okta/group-update-members", REMOVED=sid(ann), ADDED=sid(cat)))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == {sid(ben), sid(cat)}


def test_okta_renames_with_a_pathless_replace_carrying_the_groups_own_id(scim, people):
    group_id = new_group(scim, "Old name", members=people[:2])

    response = scim.patch(f"/Groups/{group_id}", load("okta/group-rename", GROUP=group_id))

    assert response.status_code == 204
    body = scim.get(f"/Groups/{group_id}").json()
    assert body["displayName"] == "Test SCIMv2"
    assert {m["value"] for m in body["members"]} == {sid(p) for p in people[:2]}


def test_a_pathless_replace_carrying_another_id_is_refused(scim):
    group_id = new_group(scim, "Old name")

    response = scim.patch(f"/Groups/{group_id}", load("okta/group-rename", GROUP=str(uuid.uuid4())))

    assert response.status_code == 400
    assert response.json()["scimType"] == "mutability"
    assert scim.get(f"/Groups/{group_id}").json()["displayName"] == "Old name"


def test_entra_renames_a_group(scim):
    group_id = new_group(scim, "Old name")

    response = scim.patch(f"/Groups/{group_id}", load("entra/group-replace-display-name"))

    assert response.status_code == 204
    assert scim.get(f"/Groups/{group_id}").json()["displayName"] == (
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    )


def test_okta_replaces_members_with_an_empty_list_to_empty_the_group(scim, people):
    group_id = new_group(scim, members=people)

    response = scim.patch(f"/Groups/{group_id}", load("okta/group-empty-members"))

    assert response.status_code == 204
    assert member_ids(scim, group_id) == set()


def test_replacing_members_leaves_exactly_the_new_list(scim, people):
    ann, ben, cat, dan = people
    group_id = new_group(scim, members=[ann, ben, cat])

    response = scim.patch(
        f"/Groups/{group_id}",
        patch_op(
            {"op": "replace", "path": "members", "value": [{"value": sid(cat)}, {"value": sid(dan)}]},
        ),
    )

    assert response.status_code == 204
    assert member_ids(scim, group_id) == {sid(cat), sid(dan)}


def test_member_changes_move_the_version(scim, people):
    group_id = new_group(scim)
    before = scim.get(f"/Groups/{group_id}").json()["meta"]

    response = scim.patch(
        f"/Groups/{group_id}", load("entra/group-add-members", USER_1=sid(people[0]), USER_2=sid(people[1]))
    )

    after = scim.get(f"/Groups/{group_id}").json()["meta"]
    assert response["ETag"] == after["version"] != before["version"]
    assert after["lastModified"] > before["lastModified"]


def test_patch_with_attributes_answers_200_with_them(scim, people):
    ann, ben, *_ = people
    group_id = new_group(scim, members=[ann])

    response = scim.patch(
        f"/Groups/{group_id}?attributes=members", load("entra/group-add-members", USER_1=sid(ann), USER_2=sid(ben))
    )

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "schemas": [CORE_GROUP],
        "id": group_id,
        "members": [member_entry(scim, ann), member_entry(scim, ben)],
    }


def test_patch_with_excluded_members_answers_200_without_them(scim, people):
    group_id = new_group(scim, members=people[:1])

    response = scim.patch(f"/Groups/{group_id}?excludedAttributes=members", load("okta/group-rename", GROUP=group_id))

    assert response.status_code == 200
    assert response.json() == {k: v for k, v in scim.get(f"/Groups/{group_id}").json().items() if k != "members"}
    assert response.json()["displayName"] == "Test SCIMv2"


def test_a_stale_if_match_is_412_and_changes_nothing(scim, people):
    group_id = new_group(scim, "Before")
    stale = scim.get(f"/Groups/{group_id}")["ETag"]
    scim.patch(f"/Groups/{group_id}", load("entra/group-add-members", USER_1=sid(people[0]), USER_2=sid(people[1])))
    before = scim.get(f"/Groups/{group_id}").json()

    responses = [
        scim.patch(f"/Groups/{group_id}", load("okta/group-rename", GROUP=group_id), HTTP_IF_MATCH=stale),
        scim.put(f"/Groups/{group_id}", load("okta/group-push"), HTTP_IF_MATCH=stale),
        scim.delete(f"/Groups/{group_id}", HTTP_IF_MATCH=stale),
    ]

    # RFC 7644 §3.14; invalidVers is about the protocol version, so no scimType.
    assert [(r.status_code, r.json().get("scimType")) for r in responses] == [(412, None)] * 3
    assert scim.get(f"/Groups/{group_id}").json() == before
    fresh = scim.get(f"/Groups/{group_id}")["ETag"]
    assert scim.delete(f"/Groups/{group_id}", HTTP_IF_MATCH=fresh).status_code == 204


def test_search_by_post_takes_attributes_as_a_list(scim, people):
    group_id = new_group(scim, "Night shift", members=people)
    new_group(scim, "Day shift")

    response = scim.post(
        "/Groups/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "attributes": ["displayName"],
            "filter": 'displayName eq "Night shift"',
            "startIndex": 1,
            "count": 10,
        },
    )

    assert response.status_code == 200
    assert response.json() == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 1,
        "startIndex": 1,
        "itemsPerPage": 1,
        "Resources": [{"schemas": [CORE_GROUP], "id": group_id, "displayName": "Night shift"}],
    }


# PUT and DELETE -------------------------------------------------------------------


def test_okta_replaces_a_group_with_put(scim, people):
    ann, ben, cat, _ = people
    group_id = new_group(scim, "Old name", members=[ann, ben])

    response = scim.put(f"/Groups/{group_id}", load("okta/group-replace", GROUP=group_id, USER=sid(cat)))

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "schemas": [CORE_GROUP],
        "id": group_id,
        "displayName": "Test SCIMv2",
        "members": [member_entry(scim, cat) | {"display": "test.user@okta.local"}],  # Echoed as sent.
        "meta": body["meta"] | {"resourceType": "Group", "location": f"{scim.endpoint.url}/Groups/{group_id}"},
    }
    assert scim.get(f"/Groups/{group_id}").json() == body


def test_put_of_an_unknown_group_is_404_and_creates_nothing(scim):
    response = scim.put(f"/Groups/{uuid.uuid4()}", load("okta/group-push"))

    assert response.status_code == 404
    assert not Group.objects.exists()


def test_deleting_a_group_answers_204_then_404(scim, people):
    group_id = new_group(scim, members=people)

    response = scim.delete(f"/Groups/{group_id}")

    assert response.status_code == 204
    assert response.content == b""
    for method, body in (
        ("get", None),
        ("delete", None),
        ("patch", load("okta/group-empty-members")),
        ("put", load("okta/group-push")),
    ):
        again = scim.request(method, f"/Groups/{group_id}", body)
        assert again.status_code == 404, method
        assert again.json() == {"schemas": [ERROR], "status": "404", "detail": f"Group {group_id} not found."}
    assert User.objects.filter(pk__in=[p.pk for p in people]).count() == 4  # Members are people, not deleted.


# Unknown members: 400 and nothing applied -----------------------------------------


@pytest.fixture(params=["random uuid", "garbage", "other organisation"])
def unknown_member(request, globex) -> str:
    if request.param == "random uuid":
        return str(uuid.uuid4())
    if request.param == "garbage":
        return "00919288221112222"
    return sid(globex.user)


def test_adding_an_unknown_member_is_400_and_nothing_from_the_patch_is_applied(scim, people, unknown_member):
    ann, ben, cat, _ = people
    group_id = new_group(scim, "Before", members=[ann])
    before = scim.get(f"/Groups/{group_id}").json()

    response = scim.patch(
        f"/Groups/{group_id}",
        patch_op(
            {"op": "Replace", "path": "displayName", "value": "After"},
            {"op": "Remove", "path": "members", "value": [{"value": sid(ann)}]},
            {"op": "Add", "path": "members", "value": [{"value": sid(ben)}]},
            {"op": "Add", "path": "members", "value": [{"$ref": None, "value": unknown_member}, {"value": sid(cat)}]},
        ),
    )

    assert response.status_code == 400
    body = response.json()
    assert body == {"schemas": [ERROR], "status": "400", "scimType": "invalidValue", "detail": body["detail"]}
    assert unknown_member in body["detail"]
    assert scim.get(f"/Groups/{group_id}").json() == before


def test_a_patch_failing_after_member_changes_were_written_is_rolled_back(scim, people):
    # The rename clashes only when it is saved, after the members went in: RFC 7644 §3.5.2
    # "the original SCIM resource MUST be restored".
    ann, ben, *_ = people
    new_group(scim, "Day shift")
    group_id = new_group(scim, "Night shift", members=[ann])
    before = scim.get(f"/Groups/{group_id}").json()

    response = scim.patch(
        f"/Groups/{group_id}",
        patch_op(
            {"op": "Remove", "path": "members", "value": [{"value": sid(ann)}]},
            {"op": "Add", "path": "members", "value": [{"value": sid(ben)}]},
            {"op": "Replace", "path": "displayName", "value": "DAY SHIFT"},
        ),
    )

    assert response.status_code == 409
    assert scim.get(f"/Groups/{group_id}").json() == before


def test_replacing_members_with_an_unknown_one_is_400_and_changes_nothing(scim, people, unknown_member):
    ann, ben, *_ = people
    group_id = new_group(scim, members=[ann])

    response = scim.patch(
        f"/Groups/{group_id}",
        patch_op(
            {"op": "replace", "path": "members", "value": [{"value": sid(ben)}, {"value": unknown_member}]},
        ),
    )

    assert response.status_code == 400
    assert member_ids(scim, group_id) == {sid(ann)}


def test_creating_a_group_with_an_unknown_member_is_400_and_creates_nothing(scim, people, unknown_member):
    response = scim.post(
        "/Groups",
        {
            "schemas": [CORE_GROUP],
            "displayName": "Responders",
            "members": [{"value": sid(people[0])}, {"value": unknown_member}],
        },
    )

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert not Group.objects.exists()


def test_put_with_an_unknown_member_is_400_and_changes_nothing(scim, people, unknown_member):
    ann, ben, *_ = people
    group_id = new_group(scim, "Before", members=[ann])
    before = scim.get(f"/Groups/{group_id}").json()

    response = scim.put(f"/Groups/{group_id}", load("okta/group-replace", GROUP=group_id, USER=unknown_member))

    assert response.status_code == 400
    assert scim.get(f"/Groups/{group_id}").json() == before


# Large groups ----------------------------------------------------------------------


def test_ten_thousand_members_are_added_in_one_patch_with_few_queries(scim, acme, django_assert_max_num_queries):
    ids = bulk_people(acme.organisation, 10_000, "member")
    group_id = new_group(scim, "Everyone")
    # The token, the locked group, one look-up of every id, the group's version, the
    # activity log and the transaction's savepoint and release: 7. Then the memberships go
    # in as one INSERT ... SELECT on PostgreSQL, or INSERTs of 300 rows on SQLite (Django
    # lets SQLite have 999 parameters): 34.
    inserts = 1 if connection.vendor == "postgresql" else math.ceil(10_000 / 300)

    with django_assert_max_num_queries(7 + inserts):
        response = scim.patch(
            f"/Groups/{group_id}",
            patch_op(
                {"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]},
            ),
        )

    assert response.status_code == 204
    assert GroupMembership.objects.filter(group__scim_id=group_id).count() == 10_000
    listed = scim.get('/Groups?filter=displayName eq "Everyone"&attributes=members').json()["Resources"][0]
    assert len(listed["members"]) == 10_000


# Other organisations -------------------------------------------------------------


def test_another_organisations_groups_are_invisible(scim, scim_globex, people):
    group_id = new_group(scim, "Acme only", members=people)
    before = scim.get(f"/Groups/{group_id}").json()

    listed = scim_globex.get("/Groups").json()
    assert listed["totalResults"] == 0 and listed["Resources"] == []
    assert scim_globex.get('/Groups?filter=displayName eq "Acme only"').json()["totalResults"] == 0
    assert scim_globex.get(f'/Groups?filter=members[value eq "{sid(people[0])}"]').json()["totalResults"] == 0
    assert scim_globex.get(f"/Groups/{group_id}").status_code == 404
    assert scim_globex.patch(f"/Groups/{group_id}", load("okta/group-empty-members")).status_code == 404
    assert scim_globex.put(f"/Groups/{group_id}", load("okta/group-push")).status_code == 404
    assert scim_globex.delete(f"/Groups/{group_id}").status_code == 404
    assert scim.get(f"/Groups/{group_id}").json() == before


def test_each_organisation_may_have_a_group_of_the_same_name(scim, scim_globex):
    new_group(scim, "Night shift")

    response = scim_globex.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Night shift"})

    assert response.status_code == 201


def test_another_organisations_user_cannot_join_a_group(scim_globex, acme, globex):
    group_id = new_group(scim_globex, "Globex team")
    intruder = {"value": sid(acme.user)}

    created = scim_globex.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Other", "members": [intruder]})
    patched = scim_globex.patch(f"/Groups/{group_id}", patch_op({"op": "add", "path": "members", "value": [intruder]}))
    replaced = scim_globex.put(
        f"/Groups/{group_id}", {"schemas": [CORE_GROUP], "displayName": "Globex team", "members": [intruder]}
    )

    assert [created.status_code, patched.status_code, replaced.status_code] == [400, 400, 400]
    assert not GroupMembership.objects.filter(user=acme.user).exists()
    assert not Group.objects.filter(organisation=globex.organisation, display_name="Other").exists()
