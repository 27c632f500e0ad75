"""An administrator's daily work in the portal: the People list and person page, deactivated
people, sign-in in plain words, one's own password, the dashboard's chart, and small things
(favicon, spelling, ways back to sign in)."""

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from accounts import actions
from accounts.access import SIGNED_IN_AT
from accounts.models import User
from locations.models import Location
from tests.conftest import PASSWORD

PEOPLE = reverse("accounts:people")
REFUSED = "That organisation, username and password do not match an active account."


def signed_in(client, person):
    client.force_login(person)
    session = client.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    return client


@pytest.fixture
def as_admin(client, acme):
    return signed_in(client, acme.admin)


def text_of(response) -> str:
    """The page's visible text, roughly: tags removed, white space collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def provision(organisation, user_name, **values):
    return actions.provision_user(organisation, {"user_name": user_name, **values})


# People list ------------------------------------------------------------------------------


@pytest.fixture
def waiting(acme):
    """Sent a work city that matches no location: on Default, waiting for Bristol."""
    return provision(acme.organisation, "kim@acme.test", given_name="Kim", idp_address={"locality": "Bristol"})


def test_a_person_waiting_on_default_shows_what_was_sent_and_a_button_to_create_it(as_admin, waiting):
    page = text_of(as_admin.get(PEOPLE))

    assert "Default — sent: Bristol" in page
    assert "Create location Bristol" in page


def test_the_button_creates_the_location_moves_everyone_waiting_and_goes_back(as_admin, acme, waiting):
    other = provision(acme.organisation, "lee@acme.test", idp_location="BRISTOL")
    back = f"{PEOPLE}?unmatched=1"

    response = as_admin.post(reverse("locations:create-sent"), {"name": "Bristol", "next": back})

    assert response.status_code == 302 and response.url == back
    bristol = Location.objects.get(organisation=acme.organisation, name="Bristol")
    assert set(bristol.users.values_list("user_name", flat=True)) == {"kim@acme.test", "lee@acme.test"}
    page = as_admin.get(back, follow=True)
    assert "Location Bristol created. It picked up 2 people from Default." in text_of(page)
    assert "Create location Bristol" not in text_of(page)
    other.refresh_from_db()
    assert other.location == bristol


def test_the_create_button_needs_a_post_a_csrf_token_and_a_site_administrator(acme, waiting):
    url = reverse("locations:create-sent")
    strict = signed_in(Client(enforce_csrf_checks=True), acme.admin)
    assert strict.post(url, {"name": "Bristol"}).status_code == 403
    assert signed_in(Client(), acme.admin).get(url).status_code == 405
    assert signed_in(Client(), acme.user).post(url, {"name": "Bristol"}).status_code == 403
    assert not Location.objects.filter(name="Bristol").exists()


def test_the_create_button_goes_back_only_to_this_site(as_admin, waiting):
    response = as_admin.post(reverse("locations:create-sent"), {"name": "Bristol", "next": "https://evil.example/"})

    assert response.url == PEOPLE


def test_a_name_that_cannot_be_a_location_is_a_message_not_an_error_page(as_admin, acme):
    response = as_admin.post(reverse("locations:create-sent"), {"name": "x" * 230}, follow=True)

    assert response.status_code == 200
    assert "That name cannot be a location" in text_of(response)


def test_no_create_button_when_the_location_exists_and_default_was_chosen_in_klaxon(as_admin, acme):
    person = provision(acme.organisation, "max@acme.test", idp_location="Leeds")
    actions.set_location(person, Location.objects.get(organisation=acme.organisation, is_default=True))

    page = text_of(as_admin.get(PEOPLE))

    assert "Default — sent: Leeds" in page
    assert "Create location Leeds" not in page


@pytest.fixture
def numbers(acme):
    provision(acme.organisation, "uk@acme.test", idp_notification_phone="07400 123456")
    provision(acme.organisation, "us@acme.test", idp_notification_phone="+1 415 555 0100")


def test_numbers_from_abroad_show_in_international_format_and_local_ones_in_national(as_admin, numbers):
    page = text_of(as_admin.get(PEOPLE))

    assert "07400 123456" in page
    assert "+1 415-555-0100" in page
    assert "(415) 555-0100" not in page


def test_the_person_page_shows_a_number_from_abroad_internationally(as_admin, acme, numbers):
    us = User.objects.get(user_name="us@acme.test")

    page = text_of(as_admin.get(reverse("accounts:person", args=[us.pk])))

    assert "+1 415-555-0100" in page


def test_the_profile_form_keeps_a_number_from_abroad_when_saved_unchanged(client, acme):
    actions.update_own_profile(acme.user, location=acme.user.location, notification_phone="+14155550100")
    signed_in(client, acme.user)

    form = client.get(reverse("accounts:profile")).context["form"]
    assert form.initial["notification_phone"] == "+1 415-555-0100"
    response = client.post(
        reverse("accounts:profile"),
        {"location": acme.user.location.pk, "notification_phone": form.initial["notification_phone"]},
    )

    assert response.status_code == 302
    acme.user.refresh_from_db()
    assert acme.user.notification_phone == "+14155550100"


@pytest.fixture
def sourced(acme):
    """People whose number and location came from different places."""
    mobile = provision(
        acme.organisation,
        "mobile@acme.test",
        idp_phones=[["mobile", "07400 100001"]],
        idp_address={"locality": "Leeds"},
    )
    klaxon = provision(
        acme.organisation, "klaxon@acme.test", idp_notification_phone="07400 100002", idp_location="London"
    )
    chosen = provision(acme.organisation, "chosen@acme.test", idp_location="London")
    actions.set_location(chosen, Location.objects.get(organisation=acme.organisation, name="Leeds"))
    actions.update_own_profile(acme.user, location=acme.user.location, notification_phone="+447400100003")
    return {"mobile": mobile, "klaxon": klaxon, "chosen": chosen}


def listed(client, **params) -> list[str]:
    response = client.get(PEOPLE, params)
    assert not response.context["filter_form"].errors, response.context["filter_form"].errors
    return sorted(person.user_name for person in response.context["page"].object_list)


def test_people_are_filtered_by_where_their_number_and_location_came_from(as_admin, sourced):
    assert listed(as_admin, number_source="phone:mobile") == ["mobile@acme.test"]
    assert listed(as_admin, number_source="klaxon") == ["klaxon@acme.test"]
    assert listed(as_admin, number_source="person") == ["jo@acme.test"]
    assert listed(as_admin, location_source="address:locality") == ["mobile@acme.test"]
    assert listed(as_admin, location_source="administrator") == ["chosen@acme.test"]
    assert listed(as_admin, number_source="none", source="identity_provider") == ["chosen@acme.test"]


def test_the_source_filters_offer_the_words_the_person_page_uses(as_admin, sourced):
    page = as_admin.get(PEOPLE).content.decode()

    for label in (
        "from the mobile number",
        "from the work city",
        "set by an administrator",
        "set by the person",
        "from the Klaxon attribute",
        "nothing sent",
    ):
        assert f">{label}</option>" in page


def test_an_unknown_source_is_a_form_error_and_not_applied(as_admin, sourced):
    response = as_admin.get(PEOPLE, {"number_source": "phone:pager"})

    assert response.status_code == 200
    assert "number_source" in response.context["filter_form"].errors
    assert response.context["page"].paginator.count == 5


@pytest.mark.parametrize(
    ("who", "number", "location"),
    [
        ("mobile", "From the mobile number", "From the work city"),
        ("klaxon", "From the Klaxon attribute", "From the Klaxon attribute"),
        ("chosen", "Nothing sent", "Set by an administrator"),
    ],
)
def test_the_person_page_says_where_the_number_and_the_location_came_from(as_admin, sourced, who, number, location):
    page = text_of(as_admin.get(reverse("accounts:person", args=[sourced[who].pk])))

    assert re.search(rf"Location .*? {location} Notification number", page)
    assert re.search(rf"Notification number .*? {number} Groups", page)


def test_the_person_page_says_a_number_was_set_by_the_person(as_admin, acme, sourced):
    page = text_of(as_admin.get(reverse("accounts:person", args=[acme.user.pk])))

    assert re.search(r"Notification number .*? Set by the person Groups", page)


# Deactivated people ------------------------------------------------------------------------


def test_a_person_the_provider_deactivated_says_so_and_offers_no_invitation(as_admin, acme):
    acme.organisation.time_zone = "Europe/London"
    acme.organisation.save()
    person = provision(acme.organisation, "gone@acme.test")
    actions.provision_user(acme.organisation, {"user_name": "gone@acme.test", "is_active": False}, user=person)
    User.objects.filter(pk=person.pk).update(deactivated_at=datetime(2026, 7, 1, 8, 30, tzinfo=UTC))

    page = text_of(as_admin.get(reverse("accounts:person", args=[person.pk])))

    assert "Deactivated by your identity provider on 1 Jul 2026 at 09:30 BST." in page
    assert "To deactivate this person" not in page
    assert "invitation" not in page.lower()
    assert "Reactivate" not in page.replace("To reactivate", "")


def test_a_person_deactivated_in_klaxon_says_so_and_can_be_reactivated_but_not_invited(as_admin, acme):
    actions.deactivate_user(acme.user)

    response = as_admin.get(reverse("accounts:person", args=[acme.user.pk]))
    page = text_of(response)

    assert "Deactivated in Klaxon by a site administrator on " in page
    assert "UTC" in page
    assert "invitation" not in page.lower()
    assert "To deactivate this person" not in page
    assert reverse("accounts:person-reactivate", args=[acme.user.pk]) in response.content.decode()


def test_an_active_provider_person_is_still_told_how_to_deactivate_them(as_admin, acme):
    person = provision(acme.organisation, "here@acme.test")

    page = text_of(as_admin.get(reverse("accounts:person", args=[person.pk])))

    assert "To deactivate this person, disable or unassign them in your identity provider." in page
    assert "Create an invitation link" in page


# Sign-in in plain words --------------------------------------------------------------------


def sign_in(client, organisation, login="jo@acme.test", password=PASSWORD):
    return client.post(
        reverse("accounts:login"), {"organisation": organisation, "username": login, "password": password}
    )


@pytest.mark.parametrize("organisation", ["ACME", "Acme", " acme "])
def test_the_organisation_short_name_is_matched_in_any_case(client, acme, organisation):
    assert sign_in(client, organisation).status_code == 302
    assert client.session[SESSION_KEY] == str(acme.user.pk)


@pytest.mark.parametrize("organisation", ["Acme Ltd", "acme.test", "acmé", "no-such-organisation", "globex"])
def test_a_wrong_organisation_gets_the_one_plain_answer_and_no_slug_jargon(client, acme, globex, organisation):
    response = sign_in(client, organisation)

    assert response.status_code == 200
    form = response.context["form"]
    assert form.non_field_errors() == [REFUSED]
    assert not form.errors.get("organisation")
    assert "slug" not in response.content.decode().lower()


def test_a_wrong_organisation_and_a_wrong_password_get_the_same_answer(client, acme):
    wrong_organisation = sign_in(Client(), "acme-typo")
    wrong_password = sign_in(Client(), "acme", password="not-it")

    assert wrong_organisation.context["form"].errors == wrong_password.context["form"].errors


def test_empty_fields_are_asked_for_in_plain_words(client, db):
    errors = client.post(reverse("accounts:login"), {}).context["form"].errors

    assert errors == {
        "organisation": ["Enter your organisation's short name."],
        "username": ["Enter your e-mail address or username."],
        "password": ["Enter your password."],
    }


def test_a_mistyped_organisation_never_counts_against_the_persons_lock_out(acme):
    typo = Client()
    for _ in range(12):  # more than the 5 an account may fail from one address
        assert sign_in(typo, "Acme Ltd").context["form"].non_field_errors() == [REFUSED]

    assert sign_in(typo, "acme").status_code == 302


def test_the_password_reset_form_takes_any_organisation_text_without_slug_jargon(client, acme, mailoutbox):
    response = client.post(reverse("accounts:password-reset"), {"organisation": "Acme Ltd", "email": "jo@acme.test"})

    assert response.status_code == 302
    assert mailoutbox == []


# My profile --------------------------------------------------------------------------------


def change_password(client, current, new=None, again=None):
    new = new or "a-brand-new-passphrase"
    return client.post(
        reverse("accounts:profile-password"),
        {"old_password": current, "new_password1": new, "new_password2": again or new},
    )


def test_a_person_changes_their_password_and_stays_signed_in(client, acme):
    other_session = Client()
    other_session.force_login(acme.user)
    signed_in(client, acme.user)

    response = change_password(client, PASSWORD)

    assert response.status_code == 302 and response.url == reverse("accounts:profile")
    acme.user.refresh_from_db()
    assert acme.user.check_password("a-brand-new-passphrase")
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert other_session.get(reverse("accounts:profile")).status_code == 302  # signed out there


def test_the_current_password_is_required(client, acme):
    signed_in(client, acme.user)

    response = change_password(client, "not-my-password")

    assert response.status_code == 200
    assert response.context["password_form"].errors["old_password"] == ["That is not your current password."]
    acme.user.refresh_from_db()
    assert acme.user.check_password(PASSWORD)


def test_a_weak_or_mistyped_new_password_is_refused(client, acme):
    signed_in(client, acme.user)

    assert change_password(client, PASSWORD, "password").context["password_form"].errors["new_password2"]
    assert change_password(client, PASSWORD, "a-brand-new-passphrase", "another").context["password_form"].errors
    acme.user.refresh_from_db()
    assert acme.user.check_password(PASSWORD)


def test_five_wrong_current_passwords_end_the_session(client, acme):
    signed_in(client, acme.user)
    for _ in range(4):
        assert change_password(client, "guess").status_code == 200

    response = change_password(client, "guess")

    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert SESSION_KEY not in client.session


def test_changing_the_password_needs_a_post(client, acme):
    signed_in(client, acme.user)

    assert client.get(reverse("accounts:profile-password")).status_code == 405


def test_the_profile_page_does_not_repeat_the_name_or_the_organisation(client, acme):
    signed_in(client, acme.user)

    page = text_of(client.get(reverse("accounts:profile")))

    assert page.count("Jo User") == 1
    assert page.count("Acme Ltd") == 1
    assert page.count("jo@acme.test") == 1


def test_the_header_names_a_nameless_person_once(client, acme):
    person = actions.create_manual_user(acme.organisation, "pat@acme.test", password=PASSWORD)
    signed_in(client, person)

    header = re.search(r'<header class="topbar">(.*?)</header>', client.get("/profile/").content.decode(), re.S)

    assert text_of_html(header.group(1)).count("pat@acme.test") == 1


def text_of_html(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# Dashboard ---------------------------------------------------------------------------------


@pytest.fixture
def provisioned(acme):
    london = {"idp_location": "London"}
    provision(acme.organisation, "a@acme.test", idp_notification_phone="07400 200001", **london)
    provision(acme.organisation, "b@acme.test", idp_notification_phone="07400 200002", **london)
    provision(acme.organisation, "c@acme.test", **london)
    provision(acme.organisation, "d@acme.test", idp_location="Leeds", idp_notification_phone="07400 200004")
    leaver = provision(acme.organisation, "e@acme.test", is_active=True)
    actions.provision_user(acme.organisation, {"user_name": "e@acme.test", "is_active": False}, user=leaver)


def test_the_dashboard_draws_reachability_per_location_as_bars(as_admin, acme, provisioned):
    response = as_admin.get(reverse("accounts:home"))
    html = response.content.decode()

    bars = {bar["location"].name: bar for bar in response.context["chart"]}
    assert (bars["London"]["active_width"], bars["London"]["reachable_width"]) == ("100.00", "66.67")
    assert (bars["Leeds"]["active_width"], bars["Leeds"]["reachable_width"]) == ("33.33", "33.33")
    assert '<rect class="reachable" x="0" y="0" height="10" width="66.67"/>' in html
    assert "2 of 3" in text_of(response)
    assert " style=" not in html


def test_the_dashboards_counts_agree_with_the_synchronisation_page(as_admin, acme, provisioned):
    reach = as_admin.get(reverse("accounts:home")).context["reach"]
    synchronisation = as_admin.get(reverse("scim_sync:synchronisation")).context

    assert reach["provisioned"] == synchronisation["status"]["users"] == 5
    assert reach["active"] == sum(row["people"] for row in synchronisation["sources"]["number_source"]) == 6
    assert (reach["provisioned_active"], reach["provisioned_inactive"], reach["manual_active"]) == (4, 1, 2)


def test_the_dashboard_says_what_each_count_counts(as_admin, acme, provisioned):
    page = text_of(as_admin.get(reverse("accounts:home")))

    assert "Everyone Klaxon would alert: 4 from your identity provider, 2 added in Klaxon." in page
    assert (
        "Your identity provider has provisioned 5 people in all, the figure on the Synchronisation page: "
        "4 active and 1 deactivated." in page
    )
    assert "Active people with no number at all." in page


# Small things ------------------------------------------------------------------------------


def test_the_favicon_is_linked_and_favicon_ico_does_not_404(client, db):
    page = client.get(reverse("accounts:login")).content.decode()
    assert re.search(r'<link rel="icon" href="/static/img/favicon\.svg"', page)

    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url == "/static/img/favicon.svg"
    assert "<svg" in Path(finders.find("img/favicon.svg")).read_text()  # served by WhiteNoise


def test_the_password_reset_pages_lead_back_to_sign_in(client, db):
    for url in (
        reverse("accounts:password-reset"),
        reverse("accounts:password-reset-sent"),
        reverse("accounts:password-reset-confirm", args=["MQ", "no-such-token"]),
    ):
        response = client.get(url, follow=True)
        assert f'href="{reverse("accounts:login")}"' in response.content.decode(), url
        assert "Back to sign in" in text_of(response), url


def spellings(text: str) -> set[str]:
    """Klaxon's spellings of e-mail; Entra's own field label "Notification Email" is quoted as Entra shows it."""
    return set(re.findall(r"\b[Ee]-?[Mm]ail\b", text.replace("Notification Email", "")))


def test_e_mail_is_spelled_one_way_on_every_page(client, acme):
    signed_out = [
        reverse("accounts:login"),
        reverse("accounts:password-reset"),
        reverse("accounts:password-reset-sent"),
    ]
    admin = signed_in(Client(), acme.admin)
    signed_in_pages = [
        reverse("accounts:home"),
        PEOPLE,
        reverse("accounts:person", args=[acme.user.pk]),
        reverse("accounts:profile"),
        reverse("scim_sync:synchronisation"),
        reverse("locations:list"),
    ]
    found = set()
    for url in signed_out:
        found |= spellings(text_of(client.get(url)))
    for url in signed_in_pages:
        found |= spellings(text_of(admin.get(url)))

    assert found <= {"E-mail", "e-mail"}, found
