"""Provisioning health alerts: failing tokens, silent identity providers, mass deactivations."""

import json
import threading
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import actions
from accounts.models import User
from scim_sync import health
from scim_sync.credentials import endpoint_for, generate_token
from scim_sync.models import ProvisioningAlert, ScimEndpoint
from scim_sync.refusals import record as record_refusal

Condition = ProvisioningAlert.Condition
DEACTIVATE = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}  # Entra ID sends a string


def at(moment):
    """Move Klaxon's clock (everything reads django.utils.timezone.now)."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def refusals(organisation, count, when=None):
    """`count` requests refused for a wrong token, counted as scim_sync.auth counts them."""
    for _ in range(count):
        record_refusal(organisation.pk, status=401, address="203.0.113.9", now=when or timezone.now())


def provisioned_people(organisation, count):
    return [
        actions.provision_user(organisation, {"user_name": f"p{i}@{organisation.slug}.test", "is_active": True})
        for i in range(count)
    ]


def check(*args):
    out = StringIO()
    call_command("check_provisioning_health", *args, stdout=out)
    return out.getvalue()


def alert(organisation, condition):
    return ProvisioningAlert.objects.get(organisation=organisation, condition=condition)


# (a) failing authentication ------------------------------------------------------------


def test_repeated_authentication_failures_email_the_site_administrators_at_once(scim, acme, globex, mailoutbox):
    actions.create_manual_user(
        acme.organisation,
        "old-admin@acme.test",
        email="old-admin@acme.test",
        role=User.Role.SITE_ADMIN,
        is_active=False,
    )
    for _ in range(9):
        assert scim.get("/Users", token="klx_mistyped").status_code == 401
    assert mailoutbox == []

    scim.get("/Users", token="klx_mistyped")  # the 10th in 15 minutes

    assert [m.to for m in mailoutbox] == [["admin@acme.test"]]  # not Jo, not the inactive admin, not Globex
    assert mailoutbox[0].subject == "Klaxon: SCIM requests with a wrong token were refused (Acme Ltd)"
    assert (
        "10 SCIM requests were refused for a wrong or missing token in the last 15 minutes. "
        "They came from 127.0.0.1." in mailoutbox[0].body
    )
    # No request with the right token arrived: the provider's token may be wrong, and the mail says how to fix it.
    assert "No request with a valid token has arrived in the last 15 minutes" in mailoutbox[0].body
    assert "Secret Token in Entra ID" in mailoutbox[0].body
    assert alert(acme.organisation, Condition.AUTH_FAILURES).cleared_at is None


def test_further_failures_and_the_cron_command_do_not_email_again_the_same_day(scim, acme, mailoutbox):
    for _ in range(25):
        scim.get("/Users", token="klx_mistyped")
    check()
    check()

    assert len(mailoutbox) == 1


def test_a_condition_still_true_the_next_day_is_emailed_again(acme, mailoutbox):
    endpoint_for(acme.organisation)
    now = timezone.now()
    refusals(acme.organisation, 10, now)
    with at(now):
        check()
    with at(now + timedelta(hours=23)):
        refusals(acme.organisation, 10, now + timedelta(hours=23))
        check()
    assert len(mailoutbox) == 1

    with at(now + timedelta(days=1, minutes=1)):
        refusals(acme.organisation, 10, now + timedelta(days=1, minutes=1))
        check()

    assert len(mailoutbox) == 2
    assert alert(acme.organisation, Condition.AUTH_FAILURES).first_raised_at == now  # one episode


def test_failures_below_the_threshold_or_spread_out_raise_nothing(scim, acme, mailoutbox):
    refusals(acme.organisation, 9)
    refusals(acme.organisation, 5, timezone.now() - timedelta(minutes=16))

    assert "acme: healthy" in check()
    assert mailoutbox == []


def test_the_alert_clears_once_the_token_works_and_a_flap_is_not_emailed_twice(scim, acme, mailoutbox):
    now = timezone.now()
    refusals(acme.organisation, 10, now)
    with at(now):
        check()
    with at(now + timedelta(minutes=16)):
        assert "[cleared: auth_failures]" in check()
    assert alert(acme.organisation, Condition.AUTH_FAILURES).cleared_at == now + timedelta(minutes=16)

    with at(now + timedelta(minutes=30)):
        refusals(acme.organisation, 10, now + timedelta(minutes=30))
        check()

    reopened = alert(acme.organisation, Condition.AUTH_FAILURES)
    assert (reopened.cleared_at, reopened.first_raised_at) == (None, now + timedelta(minutes=30))
    assert len(mailoutbox) == 1


# (b) silence ---------------------------------------------------------------------------


def test_no_request_for_a_day_after_setting_up_synchronisation_is_reported(scim, acme, globex, mailoutbox):
    started = ScimEndpoint.objects.get(pk=scim.endpoint.pk).sync_started_at
    with at(started + timedelta(hours=23, minutes=59)):
        check()
    assert mailoutbox == []

    with at(started + timedelta(hours=24)):
        assert "silence" in check("--organisation", "acme")

    assert [m.to for m in mailoutbox] == [["admin@acme.test"]]
    assert "No request has arrived since synchronisation was set up" in mailoutbox[0].body


def test_silence_counts_from_the_last_authenticated_request_and_clears_when_one_arrives(scim, acme, mailoutbox):
    later = timezone.now() + timedelta(hours=20)
    with at(later):
        assert scim.get("/Users").status_code == 200
    with at(later + timedelta(hours=23)):
        check()
    assert mailoutbox == []

    with at(later + timedelta(hours=25)):
        scim.get("/Users", token="klx_mistyped")  # a refused request is no sign of life
        check()
    assert len(mailoutbox) == 1
    with at(later + timedelta(hours=26)):
        scim.get("/Users")
        assert "[cleared: silence]" in check()


def test_organisations_that_never_set_up_synchronisation_are_not_reported(acme, mailoutbox):
    endpoint_for(acme.organisation)  # the page was opened, no token generated
    with at(timezone.now() + timedelta(days=30)):
        assert "acme: healthy" in check()
    assert mailoutbox == []


# (c) mass deactivation -----------------------------------------------------------------


def test_deactivating_more_than_a_tenth_within_an_hour_emails_at_once(
    scim, acme, globex, mailoutbox, django_capture_on_commit_callbacks
):
    people = provisioned_people(acme.organisation, 20)  # 22 active with the admin and Jo
    for person in people[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            assert scim.patch(f"/Users/{person.scim_id}", DEACTIVATE).status_code == 200
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        scim.patch(f"/Users/{people[2].scim_id}", DEACTIVATE)

    assert [m.to for m in mailoutbox] == [["admin@acme.test"]]
    assert "deactivated 3 of 22 active people in the last hour" in mailoutbox[0].body
    assert User.objects.get(pk=people[2].pk).deactivated_at is not None


def test_a_few_deactivations_or_deactivations_made_in_klaxon_raise_nothing(acme, mailoutbox):
    people = provisioned_people(acme.organisation, 40)
    endpoint_for(acme.organisation)
    for person in people[:4]:  # 4 of 42: under a tenth
        actions.provision_user(acme.organisation, {"user_name": person.user_name, "is_active": False}, user=person)
    for i in range(6):
        actions.deactivate_user(actions.create_manual_user(acme.organisation, f"m{i}@acme.test"))

    assert "acme: healthy" in check()
    assert mailoutbox == []


def test_the_deactivation_alert_clears_an_hour_later_and_reactivation_resets_the_timestamp(acme, mailoutbox):
    endpoint_for(acme.organisation)
    people = provisioned_people(acme.organisation, 8)
    for person in people[:3]:
        actions.provision_user(acme.organisation, {"user_name": person.user_name, "is_active": False}, user=person)
    assert "mass_deactivation" in check()
    assert len(mailoutbox) == 1

    reactivated = actions.provision_user(
        acme.organisation, {"user_name": people[0].user_name, "is_active": True}, user=people[0]
    )
    assert reactivated.deactivated_at is None
    with at(timezone.now() + timedelta(minutes=61)):
        assert "[cleared: mass_deactivation]" in check()


def test_the_deactivation_hook_looks_at_the_minimum_and_its_doublings_only():
    looks = [n for n in range(1, 100) if health.deactivations_worth_a_look(n, 3)]
    assert looks == [3, 6, 12, 24, 48, 96]


# The Synchronisation page --------------------------------------------------------------


def test_the_synchronisation_page_shows_open_alerts_with_what_to_do(client, acme, globex):
    refusals(acme.organisation, 10)
    refusals(globex.organisation, 10)
    endpoint_for(acme.organisation), endpoint_for(globex.organisation)
    check("--organisation", "globex")
    client.force_login(acme.admin)
    url = reverse("scim_sync:synchronisation")
    assert "Synchronisation needs attention" not in client.get(url).content.decode()  # Globex's is not shown

    check("--organisation", "acme")
    page = client.get(url).content.decode()

    assert "Synchronisation needs attention" in page
    assert "SCIM requests with a wrong token were refused." in page
    assert (
        "10 SCIM requests were refused for a wrong or missing token in the last 15 minutes. "
        "They came from 203.0.113.9." in page
    )
    assert "paste it as the Secret Token in Entra ID" in page  # no request with the right token came


# The command ---------------------------------------------------------------------------


def test_the_command_reports_as_json(acme, globex, mailoutbox):
    generate_token(acme.organisation)
    endpoint_for(globex.organisation)
    refusals(globex.organisation, 12)

    with at(timezone.now() + timedelta(hours=25)):
        document = json.loads(check("--json"))

    silence = document["organisations"][0]["open"].get("silence", "")
    assert silence.startswith("No request has arrived since synchronisation was set up on ")
    assert document == {
        "organisations": [
            {"organisation": "acme", "open": {"silence": silence}, "notified": ["silence"], "cleared": []},
            {"organisation": "globex", "open": {}, "notified": [], "cleared": []},  # the 401s are 25 hours old
        ],
        "notifications_sent": 1,
        "failed": [],
    }


def test_the_command_refuses_an_unknown_organisation(acme):
    with pytest.raises(CommandError, match="No organisation 'nope'"):
        check("--organisation", "nope")


# At most once ------------------------------------------------------------------------------


def test_two_evaluations_in_a_row_send_one_email(acme, mailoutbox):
    refusals(acme.organisation, 10)
    now = timezone.now()
    first = health.raise_alert(acme.organisation, Condition.AUTH_FAILURES, "10 refused", now)
    second = health.raise_alert(acme.organisation, Condition.AUTH_FAILURES, "11 refused", now)

    assert (first, second, len(mailoutbox)) == (True, False, 1)
    assert alert(acme.organisation, Condition.AUTH_FAILURES).detail == "11 refused"


def test_the_database_allows_one_alert_per_condition_and_organisation(acme):
    ProvisioningAlert.objects.create(
        organisation=acme.organisation, condition=Condition.SILENCE, first_raised_at=timezone.now()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ProvisioningAlert.objects.create(
            organisation=acme.organisation, condition=Condition.SILENCE, first_raised_at=timezone.now()
        )


def test_a_failed_send_leaves_the_notification_due(acme, mailoutbox):
    now = timezone.now()
    with mock.patch("scim_sync.health.send_mass_mail", side_effect=OSError("mail server down")):
        with pytest.raises(OSError):
            health.raise_alert(acme.organisation, Condition.SILENCE, "quiet", now)
    assert alert(acme.organisation, Condition.SILENCE).last_notified_at is None

    assert health.raise_alert(acme.organisation, Condition.SILENCE, "quiet", now)


@pytest.mark.django_db(transaction=True)
def test_parallel_workers_raising_the_same_alert_send_one_email(acme, mailoutbox):
    barrier, results = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            results.append(health.raise_alert(acme.organisation, Condition.SILENCE, "quiet", timezone.now()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    assert len(mailoutbox) == 1
