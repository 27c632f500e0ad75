"""What Microsoft's "SCIM Tests" Postman collection and Okta's "SCIM 2.0 SPEC Test" check.

Requests are written in the validators' shapes (issue "Pass the identity providers' own
validators"): attribute names in any letter case (RFC 7643 §2.1), complete first users,
conflicts that name the clashing attribute, and `attributes` that are names, not filters.
"""

from io import StringIO
from urllib.parse import quote

import pytest
from django.core.management import call_command

from accounts.models import Organisation, User
from tests.conftest import ScimClient
from tests.scim import CORE_USER, ENTERPRISE, KLAXON, SEARCH, assert_scim_error, new_group, new_user, patch_op


def cases(name: str) -> list[str]:
    """A name as the schema spells it, in lower case and in upper case."""
    return [name, name.lower(), name.upper()]


def document_of(scim, scim_id) -> dict:
    document = scim.get(f"/Users/{scim_id}").json()
    return {k: v for k, v in document.items() if k not in ("id", "meta")}


def stored(scim_id) -> dict:
    person = User.objects.select_related("location").get(scim_id=scim_id)
    return {
        "given": person.given_name,
        "family": person.family_name,
        "display": person.display_name,
        "email": person.email,
        "department": person.department,
        "location": person.location.name,
        "phone": person.notification_phone,
        "active": person.is_active,
        "attributes": person.scim_attributes,
    }


# 1. Enterprise extension attributes in any case, manager included ---------------------


@pytest.mark.parametrize("urn", cases(ENTERPRISE))
@pytest.mark.parametrize(
    "department, manager, value",
    [
        ("Department", "Manager", "Value"),
        ("department", "manager", "Value"),
        ("DEPARTMENT", "MANAGER", "VALUE"),
    ],
)
def test_the_manager_is_stored_whatever_the_case_of_its_names(scim, acme, urn, department, manager, value):
    body = new_user("bea@acme.test", **{urn: {department: "Ops", manager: {value: str(acme.admin.scim_id)}}})
    body["schemas"] = [CORE_USER, urn]

    response = scim.post("/Users", body)

    assert response.status_code == 201, response.content
    enterprise = scim.get(f"/Users/{response.json()['id']}").json()[ENTERPRISE]
    assert enterprise["department"] == "Ops"
    assert enterprise["manager"]["value"] == str(acme.admin.scim_id)
    assert User.objects.get(scim_id=response.json()["id"]).department == "Ops"


@pytest.mark.parametrize("path", cases(f"{ENTERPRISE}:manager"))
def test_a_patch_of_the_manager_by_path_in_any_case_is_stored(scim, acme, path):
    created = scim.post("/Users", new_user("bea@acme.test")).json()

    response = scim.patch(
        f"/Users/{created['id']}",
        patch_op({"op": "replace", "path": path, "value": {"Value": str(acme.admin.scim_id)}}),
    )

    assert response.status_code == 200, response.content
    assert document_of(scim, created["id"])[ENTERPRISE]["manager"]["value"] == str(acme.admin.scim_id)


@pytest.mark.parametrize("urn", cases(ENTERPRISE))
def test_a_path_less_patch_of_the_manager_in_any_case_is_stored(scim, acme, urn):
    created = scim.post("/Users", new_user("bea@acme.test")).json()
    value = {urn: {"Manager": {"Value": str(acme.admin.scim_id)}, "Department": "Ops"}}

    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": "add", "value": value}))

    assert response.status_code == 200, response.content
    enterprise = document_of(scim, created["id"])[ENTERPRISE]
    assert enterprise["manager"]["value"] == str(acme.admin.scim_id) and enterprise["department"] == "Ops"


def test_manager_ref_and_display_name_are_optional_on_input(scim, acme):
    """RFC 7643 §4.3: manager.displayName is read-only, so it is accepted and not stored."""
    for manager in ({"value": str(acme.admin.scim_id)}, {"value": str(acme.admin.scim_id), "displayName": "Ada"}):
        response = scim.post("/Users", new_user(f"bea{len(manager)}@acme.test", **{ENTERPRISE: {"manager": manager}}))

        assert response.status_code == 201, response.content
        assert response.json()[ENTERPRISE]["manager"]["$ref"].endswith(f"/Users/{acme.admin.scim_id}")


# 2. The first person listed is complete --------------------------------------------


