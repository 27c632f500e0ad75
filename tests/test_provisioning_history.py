"""A person's provisioning history: each attribute the identity provider changes is recorded
(numbers masked), in one INSERT per request, nothing for a creation or a request that changes
nothing, pruned with the activity log, and shown on the person page in the organisation's zone.
"""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import actions, history
from accounts.models import ProvisioningChange, User
from tests.payloads import load
from tests.scim import ENTERPRISE, KLAXON, patch_op

INSERT_CHANGES = 'INSERT INTO "accounts_provisioningchange"'
DEPARTMENT = f"{ENTERPRISE}:department"


@pytest.fixture
def sam(scim) -> dict:
    """Sam, as Entra ID creates people (tests/payloads/entra/create_user.json): London, 07400 123456."""
    body = load("entra/create_user")
    body["userName"] = "sam@acme.test"
    body[KLAXON] = {"location": "London", "notificationPhoneNumber": "07400 120123"}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return response.json()


def changes(user_name: str) -> list[tuple[str, str, str]]:
    return [
        (c.attribute, c.old, c.new)
        for c in ProvisioningChange.objects.filter(user__user_name=user_name).order_by("at", "pk")
    ]


def inserts_of_changes(queries) -> int:
    return sum(q["sql"].startswith(INSERT_CHANGES) for q in queries.captured_queries)


def test_each_attribute_the_identity_provider_changes_is_recorded_from_old_to_new(scim, sam):
    body = load("entra/create_user")
    body.update(
        userName="samuel@acme.test",
        externalId="sam-2",
        displayName="Sam Patel",
        name={"givenName": "Samuel", "familyName": "Patel"},
        emails=[{"primary": True, "type": "work", "value": "samuel@acme.test"}],
    )
    body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] = "Control room"
    body[KLAXON] = {"location": "Leeds", "notificationPhoneNumber": "07400 120456"}

    assert scim.put(f"/Users/{sam['id']}", body).status_code == 200

    assert sorted(changes("samuel@acme.test")) == sorted(
        [
            ("userName", "sam@acme.test", "samuel@acme.test"),
            ("externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", "sam-2"),
            ("displayName", "Bea Jensen", "Sam Patel"),
            ("givenName", "Bea", "Samuel"),
            ("familyName", "Jensen", "Patel"),
            ("email", "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com", "samuel@acme.test"),
            ("department", "Operations", "Control room"),
            ("location", "London", "Leeds"),
            ("number", "•••• 0123", "•••• 0456"),
        ]
    )


def test_deactivation_and_reactivation_are_recorded(scim, sam):
    scim.patch(f"/Users/{sam['id']}", load("entra/disable_string"))
    scim.patch(f"/Users/{sam['id']}", load("okta/reactivate"))

    assert changes("sam@acme.test") == [("active", "active", "deactivated"), ("active", "deactivated", "reactivated")]


def test_numbers_are_stored_masked_and_an_unusable_one_is_named_not_copied(scim, sam):
    number = f"{KLAXON}:notificationPhoneNumber"
    scim.patch(f"/Users/{sam['id']}", patch_op({"op": "replace", "path": number, "value": "call reception 2345"}))
    scim.patch(f"/Users/{sam['id']}", patch_op({"op": "remove", "path": number}))

    assert changes("sam@acme.test") == [("number", "•••• 0123", "unusable number"), ("number", "unusable number", "")]
    stored = " ".join(f"{c.old} {c.new}" for c in ProvisioningChange.objects.all())
    assert "120123" not in stored and "2345" not in stored and "reception" not in stored


def test_all_changes_of_one_request_are_written_in_one_insert(scim, sam, django_assert_max_num_queries):
    with django_assert_max_num_queries(20) as queries:
        scim.patch(f"/Users/{sam['id']}", load("entra/patch_with_flag"))

    assert inserts_of_changes(queries) == 1
    assert {attribute for attribute, _, _ in changes("sam@acme.test")} == {
        "displayName",
        "givenName",
        "familyName",
        "location",
    }


def test_a_request_that_changes_nothing_writes_nothing(scim, sam, django_assert_max_num_queries):
    same = load("entra/create_user")
    same["userName"] = "sam@acme.test"
    same[KLAXON] = {"location": "London", "notificationPhoneNumber": "07400 120123"}

    with django_assert_max_num_queries(20) as queries:
        assert scim.put(f"/Users/{sam['id']}", same).status_code == 200

    assert inserts_of_changes(queries) == 0
    assert not ProvisioningChange.objects.exists()


