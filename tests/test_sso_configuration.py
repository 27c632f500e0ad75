"""Configuration › Single sign-on and `manage.py configure_sso`, against the real test provider.

Saving fetches the issuer's discovery document; the client secret is stored encrypted, never
shown again and never logged; a test sign-in proves the settings before anyone is offered
single sign-on.
"""

import io
import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.access import SIGNED_IN_AT
from sso.models import IdentityProvider, SignInEvent, SsoLink
from tests.oidc import path_of, sign_in_at_provider

CALLBACK = "http://testserver/sso/callback/"


@pytest.fixture
def registered(oidc, settings):
    settings.KLAXON_PUBLIC_URL = "http://testserver"
    return oidc.register_client(CALLBACK)


def save(client, oidc, registered, **changes):
    data = {"issuer": oidc.issuer, "client_id": registered.client_id, "client_secret": registered.client_secret}
    return client.post(reverse("sso:save-settings"), {**data, **changes})


def test_the_page_shows_the_redirect_uri_and_the_entra_id_and_okta_steps(as_admin, registered):
    page = as_admin.get(reverse("sso:single-sign-on")).content.decode()

    assert 'value="http://testserver/sso/callback/"' in page
    assert "App registrations" in page and "Application (client) ID" in page and "/v2.0" in page
    assert "Create App Integration" in page and "Sign-in redirect URIs" in page
    assert "Single sign-on" in as_admin.get(reverse("accounts:home")).content.decode()


def test_saving_fetches_the_discovery_document_and_stores_the_secret_encrypted(
    as_admin, acme, oidc, registered, caplog
):
    caplog.set_level(logging.DEBUG)

    response = save(as_admin, oidc, registered)

    assert response.url == reverse("sso:single-sign-on")
    provider = IdentityProvider.objects.get(organisation=acme.organisation)
    assert (provider.issuer, provider.client_id, provider.is_tested) == (oidc.issuer, registered.client_id, False)
    assert provider.client_secret == registered.client_secret
    assert registered.client_secret not in provider.client_secret_encrypted
    page = as_admin.get(reverse("sso:single-sign-on")).content.decode()
    assert registered.client_secret not in page  # never shown again
    assert "Stored encrypted and never shown" in page
    assert registered.client_secret not in caplog.text


def test_an_issuer_whose_discovery_document_names_another_issuer_is_refused(as_admin, oidc, registered):
    # The provider answers on localhost too, but calls itself 127.0.0.1: copy the issuer exactly.
    other_spelling = oidc.issuer.replace("127.0.0.1", "localhost")

    response = save(as_admin, oidc, registered, issuer=other_spelling)

    assert response.status_code == 400
    assert "names the issuer" in response.content.decode()
    assert not IdentityProvider.objects.exists()


def test_a_plain_http_issuer_is_refused_off_loopback(as_admin, oidc, registered):
    response = save(as_admin, oidc, registered, issuer="http://login.example.com/tenant/v2.0")

    assert response.status_code == 400 and "must use https://" in response.content.decode()