def test_the_first_person_of_a_new_organisation_has_a_given_and_family_name(client, db):
    call_command(
        "bootstrap_site",
        "--organisation",
        "New Co",
        "--slug",
        "newco",
        "--admin-email",
        "boss@newco.test",
        "--admin-name",
        "Grace Hopper",
        stdout=StringIO(),
    )
    scim = ScimClient(client, type("Tenant", (), {"organisation": Organisation.objects.get(slug="newco")})())

    first = scim.get("/Users?count=1&startIndex=1").json()["Resources"][0]
    again = scim.get(f"/Users/{first['id']}").json()

    for document in (first, again):
        assert document["name"] == {"givenName": "Grace", "familyName": "Hopper"}


def test_bootstrap_gives_the_administrator_a_sensible_default_name(db):
    call_command(
        "bootstrap_site",
        "--organisation",
        "New Co",
        "--slug",
        "newco",
        "--admin-email",
        "boss@newco.test",
        stdout=StringIO(),
    )

    admin = User.objects.get(user_name="boss@newco.test")
    assert (admin.given_name, admin.family_name) == ("Site", "Administrator")


# 3. Conflicts name what clashes -----------------------------------------------------


def test_a_group_clashing_only_by_external_id_names_external_id(scim):
    assert scim.post("/Groups", new_group("Ops", externalId="g-1")).status_code == 201

    body = assert_scim_error(scim.post("/Groups", new_group("Sales", externalId="g-1")), 409, "uniqueness")

    assert body["detail"] == "externalId 'g-1' is already taken by another group in this organisation."


def test_a_group_clashing_by_display_name_names_display_name(scim):
    assert scim.post("/Groups", new_group("Ops", externalId="g-1")).status_code == 201

    body = assert_scim_error(scim.post("/Groups", new_group("OPS", externalId="g-2")), 409, "uniqueness")

    assert body["detail"] == "displayName 'OPS' is already taken by another group in this organisation."


@pytest.mark.parametrize(
    "second, detail",
    [
        (
            new_user("SAM@acme.test", externalId="e-2"),
            "userName 'SAM@acme.test' is already taken in this organisation.",
        ),
        (new_user("other@acme.test", externalId="e-1"), "externalId 'e-1' is already taken in this organisation."),
    ],
)
def test_a_user_conflict_names_the_attribute_and_value_that_clash(scim, second, detail):
    assert scim.post("/Users", new_user("sam@acme.test", externalId="e-1")).status_code == 201

    assert assert_scim_error(scim.post("/Users", second), 409, "uniqueness")["detail"] == detail


# 4. attributes are names, not filters ----------------------------------------------


@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes"])
@pytest.mark.parametrize("value", ['emails[type eq "work"]', "emails[type eq work].value", "userName eq x"])
def test_a_value_filter_in_attributes_is_400_invalid_value(scim, acme, parameter, value):
    body = assert_scim_error(scim.get(f"/Users?{parameter}={quote(value)}"), 400, "invalidValue")
    assert "not an attribute name" in body["detail"]
    assert_scim_error(scim.get(f"/Users/{acme.user.scim_id}?{parameter}={quote(value)}"), 400, "invalidValue")
    assert_scim_error(scim.post("/Users/.search", {"schemas": [SEARCH], parameter: [value]}), 400, "invalidValue")


# 5. Every client-supplied attribute name, in three letter cases ------------------------

POST_NAMES = [
    ("userName", "sam@acme.test"),
    ("displayName", "Sam Smith"),
    ("active", True),
    ("externalId", "x-1"),
    ("title", "Engineer"),
]


def _create(scim, body: dict) -> str:
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _results(scim, factory) -> list:
    """What each letter case stored, person by person (each case in a fresh person)."""
    results = []
    for index, case in enumerate((str, str.lower, str.upper)):
        scim_id = factory(case, index)
        results.append(stored(scim_id) | {"document": document_of(scim, scim_id)})
        scim.delete(f"/Users/{scim_id}")
    return results


def _same(results: list) -> None:
    for result in results:
        result["document"].pop("userName", None)
        result["attributes"].pop("userName", None)
    assert results[0] == results[1] == results[2]


def test_post_body_attribute_names_fold_case(scim, acme):
    def factory(case, index):
        body = {
            "schemas": [CORE_USER, ENTERPRISE, KLAXON],
            case("userName"): f"u{index}@acme.test",
            case("name"): {case("givenName"): "Sam", case("familyName"): "Smith"},
            case("displayName"): "Sam Smith",
            case("active"): True,
            case("emails"): [{case("value"): "sam@acme.test", case("type"): "work", case("primary"): True}],
            case(ENTERPRISE): {case("department"): "Ops", case("employeeNumber"): "42"},
            case(KLAXON): {case("location"): "Leeds", case("notificationPhoneNumber"): "07700 900123"},
        }
        return _create(scim, body)

    _same(_results(scim, factory))


