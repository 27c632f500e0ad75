"""Refused SCIM requests (missing or wrong token) are summarised per endpoint and minute, and the
alert they raise says what was seen without luring administrators into replacing a working token.

A security review found that ten wrong-token requests to a known endpoint URL e-mailed every site
administrator "rotate the token", and that 1,500 of them added 1,492 rows to the activity log.
"""

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from scim_sync import health, refusals
from scim_sync.auth import MAX_FAILURES
from scim_sync.credentials import endpoint_for, generate_token
from scim_sync.models import AuthFailureSummary, ProvisioningAlert, ScimActivity

WRONG = "klx_not-the-token"
PROXY = "10.0.0.2"  # the load balancer in front of Klaxon
LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    """The throttle's failure counter lives in the cache: each test starts with none. A
    process-local cache keeps the flood fast; the counter itself is tested elsewhere."""
    settings.CACHES = LOCAL_CACHE
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def behind_a_proxy(settings):
    settings.KLAXON_TRUSTED_PROXIES = 1


def at(moment):
    """Move Klaxon's clock (everything reads django.utils.timezone.now)."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def refused_from(scim, address, *, count=1, path="/Users"):
    """`count` wrong-token requests from `address`, as the load balancer forwards them; the
    left-hand X-Forwarded-For entry is whatever the sender claims, and must be ignored."""
    for _ in range(count):
        response = scim.get(path, token=WRONG, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.66, {address}")
        assert response.status_code in (401, 429)


def health_section(page: str) -> str:
    start = page.index('id="health"')
    return page[start : page.index("</section>", start)]


# The summary -------------------------------------------------------------------------------


def test_a_flood_of_wrong_tokens_leaves_a_summary_a_minute_and_no_activity_rows(scim, acme, behind_a_proxy):
    addresses = ["203.0.113.9", "198.51.100.4", "2001:db8::7"]
    for i in range(1_500):
        refused_from(scim, addresses[i % 3])

    summaries = list(AuthFailureSummary.objects.filter(organisation=acme.organisation))
    assert 1 <= len(summaries) <= 3  # one per minute the flood lasted
    assert sum(s.refused for s in summaries) == 1_500
    assert sum(s.throttled for s in summaries) == 1_500 - MAX_FAILURES  # 401 until the throttle, then 429
    assert {a for s in summaries for a in s.address_list} == set(addresses)  # never the claimed 192.0.2.66
    assert sum(s.unlisted for s in summaries) == 0
    assert not ScimActivity.objects.requests().exists()
    # A correct token always works, and its request is logged as before.
    assert scim.get("/Users").status_code == 200
    assert list(ScimActivity.objects.requests().values_list("status", flat=True)) == [200]


def test_a_summary_keeps_twenty_addresses_and_counts_requests_from_further_ones(scim, acme, behind_a_proxy):
    moment = datetime(2026, 3, 2, 10, 1, 5, tzinfo=UTC)
    addresses = [f"203.0.113.{n}" for n in range(1, 26)]
    with at(moment):
        for _ in range(2):
            for address in addresses:
                refused_from(scim, address)

    summary = AuthFailureSummary.objects.get(organisation=acme.organisation)
    assert (summary.minute, summary.first_at, summary.last_at) == (moment.replace(second=0), moment, moment)
    assert (summary.refused, summary.throttled, summary.unlisted) == (50, 50 - MAX_FAILURES, 10)
    assert summary.address_list == addresses[:20]  # in the order first seen
    assert summary.summary == (
        "50 refused requests from " + ", ".join(addresses[:20]) + " at 10:01:05 UTC; "
        "30 of them answered 429 (too many failures); 10 came from further addresses, not recorded"
    )


def test_a_summary_reads_as_one_sentence_with_the_first_and_last_time(acme):
    minute = datetime(2026, 3, 2, 10, 1, tzinfo=UTC)
    # Workers may write out of order: the first and last time still come out right.
    for second, address in ((58, "198.51.100.4"), (5, "203.0.113.9"), (30, "198.51.100.4")):
        refusals.record(acme.organisation.pk, status=401, address=address, now=minute.replace(second=second))
    refusals.record(acme.organisation.pk, status=401, address="203.0.113.9", now=minute + timedelta(minutes=1))

    first, second = AuthFailureSummary.objects.filter(organisation=acme.organisation).order_by("minute")
    assert first.summary == "3 refused requests from 198.51.100.4, 203.0.113.9 between 10:01:05 and 10:01:58 UTC"
    assert second.summary == "1 refused request from 203.0.113.9 at 10:02:00 UTC"


def test_a_refused_request_writes_one_statement_and_no_activity_row(scim, acme):
    refused_from(scim, "203.0.113.9")  # the first creates the minute's row

    with CaptureQueriesContext(connection) as queries:
        refused_from(scim, "203.0.113.9")

    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 1 and AuthFailureSummary._meta.db_table in writes[0] and "ON CONFLICT" in writes[0]
    assert AuthFailureSummary.objects.get().refused == 2


def test_addresses_are_stored_in_canonical_form_and_nothing_else(rf, settings):
    settings.KLAXON_TRUSTED_PROXIES = 0
    assert refusals.source_address(rf.get("/", REMOTE_ADDR="2001:DB8:0:0::7")) == "2001:db8::7"
    assert refusals.source_address(rf.get("/", REMOTE_ADDR="fe80::1%eth0")) == "fe80::1"
    assert refusals.source_address(rf.get("/", REMOTE_ADDR="% _ not an address")) == "unknown"


@pytest.mark.django_db(transaction=True)
def test_parallel_refusals_lose_no_count(live_server, acme, settings):
    """Wrong tokens sent in parallel to a live, threaded server on the configured database
    (PostgreSQL in CI, SQLite otherwise), all in one minute: every request updates one row."""
    settings.KLAXON_TRUSTED_PROXIES = 1
    generate_token(acme.organisation)
    url = f"{live_server.url}/scim/v2/{endpoint_for(acme.organisation).key}/Users"
    workers, each = 16, 25

    def send(worker):
        statuses = []
        for _ in range(each):
            request = urllib.request.Request(
                url, headers={"Authorization": f"Bearer {WRONG}", "X-Forwarded-For": f"198.51.100.{worker}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        return statuses

    with at(datetime(2026, 3, 2, 10, 1, 30, tzinfo=UTC)):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = [status for result in pool.map(send, range(workers)) for status in result]

    assert set(statuses) <= {401, 429} and len(statuses) == workers * each
    summary = AuthFailureSummary.objects.get(organisation=acme.organisation)
    assert summary.refused == workers * each
    assert summary.throttled == statuses.count(429)
    assert sorted(summary.address_list) == sorted(f"198.51.100.{n}" for n in range(workers))
    assert not ScimActivity.objects.requests().exists()


# The alert -----------------------------------------------------------------------------------


def test_refusals_while_the_identity_provider_is_accepted_do_not_ask_for_a_new_token(
    scim, acme, mailoutbox, behind_a_proxy
):
    assert scim.get("/Users").status_code == 200  # the identity provider, working
    last_accepted = ScimActivity.objects.requests().get().at

    refused_from(scim, "203.0.113.9", count=6)
    refused_from(scim, "198.51.100.4", count=4)  # the 10th in 15 minutes

    [mail] = mailoutbox
    assert mail.to == ["admin@acme.test"]
    assert mail.subject == "Klaxon: SCIM requests with a wrong token were refused (Acme Ltd)"
    assert (
        "10 SCIM requests were refused for a wrong or missing token in the last 15 minutes. "
        "They came from 203.0.113.9, 198.51.100.4." in mail.body
    )
    assert (
        f"Your identity provider's requests are still accepted (last at {last_accepted:%H:%M} UTC); "
        "these refused requests come from other addresses: nothing needs to change unless you do not "
        "recognise them." in mail.body
    )
    assert "rotate" not in mail.body.lower()
    assert "Secret Token" not in mail.body


def test_refusals_when_no_request_is_accepted_explain_the_token_and_how_to_replace_it(scim, acme, mailoutbox):
    now = timezone.now()
    with at(now - timedelta(minutes=20)):
        assert scim.get("/Users").status_code == 200  # before the window
    with at(now):
        for _ in range(10):
            scim.get("/Users", token=WRONG)

    [mail] = mailoutbox
    assert mail.subject == "Klaxon: SCIM requests with a wrong token were refused (Acme Ltd)"
    assert (
        "10 SCIM requests were refused for a wrong or missing token in the last 15 minutes. "
        "They came from 127.0.0.1." in mail.body
    )
    assert (
        "No request with a valid token has arrived in the last 15 minutes, so the token your identity "
        "provider sends may be wrong" in mail.body
    )
    assert "paste it as the Secret Token in Entra ID (Provisioning › Admin Credentials)" in mail.body
    assert "if it shows no authentication errors, these requests did not come from your identity provider" in mail.body


def test_the_banner_says_the_provider_is_accepted_once_it_is_again(scim, acme, client):
    now = timezone.now()
    with at(now):
        for _ in range(10):
            scim.get("/Users", token=WRONG)
    client.force_login(acme.admin)
    url = reverse("scim_sync:synchronisation")
    banner = health_section(client.get(url).content.decode())
    assert "SCIM requests with a wrong token were refused." in banner
    assert "Secret Token in Entra ID" in banner

    with at(now + timedelta(minutes=1)):
        assert scim.get("/Users").status_code == 200
        banner = health_section(client.get(url).content.decode())

    assert "SCIM requests with a wrong token were refused." in banner
    assert "Your identity provider&#x27;s requests are still accepted" in banner
    assert "rotate" not in banner.lower()


def test_the_alert_counts_refusals_from_the_summaries_of_its_window(acme):
    endpoint_for(acme.organisation)
    now = timezone.now()
    for minutes_ago, count in ((16, 50), (14, 6), (0, 3)):
        for _ in range(count):
            refusals.record(
                acme.organisation.pk, status=401, address="203.0.113.9", now=now - timedelta(minutes=minutes_ago)
            )

    assert health.auth_failures(acme.organisation, now) is None  # 9 in the last 15 minutes
    refusals.record(acme.organisation.pk, status=429, address="2001:db8::7", now=now)
    assert health.auth_failures(acme.organisation, now) == (
        "10 SCIM requests were refused for a wrong or missing token in the last 15 minutes. "
        "They came from 203.0.113.9, 2001:db8::7."
    )


def test_an_alert_with_many_addresses_names_what_fits_and_how_many_more(acme):
    endpoint_for(acme.organisation)
    now = timezone.now()
    for minute in range(3):  # 60 distinct addresses over three minutes, 20 a minute
        for n in range(25):
            refusals.record(
                acme.organisation.pk,
                status=401,
                address=f"2001:db8:{minute}::{n + 1:x}",
                now=now - timedelta(minutes=minute),
            )

    detail = health.auth_failures(acme.organisation, now)

    assert detail.startswith(
        "75 SCIM requests were refused for a wrong or missing token in the last 15 minutes. "
        "They came from 2001:db8:2::1, 2001:db8:2::2, "
    )
    assert detail.endswith(" more and further addresses.")
    assert len(detail) <= 255  # it is the alert's stored detail too
    health.evaluate(acme.organisation, now=now)
    assert ProvisioningAlert.objects.get(organisation=acme.organisation).detail == detail


# The Synchronisation page, Django admin, pruning -------------------------------------------------


def test_the_synchronisation_page_lists_refused_minutes_of_its_own_organisation_only(client, acme, globex):
    moment = timezone.now().replace(second=5)
    for _ in range(12):
        refusals.record(acme.organisation.pk, status=401, address="203.0.113.9", now=moment)
    refusals.record(acme.organisation.pk, status=401, address="198.51.100.4", now=moment.replace(second=58))
    refusals.record(globex.organisation.pk, status=401, address="192.0.2.99", now=moment)
    client.force_login(acme.admin)

    page = client.get(reverse("scim_sync:synchronisation")).content.decode()

    assert (
        f"13 refused requests from 203.0.113.9, 198.51.100.4 between {moment:%H:%M}:05 and {moment:%H:%M}:58 UTC"
    ) in page
    assert "13 refused in the last 24 hours" in page
    assert "192.0.2.99" not in page


def test_django_admin_shows_the_summaries_read_only(client, acme):
    refusals.record(acme.organisation.pk, status=401, address="203.0.113.9")
    summary = AuthFailureSummary.objects.get()
    client.force_login(User.objects.create_superuser("staff", "pw"))

    changelist = client.get("/admin/scim_sync/authfailuresummary/")
    assert changelist.status_code == 200 and "203.0.113.9" in changelist.content.decode()
    assert client.get(f"/admin/scim_sync/authfailuresummary/{summary.pk}/change/").status_code == 200
    assert client.get("/admin/scim_sync/authfailuresummary/add/").status_code == 403
    assert client.post(f"/admin/scim_sync/authfailuresummary/{summary.pk}/change/", {"refused": "0"}).status_code == 403
    assert client.post(f"/admin/scim_sync/authfailuresummary/{summary.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuthFailureSummary.objects.get().refused == 1


def test_pruning_removes_old_summaries_with_the_activity_log(acme, settings):
    now = timezone.now()
    refusals.record(acme.organisation.pk, status=401, address="203.0.113.9", now=now - timedelta(days=31))
    refusals.record(acme.organisation.pk, status=401, address="203.0.113.9", now=now - timedelta(days=29))

    call_command("prune_scim_activity", stdout=StringIO())

    assert [s.last_at for s in AuthFailureSummary.objects.all()] == [now - timedelta(days=29)]
    call_command("prune_scim_activity", "--days", "7", stdout=StringIO())
    assert not AuthFailureSummary.objects.exists()


def test_the_database_keeps_one_summary_per_organisation_and_minute(acme):
    from django.db import IntegrityError, transaction

    minute = timezone.now().replace(second=0, microsecond=0)
    fields = {
        "organisation": acme.organisation,
        "minute": minute,
        "refused": 1,
        "first_at": minute,
        "last_at": minute,
        "addresses": " 203.0.113.9 ",
    }
    AuthFailureSummary.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuthFailureSummary.objects.create(**fields)
