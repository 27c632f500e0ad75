"""SCIM endpoint keys, tokens, the authentication class, the activity log and their commands."""

import json
import time
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from accounts.models import User
from klaxon_site.lib.paging import SNAPSHOT_SECONDS
from scim_sync import activity, credentials
from scim_sync.auth import MAX_FAILURES, bearer_token
from scim_sync.credentials import endpoint_for
from scim_sync.models import PageBookmark, ScimActivity, ScimEndpoint, ScimToken
from scim_sync.views import ScimView


@pytest.fixture(autouse=True)
def empty_cache(db):  # the default cache is a database table
    cache.clear()
    yield
    cache.clear()


class WhoAmI(ScimView):
    """A SCIM view (the real base: authentication, permission, errors) that shows what
    authentication attached to the request."""

    resource_type = "User"

    def get(self, request, endpoint_key):
        return Response(
            {
                "organisation": request.scim_organisation.slug,
                "django_request_organisation": request._request.scim_organisation.slug,
                "endpoint": request.scim_endpoint.key,
                "user": request.user,
                "token": request.auth.prefix,
            }
        )


def call(key: str, authorization: str | None = None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    request = APIRequestFactory().get(f"/scim/v2/{key}/Users", **headers)
    response = WhoAmI.as_view()(request, endpoint_key=key)
    response.render()
    return response


@pytest.fixture
def acme_token(acme) -> str:
    return credentials.generate_token(acme.organisation, created_by=acme.admin)


@pytest.fixture
def acme_key(acme, acme_token) -> str:
    return credentials.endpoint_for(acme.organisation).key


# Tokens and endpoints


def test_tokens_are_recognisable_and_stored_only_as_a_hash(acme, acme_token):
    token = ScimToken.objects.get(organisation=acme.organisation)
    assert acme_token.startswith("klx_") and len(acme_token) > 40
    assert token.prefix == acme_token[:12]
    assert token.token_hash != acme_token and len(token.token_hash) == 64
    assert token.created_by == acme.admin
    with connection.cursor() as cursor:
        for table in ("scim_sync_scimtoken", "scim_sync_scimendpoint", "scim_sync_scimactivity"):
            cursor.execute(f"SELECT * FROM {table}")
            assert not any(acme_token in str(value) for row in cursor.fetchall() for value in row)


def test_each_organisation_has_one_endpoint_with_an_unguessable_key(acme, globex, settings):
    settings.KLAXON_PUBLIC_URL = "https://klaxon.example"
    endpoint = credentials.endpoint_for(acme.organisation)
    assert credentials.endpoint_for(acme.organisation) == endpoint
    assert acme.organisation.scim_endpoint == endpoint
    assert len(endpoint.key) >= 32  # 24 random bytes, base64url
    assert endpoint.url == f"https://klaxon.example/scim/v2/{endpoint.key}"
    assert credentials.endpoint_for(globex.organisation).key != endpoint.key


def test_the_first_token_marks_the_start_of_synchronisation(acme):
    endpoint = credentials.endpoint_for(acme.organisation)
    assert endpoint.sync_started_at is None
    credentials.generate_token(acme.organisation)
    started = ScimEndpoint.objects.get(pk=endpoint.pk).sync_started_at
    assert started is not None
    credentials.generate_token(acme.organisation)
    assert ScimEndpoint.objects.get(pk=endpoint.pk).sync_started_at == started


def test_a_token_authenticates_only_at_its_own_organisations_endpoint(acme, globex, acme_token):
    token = ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, acme_token)
    assert token is not None and token.organisation == acme.organisation
    assert ScimToken.objects.authenticate(endpoint_for(globex.organisation).key, acme_token) is None
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, acme_token + "x") is None
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, "") is None


def test_rotating_without_grace_stops_the_old_token_at_once(acme, acme_token):
    new = credentials.generate_token(acme.organisation, grace=credentials.GRACE_CHOICES["none"])
    assert new != acme_token
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, acme_token) is None
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, new) is not None


