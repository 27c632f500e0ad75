"""Portal views for people, groups, the dashboard and the signed-in person's profile."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_POST

from accounts import actions, display, history, mail, queries, throttle, time_zones
from accounts.access import (
    mark_recent_sign_in,
    member_required,
    recent_sign_in_required,
    safe_next,
    site_admin_required,
)
from accounts.forms import (
    ChangePasswordForm,
    ChoosePasswordForm,
    ConfirmPasswordForm,
    OrganisationPasswordResetForm,
    OrganisationSignInForm,
    PeopleFilterForm,
    PersonLocationForm,
    ProfileForm,
    SearchForm,
)
from accounts.models import Group, GroupMembership, User
from klaxon_site.lib.client_address import client_address
from klaxon_site.lib.paging import CachedTotal, page_of
from locations.models import Location
from mfa import devices as mfa_devices
from mfa import views as mfa_views
from sso import oidc as sso_oidc
from sso import policy as sso_policy

PAGE_SIZE = 50


class SignInView(auth_views.LoginView):
    """Password sign-in. A person who needs a second factor (sso.policy) is not signed in
    yet: mfa.views asks for it (or has them set one up) first."""

    form_class = OrganisationSignInForm
    template_name = "accounts/sign_in.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if sso_policy.second_factor_needed(user):
            return mfa_views.start(self.request, user, self.get_success_url())
        response = super().form_valid(form)
        self.request.session[sso_policy.SIGN_IN_METHOD] = sso_policy.PASSWORD
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OrganisationPasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = "/password-reset/sent/"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """An invitation or reset link: choosing a password through it makes the address it was
    mailed to the person's recovery address when they had none (ChoosePasswordForm)."""

    form_class = ChoosePasswordForm
    template_name = "accounts/set_password.html"
    success_url = "/reset/done/"

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is not None and not sso_policy.password_allowed(sso_policy.provider_of(user.organisation_id), user):
            return None  # single sign-on became required after the link was sent: it sets no password now
        return user


@member_required
def home(request):
    if not request.user.is_site_admin:
        return redirect("accounts:profile")
    reach = queries.reach(request.user.organisation)
    reach["locations"] = list(reach["locations"])
    return render(request, "accounts/dashboard.html", {"reach": reach, "chart": _reach_chart(reach["locations"])})


def _reach_chart(locations) -> list[dict]:
    """The dashboard's bar chart: per location, bars as long as its active and reachable
    people, in percent of the largest location (drawn as SVG rectangles with width
    attributes: the Content-Security-Policy forbids style attributes)."""
    widest = max((location.active for location in locations), default=0) or 1
    return [
        {
            "location": location,
            "active_width": f"{location.active * 100 / widest:.2f}",
            "reachable_width": f"{location.reachable * 100 / widest:.2f}",
        }
        for location in locations
    ]


