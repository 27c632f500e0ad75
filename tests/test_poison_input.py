"""Nothing a provider sends is a 500, and a refused request stores nothing.

Each case is a finding of the trust-boundary review (issue "Trust boundaries and poison
input", finding 7): before, a lone surrogate was stored and every later read of the person
answered 500; on PostgreSQL over-long values answered 500 on every retry.
"""

import json
from urllib.parse import quote

import pytest

from accounts.models import Group, User
from tests.scim import KLAXON, assert_scim_error, directory_snapshot, new_group, new_user, patch_op

LONE_SURROGATE = "\ud800"


def raw_json(document: dict) -> str:
    """JSON as an identity provider may send it: a lone surrogate as its \\u escape."""
    return json.dumps(document)  # ensure_ascii spells "\ud800" as the six characters \ud800


def assert_reads_still_work(scim):
    assert scim.get("/Users").status_code == 200
    assert scim.get("/Groups").status_code == 200


@pytest.mark.parametrize(
    "document",
    [
        new_user("sam@acme.test", title=LONE_SURROGATE),
        new_user(f"sam{LONE_SURROGATE}@acme.test"),
        new_user("sam@acme.test", displayName=f"Sam {LONE_SURROGATE}"),
        new_user("sam@acme.test", name={"givenName": LONE_SURROGATE}),
        new_user("sam@acme.test", **{KLAXON: {"location": LONE_SURROGATE}}),
    ],
    ids=["title", "userName", "displayName", "givenName", "location"],
)
def test_a_lone_surrogate_in_a_user_is_400_and_stores_nothing(scim, acme, document):
    before = directory_snapshot(acme.organisation)

    response = scim.post("/Users", raw_json(document))

    body = assert_scim_error(response, 400, "invalidValue")
    assert "U+D800" in body["detail"]
    assert directory_snapshot(acme.organisation) == before
    assert_reads_still_work(scim)


def test_a_lone_surrogate_in_a_group_name_or_member_display_is_400(scim, acme):
    before = directory_snapshot(acme.organisation)

    assert_scim_error(scim.post("/Groups", raw_json(new_group(f"Ops{LONE_SURROGATE}"))), 400, "invalidValue")
    group = {**new_group("Ops"), "members": [{"value": str(acme.user.scim_id), "display": LONE_SURROGATE}]}
    assert_scim_error(scim.post("/Groups", raw_json(group)), 400, "invalidValue")

    assert directory_snapshot(acme.organisation) == before


def test_a_lone_surrogate_in_a_patch_is_400_and_changes_nothing(scim, acme):
    before = directory_snapshot(acme.organisation)

    response = scim.patch(
        f"/Users/{acme.user.scim_id}", raw_json(patch_op({"op": "replace", "path": "title", "value": LONE_SURROGATE}))
    )

    assert_scim_error(response, 400, "invalidValue")
    assert directory_snapshot(acme.organisation) == before


@pytest.mark.parametrize("path", ["/Users/.search", "/.search"])
def test_a_lone_surrogate_in_a_search_filter_is_400(scim, path):
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": f'userName eq "{LONE_SURROGATE}"',
    }

    assert_scim_error(scim.post(path, raw_json(body)), 400, "invalidValue")


def test_a_notification_number_longer_than_its_column_is_flagged_not_refused(scim, acme):
    number = "+44 7700 900123 " + "9" * 60

    response = scim.post("/Users", new_user("long@acme.test", **{KLAXON: {"notificationPhoneNumber": number}}))

    assert response.status_code == 201, response.content
    assert response.json()[KLAXON]["notificationPhoneNumber"] == number  # echoed as sent
    person = User.objects.get(scim_id=response.json()["id"])
    assert person.notification_phone == ""
    assert "longer than 64 characters" in person.phone_problem
    assert scim.get(f"/Users/{person.scim_id}").status_code == 200


