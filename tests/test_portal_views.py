"""Portal pages: who may open what, and what each action does."""

import pytest
from django.urls import reverse

from accounts import actions
from accounts.models import Group, User
from scim_sync.credentials import endpoint_for, generate_token
from scim_sync.models import ScimToken

ADMIN_PAGES = [
    reverse("accounts:home"),
    reverse("accounts:people"),
    reverse("accounts:groups"),
    reverse("locations:list"),
    reverse("scim_sync:synchronisation"),
]


@pytest.fixture
def as_user(client, acme):
    client.force_login(acme.user)
    return client


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_site_administrators_open_every_page(as_admin, url):
    assert as_admin.get(url).status_code == 200


@pytest.mark.parametrize("url", ADMIN_PAGES[1:])
def test_a_user_cannot_reach_administrator_pages(as_user, url):
    assert as_user.get(url).status_code == 403


def test_a_user_landing_on_the_dashboard_goes_to_their_profile(as_user):
    response = as_user.get(reverse("accounts:home"))
    assert response.status_code == 302 and response.url == reverse("accounts:profile")


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("accounts:people"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_another_organisations_person_group_and_location_are_not_found(as_admin, globex):
    group = Group.objects.create(organisation=globex.organisation, display_name="Globex team")
    location = globex.organisation.locations.get(name="Springfield")
    for url in (
        reverse("accounts:person", args=[globex.user.pk]),
        reverse("accounts:group", args=[group.pk]),
        reverse("locations:rename", args=[location.pk]),
        reverse("locations:delete", args=[location.pk]),
    ):
        assert as_admin.get(url).status_code == 404, url
    assert as_admin.post(reverse("accounts:person-deactivate", args=[globex.user.pk])).status_code == 404
    globex.user.refresh_from_db()
    assert globex.user.is_active


def test_people_search_and_filters(as_admin, acme):
    leeds = acme.organisation.locations.get(name="Leeds")
    actions.set_location(acme.user, leeds)
    response = as_admin.get(reverse("accounts:people"), {"location": leeds.pk})
    assert [p.pk for p in response.context["page"].object_list] == [acme.user.pk]
    response = as_admin.get(reverse("accounts:people"), {"q": "ADA"})
    assert [p.pk for p in response.context["page"].object_list] == [acme.admin.pk]
    response = as_admin.get(reverse("accounts:people"), {"phone": "missing"})
    assert response.context["page"].paginator.count == 2


def test_dashboard_counts_who_we_would_reach(as_admin, acme):
    acme.user.notification_phone = "+447911123456"
    acme.user.save()
    unreadable = actions.provision_user(
        acme.organisation,
        {
            "user_name": "lost@acme.test",
            "idp_location": "Atlantis",
            "idp_notification_phone": "12",
        },
    )
    reach = as_admin.get(reverse("accounts:home")).context["reach"]
    assert (reach["active"], reach["reachable"], reach["missing"], reach["problem"], reach["unmatched"]) == (
        3,
        1,
        1,
        1,
        1,
    )
    assert unreadable.phone_problem


def test_administrator_sets_a_persons_location(as_admin, acme):
    leeds = acme.organisation.locations.get(name="Leeds")
    as_admin.post(reverse("accounts:person-location", args=[acme.user.pk]), {"location": leeds.pk})
    acme.user.refresh_from_db()
    assert acme.user.location == leeds


def test_identity_provider_people_cannot_be_deactivated_in_klaxon(as_admin, acme):
    person = actions.provision_user(acme.organisation, {"user_name": "idp@acme.test"})
    as_admin.post(reverse("accounts:person-deactivate", args=[person.pk]))
    person.refresh_from_db()
    assert person.is_active


def test_manual_people_are_deactivated_and_reactivated(as_admin, acme):
    as_admin.post(reverse("accounts:person-deactivate", args=[acme.user.pk]))
    acme.user.refresh_from_db()
    assert not acme.user.is_active
    as_admin.post(reverse("accounts:person-reactivate", args=[acme.user.pk]))
    acme.user.refresh_from_db()
    assert acme.user.is_active


def test_an_invitation_link_lets_a_provisioned_person_set_a_password(as_admin, acme, client, mailoutbox):
    person = actions.provision_user(acme.organisation, {"user_name": "new@acme.test", "email": "new@acme.test"})
    link = as_admin.post(reverse("accounts:person-invite", args=[person.pk])).context["link"]
    assert link in mailoutbox[0].body
    as_admin.logout()
    response = client.get(link, follow=True)
    set_password_url = response.redirect_chain[-1][0]
    client.post(set_password_url, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"})
    assert client.login(organisation="acme", username="new@acme.test", password="a-long-new-passphrase")


def test_creating_a_location_reports_the_people_it_picked_up(as_admin, acme):
    actions.provision_user(acme.organisation, {"user_name": "y@acme.test", "idp_location": "york"})
    response = as_admin.post(reverse("locations:list"), {"name": "York"}, follow=True)
    assert "picked up 1 person from Default" in response.content.decode()


def test_the_default_location_cannot_be_deleted_from_the_portal(as_admin, acme):
    default = acme.organisation.locations.get(is_default=True)
    as_admin.post(reverse("locations:delete", args=[default.pk]))
    assert acme.organisation.locations.filter(is_default=True).exists()


def test_a_duplicate_location_name_is_a_form_error(as_admin, acme):
    response = as_admin.post(reverse("locations:list"), {"name": "london"})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]


def test_generating_a_token_shows_it_once_and_stores_only_its_hash(as_admin, acme):
    response = as_admin.post(reverse("scim_sync:generate-token"))
    token = response.context["new_token"]
    assert token.startswith("klx_") and token in response.content.decode()
    assert "will not be shown again" in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    assert token not in as_admin.get(reverse("scim_sync:synchronisation")).content.decode()
    assert ScimToken.objects.filter(organisation=acme.organisation).count() == 1


def test_sensitive_actions_need_a_recent_sign_in(client, acme):
    client.force_login(acme.admin)
    session = client.session
    session["klaxon_signed_in_at"] = 0
    session.save()
    response = client.post(reverse("scim_sync:rotate-endpoint"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:confirm-password"))
    key = endpoint_for(acme.organisation).key
    client.post(reverse("accounts:confirm-password"), {"password": "correct-horse-battery", "next": "/"})
    client.post(reverse("scim_sync:rotate-endpoint"))
    assert endpoint_for(acme.organisation).key != key


def _rotate(client, grace):
    current = client.get(reverse("scim_sync:synchronisation")).context["rotate_form"]["current"].value()
    return client.post(reverse("scim_sync:rotate-token"), {"grace": grace, "current": current})


def test_rotating_the_token_with_grace_keeps_the_old_one_for_an_hour(as_admin, acme):
    old = generate_token(acme.organisation)
    _rotate(as_admin, "1h")
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, old) is not None
    _rotate(as_admin, "none")
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, old) is None


def test_resending_the_rotation_form_does_not_rotate_twice(as_admin, acme):
    generate_token(acme.organisation)
    current = as_admin.get(reverse("scim_sync:synchronisation")).context["rotate_form"]["current"].value()
    new_token = as_admin.post(reverse("scim_sync:rotate-token"), {"grace": "none", "current": current}).context[
        "new_token"
    ]
    again = as_admin.post(reverse("scim_sync:rotate-token"), {"grace": "none", "current": current})
    assert again.status_code == 302
    assert ScimToken.objects.authenticate(endpoint_for(acme.organisation).key, new_token) is not None


def test_users_edit_their_own_profile(as_user, acme):
    leeds = acme.organisation.locations.get(name="Leeds")
    response = as_user.post(reverse("accounts:profile"), {"location": leeds.pk, "notification_phone": "07911 123456"})
    assert response.status_code == 302
    acme.user.refresh_from_db()
    assert (acme.user.location, acme.user.notification_phone) == (leeds, "+447911123456")
    assert "07911 123456" in as_user.get(reverse("accounts:profile")).content.decode()


def test_an_unreadable_phone_number_is_a_form_error(as_user, acme):
    response = as_user.post(
        reverse("accounts:profile"), {"location": acme.user.location.pk, "notification_phone": "12"}
    )
    assert response.status_code == 200 and response.context["form"].errors["notification_phone"]


def test_failed_sign_ins_are_throttled(client, acme):
    from django.core.cache import cache

    cache.clear()
    for _ in range(5):
        client.post(reverse("accounts:login"), {"organisation": "acme", "username": "jo@acme.test", "password": "x"})
    response = client.post(
        reverse("accounts:login"),
        {"organisation": "acme", "username": "jo@acme.test", "password": "correct-horse-battery"},
    )
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    cache.clear()


def test_staff_without_organisation_use_the_admin_not_the_portal(client, db):
    staff = User.objects.create_superuser("staff", "pw-staff-123")
    client.force_login(staff)
    assert client.get(reverse("accounts:people")).status_code == 403
    assert client.get("/admin/").status_code == 200


def test_location_create_from_the_portal_is_scoped(as_admin, acme, globex):
    as_admin.post(reverse("locations:list"), {"name": "Springfield"})
    assert acme.organisation.locations.filter(name="Springfield").exists()


def test_password_reset_sends_a_link_to_the_person_in_that_organisation_only(client, acme, globex, mailoutbox):
    globex.user.email = acme.user.email
    globex.user.save()
    response = client.post(reverse("accounts:password-reset"), {"organisation": "acme", "email": acme.user.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [acme.user.email]
    link = next(line for line in mailoutbox[0].body.splitlines() if "/reset/" in line).strip()
    set_password_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(
        set_password_url, {"new_password1": "another-long-passphrase", "new_password2": "another-long-passphrase"}
    )
    assert client.login(organisation="acme", username=acme.user.user_name, password="another-long-passphrase")
    globex.user.refresh_from_db()
    assert globex.user.check_password("correct-horse-battery")


def test_password_reset_for_an_unknown_organisation_reveals_nothing(client, acme, mailoutbox):
    response = client.post(reverse("accounts:password-reset"), {"organisation": "nope", "email": acme.user.email})
    assert response.status_code == 302 and mailoutbox == []