@pytest.mark.parametrize("choice, hours", [("1h", 1), ("24h", 24)])
def test_rotating_with_grace_keeps_the_old_token_until_the_grace_ends(acme, acme_token, choice, hours):
    new = credentials.generate_token(acme.organisation, grace=credentials.GRACE_CHOICES[choice])
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, acme_token) is not None
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, new) is not None

    now = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=now + timedelta(hours=hours, minutes=-1)):
        assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, acme_token) is not None
    with mock.patch("django.utils.timezone.now", return_value=now + timedelta(hours=hours, minutes=1)):
        assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, acme_token) is None
        assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, new) is not None


def test_a_later_rotation_never_extends_an_earlier_grace(acme, acme_token):
    credentials.generate_token(acme.organisation, grace=timedelta(hours=1))
    credentials.generate_token(acme.organisation, grace=timedelta(hours=24))
    first = ScimToken.objects.order_by("created_at", "pk").first()
    assert first.expires_at < timezone.now() + timedelta(hours=2)
    assert ScimToken.objects.live().filter(organisation=acme.organisation).count() == 3


def test_rotating_the_endpoint_changes_the_key_and_the_old_url_is_not_found(acme, acme_token, acme_key):
    endpoint = credentials.rotate_endpoint(acme.organisation)
    assert endpoint.key != acme_key and endpoint.rotated_at is not None
    assert call(acme_key, f"Bearer {acme_token}").status_code == 404
    assert call(endpoint.key, f"Bearer {acme_token}").status_code == 200


# Authentication


@pytest.mark.parametrize("template", ["Bearer {}", "bearer {}", "BEARER  {}", "Bearer Bearer {}", "bearer BEARER {}"])
def test_the_token_is_accepted_in_every_form_the_setup_guide_allows(acme, acme_token, acme_key, template):
    response = call(acme_key, template.format(acme_token))
    assert response.status_code == 200
    assert response.data == {
        "organisation": "acme",
        "django_request_organisation": "acme",
        "endpoint": acme_key,
        "user": None,
        "token": acme_token[:12],
    }


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer klx_wrong", "Basic {}", "{}", "Bearer Bearer Bearer {}", "Token {}"]
)
def test_a_missing_or_wrong_token_is_401_with_www_authenticate(acme, acme_token, acme_key, header):
    response = call(acme_key, header.format(acme_token))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Klaxon SCIM"'
    assert response.data["detail"] == "Authorization failure"


def test_no_authorization_header_is_401(acme, acme_key):
    response = call(acme_key)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Klaxon SCIM"'


def test_another_organisations_token_is_refused_like_a_wrong_one(acme, globex, acme_key):
    globex_token = credentials.generate_token(globex.organisation)
    response = call(acme_key, f"Bearer {globex_token}")
    assert response.status_code == 401
    assert response.data["detail"] == "Authorization failure"


def test_an_unknown_endpoint_key_is_404(acme, acme_token):
    assert call("no-such-key", f"Bearer {acme_token}").status_code == 404


def test_a_superseded_token_is_refused(acme, acme_token, acme_key):
    credentials.generate_token(acme.organisation)
    assert call(acme_key, f"Bearer {acme_token}").status_code == 401


