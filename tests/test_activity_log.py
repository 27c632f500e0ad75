"""The activity log on Configuration › Synchronisation: result badges, links to people and
groups, validated filters, the organisation's time zone and the CSV export."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Group
from scim_sync import activity
from scim_sync.models import ScimActivity
from tests.scim import KLAXON, new_group, new_user

URL = reverse("scim_sync:synchronisation")
CSV_URL = reverse("scim_sync:activity-csv")
HOSTILE = [
    "²",
    "٣",
    "99999999999999999999",
    "-1",
    "NaN",
    "\x00",
    "1\x00",
    " GET ",
    "🙂",
    "x" * 5000,
    "'; DROP TABLE scim_sync_scimactivity; --",
    "%",
    "_",
    "\\",
    "[]",
    "get",
    "User\n",
]


def log(organisation, status, *, method="GET", resource_type="User", label="", resource_id="", at=None):
    activity.record_activity(
        organisation, method=method, resource_type=resource_type, status=status, label=label, resource_id=resource_id
    )
    row = ScimActivity.objects.filter(organisation=organisation).latest("pk")
    if at is not None:
        ScimActivity.objects.filter(pk=row.pk).update(at=at)
    return row


def labels(response) -> list[str]:
    return [row["activity"].label for row in response.context["activity_rows"]]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# Status column ----------------------------------------------------------------------------


def test_each_row_shows_a_result_badge_for_its_status(as_admin, acme):
    for status, label in ((201, "made"), (409, "clash"), (401, "wrong-token"), (429, "throttled"), (500, "broke")):
        log(acme.organisation, status, label=label)

    html = as_admin.get(URL).content.decode()

    badges = re.findall(r'<span class="badge result-(\w+)">([^<]+)</span> (\d+)', html)
    assert badges == [
        ("server_error", "Server error", "500"),
        ("refused", "Refused", "429"),
        ("refused", "Refused", "401"),
        ("client_error", "Client error", "409"),
        ("success", "Success", "201"),
    ]


def test_a_person_or_group_links_to_its_page_while_it_exists(as_admin, scim, acme):
    scim.post("/Users", new_user("sam@acme.test"))
    gone = scim.post("/Users", new_user("gone@acme.test")).json()
    group = scim.post("/Groups", new_group("On call")).json()
    scim.delete(f"/Users/{gone['id']}")
    log(acme.organisation, 404, resource_id="not-a-uuid", label="")

    response = as_admin.get(URL)

    html = response.content.decode()
    person_url = reverse("accounts:person", args=[acme.organisation.users.get(user_name="sam@acme.test").pk])
    group_url = reverse("accounts:group", args=[Group.objects.get(scim_id=group["id"]).pk])
    assert f'<a href="{person_url}">sam@acme.test</a>' in html
    assert f'<a href="{group_url}">On call</a>' in html
    assert ">gone@acme.test</a>" not in html and "gone@acme.test" in html
    assert [row["link"] for row in response.context["activity_rows"]].count(person_url) == 1


def test_listing_a_page_of_rows_takes_a_fixed_number_of_queries(as_admin, scim, acme, django_assert_max_num_queries):
    scim.post("/Users", new_user("one@acme.test"))
    with django_assert_max_num_queries(100) as one:
        as_admin.get(URL)
    baseline = len(one.captured_queries)  # read now: each request resets the connection's query log
    for n in range(30):
        scim.post("/Users", new_user(f"p{n}@acme.test"))
        scim.post("/Groups", new_group(f"G{n}"))

    with django_assert_max_num_queries(baseline + 1):  # + the look-up of the page's groups
        as_admin.get(URL)


# Filters -----------------------------------------------------------------------------------


def test_the_log_filters_by_result_method_resource_and_person(as_admin, scim, acme):
    sam = scim.post("/Users", new_user("sam@acme.test", displayName="Sam Patel")).json()
    scim.post("/Users", new_user("ria@acme.test"))
    scim.post("/Users", new_user("sam@acme.test"))  # 409
    scim.patch(
        f"/Users/{sam['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "userName", "value": "sp@acme.test"}],
        },
    )
    scim.post("/Groups", new_group("Sam's team"))
    log(acme.organisation, 503, method="GET", resource_type="ServiceProviderConfig")

    def shown(**filters):
        return [
            (r["activity"].method, r["activity"].status, r["activity"].label)
            for r in as_admin.get(URL, filters).context["activity_rows"]
        ]

    assert shown(result="client_error") == [("POST", 409, "sam@acme.test")]
    assert shown(result="server_error") == [("GET", 503, "")]
    assert shown(result="errors") == [("GET", 503, ""), ("POST", 409, "sam@acme.test")]
    assert shown(errors="1") == shown(result="errors")  # the old "Show errors only" link
    assert shown(method="PATCH") == [("PATCH", 200, "sp@acme.test")]
    assert [label for _, _, label in shown(resource="Group")] == ["Sam's team"]
    # By the name the person has now, the one a request carried, or the SCIM id; people only.
    assert shown(person="sp@acme") == [("PATCH", 200, "sp@acme.test"), ("POST", 201, "sam@acme.test")]
    assert shown(person="Sam Patel") == shown(person=sam["id"].upper()) == shown(person="sp@acme")
    assert shown(person="SAM") == [
        ("PATCH", 200, "sp@acme.test"),
        ("POST", 409, "sam@acme.test"),
        ("POST", 201, "sam@acme.test"),
    ]  # and the refused second creation
    assert shown(person="sam", result="success", method="POST") == [("POST", 201, "sam@acme.test")]
    assert shown(resource="Token")[0][:2] == ("PORTAL", 200)


def test_an_invalid_filter_is_a_form_error_and_not_applied(as_admin, acme):
    log(acme.organisation, 200, label="kept")

    response = as_admin.get(URL, {"result": "teapot", "method": "GET"})

    assert response.status_code == 200
    assert response.context["filter_form"].errors["result"]
    assert labels(response) == ["kept"]
    assert "Select a valid choice. teapot is not one of the available choices." in response.content.decode()
    assert response.context["csv_url"] == f"{CSV_URL}?method=GET"


@pytest.mark.parametrize("name", ["result", "method", "resource", "person", "page", "errors"])
def test_no_value_of_any_filter_is_a_server_error(as_admin, acme, name):
    log(acme.organisation, 200, label="someone")
    for value in HOSTILE:
        assert as_admin.get(URL, {name: value}).status_code == 200, value
        assert as_admin.get(CSV_URL, {name: value}).status_code in (200, 400), value


def test_the_export_link_carries_the_filters_of_the_page(as_admin, acme):
    response = as_admin.get(URL, {"result": "refused", "method": "POST", "person": "jo", "page": "2"})

    assert response.context["csv_url"] == f"{CSV_URL}?result=refused&method=POST&person=jo"
    assert (
        'href="/configuration/synchronisation/activity.csv?result=refused&amp;method=POST&amp;person=jo"'
        in response.content.decode()
    )


# Time zone ---------------------------------------------------------------------------------


def test_times_are_shown_in_the_organisations_time_zone_and_the_zone_is_named(as_admin, acme):
    log(acme.organisation, 200, label="summer", at=datetime(2026, 7, 1, 9, 2, 5, tzinfo=UTC))
    html = as_admin.get(URL).content.decode()
    assert "1 Jul 2026, 09:02:05" in html and '<strong class="zone">UTC</strong>' in html

    response = as_admin.post(reverse("scim_sync:save-time-zone"), {"time_zone": "Europe/London"}, follow=True)

    html = response.content.decode()
    assert "Times are now shown in Europe/London." in html
    assert "1 Jul 2026, 10:02:05" in html and '<strong class="zone">Europe/London</strong>' in html
    assert "When (Europe/London)" in html
    acme.organisation.refresh_from_db()
    assert acme.organisation.time_zone == "Europe/London"


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "europe/london", "\x00", "x" * 500, "../../etc/passwd"])
def test_a_time_zone_that_is_not_an_iana_name_is_a_form_error(as_admin, acme, value):
    response = as_admin.post(reverse("scim_sync:save-time-zone"), {"time_zone": value})

    assert response.status_code == 200
    assert response.context["time_zone_form"].errors["time_zone"]
    acme.organisation.refresh_from_db()
    assert acme.organisation.time_zone == ""


def test_an_empty_time_zone_means_utc(as_admin, acme):
    acme.organisation.time_zone = "Asia/Tokyo"
    acme.organisation.save()

    as_admin.post(reverse("scim_sync:save-time-zone"), {"time_zone": ""})

    acme.organisation.refresh_from_db()
    assert acme.organisation.time_zone == ""
    assert '<strong class="zone">UTC</strong>' in as_admin.get(URL).content.decode()


def test_a_user_cannot_change_the_time_zone(client, acme):
    client.force_login(acme.user)
    assert client.post(reverse("scim_sync:save-time-zone"), {"time_zone": "Asia/Tokyo"}).status_code == 403
    acme.organisation.refresh_from_db()
    assert acme.organisation.time_zone == ""


# CSV export --------------------------------------------------------------------------------


def test_the_export_streams_the_filtered_log_in_the_organisations_time_zone_with_a_dated_filename(as_admin, acme):
    acme.organisation.time_zone = "America/New_York"
    acme.organisation.save()
    log(
        acme.organisation,
        201,
        method="POST",
        label="new@acme.test",
        resource_id="0b7c1c1e-0000-4000-8000-000000000001",
        at=datetime(2026, 1, 15, 14, 0, tzinfo=UTC),
    )
    log(acme.organisation, 200, method="GET", label="read@acme.test")

    response = as_admin.get(CSV_URL, {"method": "POST"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.now().astimezone(dt_timezone(timedelta(hours=-5))).date()  # New York in winter, or a day off
    filename = re.fullmatch(
        r'attachment; filename="klaxon-scim-activity-acme-(\d{4}-\d\d-\d\d)\.csv"', response["Content-Disposition"]
    ).group(1)
    assert abs((datetime.strptime(filename, "%Y-%m-%d").date() - today).days) <= 1
    assert response["Cache-Control"].startswith("max-age=0")
    assert csv_rows(response) == [
        [
            "time",
            "time zone",
            "method",
            "resource type",
            "SCIM id",
            "userName or name",
            "status",
            "result",
            "scimType",
            "detail",
            "duration (ms)",
        ],
        [
            "2026-01-15T09:00:00-05:00",
            "America/New_York",
            "POST",
            "User",
            "0b7c1c1e-0000-4000-8000-000000000001",
            "new@acme.test",
            "201",
            "Success",
            "",
            "",
            "0",
        ],
    ]


def test_the_export_is_for_site_administrators_and_holds_only_their_organisations_rows(client, acme, globex):
    log(acme.organisation, 200, label="ours@acme.test")
    log(globex.organisation, 200, label="theirs@globex.test")

    assert client.get(CSV_URL).status_code == 302  # signed out: to sign-in
    client.force_login(acme.user)
    assert client.get(CSV_URL).status_code == 403
    client.force_login(globex.admin)
    body = b"".join(client.get(CSV_URL).streaming_content).decode()

    assert "theirs@globex.test" in body and "ours@acme.test" not in body


def test_the_export_holds_no_token_and_no_phone_number(as_admin, scim, acme):
    person = new_user("sam@acme.test", phoneNumbers=[{"value": "+44 7911 123456", "type": "mobile"}])
    person["schemas"].append(KLAXON)
    person[KLAXON] = {"notificationPhoneNumber": "07700 900123", "location": "London"}
    scim.post("/Users", person)
    scim.post("/Users", {**person, "userName": "ria@acme.test", "phoneNumbers": "not a list"})  # 400
    scim.get("/Users?filter=" + 'phoneNumbers.value eq "+447911123456"')
    current = acme.organisation.scim_tokens.order_by("-created_at").first().pk
    rotated = as_admin.post(reverse("scim_sync:rotate-token"), {"grace": "1h", "current": current})
    new_token = rotated.context["new_token"]

    body = b"".join(as_admin.get(CSV_URL).streaming_content).decode()

    assert scim.token not in body and new_token not in body
    assert "replaced by klx_" in body  # lines about tokens name them by their shown prefix
    assert not re.search(r"klx_[A-Za-z0-9_\-]{9,}", body)  # never more than the shown prefix
    assert len(body.splitlines()) == 6  # header, generated, POST 201, POST 400, GET, rotated
    for digits in ("7911123456", "7700900123", "07700", "7911 123456", "900123"):
        assert digits not in body, digits


def test_cells_a_spreadsheet_would_run_are_neutralised(as_admin, acme):
    log(acme.organisation, 201, method="POST", label='=HYPERLINK("http://evil.test","click")')
    log(acme.organisation, 201, method="POST", label="@SUM(1+1)")

    rows = csv_rows(as_admin.get(CSV_URL))

    assert [row[5] for row in rows[1:]] == ["'@SUM(1+1)", '\'=HYPERLINK("http://evil.test","click")']


def test_an_invalid_filter_on_the_export_is_a_400_naming_it(as_admin, acme):
    response = as_admin.get(CSV_URL, {"resource": "Passwords"})

    assert response.status_code == 400
    assert response.content.decode().startswith("Invalid filter: resource: Select a valid choice.")


def test_the_export_reads_the_database_in_chunks_while_it_streams(as_admin, acme, django_assert_max_num_queries):
    rows = [
        (
            acme.organisation.pk,
            connection.ops.adapt_datetimefield_value(timezone.now()),
            "GET",
            "User",
            "",
            f"p{n}",
            200,
            "",
            "",
            0,
        )
        for n in range(4500)
    ]
    activity._write_activity(rows)

    response = as_admin.get(CSV_URL)
    with django_assert_max_num_queries(4):  # PostgreSQL reads one server-side cursor; SQLite 3 chunks
        lines = b"".join(response.streaming_content).decode().splitlines()

    assert len(lines) == 4501


def test_the_export_refuses_a_post_and_another_organisations_admin_sees_nothing_of_ours(acme, globex):
    browser = Client()
    browser.force_login(globex.admin)
    log(acme.organisation, 200, label="ours@acme.test")

    assert "ours@acme.test" not in b"".join(browser.get(CSV_URL, {"person": "ours"}).streaming_content).decode()