def test_creating_a_person_records_nothing_and_costs_no_statement(scim, django_assert_max_num_queries):
    scim.get("/Users?count=1")  # records when the token was last used
    with django_assert_max_num_queries(5) as queries:
        assert scim.post("/Users", load("entra/create_user")).status_code == 201

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 3  # the token, the INSERT of the person, the log
    assert not ProvisioningChange.objects.exists()


def test_adopting_a_manual_person_records_what_the_provider_changed(acme):
    leeds = acme.organisation.locations.get(name="Leeds")
    actions.set_location(acme.user, leeds)

    actions.provision_user(
        acme.organisation,
        {
            "user_name": "jo@acme.test",
            "given_name": "Joanna",
            "family_name": "User",
            "email": "jo@acme.test",
            "idp_location": "London",
        },
    )

    assert sorted(changes("jo@acme.test")) == [("givenName", "Jo", "Joanna"), ("location", "Leeds", "London")]


def test_history_is_pruned_with_the_activity_log(scim, sam, settings):
    settings.KLAXON_SCIM_LOG_DAYS = 30
    scim.patch(f"/Users/{sam['id']}", load("entra/disable_string"))
    scim.patch(f"/Users/{sam['id']}", load("okta/reactivate"))
    old, recent = ProvisioningChange.objects.order_by("pk")
    ProvisioningChange.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))

    call_command("prune_scim_activity", stdout=StringIO())

    assert list(ProvisioningChange.objects.all()) == [recent]


# The timeline --------------------------------------------------------------------------------


def test_the_timeline_is_newest_first_limited_and_in_the_organisations_zone(scim, sam, acme):
    acme.organisation.time_zone = "Europe/London"
    acme.organisation.save()
    for n in range(3):
        department = patch_op({"op": "replace", "path": DEPARTMENT, "value": f"D{n}"})
        assert scim.patch(f"/Users/{sam['id']}", department).status_code == 200
    person = User.objects.get(user_name="sam@acme.test")

    line = history.timeline(person, limit=2)

    assert [entry.text for entry in line.entries] == ["department D1 → D2", "department D0 → D1"]
    assert line.more and line.zone_name == "Europe/London" and str(line.zone) == "Europe/London"
    assert line.started == person.date_joined and line.by_identity_provider


def test_the_person_page_answers_why_sam_was_not_alerted(as_admin, scim, sam, acme):
    acme.organisation.time_zone = "Europe/London"
    acme.organisation.save()
    scim.patch(f"/Users/{sam['id']}", patch_op({"op": "replace", "path": f"{KLAXON}:location", "value": "Leeds"}))
    scim.patch(f"/Users/{sam['id']}", patch_op({"op": "remove", "path": f"{KLAXON}:notificationPhoneNumber"}))
    scim.patch(f"/Users/{sam['id']}", load("entra/disable_string"))
    summer = datetime(2026, 7, 1, 9, 2, tzinfo=UTC)
    ProvisioningChange.objects.filter(attribute="active").update(at=summer)
    person = User.objects.get(user_name="sam@acme.test")

    html = as_admin.get(reverse("accounts:person", args=[person.pk])).content.decode()

    assert "Provisioning history" in html and "Times are in Europe/London." in html
    assert "<strong>deactivated</strong> at 10:02 by the identity provider" in html
    assert "<strong>location London → Leeds</strong>" in html
    assert "<strong>notification number •••• 0123 → none</strong>" in html
    assert "07400 120123" not in html.split("Provisioning history")[1]


def test_a_person_without_changes_shows_where_the_timeline_starts(as_admin, acme):
    html = as_admin.get(reverse("accounts:person", args=[acme.user.pk])).content.decode()

    assert "added to Klaxon; no change by the identity provider recorded since" in html


def test_the_person_page_costs_the_same_queries_with_fifty_changes(as_admin, scim, sam, django_assert_max_num_queries):
    person = User.objects.get(user_name="sam@acme.test")
    url = reverse("accounts:person", args=[person.pk])
    department = patch_op({"op": "replace", "path": DEPARTMENT, "value": "D"})
    assert scim.patch(f"/Users/{sam['id']}", department).status_code == 200
    with django_assert_max_num_queries(100) as one:
        as_admin.get(url)
    baseline = len(one.captured_queries)  # read now: each request resets the connection's query log
    ProvisioningChange.objects.bulk_create(
        [
            ProvisioningChange(
                organisation=person.organisation, user=person, attribute="department", old=str(n), new=str(n + 1)
            )
            for n in range(80)
        ]
    )

    with django_assert_max_num_queries(baseline):
        html = as_admin.get(url).content.decode()

    assert html.count('data-attribute="department"') == 50 and "Older changes are not shown." in html
