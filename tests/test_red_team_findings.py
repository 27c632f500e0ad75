"""What the independent red-team review found with one organisation's SCIM token, each closed.

(Its other attempts held; they are covered in test_trust_boundary.py, test_poison_input.py,
test_identity_strings.py and test_scim_auth_failures.py.)
"""

import pytest
from django.core import mail

from accounts.actions import create_manual_user
from accounts.models import User
from tests.conftest import PASSWORD
from tests.scim import assert_scim_error, new_user, patch_op


def deactivate(scim, person):
    return scim.patch(f"/Users/{person.scim_id}", patch_op({"op": "replace", "path": "active", "value": False}))


def test_the_token_cannot_deactivate_the_last_site_administrator_who_can_sign_in(scim, acme):
    response = deactivate(scim, acme.admin)

    assert "last active site administrator" in assert_scim_error(response, 400, "invalidValue")["detail"]
    acme.admin.refresh_from_db()
    assert acme.admin.is_active


def test_the_token_cannot_delete_the_last_site_administrator(scim, acme):
    assert_scim_error(scim.delete(f"/Users/{acme.admin.scim_id}"), 400, "invalidValue")

    assert User.objects.filter(pk=acme.admin.pk).exists()


def test_an_administrator_can_go_while_another_one_can_sign_in(scim, acme):
    create_manual_user(
        acme.organisation,
        "second@acme.test",
        email="second@acme.test",
        password=PASSWORD,
        role=User.Role.SITE_ADMIN,
        given_name="Sec",
        family_name="Ond",
    )

    assert deactivate(scim, acme.admin).status_code == 200
    assert scim.delete(f"/Users/{acme.admin.scim_id}").status_code == 204


def test_alerts_go_to_the_verified_address_not_the_one_the_provider_wrote(
    scim, acme, settings, django_capture_on_commit_callbacks
):
    settings.KLAXON_BACKGROUND_MAIL = False
    replace = {"op": "replace", "path": "emails", "value": [{"value": "x@attacker.test", "type": "work"}]}
    assert scim.patch(f"/Users/{acme.admin.scim_id}", patch_op(replace)).status_code == 200
    mail.outbox.clear()
    people = [scim.post("/Users", new_user(f"p{i}@acme.test")).json()["id"] for i in range(6)]

    with django_capture_on_commit_callbacks(execute=True):
        for scim_id in people[:5]:
            scim.patch(f"/Users/{scim_id}", patch_op({"op": "replace", "path": "active", "value": False}))

    alerts = [m for m in mail.outbox if "deactivated" in m.subject]
    assert alerts and all(m.to == ["admin@acme.test"] for m in alerts)
    assert not any("x@attacker.test" in m.to for m in mail.outbox)


def test_email_change_notices_carry_no_provider_text_and_are_limited(
    scim, acme, settings, django_capture_on_commit_callbacks
):
    settings.KLAXON_BACKGROUND_MAIL = False
    mail.outbox.clear()
    for index in range(6):
        body = patch_op(
            {"op": "replace", "path": "name.givenName", "value": "Ada, SECURITY NOTICE: visit http://evil.test"},
            {"op": "replace", "path": "emails", "value": [{"value": f"a{index}@acme.test", "type": "work"}]},
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert scim.patch(f"/Users/{acme.admin.scim_id}", body).status_code == 200

    notices = [m for m in mail.outbox if "e-mail address was changed" in m.subject]
    assert len(notices) == 3
    assert all("evil.test" not in m.body and "SECURITY NOTICE" not in m.body for m in notices)


def test_a_failing_mail_server_never_fails_the_scim_request(scim, acme, settings, django_capture_on_commit_callbacks):
    settings.KLAXON_BACKGROUND_MAIL = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = None  # the backend refuses to start

    replace = {"op": "replace", "path": "emails", "value": [{"value": "new@acme.test", "type": "work"}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = scim.patch(f"/Users/{acme.admin.scim_id}", patch_op(replace))

    assert response.status_code == 200, response.content
    acme.admin.refresh_from_db()
    assert acme.admin.email == "new@acme.test"


@pytest.mark.parametrize("character", ["\u2800", "\u3164", "\u115f", "\u034f", "\ufe0f", "\U000e0041"])
def test_blank_and_default_ignorable_characters_are_refused_in_user_names(scim, character):
    assert_scim_error(scim.post("/Users", new_user(f"admin@acme.test{character}")), 400, "invalidValue")


@pytest.mark.parametrize("path", ["/confirm-password/", "/locations/create-sent/"])
@pytest.mark.parametrize("value", ["abc", "²", "-1", "//evil.test/", "https://evil.test/"])
def test_a_next_parameter_that_is_no_path_here_goes_to_the_default(client, acme, path, value):
    client.force_login(acme.admin)
    data = {"password": PASSWORD, "name": "Bristol", "next": value}

    response = client.post(path, data)

    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith("//")