@member_required
def confirm_password(request):
    """Re-enter the password before a sensitive action (sign-in older than 15 minutes)."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"), "/")
    provider = sso_policy.provider_of(request.user.organisation_id)
    # People who signed in through the identity provider, or may not use a password, confirm there.
    with_provider = sso_policy.offered(provider) and (
        request.session.get(sso_policy.SIGN_IN_METHOD) == sso_policy.SSO
        or not sso_policy.password_allowed(provider, request.user)
        or not request.user.has_usable_password()
    )
    password_possible = request.user.has_usable_password() and sso_policy.password_allowed(provider, request.user)
    form = ConfirmPasswordForm(request.user, request.POST or None)
    if request.method == "POST" and not password_possible:
        return redirect(f"{reverse('accounts:confirm-password')}?{urlencode({'next': next_url})}")
    if request.method == "POST" and form.is_valid():
        mark_recent_sign_in(request)
        messages.success(request, "Thanks. You can carry on.")
        return redirect(next_url)
    if form.used_up:
        # Whoever holds this session failed to prove they are its owner five times: end it, so
        # that a session left open on a shared computer gives no further guesses. The owner
        # signs in again (a fresh sign-in counts as recent).
        logout(request)
        messages.error(request, "Too many wrong passwords: you were signed out. Sign in again to carry on.")
        return redirect("accounts:login")
    response = render(
        request,
        "accounts/confirm_password.html",
        {
            "form": form,
            "next": next_url,
            "provider": provider if with_provider else None,
            "password_possible": password_possible,
        },
    )
    return sso_oidc.allow_forms_to_reach(response, provider) if with_provider else response


def _sync_started_at(organisation):
    endpoint = getattr(organisation, "scim_endpoint", None)
    return endpoint.sync_started_at if endpoint else None


@site_admin_required
def people_list(request):
    organisation = request.user.organisation
    sync_started_at = _sync_started_at(organisation)
    filter_form = PeopleFilterForm(organisation, request.GET)
    params = filter_form.applied()  # an invalid filter is shown as an error and not applied
    found = queries.people(organisation, params, sync_started_at=sync_started_at).only(*PEOPLE_LIST_FIELDS)
    filters = urlencode(params)
    store = CachedTotal(f"people:{organisation.pk}:{filters}")
    wanted = request.GET.get("page")
    total, rows = page_of(found, (_page_number(wanted) - 1) * PAGE_SIZE, PAGE_SIZE, store=store)
    page = Paginator(range(total), PAGE_SIZE).get_page(wanted)  # numbers past the end give the last page
    if page.number != _page_number(wanted):
        total, rows = page_of(found, (page.number - 1) * PAGE_SIZE, PAGE_SIZE, store=store)
    page.object_list = rows
    locations = list(Location.objects.filter(organisation=organisation))
    _mark_waiting(rows, {location.name_key for location in locations}, organisation.phone_region)
    return render(
        request,
        "accounts/people_list.html",
        {
            "page": page,
            "filters": filters,
            "params": params,
            "filter_form": filter_form,
            "locations": locations,
            "groups": Group.objects.filter(organisation=organisation).only("pk", "display_name"),
            "sources": User.Source.choices,
            "sync_started": sync_started_at is not None,
        },
    )


# What a row of the People page shows.
PEOPLE_LIST_FIELDS = (
    "user_name",
    "display_name",
    "given_name",
    "family_name",
    "location__name",
    "location__is_default",
    "idp_location",
    "idp_location_key",
    "notification_phone",
    "phone_problem",
    "is_active",
    "source",
)


def _mark_waiting(people, location_keys: set, region: str) -> None:
    """Set each row's `phone_shown` (accounts.display.phone_number) and `waiting_for`: the
    location the provider sent when it matched none and the person waits on Default for it
    (a "Create location" button offers it); "" otherwise."""
    for person in people:
        person.phone_shown = display.phone_number(person.notification_phone, region)
        unmatched = person.location_id and person.location.is_default and person.idp_location
        person.waiting_for = person.idp_location if unmatched and person.idp_location_key not in location_keys else ""


def _page_number(text) -> int:
    """The page asked for; 1 for anything that is not a page number (MAX_OFFSET in
    klaxon_site/lib/paging.py keeps huge ones from reaching the database)."""
    try:
        return max(int(text), 1)
    except (TypeError, ValueError):  # int() refuses more than 4,300 digits with ValueError too
        return 1


def _person(request, pk) -> User:
    return get_object_or_404(User.objects.select_related("location"), pk=pk, organisation=request.user.organisation)


@site_admin_required
def person_detail(request, pk):
    person = _person(request, pk)
    organisation = request.user.organisation
    return render(
        request,
        "accounts/person_detail.html",
        {
            "person": person,
            "location_form": PersonLocationForm(organisation, initial={"location": person.location}),
            "groups": Group.objects.filter(memberships__user=person).order_by("display_name"),
            "phone": display.phone_number(person.notification_phone, organisation.phone_region),
            "number_source": display.value_source(person.number_source, person),
            "location_source": display.value_source(person.location_source, person),
            "zone": time_zones.zone_of(organisation),
            "history": history.timeline(person),
            "password_allowed": sso_policy.password_allowed(sso_policy.provider_of(organisation), person),
        },
    )


@site_admin_required
@require_POST
def person_set_location(request, pk):
    person = _person(request, pk)
    form = PersonLocationForm(request.user.organisation, request.POST)
    if form.is_valid():
        actions.set_location(person, form.cleaned_data["location"])
        messages.success(request, f"{person.full_name} is now at {person.location.name}.")
    else:
        messages.error(request, "Choose one of your organisation's locations.")
    return redirect("accounts:person", pk=person.pk)


def _manual_only(request, person) -> bool:
    if person.is_idp_managed:
        messages.error(request, "This person is managed by your identity provider: disable them there.")
        return False
    if person == request.user:
        messages.error(request, "You cannot deactivate yourself.")
        return False
    return True


def _change_access(request, pk, change, done: str):
    person = _person(request, pk)
    if _manual_only(request, person):
        change(person)
        messages.success(request, done.format(name=person.full_name))
    return redirect("accounts:person", pk=person.pk)


@site_admin_required
@require_POST
def person_deactivate(request, pk):
    return _change_access(request, pk, actions.deactivate_user, "{name} is deactivated and signed out everywhere.")


@site_admin_required
@require_POST
def person_reactivate(request, pk):
    return _change_access(request, pk, actions.reactivate_user, "{name} is active again.")


@site_admin_required
@require_POST
@recent_sign_in_required(back_to="accounts:person")
def person_invite(request, pk):
    """An invitation link lets a person without a password choose one.

    Only for active people who have no password: anyone else resets their password from the
    sign-in page, and the reset goes to their recovery address only. The link is mailed to
    the person's e-mail (the provider's) and shown to the administrator to pass on.
    """
    person = _person(request, pk)
    if not person.is_active:
        messages.error(request, "Reactivate this person before inviting them.")
        return redirect("accounts:person", pk=person.pk)
    if person.has_usable_password():
        messages.error(request, f"{person.full_name} already has a password; they can reset it from the sign-in page.")
        return redirect("accounts:person", pk=person.pk)
    provider = sso_policy.provider_of(person.organisation_id)
    if not sso_policy.password_allowed(provider, person):
        assert provider is not None
        messages.error(
            request,
            f"Your organisation requires single sign-on: {person.full_name} signs in with {provider.display_name} "
            "and needs no invitation.",
        )
        return redirect("accounts:person", pk=person.pk)
    link = request.build_absolute_uri(
        reverse(
            "accounts:password-reset-confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(person.pk)),
                "token": default_token_generator.make_token(person),
            },
        )
    )
    mailed = bool(person.email) and throttle.mail_allowed(person.email, client_address(request))
    if mailed:
        mail.off_the_request(
            send_mail,
            f"You're invited to Klaxon ({person.organisation.name})",
            f"Hello {person.get_short_name()},\n\nSet your Klaxon password here:\n{link}\n\n"
            f"Organisation: {person.organisation.slug}\nUsername: {person.user_name}\n",
            None,
            [person.email],
        )
    return render(request, "accounts/invitation.html", {"person": person, "link": link, "mailed": mailed})


@site_admin_required
def group_list(request):
    found = queries.groups(request.user.organisation).order_by("display_name")
    search = SearchForm(request.GET)
    text = search.cleaned_data["q"] if search.is_valid() else ""
    if text:
        found = found.filter(display_name__icontains=text)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/group_list.html", {"page": page, "q": text, "search": search})


@site_admin_required
def group_detail(request, pk):
    group = get_object_or_404(queries.groups(request.user.organisation), pk=pk)
    members = GroupMembership.objects.filter(group=group).select_related("user__location").order_by("user__user_name")
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/group_detail.html", {"group": group, "page": page})


def _profile_form(person, data=None) -> ProfileForm:
    # The number as the person would type it: a number from abroad keeps its country code,
    # so that saving the form unchanged reads it back as the same number.
    initial = {
        "location": person.location,
        "notification_phone": display.phone_number(person.notification_phone, person.organisation.phone_region),
    }
    return ProfileForm(person, data, initial=initial)


def _profile_page(request, *, form=None, password_form=None):
    person = request.user
    return render(
        request,
        "accounts/profile.html",
        {
            "person": person,
            "form": form or _profile_form(person),
            "password_form": password_form or ChangePasswordForm(person),
            "second_factor": mfa_devices.has_device(person),
            "second_factor_required": sso_policy.second_factor_required(person),
            "recovery_codes_left": mfa_devices.unused_recovery_codes(person),
        },
    )


@member_required
def profile(request):
    person = request.user
    form = _profile_form(person, request.POST or None)
    if request.method == "POST" and form.is_valid():
        actions.update_own_profile(
            person, location=form.cleaned_data["location"], notification_phone=form.cleaned_data["notification_phone"]
        )
        messages.success(request, "Your profile is saved.")
        return redirect("accounts:profile")
    return _profile_page(request, form=form)


@member_required
@require_POST
def profile_password(request):
    """Change one's own password: the current one first (wrong ones count as at
    /confirm-password/: the fifth in 15 minutes ends the session); this session stays signed in."""
    form = ChangePasswordForm(request.user, request.POST)
    if form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        messages.success(request, "Your password is changed. Your other sessions were signed out.")
        return redirect("accounts:profile")
    if form.used_up:
        logout(request)
        messages.error(request, "Too many wrong passwords: you were signed out. Sign in again to carry on.")
        return redirect("accounts:login")
    return _profile_page(request, password_form=form)