@pytest.mark.parametrize("issuer", ["http://[::1", "https://", "not a url", "https://idp.example.com:99999/"])
def test_a_malformed_issuer_is_a_form_error_not_a_crash(as_admin, oidc, registered, issuer):
    response = save(as_admin, oidc, registered, issuer=issuer)

    assert response.status_code == 400
    assert "The issuer must be a URL" in response.content.decode()
    with pytest.raises(CommandError, match="The issuer must be a URL"):
        configure("acme", "--issuer", issuer, "--client-id", "x", "--client-secret", "y")


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:9090",
        "https://127.0.0.1:8000",
        "https://169.254.169.254/latest",
        "https://10.0.0.5",
        "https://localhost",
    ],
)
def test_in_production_the_issuer_cannot_point_at_klaxons_own_machine_or_network(as_admin, settings, issuer):
    settings.KLAXON_SSO_ALLOW_LOCAL_ISSUERS = False  # production: only public HTTPS issuers

    response = as_admin.post(reverse("sso:save-settings"), {"issuer": issuer, "client_id": "x", "client_secret": "y"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "must use https://" in page or "public address" in page
    assert not IdentityProvider.objects.exists()


def test_every_failure_to_read_the_discovery_document_reads_the_same(as_admin, live_server, oidc, registered):
    """Otherwise the form tells an administrator which ports of the server's network answer."""
    closed = "http://127.0.0.1:9"
    not_json = live_server.url  # Klaxon itself: an HTML 404 page there

    answers = [save(as_admin, oidc, registered, issuer=issuer).content.decode() for issuer in (closed, not_json)]

    for issuer, page in zip((closed, not_json), answers, strict=True):
        assert f"Klaxon could not read a discovery document (JSON) at {issuer}/.well-known/openid-configuration" in page
        assert "Error" not in page.split("Klaxon could not read")[1][:120]  # no exception class


def test_the_client_secret_is_hidden_from_error_reports(as_admin, oidc, registered, monkeypatch):
    from django.core.signals import got_request_exception

    from sso import actions

    monkeypatch.setattr(actions, "check_settings", lambda *a, **k: 1 / 0)
    seen = []
    got_request_exception.connect(lambda sender, request, **kw: seen.append(request), weak=False)

    with pytest.raises(ZeroDivisionError):
        save(as_admin, oidc, registered)

    assert seen and seen[-1].sensitive_post_parameters == ("client_secret",)


def test_saving_the_settings_needs_a_recent_sign_in(client, acme, oidc, registered):
    client.force_login(acme.admin)
    session = client.session
    session[SIGNED_IN_AT] = 0
    session.save()

    response = save(client, oidc, registered)

    assert response.url.startswith(reverse("accounts:confirm-password"))
    assert not IdentityProvider.objects.exists()


def test_a_test_sign_in_proves_the_settings_and_then_single_sign_on_is_offered(as_admin, acme, oidc, registered):
    save(as_admin, oidc, registered)
    assert as_admin.post(reverse("sso:require")).url == reverse("sso:single-sign-on")
    assert not IdentityProvider.objects.get().require_sso  # not before a test succeeded

    started = as_admin.post(reverse("sso:test"))
    result = as_admin.get(path_of(sign_in_at_provider(started.url, "admin@acme.test")))

    assert "It works" in result.content.decode()
    provider = IdentityProvider.objects.get()
    assert provider.is_tested and provider.tested_by == acme.admin
    assert SsoLink.objects.get(user=acme.admin).subject == "admin@acme.test"
    assert SignInEvent.objects.get().outcome == "tested"
    assert "Continue with" in Client().get(reverse("sso:organisation", args=["acme"])).content.decode()
    as_admin.post(reverse("sso:require"))
    assert IdentityProvider.objects.get().require_sso


def test_a_test_sign_in_as_somebody_unknown_proves_nothing(as_admin, oidc, registered):
    save(as_admin, oidc, registered)
    started = as_admin.post(reverse("sso:test"))

    result = as_admin.get(path_of(sign_in_at_provider(started.url, "stranger@elsewhere.test")))

    assert "nobody would be let in" in result.content.decode()
    assert not IdentityProvider.objects.get().is_tested
    assert SignInEvent.objects.get().outcome == "unknown_person"


def test_the_sign_in_log_is_on_the_page_of_its_own_organisation_only(as_admin, acme, globex, oidc, registered):
    save(as_admin, oidc, registered)
    started = as_admin.post(reverse("sso:test"))
    as_admin.get(path_of(sign_in_at_provider(started.url, "stranger@elsewhere.test")))
    other = Client()
    other.force_login(globex.admin)

    assert "stranger@elsewhere.test" in as_admin.get(reverse("sso:single-sign-on")).content.decode()
    assert "stranger@elsewhere.test" not in other.get(reverse("sso:single-sign-on")).content.decode()


def test_users_cannot_open_the_page(client, acme):
    client.force_login(acme.user)

    assert client.get(reverse("sso:single-sign-on")).status_code == 403


# manage.py configure_sso ----------------------------------------------------------------


def configure(*arguments) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("configure_sso", *arguments, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_configure_sso_saves_the_settings_and_prints_the_redirect_uri(acme, oidc, registered, capsys):
    result = configure(
        "acme", "--issuer", oidc.issuer, "--client-id", registered.client_id,
        "--client-secret", registered.client_secret, "--admin-group", "Klaxon Administrators",
    )  # fmt: skip

    assert result["redirect_uri"] == CALLBACK
    assert (result["tested"], result["require_sso"], result["admin_group"]) == (False, False, "Klaxon Administrators")
    assert registered.client_secret not in json.dumps(result)
    provider = IdentityProvider.objects.get()
    assert provider.client_secret == registered.client_secret
    again = configure(
        "acme", "--issuer", oidc.issuer, "--client-id", registered.client_id,
        "--client-secret", registered.client_secret, "--admin-group", "Klaxon Administrators",
    )  # fmt: skip
    assert again["changed"] is False


def test_configure_sso_can_require_single_sign_on_for_automation(acme, oidc, registered):
    result = configure(
        "acme", "--issuer", oidc.issuer, "--client-id", registered.client_id,
        "--client-secret", registered.client_secret, "--require-sso",
    )  # fmt: skip

    assert result["require_sso"] and result["tested"]


def test_configure_sso_refuses_an_unreachable_issuer_unless_told_to_skip_the_check(acme, registered):
    unreachable = "http://127.0.0.1:9/nothing-here"
    arguments = ("acme", "--issuer", unreachable, "--client-id", "x", "--client-secret", "y")

    with pytest.raises(CommandError, match="could not read a discovery document"):
        configure(*arguments)
    assert not IdentityProvider.objects.exists()
    assert configure(*arguments, "--skip-check")["issuer"] == unreachable


def test_configure_sso_reads_the_secret_from_standard_input_when_told(acme, oidc, registered, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(registered.client_secret + "\n"))

    configure("acme", "--issuer", oidc.issuer, "--client-id", registered.client_id, "--client-secret", "-")

    assert IdentityProvider.objects.get().client_secret == registered.client_secret


def test_configure_sso_names_an_unknown_organisation(db):
    with pytest.raises(CommandError, match="No organisation has the slug 'nope'"):
        configure("nope", "--issuer", "https://example.com", "--client-id", "x", "--client-secret", "y")


def test_prune_sign_in_events_keeps_the_recent_ones(acme, settings):
    from datetime import timedelta

    from django.utils import timezone

    old = SignInEvent.objects.create(organisation=acme.organisation, outcome="refused")
    SignInEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=settings.KLAXON_SCIM_LOG_DAYS + 1))
    recent = SignInEvent.objects.create(organisation=acme.organisation, outcome="refused")

    call_command("prune_sign_in_events", stdout=None)
    call_command("prune_sign_in_events", stdout=None)

    assert list(SignInEvent.objects.all()) == [recent]


def test_the_client_secret_survives_a_key_rotation(acme, oidc, registered, settings):
    from cryptography.fernet import Fernet

    from tests.conftest import ENCRYPTION_KEY

    configure("acme", "--issuer", oidc.issuer, "--client-id", "x", "--client-secret", "s3cret")
    newer = Fernet.generate_key().decode()
    settings.KLAXON_ENCRYPTION_KEYS = [newer, ENCRYPTION_KEY]
    call_command("reencrypt_secrets", stdout=None)
    settings.KLAXON_ENCRYPTION_KEYS = [newer]

    assert IdentityProvider.objects.get().client_secret == "s3cret"


def test_a_malformed_encryption_key_stops_the_process_at_start():
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "klaxon_site.settings", "DEBUG": "true",
             "KLAXON_ENCRYPTION_KEYS": "not-a-key"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert done.returncode != 0 and "KLAXON_ENCRYPTION_KEYS: key 1 is not a Fernet key" in done.stderr