def test_a_location_longer_than_its_column_is_400_naming_it(scim, acme):
    before = directory_snapshot(acme.organisation)

    response = scim.post("/Users", new_user("far@acme.test", **{KLAXON: {"location": "L" * 300}}))

    body = assert_scim_error(response, 400, "invalidValue")
    assert body["detail"] == "location is longer than 255 characters."
    assert directory_snapshot(acme.organisation) == before


@pytest.mark.parametrize(
    "attribute, value, detail",
    [
        ("userName", "u" * 256, "userName is longer than 255 characters."),
        ("externalId", "e" * 256, "externalId is longer than 255 characters."),
        ("displayName", "d" * 256, "displayName is longer than 255 characters."),
        ("name", {"givenName": "g" * 151}, "name.givenName is longer than 150 characters."),
    ],
)
def test_every_column_has_its_maximum_enforced_with_the_attribute_named(scim, acme, attribute, value, detail):
    document = new_user("cols@acme.test")
    document[attribute] = value

    body = assert_scim_error(scim.post("/Users", document), 400, "invalidValue")

    assert body["detail"] == detail
    assert not User.objects.filter(organisation=acme.organisation, user_name="cols@acme.test").exists()


def test_a_provider_only_attribute_has_a_size_limit(scim, acme):
    body = assert_scim_error(scim.post("/Users", new_user("t@acme.test", title="T" * 2049)), 400, "invalidValue")

    assert body["detail"] == "title is longer than 2048 characters."
    assert scim.post("/Users", new_user("t@acme.test", title="T" * 2048)).status_code == 201


def test_a_provider_only_attribute_inside_a_list_or_extension_is_named(scim):
    addresses = [{"type": "work", "formatted": "x" * 3000}]
    enterprise = {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "c" * 3000}}

    first = assert_scim_error(scim.post("/Users", new_user("a@acme.test", addresses=addresses)), 400, "invalidValue")
    second = assert_scim_error(scim.post("/Users", new_user("b@acme.test", **enterprise)), 400, "invalidValue")

    assert first["detail"].startswith("addresses.formatted is longer than")
    assert second["detail"].startswith(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter is longer than"
    )


def test_a_whole_document_has_a_size_limit(scim, acme):
    addresses = [{"type": "other", "formatted": "x" * 2000} for _ in range(40)]

    body = assert_scim_error(scim.post("/Users", new_user("big@acme.test", addresses=addresses)), 400, "invalidValue")

    assert "Klaxon keeps at most 65536" in body["detail"]


def test_a_four_megabyte_title_is_refused_before_it_is_read(scim):
    response = scim.post("/Users", new_user("huge@acme.test", title="T" * (4 * 1024 * 1024)))

    assert_scim_error(response, 413)


@pytest.mark.parametrize(
    "text",
    [
        'meta.lastModified gt "2026-13-45T99:99:99Z"',
        'meta.created gt "0001-01-01T00:00:00+14:00"',
        'meta.created lt "9999-12-31T23:59:59-14:00"',
        'meta.lastModified gt "not a date"',
    ],
)
@pytest.mark.parametrize("path", ["/Users", "/Groups"])
def test_an_impossible_date_in_a_filter_is_400_invalid_filter(scim, path, text):
    assert_scim_error(scim.get(f"{path}?filter={quote(text)}"), 400, "invalidFilter")


def test_a_member_display_longer_than_its_column_is_400(scim, acme):
    group = {**new_group("Ops"), "members": [{"value": str(acme.user.scim_id), "display": "D" * 256}]}

    body = assert_scim_error(scim.post("/Groups", group), 400, "invalidValue")

    assert body["detail"] == "members.display is longer than 255 characters."
    assert not Group.objects.filter(organisation=acme.organisation).exists()


def test_a_filter_date_without_an_offset_is_read_as_utc(scim, acme):
    created = scim.post("/Users", new_user("when@acme.test")).json()["meta"]["created"]
    before = created.replace("Z", "")[:19]

    text = f'meta.created ge "{before}"'
    found = scim.get(f"/Users?filter={quote(text)}").json()

    assert "when@acme.test" in [r["userName"] for r in found["Resources"]]
