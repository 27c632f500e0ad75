"""SCIM /Users through HTTP, driven by the requests Entra ID and Okta really send.

The bodies live in tests/payloads/ (see docs/idp-behaviour.md, sections A, B, C, E, F).
"""

import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.utils.dateparse import parse_datetime

from accounts.actions import create_manual_user
from accounts.models import User
from locations.actions import create_location
from scim_sync.schema import CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, KLAXON_USER_SCHEMA
from tests.payloads import load

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_MEDIA_TYPE = "application/scim+json"

ENTRA_USER_NAME = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
ENTRA_EMAIL = "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"


# Helpers ----------------------------------------------------------------------------


def patch_op(*operations) -> dict:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def find(scim, scim_filter: str):
    return scim.get("/Users?filter=" + quote(scim_filter))


def assert_error(response, status: int, scim_type: str | tuple | None = None) -> str:
    """The response is an RFC 7644 §3.12 error; returns its detail.

    `scim_type` is the one expected (or a tuple of acceptable ones); None means none at all.
    """
    assert response.status_code == status, response.content
    assert response["Content-Type"] == SCIM_MEDIA_TYPE
    body = response.json()
    detail = body.pop("detail", None)
    expected = {"schemas": [ERROR_SCHEMA], "status": str(status)}
    if isinstance(scim_type, tuple):
        assert body.get("scimType") in scim_type
        expected["scimType"] = body["scimType"]
    elif scim_type:
        expected["scimType"] = scim_type
    assert body == expected
    assert isinstance(detail, str) and detail
    return detail


def user_location(scim, user_id: str) -> str:
    return f"{settings.KLAXON_PUBLIC_URL}/scim/v2/{scim.endpoint.key}/Users/{user_id}"


def split_meta(document: dict) -> tuple[dict, dict]:
    document = dict(document)
    return document, document.pop("meta")


def assert_meta(scim, document: dict, etag: str | None = None) -> dict:
    """meta is complete, absolute and consistent with the ETag (RFC 7644 §3.14)."""
    meta = document["meta"]
    assert parse_datetime(meta["created"]) is not None
    assert parse_datetime(meta["lastModified"]) >= parse_datetime(meta["created"])
    assert meta == {
        "resourceType": "User",
        "created": meta["created"],
        "lastModified": meta["lastModified"],
        "location": user_location(scim, document["id"]),
        "version": meta["version"],
    }
    assert meta["location"].startswith(("http://", "https://"))
    if etag is not None:
        assert meta["version"] == etag
    return meta


def create(scim, body: dict, **kw) -> dict:
    response = scim.post("/Users", body, **kw)
    assert response.status_code == 201, response.content
    return response.json()


def entra_user(scim) -> dict:
    return create(scim, load("entra/create_user"))


def stored(user_id: str) -> User:
    return User.objects.select_related("location").get(scim_id=user_id)


# What Entra ID's document for entra/create_user.json must look like (without id and meta).
ENTRA_CREATED = {
    "schemas": [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, KLAXON_USER_SCHEMA],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": ENTRA_USER_NAME,
    "active": True,
    "displayName": "Bea Jensen",
    "emails": [{"primary": True, "type": "work", "value": ENTRA_EMAIL}],
    "name": {"formatted": "Bea Jensen", "familyName": "Jensen", "givenName": "Bea"},
    "title": "Shift lead",
    "preferredLanguage": "en-GB",
    "phoneNumbers": [{"type": "work", "value": "55555555555"}],
    "addresses": [{"type": "work", "locality": "London", "country": "GB"}],
    ENTERPRISE_USER_SCHEMA: {"department": "Operations", "employeeNumber": "E-1042"},
    KLAXON_USER_SCHEMA: {"location": " london ", "notificationPhoneNumber": "07400 123456"},
}


def expected_entra(user_id: str, **changes) -> dict:
    return {**ENTRA_CREATED, "id": user_id, **changes}


# Entra ID's Test Connection -------------------------------------------------------