def test_repeated_failures_are_throttled_but_the_right_token_still_works(acme, globex, acme_token, acme_key):
    for _ in range(MAX_FAILURES):
        assert call(acme_key, "Bearer klx_guess").status_code == 401
    response = call(acme_key, "Bearer klx_guess")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 300
    assert call(acme_key, f"Bearer {acme_token}").status_code == 200
    # Another organisation's endpoint has its own allowance.
    globex_key = credentials.endpoint_for(globex.organisation).key
    assert call(globex_key, "Bearer klx_guess").status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(acme, acme_token, acme_key, django_assert_num_queries):
    assert call(acme_key, f"Bearer {acme_token}").status_code == 200
    token = ScimToken.objects.get(organisation=acme.organisation)
    first_use = token.last_used_at
    assert first_use is not None

    with django_assert_num_queries(2):  # the token with its endpoint, the activity row; no UPDATE within the minute
        assert call(acme_key, f"Bearer {acme_token}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use

    with mock.patch("django.utils.timezone.now", return_value=first_use + timedelta(minutes=2)):
        assert call(acme_key, f"Bearer {acme_token}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use + timedelta(minutes=2)


def test_bearer_token_reads_only_the_documented_forms():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bEaReR Bearer abc") == "abc"
    assert bearer_token("Bearer") is None
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer abc def") is None


# Activity log


def test_activity_is_recorded_in_one_insert_with_a_readable_summary(acme, django_assert_num_queries):
    with django_assert_num_queries(1):
        activity.record_activity(
            acme.organisation,
            method="patch",
            resource_type="User",
            status=400,
            label="jo@acme.test",
            scim_type="invalidValue",
            detail="x" * 400,
            duration_ms=12,
        )
    activity.record_activity(acme.organisation, method="POST", resource_type="Group", status=201, label="Sales")
    activity.record_activity(acme.organisation, method="GET", resource_type="ServiceProviderConfig", status=200)
    spc, group, user = ScimActivity.objects.filter(organisation=acme.organisation)
    assert len(user.detail) == 255 and user.detail.endswith("…")
    assert user.summary == f"PATCH user jo@acme.test: 400 invalidValue: {user.detail}"
    assert group.summary == "POST group Sales: 201"
    assert spc.summary == "GET ServiceProviderConfig: 200"


@pytest.fixture
def waiting_activity(settings):
    """Activity rows wait as in production (tests otherwise write each at once)."""
    settings.KLAXON_SCIM_ACTIVITY_DELAY = 60
    pending = activity.PendingActivity()
    with mock.patch.object(activity, "pending_activity", pending):
        yield pending
    pending.flush()


def log_get(organisation, label=""):
    activity.record_activity(organisation, method="GET", resource_type="User", status=200, label=label)


def test_waiting_activity_rows_are_written_together_in_one_insert(acme, waiting_activity, django_assert_num_queries):
    with django_assert_num_queries(0):
        for n in range(3):
            log_get(acme.organisation, f"person{n}")
    assert not ScimActivity.objects.exists()

    with django_assert_num_queries(1):
        waiting_activity.flush()
    assert sorted(ScimActivity.objects.values_list("label", flat=True)) == ["person0", "person1", "person2"]


def test_the_request_that_fills_a_batch_writes_it(acme, waiting_activity):
    for _ in range(activity.PendingActivity.BATCH_ROWS - 1):
        log_get(acme.organisation)
    assert not ScimActivity.objects.exists()

    log_get(acme.organisation)

    assert ScimActivity.objects.count() == activity.PendingActivity.BATCH_ROWS


def test_the_first_request_after_the_delay_writes_what_waits(acme, waiting_activity, settings):
    log_get(acme.organisation, "early")
    with mock.patch.object(activity.time, "monotonic", return_value=waiting_activity.first_at + 61):
        log_get(acme.organisation, "later")
    assert sorted(ScimActivity.objects.values_list("label", flat=True)) == ["early", "later"]


def test_rows_keep_the_time_of_their_request_not_of_the_write(acme, waiting_activity):
    log_get(acme.organisation)
    logged_by = timezone.now()
    waiting_activity.flush()
    assert ScimActivity.objects.get().at <= logged_by


def test_a_failing_write_loses_the_batch_but_never_fails_the_request(acme, waiting_activity):
    log_get(acme.organisation)
    with mock.patch.object(activity, "_write_activity", side_effect=RuntimeError("disk full")):
        waiting_activity.flush()  # logged, not raised
    assert waiting_activity.rows == []


@pytest.mark.django_db(transaction=True)
def test_without_requests_a_timer_writes_waiting_rows(acme, settings):
    settings.KLAXON_SCIM_ACTIVITY_DELAY = 0.1
    pending = activity.PendingActivity()
    with mock.patch.object(activity, "pending_activity", pending):
        log_get(acme.organisation, "quiet")
        deadline = time.monotonic() + 10
        while not ScimActivity.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert list(ScimActivity.objects.values_list("label", flat=True)) == ["quiet"]


def test_prune_command_deletes_page_bookmarks_past_use(acme):
    bookmarks = PageBookmark.objects.for_listing("scim:1:User:")
    bookmarks.save(100, 1)
    bookmarks.save(200, 2)
    PageBookmark.objects.filter(position=100).update(
        written_at=timezone.now() - timedelta(seconds=SNAPSHOT_SECONDS + 1)
    )

    call_command("prune_scim_activity", stdout=StringIO())

    assert list(PageBookmark.objects.values_list("position", flat=True)) == [200]


def test_prune_command_deletes_only_old_activity_and_is_idempotent(acme, settings):
    settings.KLAXON_SCIM_LOG_DAYS = 30
    activity.record_activity(acme.organisation, method="GET", resource_type="User", status=200)
    old = ScimActivity.objects.latest("pk")
    ScimActivity.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    activity.record_activity(acme.organisation, method="GET", resource_type="User", status=200)
    recent = ScimActivity.objects.latest("pk")
    ScimActivity.objects.filter(pk=recent.pk).update(at=timezone.now() - timedelta(days=29))

    out = StringIO()
    call_command("prune_scim_activity", stdout=out)
    assert "Deleted 1 " in out.getvalue()
    assert list(ScimActivity.objects.all()) == [recent]
    out = StringIO()
    call_command("prune_scim_activity", stdout=out)
    assert "Deleted 0 " in out.getvalue()

    call_command("prune_scim_activity", "--days", "7", stdout=StringIO())
    assert not ScimActivity.objects.exists()
    with pytest.raises(CommandError):
        call_command("prune_scim_activity", "--days", "-1")


# scim_credentials command


def run_credentials(*args) -> str:
    out = StringIO()
    call_command("scim_credentials", *args, stdout=out)
    return out.getvalue()


def test_scim_credentials_creates_a_token_once_and_is_idempotent(acme):
    first = run_credentials("acme")
    endpoint = ScimEndpoint.objects.get(organisation=acme.organisation)
    assert endpoint.url in first
    token = next(word for word in first.split() if word.startswith("klx_"))
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, token) is not None

    again = run_credentials("acme")
    assert endpoint.url in again and "klx_" not in again
    assert ScimToken.objects.count() == 1


def test_scim_credentials_json_output(acme):
    created = json.loads(run_credentials("acme", "--json"))
    assert created["token"].startswith("klx_")
    assert created["endpoint_url"] == ScimEndpoint.objects.get(organisation=acme.organisation).url
    assert json.loads(run_credentials("acme", "--json")) == {"endpoint_url": created["endpoint_url"], "token": None}


def test_scim_credentials_rotates_the_token_with_the_chosen_grace(acme):
    old = json.loads(run_credentials("acme", "--json"))["token"]
    new = json.loads(run_credentials("acme", "--rotate-token", "--grace", "1h", "--json"))["token"]
    assert new.startswith("klx_") and new != old
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, old) is not None
    newest = json.loads(run_credentials("acme", "--rotate-token", "--json"))["token"]
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, new) is None
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, newest) is not None