@pytest.mark.parametrize(
    "path, value",
    [
        ("name.givenName", "Samuel"),
        ("displayName", "Samuel Smith"),
        ('emails[type eq "work"].value', "samuel@acme.test"),
        (f"{ENTERPRISE}:department", "Sales"),
        (f"{KLAXON}:location", "Leeds"),
        (f"{KLAXON}:notificationPhoneNumber", "07700 900999"),
        ("active", False),
    ],
)
def test_patch_paths_fold_case(scim, acme, path, value):
    def factory(case, index):
        scim_id = _create(scim, new_user(f"p{index}@acme.test", emails=[{"value": "a@acme.test", "type": "work"}]))
        response = scim.patch(f"/Users/{scim_id}", patch_op({"op": "replace", "path": case(path), "value": value}))
        assert response.status_code == 200, (case(path), response.content)
        return scim_id

    _same(_results(scim, factory))


@pytest.mark.parametrize(
    "value",
    [
        {"displayName": "Samuel Smith"},
        {"name.givenName": "Samuel"},
        {ENTERPRISE: {"department": "Sales"}},
        {f"{ENTERPRISE}:department": "Sales"},
        {KLAXON: {"location": "Leeds"}},
        {f"{KLAXON}:location": "Leeds"},
    ],
)
def test_path_less_patch_values_fold_case(scim, acme, value):
    def fold(item, case):
        return {case(k): (fold(v, case) if isinstance(v, dict) else v) for k, v in item.items()}

    def factory(case, index):
        scim_id = _create(scim, new_user(f"v{index}@acme.test"))
        response = scim.patch(f"/Users/{scim_id}", patch_op({"op": "add", "value": fold(value, case)}))
        assert response.status_code == 200, (fold(value, case), response.content)
        return scim_id

    _same(_results(scim, factory))


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "sam@acme.test"',
        'name.familyName eq "Smith"',
        f'{ENTERPRISE}:department eq "Ops"',
        f'{KLAXON}:location eq "Leeds"',
        'emails[type eq "work"].value eq "sam@acme.test"',
        'emails.value eq "sam@acme.test"',
        "meta.created pr",
        'externalId eq "x-1"',
    ],
)
def test_filter_attribute_names_fold_case(scim, acme, text):
    _create(
        scim,
        new_user(
            "sam@acme.test",
            externalId="x-1",
            name={"familyName": "Smith"},
            emails=[{"value": "sam@acme.test", "type": "work"}],
            **{ENTERPRISE: {"department": "Ops"}, KLAXON: {"location": "Leeds"}},
        ),
    )
    name, _, rest = text.partition(" ")

    found = []
    for case in (str, str.lower, str.upper):
        response = scim.get(f"/Users?filter={quote(case(name) + ' ' + rest)}")
        assert response.status_code == 200, (case(name), response.content)
        found.append(sorted(r["id"] for r in response.json()["Resources"]))
    assert found[0] == found[1] == found[2] and len(found[0]) >= 1


@pytest.mark.parametrize(
    "parameter, name",
    [
        ("attributes", "name.givenName"),
        ("attributes", f"{ENTERPRISE}:department"),
        ("excludedAttributes", "emails"),
        ("excludedAttributes", f"{KLAXON}:location"),
        ("sortBy", "name.familyName"),
        ("sortBy", "userName"),
    ],
)
def test_attribute_parameters_fold_case(scim, acme, parameter, name):
    _create(
        scim,
        new_user(
            "sam@acme.test",
            name={"givenName": "Sam", "familyName": "Smith"},
            emails=[{"value": "sam@acme.test", "type": "work"}],
            **{ENTERPRISE: {"department": "Ops"}, KLAXON: {"location": "Leeds"}},
        ),
    )

    answers = []
    for case in (str, str.lower, str.upper):
        response = scim.get(f"/Users?{parameter}={quote(case(name))}")
        assert response.status_code == 200, (case(name), response.content)
        answers.append([{k: v for k, v in r.items() if k != "meta"} for r in response.json()["Resources"]])
    assert answers[0] == answers[1] == answers[2]


def test_group_body_attribute_names_fold_case(scim, acme):
    documents = []
    for index, case in enumerate((str, str.lower, str.upper)):
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            case("displayName"): f"Team {index}",
            case("externalId"): f"t-{index}",
            case("members"): [{case("value"): str(acme.user.scim_id)}],
        }
        response = scim.post("/Groups", body)
        assert response.status_code == 201, (case, response.content)
        document = response.json()
        documents.append(
            (
                document["displayName"][:4],
                document.get("externalId", "")[:2],
                [m["value"] for m in document.get("members", [])],
            )
        )
    assert documents[0] == documents[1] == documents[2]