def test_entra_test_connection_gets_an_empty_list_response(scim):
    # A random GUID as userName, no Accept header (MS-TUT; azure-docs#94189).
    response = find(scim, f'userName eq "{uuid.uuid4()}"')

    assert response.status_code == 200
    assert response["Content-Type"] == SCIM_MEDIA_TYPE
    assert response.json() == {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_a_get_with_an_okta_content_type_and_no_accept_header_is_answered_in_scim_json(scim):
    response = scim.get("/Users?startIndex=1&count=100", CONTENT_TYPE="application/scim+json; charset=utf-8")

    assert response.status_code == 200
    assert response["Content-Type"] == SCIM_MEDIA_TYPE


# Create -----------------------------------------------------------------------------


def test_entra_create_answers_201_with_location_and_echoes_everything(scim):
    response = scim.post("/Users", load("entra/create_user"))

    assert response.status_code == 201
    assert response["Content-Type"] == SCIM_MEDIA_TYPE
    document = response.json()
    body, meta = split_meta(document)
    uuid.UUID(body["id"])
    assert body == expected_entra(body["id"])
    assert_meta(scim, document, etag=response["ETag"])
    assert response["Location"] == meta["location"] == user_location(scim, body["id"])


def test_created_user_keeps_location_and_phone_as_sent_while_klaxon_uses_the_matched_ones(scim, acme):
    document = entra_user(scim)

    user = stored(document["id"])
    # Klaxon uses the matched location and the E.164 number ...
    assert user.location == acme.organisation.locations.get(name="London")
    assert user.notification_phone == "+447400123456"
    assert user.phone_problem == ""
    # ... and keeps what the provider sent, which is what SCIM echoes.
    assert (user.idp_location, user.idp_notification_phone) == (" london ", "07400 123456")
    assert document[KLAXON_USER_SCHEMA] == {"location": " london ", "notificationPhoneNumber": "07400 123456"}
    assert (user.user_name, user.email, user.given_name, user.family_name, user.display_name) == (
        ENTRA_USER_NAME,
        ENTRA_EMAIL,
        "Bea",
        "Jensen",
        "Bea Jensen",
    )
    assert (user.department, user.employee_number) == ("Operations", "E-1042")
    assert user.source == User.Source.IDENTITY_PROVIDER
    assert user.organisation == acme.organisation


def test_an_unknown_location_puts_the_user_on_default_and_is_echoed_as_sent(scim, acme):
    body = load("entra/create_user")
    body[KLAXON_USER_SCHEMA]["location"] = "Atlantis"

    document = create(scim, body)

    assert stored(document["id"]).location.name == "Default"
    assert document[KLAXON_USER_SCHEMA]["location"] == "Atlantis"
    assert scim.get(f"/Users/{document['id']}").json()[KLAXON_USER_SCHEMA]["location"] == "Atlantis"


def test_creating_a_person_is_one_statement_besides_the_token_check_and_the_log(
    scim, acme, django_assert_max_num_queries
):
    scim.get("/Users?count=1")  # records when the token was last used
    body = load("entra/create_user")
    body[KLAXON_USER_SCHEMA]["location"] = "LEEDS"
    with django_assert_max_num_queries(5) as queries:
        document = create(scim, body)
    # The test's own transaction adds a savepoint around the INSERT; a server has none.
    statements = [q["sql"].lstrip() for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 3  # the token, the INSERT (with the location resolved in it), the log
    assert statements[1].startswith('INSERT INTO "accounts_user"')
    user = stored(document["id"])
    assert user.location == acme.organisation.locations.get(name="Leeds")


def test_provisioning_a_person_in_code_gives_back_their_resolved_location(acme):
    from accounts.actions import provision_user

    user = provision_user(acme.organisation, {"user_name": "kim@acme.test", "idp_location": " leeds "})

    assert isinstance(user.location_id, int) and user.location.name == "Leeds"


def test_an_unusable_phone_number_never_blocks_provisioning(scim):
    body = load("entra/create_user")
    body[KLAXON_USER_SCHEMA]["notificationPhoneNumber"] = "call reception"

    response = scim.post("/Users", body)

    assert response.status_code == 201
    assert response.json()[KLAXON_USER_SCHEMA] == {"location": " london ", "notificationPhoneNumber": "call reception"}
    user = stored(response.json()["id"])
    assert user.notification_phone == ""
    assert user.phone_problem
    assert user.idp_notification_phone == "call reception"


def test_entra_create_with_nulls_and_active_as_a_string(scim):
    response = scim.post("/Users", load("entra/create_user_with_nulls"))

    assert response.status_code == 201, response.content
    body, _ = split_meta(response.json())
    # null means unassigned (RFC 7643 §2.5): nothing of it is stored or echoed.
    assert body == {
        "schemas": [CORE_USER_SCHEMA],
        "id": body["id"],
        "externalId": "jyoung",
        "userName": "jyoung@contoso.com",
        "active": True,
        "displayName": "Joy Young",
        "emails": [{"primary": True, "type": "work", "value": "jyoung@contoso.com"}],
        "name": {"familyName": "Young", "givenName": "Joy"},
    }
    assert stored(body["id"]).is_active is True


def test_entra_create_with_active_false_as_a_string_creates_a_disabled_user(scim):
    body = load("entra/create_user_with_nulls")
    body["active"] = "False"

    document = create(scim, body)

    assert document["active"] is False
    assert stored(document["id"]).is_active is False


def test_okta_create_with_password_groups_and_locale(scim):
    # Okta's own reference user is test.user@okta.local (OKTA-REF, OKTA-CRUD).
    response = scim.post("/Users", load("okta/create_user"), content_type="application/json")

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == SCIM_MEDIA_TYPE
    body, _ = split_meta(response.json())
    # password is returned "never", groups is readOnly (RFC 7643 §4.1.1, §4.1.2).
    assert body == {
        "schemas": [CORE_USER_SCHEMA],
        "id": body["id"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": True,
    }
    user = stored(body["id"])
    assert user.email == "test.user@okta.local"
    assert "password" not in user.scim_attributes
    assert not user.has_usable_password()


def test_an_email_address_is_echoed_exactly_as_sent(scim):
    # MS-TUT: values that are stored must be returned as sent, or the provider sees drift.
    body = load("entra/create_user")
    body["emails"][0]["value"] = "Bea.Jensen@Contoso.COM"

    document = create(scim, body)

    assert document["emails"] == [{"primary": True, "type": "work", "value": "Bea.Jensen@Contoso.COM"}]
    assert scim.get(f"/Users/{document['id']}").json()["emails"][0]["value"] == "Bea.Jensen@Contoso.COM"


def test_a_duplicate_user_name_differing_only_in_case_is_409_uniqueness(scim):
    entra_user(scim)
    body = load("entra/create_user")
    body["userName"] = ENTRA_USER_NAME.upper()
    body["externalId"] = "another-object"

    response = scim.post("/Users", body)

    assert_error(response, 409, "uniqueness")
    assert User.objects.filter(user_name__iexact=ENTRA_USER_NAME).count() == 1


def test_posting_the_same_user_again_is_409(scim):
    # Okta SPEC step 8: the same user posted twice.
    entra_user(scim)

    assert_error(scim.post("/Users", load("entra/create_user")), 409, "uniqueness")


def test_a_user_without_user_name_is_400(scim):
    body = load("entra/create_user")
    del body["userName"]

    assert_error(scim.post("/Users", body), 400, "invalidValue")
    assert not User.objects.filter(external_id=body["externalId"]).exists()


# Read -------------------------------------------------------------------------------


def test_get_by_id_returns_the_created_document(scim):
    created = entra_user(scim)

    response = scim.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    assert response["Content-Type"] == SCIM_MEDIA_TYPE
    assert response.json() == created
    assert response["ETag"] == created["meta"]["version"]


@pytest.mark.parametrize("bogus", ["00919288221112222", str(uuid.uuid4()), "not-an-id"])
def test_an_unknown_id_is_404_with_detail(scim, bogus):
    # Okta SPEC steps 4 and 12: GET /Users/00919288221112222 → 404, Error schema, detail.
    assert_error(scim.get(f"/Users/{bogus}"), 404)


# Replace (PUT) ----------------------------------------------------------------------


def test_okta_put_replaces_the_user_and_ignores_id_meta_groups_and_password(scim):
    created = create(scim, load("okta/create_user"))

    response = scim.put(f"/Users/{created['id']}", load("okta/replace_user", ID=created["id"]))

    assert response.status_code == 200, response.content
    body, meta = split_meta(response.json())
    assert body == {
        "schemas": [CORE_USER_SCHEMA],
        "id": created["id"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Another User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": True,
    }
    assert meta["created"] == created["meta"]["created"]
    assert meta["version"] != created["meta"]["version"]
    assert scim.get(f"/Users/{created['id']}").json() == response.json()


def test_put_drops_attributes_it_does_not_carry(scim):
    created = entra_user(scim)
    body = load("entra/create_user_with_nulls")
    body["userName"] = ENTRA_USER_NAME

    document = scim.put(f"/Users/{created['id']}", body).json()

    for gone in ("title", "preferredLanguage", "phoneNumbers", "addresses", KLAXON_USER_SCHEMA):
        assert gone not in document
    assert document["schemas"] == [CORE_USER_SCHEMA]
    user = stored(created["id"])
    assert (user.department, user.employee_number, user.idp_location) == ("", "", None)
    assert user.location.name == "Default"


def test_a_put_without_active_keeps_the_user_active(scim):
    created = entra_user(scim)
    body = load("entra/create_user")
    del body["active"]

    response = scim.put(f"/Users/{created['id']}", body)

    assert response.status_code == 200
    assert response.json()["active"] is True
    assert stored(created["id"]).is_active is True


def test_a_put_without_active_keeps_a_disabled_user_disabled(scim):
    created = entra_user(scim)
    scim.patch(f"/Users/{created['id']}", load("entra/disable_string"))
    body = load("entra/create_user")
    del body["active"]

    assert scim.put(f"/Users/{created['id']}", body).json()["active"] is False
    assert stored(created["id"]).is_active is False


def test_put_never_creates_a_user(scim):
    # RFC 7644 §3.5.1: PUT "MUST NOT be used to create new resources".
    ghost = str(uuid.uuid4())

    assert_error(scim.put(f"/Users/{ghost}", load("entra/create_user")), 404)
    assert not User.objects.filter(user_name=ENTRA_USER_NAME).exists()


# Update (PATCH) ---------------------------------------------------------------------


def test_entra_patch_without_the_feature_flag_one_replace_per_path(scim):
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", load("entra/patch_without_flag"))

    assert response.status_code == 200, response.content
    body, meta = split_meta(response.json())
    assert body == expected_entra(
        created["id"],
        displayName="Pvlo",
        emails=[{"primary": True, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}],
        name={"formatted": "Bea Jensen", "givenName": "Gtfd", "familyName": "Pkqf"},
        externalId="Eqpj",
        **{ENTERPRISE_USER_SCHEMA: {"department": "Operations", "employeeNumber": "Eqpj"}},
    )
    assert meta["version"] == response["ETag"] != created["meta"]["version"]
    user = stored(created["id"])
    assert (
        user.display_name,
        user.email,
        user.given_name,
        user.family_name,
        user.external_id,
        user.employee_number,
    ) == ("Pvlo", "TestBcwqnm@test.microsoft.com", "Gtfd", "Pkqf", "Eqpj", "Eqpj")
    assert scim.get(f"/Users/{created['id']}").json() == response.json()


def test_entra_patch_with_the_feature_flag_path_less_replace_with_dotted_and_urn_keys(scim, acme):
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", load("entra/patch_with_flag"))

    assert response.status_code == 200, response.content
    body, _ = split_meta(response.json())
    assert body == expected_entra(
        created["id"],
        displayName="Bjfe",
        name={"formatted": "Bea Jensen", "givenName": "Kkom", "familyName": "Unua"},
        **{
            ENTERPRISE_USER_SCHEMA: {"department": "Operations", "employeeNumber": "Aklq"},
            KLAXON_USER_SCHEMA: {"location": "Leeds", "notificationPhoneNumber": "07400 123456"},
        },
    )
    user = stored(created["id"])
    assert user.location == acme.organisation.locations.get(name="Leeds")
    assert (user.given_name, user.family_name, user.employee_number) == ("Kkom", "Unua", "Aklq")
    assert user.notification_phone == "+447400123456"


def test_entra_patch_of_the_klaxon_location_by_urn_path(scim, acme):
    # idp-behaviour C.23: the custom attribute path Entra uses, with the URN missing from schemas.
    created = entra_user(scim)
    body = patch_op({"op": "Replace", "path": f"{KLAXON_USER_SCHEMA}:location", "value": "Leeds"})

    response = scim.patch(f"/Users/{created['id']}", body)

    assert response.status_code == 200
    assert response.json()[KLAXON_USER_SCHEMA] == {"location": "Leeds", "notificationPhoneNumber": "07400 123456"}
    assert stored(created["id"]).location == acme.organisation.locations.get(name="Leeds")


def test_entra_patch_of_the_notification_phone_number_is_echoed_and_normalised(scim):
    created = entra_user(scim)
    body = patch_op(
        {"op": "Add", "path": f"{KLAXON_USER_SCHEMA}:notificationPhoneNumber", "value": "+44 (0)20 7946 0958"}
    )

    response = scim.patch(f"/Users/{created['id']}", body)

    assert response.json()[KLAXON_USER_SCHEMA]["notificationPhoneNumber"] == "+44 (0)20 7946 0958"
    user = stored(created["id"])
    assert (user.notification_phone, user.phone_problem) == ("+442079460958", "")


@pytest.mark.parametrize("payload", ["entra/manager_bare_id", "entra/manager_list"])
def test_entra_manager_as_a_bare_id_or_the_old_list_form(scim, payload):
    boss = entra_user(scim)
    created = create(scim, load("entra/create_user_with_nulls"))

    response = scim.patch(f"/Users/{created['id']}", load(payload, MANAGER_ID=boss["id"]))

    assert response.status_code == 200, response.content
    document = response.json()
    manager = document[ENTERPRISE_USER_SCHEMA]["manager"]
    assert manager["value"] == boss["id"]
    assert manager["$ref"].endswith(f"/Users/{boss['id']}")
    assert document["schemas"] == [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA]
    assert scim.get(f"/Users/{created['id']}").json() == document


def test_entra_add_of_the_work_email_on_a_user_without_one_creates_it(scim):
    created = create(scim, {"schemas": [CORE_USER_SCHEMA], "userName": "no.mail@contoso.com"})
    assert "emails" not in created

    response = scim.patch(f"/Users/{created['id']}", load("entra/add_work_email"))

    assert response.status_code == 200, response.content
    assert response.json()["emails"] == [{"type": "work", "value": "new.mail@contoso.com"}]
    assert stored(created["id"]).email == "new.mail@contoso.com"


def test_entra_add_of_a_single_valued_attribute_sets_it(scim):
    # MS-KI: Entra sends Add for externalId of existing objects (RFC 7644 §3.5.2.1: replaced).
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": "Add", "path": "externalId", "value": "new-oid"}))

    assert response.json()["externalId"] == "new-oid"
    assert stored(created["id"]).external_id == "new-oid"


def test_a_urn_qualified_core_path_is_a_core_attribute(scim):
    # RFC 7644 §3.10; sent by Entra (rancher/rancher#54871).
    created = entra_user(scim)
    body = patch_op({"op": "Replace", "path": f"{CORE_USER_SCHEMA}:displayName", "value": "Bea J."})

    assert scim.patch(f"/Users/{created['id']}", body).json()["displayName"] == "Bea J."
    assert stored(created["id"]).display_name == "Bea J."


@pytest.mark.parametrize("empty", ["", None])
def test_entra_null_update_clears_optional_attributes(scim, empty):
    # Gallery SCIM_Null_Update_Test: optional attributes patched with "" and then null.
    created = entra_user(scim)
    body = patch_op(
        {"op": "Replace", "path": "title", "value": empty},
        {"op": "Replace", "path": "preferredLanguage", "value": empty},
        {"op": "Replace", "path": f"{ENTERPRISE_USER_SCHEMA}:department", "value": empty},
    )

    response = scim.patch(f"/Users/{created['id']}", body)

    assert response.status_code == 200, response.content
    document = scim.get(f"/Users/{created['id']}").json()
    assert document.get("title") in (None, "")
    assert document.get("preferredLanguage") in (None, "")
    assert document[ENTERPRISE_USER_SCHEMA].get("department") in (None, "")
    assert stored(created["id"]).department == ""


@pytest.mark.parametrize("empty", ["", None])
def test_entra_null_update_clears_the_work_email(scim, empty):
    # The same gallery test on the mapped mail attribute: "" must clear it like null does.
    created = entra_user(scim)
    body = patch_op({"op": "Replace", "path": 'emails[type eq "work"].value', "value": empty})

    response = scim.patch(f"/Users/{created['id']}", body)

    assert response.status_code == 200, response.content
    emails = scim.get(f"/Users/{created['id']}").json().get("emails") or [{}]
    assert emails[0].get("value") in (None, "")
    assert stored(created["id"]).email == ""


def test_renaming_to_a_taken_user_name_is_409_and_changes_nothing(scim, acme):
    created = entra_user(scim)
    body = patch_op({"op": "Replace", "path": "userName", "value": acme.user.user_name.upper()})

    assert_error(scim.patch(f"/Users/{created['id']}", body), 409, "uniqueness")
    assert scim.get(f"/Users/{created['id']}").json() == created


@pytest.mark.parametrize("op", ["add", "Add", "ADD", "replace", "Replace", "rEpLaCe"])
def test_patch_operation_names_are_accepted_in_any_case(scim, op):
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": op, "path": "title", "value": op}))

    assert response.status_code == 200, response.content
    assert response.json()["title"] == op


@pytest.mark.parametrize("op", ["remove", "Remove", "REMOVE"])
def test_remove_in_any_case_clears_the_attribute(scim, op):
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": op, "path": "title"}))

    assert response.status_code == 200, response.content
    assert "title" not in response.json()
    assert "title" not in stored(created["id"]).scim_attributes


def test_remove_without_a_path_is_400_no_target(scim):
    # RFC 7644 §3.5.2.2.
    created = entra_user(scim)

    assert_error(scim.patch(f"/Users/{created['id']}", patch_op({"op": "remove"})), 400, "noTarget")
    assert scim.get(f"/Users/{created['id']}").json() == created


@pytest.mark.parametrize("op", ["move", "copy", "test", "delete", ""])
def test_an_unknown_patch_operation_is_400_and_changes_nothing(scim, op):
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": op, "path": "title", "value": "x"}))

    assert_error(response, 400, ("invalidSyntax", "invalidValue"))
    assert scim.get(f"/Users/{created['id']}").json() == created


def test_a_patch_is_atomic(scim):
    # RFC 7644 §3.5.2: one bad operation and none of them is applied.
    created = entra_user(scim)
    body = patch_op(
        {"op": "Replace", "path": "displayName", "value": "Changed"},
        {"op": "Replace", "path": "active", "value": "sometimes"},
    )

    assert_error(scim.patch(f"/Users/{created['id']}", body), 400, "invalidValue")
    assert scim.get(f"/Users/{created['id']}").json() == created


# Disable, enable, delete -------------------------------------------------------------


@pytest.mark.parametrize("payload", ["entra/disable_string", "entra/disable_boolean", "okta/deactivate"])
def test_disabling_keeps_the_user_visible_to_get_and_filters(scim, payload):
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", load(payload))

    assert response.status_code == 200, response.content
    body, _ = split_meta(response.json())
    assert body == expected_entra(created["id"], active=False)
    user = stored(created["id"])
    assert user.is_active is False
    # MS-TUT: the user is returned whether or not it is active (soft delete).
    assert scim.get(f"/Users/{created['id']}").json()["active"] is False
    listed = find(scim, f'userName eq "{ENTRA_USER_NAME}"').json()
    assert listed["totalResults"] == 1
    assert listed["Resources"][0]["active"] is False
    assert [u["id"] for u in find(scim, "active eq false").json()["Resources"]] == [created["id"]]


def test_entra_lower_case_false_string_disables(scim):
    # scimmyjs/scimmy#86: "false" seen on unassignment.
    created = entra_user(scim)

    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": "Replace", "path": "active", "value": "false"}))

    assert response.json()["active"] is False
    assert stored(created["id"]).is_active is False


@pytest.mark.parametrize("payload", ["entra/enable_string", "okta/reactivate"])
def test_a_disabled_user_is_enabled_again(scim, payload):
    created = entra_user(scim)
    scim.patch(f"/Users/{created['id']}", load("entra/disable_string"))

    response = scim.patch(f"/Users/{created['id']}", load(payload))

    assert response.status_code == 200
    assert response.json()["active"] is True
    assert stored(created["id"]).is_active is True


def test_a_garbage_active_value_is_400_without_internals(scim):
    created = entra_user(scim)
    body = patch_op({"op": "Replace", "path": "active", "value": "sometimes"})

    response = scim.patch(f"/Users/{created['id']}", body)

    detail = assert_error(response, 400, "invalidValue")
    assert "active" in detail
    for internal in ("pydantic", "EnterpriseUser", "validation error for", "\n"):
        assert internal not in detail
    assert stored(created["id"]).is_active is True


def test_a_garbage_active_value_on_create_is_400(scim):
    body = load("entra/create_user")
    body["active"] = "sometimes"

    assert_error(scim.post("/Users", body), 400, "invalidValue")
    assert not User.objects.filter(user_name=ENTRA_USER_NAME).exists()


def test_delete_answers_204_then_404_everywhere(scim):
    created = entra_user(scim)
    path = f"/Users/{created['id']}"

    response = scim.delete(path)

    assert response.status_code == 204
    assert response.content == b""
    assert not User.objects.filter(scim_id=created["id"]).exists()
    # RFC 7644 §3.6: 404 for every operation on the deleted resource.
    assert_error(scim.get(path), 404)
    assert_error(scim.patch(path, load("entra/disable_string")), 404)
    assert_error(scim.put(path, load("entra/create_user")), 404)
    assert_error(scim.delete(path), 404)
    assert find(scim, f'userName eq "{ENTRA_USER_NAME}"').json()["totalResults"] == 0


# Adoption of users created by hand ----------------------------------------------------


@pytest.fixture
def manual_user(acme) -> User:
    """Someone an administrator added before synchronisation was switched on."""
    return create_manual_user(
        acme.organisation,
        "Bea.Jensen@contoso.com",
        email="bea.jensen@contoso.com",
        given_name="Bea",
        family_name="Jensen",
    )


def test_the_matching_query_finds_a_user_created_by_hand(scim, manual_user):
    response = find(scim, 'userName eq "bea.jensen@CONTOSO.com"')

    assert response.json()["totalResults"] == 1
    assert response.json()["Resources"][0]["id"] == str(manual_user.scim_id)


def test_a_post_adopts_the_user_created_by_hand_instead_of_409(scim, manual_user):
    body = load("entra/create_user")
    body["userName"] = "bea.jensen@contoso.com"

    response = scim.post("/Users", body)

    assert response.status_code == 201, response.content
    assert response.json()["id"] == str(manual_user.scim_id)
    assert response.json()["userName"] == "bea.jensen@contoso.com"
    user = stored(manual_user.scim_id)
    assert user.source == User.Source.IDENTITY_PROVIDER
    assert user.location.name == "London"
    assert User.objects.filter(user_name__iexact="bea.jensen@contoso.com").count() == 1


def test_a_patch_adopts_the_user_created_by_hand(scim, manual_user):
    response = scim.patch(f"/Users/{manual_user.scim_id}", load("entra/patch_with_flag"))

    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Bjfe"
    user = stored(manual_user.scim_id)
    assert user.source == User.Source.IDENTITY_PROVIDER
    assert (user.given_name, user.family_name, user.location.name) == ("Kkom", "Unua", "Leeds")


def test_a_patch_of_a_fixture_user_with_a_reserved_test_domain_email(scim, acme):
    # jo@acme.test was typed into Klaxon by hand; Entra's first write must not fail on it.
    response = scim.patch(f"/Users/{acme.user.scim_id}", load("entra/disable_string"))

    assert response.status_code == 200, response.content
    assert response.json()["emails"][0]["value"] == "jo@acme.test"
    assert stored(acme.user.scim_id).is_active is False


def test_an_identity_provider_user_is_not_adopted_by_a_second_post(scim):
    entra_user(scim)
    body = load("entra/create_user")
    body["externalId"] = "someone-else"

    assert_error(scim.post("/Users", body), 409, "uniqueness")


# Versioning (RFC 7644 §3.14) ---------------------------------------------------------


def test_if_match_with_a_stale_version_is_412(scim):
    created = entra_user(scim)
    stale = created["meta"]["version"]
    scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "path": "title", "value": "Newer"}))

    for response in (
        scim.patch(f"/Users/{created['id']}", load("entra/disable_string"), HTTP_IF_MATCH=stale),
        scim.put(f"/Users/{created['id']}", load("entra/create_user"), HTTP_IF_MATCH=stale),
        scim.delete(f"/Users/{created['id']}", HTTP_IF_MATCH=stale),
    ):
        # 412 is not a 400: RFC 7644 §3.12 defines no scimType for it.
        assert_error(response, 412)
    user = stored(created["id"])
    assert user.is_active is True
    assert user.scim_attributes["title"] == "Newer"


def test_if_match_with_the_current_etag_succeeds(scim):
    created = entra_user(scim)
    current = scim.get(f"/Users/{created['id']}")["ETag"]

    patched = scim.patch(f"/Users/{created['id']}", load("entra/disable_string"), HTTP_IF_MATCH=current)
    assert patched.status_code == 200
    put = scim.put(f"/Users/{created['id']}", load("entra/create_user"), HTTP_IF_MATCH=patched["ETag"])
    assert put.status_code == 200
    assert scim.delete(f"/Users/{created['id']}", HTTP_IF_MATCH=put["ETag"]).status_code == 204


def test_if_match_star_matches_any_version(scim):
    created = entra_user(scim)

    assert scim.patch(f"/Users/{created['id']}", load("entra/disable_string"), HTTP_IF_MATCH="*").status_code == 200


# Request bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_invalid_json_is_400_invalid_syntax(scim, method):
    created = entra_user(scim)
    path = "/Users" if method == "post" else f"/Users/{created['id']}"

    response = getattr(scim, method)(path, '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], ')

    assert_error(response, 400, "invalidSyntax")
    assert scim.get(f"/Users/{created['id']}").json() == created


def test_application_json_bodies_are_accepted_and_answered_in_scim_json(scim):
    response = scim.post("/Users", load("entra/create_user"), content_type="application/json")

    assert response.status_code == 201
    assert response["Content-Type"] == SCIM_MEDIA_TYPE
    patched = scim.patch(
        f"/Users/{response.json()['id']}", load("entra/disable_boolean"), content_type="application/json"
    )
    assert patched.status_code == 200
    assert patched["Content-Type"] == SCIM_MEDIA_TYPE


def test_entra_content_type_with_charset_is_accepted(scim):
    response = scim.post("/Users", load("entra/create_user"), content_type="application/scim+json; charset=utf-8")

    assert response.status_code == 201


# Locations created later --------------------------------------------------------------


def test_a_location_created_later_in_klaxon_picks_up_users_who_sent_its_name(scim, acme):
    body = load("entra/create_user")
    body[KLAXON_USER_SCHEMA]["location"] = "  manchester"
    waiting = create(scim, body)
    assert stored(waiting["id"]).location.name == "Default"

    manchester, moved = create_location(acme.organisation, "Manchester")

    assert moved == 1
    assert stored(waiting["id"]).location == manchester
    # What SCIM returns does not move: the provider sees no drift.
    assert scim.get(f"/Users/{waiting['id']}").json()[KLAXON_USER_SCHEMA]["location"] == "  manchester"


# Other organisations ------------------------------------------------------------------


def test_another_organisations_token_is_401_on_this_endpoint(scim, scim_globex):
    response = scim.get("/Users", token=scim_globex.token)

    assert response.status_code == 401
    assert response.json() == {"schemas": [ERROR_SCHEMA], "status": "401", "detail": "Authorization failure"}
    assert response["WWW-Authenticate"].lower().startswith("bearer")
    assert response["Content-Type"] == SCIM_MEDIA_TYPE


def test_another_organisations_token_cannot_create_here(scim, scim_globex):
    response = scim.post("/Users", load("entra/create_user"), token=scim_globex.token)

    assert response.status_code == 401
    assert not User.objects.filter(user_name=ENTRA_USER_NAME).exists()


def test_other_organisations_users_are_invisible(scim, scim_globex, acme):
    created = entra_user(scim)
    path = f"/Users/{created['id']}"

    assert_error(scim_globex.get(path), 404)
    assert_error(scim_globex.patch(path, load("entra/disable_string")), 404)
    assert_error(scim_globex.put(path, load("entra/create_user")), 404)
    assert_error(scim_globex.delete(path), 404)
    assert find(scim_globex, f'userName eq "{ENTRA_USER_NAME}"').json()["totalResults"] == 0
    assert find(scim_globex, f'userName eq "{acme.user.user_name}"').json()["totalResults"] == 0
    assert_error(scim_globex.get(f"/Users/{acme.user.scim_id}"), 404)
    listed = scim_globex.get("/Users").json()
    assert {u["userName"] for u in listed["Resources"]} == {"admin@globex.test", "jo@globex.test"}
    # Nothing happened to acme's user.
    assert scim.get(path).json() == created


def test_the_same_user_name_can_exist_in_two_organisations(scim, scim_globex, acme, globex):
    ours = scim.post("/Users", load("entra/create_user"))
    theirs = scim_globex.post("/Users", load("entra/create_user"))

    assert ours.status_code == theirs.status_code == 201
    assert ours.json()["id"] != theirs.json()["id"]
    assert stored(ours.json()["id"]).organisation == acme.organisation
    assert stored(theirs.json()["id"]).organisation == globex.organisation
    # Globex has no London and reads national numbers as American: Default, and a phone problem.
    assert stored(theirs.json()["id"]).location.name == "Default"
    assert stored(theirs.json()["id"]).phone_problem