def test_scim_credentials_rotates_the_endpoint(acme):
    before = json.loads(run_credentials("acme", "--json"))
    after = json.loads(run_credentials("acme", "--rotate-endpoint", "--json"))
    assert after["endpoint_url"] != before["endpoint_url"]
    assert after["token"] is None


def test_scim_credentials_refuses_operator_mistakes(acme):
    with pytest.raises(CommandError, match="nope"):
        run_credentials("nope")
    with pytest.raises(CommandError, match="--rotate-token"):
        run_credentials("acme", "--grace", "1h")


# Admin


def test_admin_shows_tokens_without_their_hash_and_refuses_hash_lookups(acme, acme_token, client):
    staff = User.objects.create_superuser("staff@klaxon.test", "pw-for-staff-only")
    client.force_login(staff)
    token = ScimToken.objects.get(organisation=acme.organisation)
    changelist = client.get("/admin/scim_sync/scimtoken/")
    assert changelist.status_code == 200 and token.prefix in changelist.text
    detail = client.get(f"/admin/scim_sync/scimtoken/{token.pk}/change/")
    assert detail.status_code == 200
    assert token.token_hash not in changelist.text + detail.text
    assert client.get(f"/admin/scim_sync/scimtoken/?token_hash={token.token_hash}").status_code == 400
    assert client.get("/admin/scim_sync/scimtoken/?token_hash__startswith=ab").status_code == 400
    activity.record_activity(acme.organisation, method="GET", resource_type="User", status=200)
    assert client.get("/admin/scim_sync/scimactivity/?status=200").status_code == 200
    assert client.get("/admin/scim_sync/scimendpoint/").status_code == 200
