"""Signing in through the organisation's identity provider: the organisation's sign-in page,
the redirect to the provider, and the callback that decides who (if anyone) gets a session."""

import logging
import time

from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import mark_recent_sign_in, member_required, safe_next
from accounts.backends import organisation_by_slug
from accounts.forms import OrganisationSignInForm
from accounts.models import Organisation
from klaxon_site.lib.client_address import client_address
from sso import actions, matching, oidc, policy
from sso.models import SignInEvent

logger = logging.getLogger(__name__)

BACKEND = "accounts.backends.OrganisationScopedBackend"
# A confirmation through the provider must come from an authentication this recent (seconds).
CONFIRM_MAX_AGE = 5 * 60

REFUSALS = {
    "unknown": (
        SignInEvent.Outcome.UNKNOWN_PERSON,
        "You are not in Klaxon",
        "Your identity provider signed you in as {who}, but nobody in {organisation} has that e-mail address or "
        "username. Klaxon only lets in people your organisation's identity provider has provisioned: ask your "
        "administrator to assign you to Klaxon there.",
    ),
    "deactivated": (
        SignInEvent.Outcome.DEACTIVATED,
        "Your Klaxon account is deactivated",
        "Your identity provider signed you in as {who}, but that person is deactivated in {organisation}'s Klaxon. "
        "Ask your administrator to reactivate you.",
    ),
    "ambiguous": (
        SignInEvent.Outcome.REFUSED,
        "More than one person matches",
        "Your identity provider signed you in as {who}, which matches several people in {organisation}'s Klaxon. "
        "Ask your administrator to give each a distinct e-mail address or username.",
    ),
    "administrator_unlinked": (
        SignInEvent.Outcome.REFUSED,
        "Connect your account first",
        "Your identity provider signed you in as {who}, which matches a site administrator of {organisation}'s "
        "Klaxon. A site administrator connects their identity provider account once, themselves: sign in with "
        "your password, then press Test sign-in on Configuration › Single sign-on.",
    ),
    "linked_elsewhere": (
        SignInEvent.Outcome.REFUSED,
        "This Klaxon account belongs to someone else",
        "Your identity provider signed you in as {who}, but the matching Klaxon person signs in as another account "
        "of your identity provider. Ask your administrator.",
    ),
}


def _refused(request, title: str, text: str, *, status: int = 403, organisation=None):
    return render(
        request,
        "sso/refused.html",
        {"title": title, "text": text, "organisation": organisation},
        status=status,
    )


@require_POST
def start(request):
    """The sign-in page's "Continue with single sign-on": to the organisation's own page."""
    organisation = organisation_by_slug(request.POST.get("organisation", "").strip()[:64])
    if organisation is not None and policy.offered(policy.provider_of(organisation)):
        url = reverse("sso:organisation", args=[organisation.slug])
        next_url = safe_next(request, request.POST.get("next"), "")
        return redirect(f"{url}?next={next_url}" if next_url else url)
    messages.error(request, "Single sign-on is not set up for that organisation: sign in with your password.")
    return redirect("accounts:login")


@never_cache
def organisation_sign_in(request, slug):
    """/sign-in/sso/<slug>/: "Continue with <provider>", and the password form unless the
    organisation requires single sign-on."""
    organisation = get_object_or_404(Organisation, slug=slug)
    provider = policy.provider_of(organisation)
    if not policy.offered(provider):
        return redirect("accounts:login")
    next_url = safe_next(request, request.GET.get("next"), "")
    form = OrganisationSignInForm(request, initial={"organisation": organisation.slug})
    response = render(
        request,
        "sso/sign_in.html",
        {"organisation": organisation, "provider": provider, "form": form, "next": next_url},
    )
    return oidc.allow_forms_to_reach(response, provider)


@require_POST
def begin(request, slug):
    organisation = get_object_or_404(Organisation, slug=slug)
    provider = policy.provider_of(organisation)
    if not policy.offered(provider):
        return redirect("accounts:login")
    try:
        url = oidc.begin(
            request, provider, purpose="sign-in", next_url=safe_next(request, request.POST.get("next"), "")
        )
    except oidc.OidcError as error:
        return _refused(request, "Klaxon cannot reach your identity provider", error.message, status=502)
    return redirect(url)


@member_required
@require_POST
def confirm(request):
    """Re-authentication through the provider before a sensitive action (the provider is asked
    to authenticate the person again, not to reuse its session)."""
    provider = policy.provider_of(request.user.organisation_id)
    next_url = safe_next(request, request.POST.get("next"), "/")
    if not policy.offered(provider):
        messages.error(request, "Single sign-on is not available: confirm with your password.")
        return redirect(f"{reverse('accounts:confirm-password')}?next={next_url}")
    try:
        url = oidc.begin(request, provider, purpose="confirm", next_url=next_url, force_login=True)
    except oidc.OidcError as error:
        return _refused(request, "Klaxon cannot reach your identity provider", error.message, status=502)
    return redirect(url)


@never_cache
def callback(request):
    """Where the provider sends the browser back (the redirect URI)."""
    pending = oidc.take_pending(request, request.GET.get("state"))
    if pending is None:
        # No attempt of this browser waits for this state: forged, replayed, expired or opened
        # in another browser. Nothing is exchanged; there is no organisation to log it under.
        logger.warning("Single sign-on callback with an unknown state refused")
        return _refused(
            request,
            "This sign-in cannot be completed",
            "It was not started in this browser, was already used, or took longer than 10 minutes. "
            "Start again from the sign-in page.",
            status=400,
        )
    provider = policy.provider_of(pending.organisation_id)
    if provider is None:
        return _refused(request, "Single sign-on is not set up", "Start again from the sign-in page.", status=400)
    organisation = provider.organisation
    address = client_address(request)
    try:
        identity = oidc.complete(request, provider, pending)
    except oidc.OidcError as error:
        actions.record_event(
            organisation.pk, SignInEvent.Outcome.REFUSED, detail=f"{error.reason}: {error.message}", address=address
        )
        return _refused(request, "Sign-in refused", error.message, organisation=organisation)
    if pending.purpose == "test":
        return _tested(request, provider, pending, identity, address)
    claimant = request.user if request.user.is_authenticated and request.user.pk == pending.user_id else None
    match = matching.find(organisation, identity, claimant=claimant if pending.purpose == "confirm" else None)
    if pending.purpose == "confirm":
        return _confirmed(request, provider, pending, identity, match, address)
    if not policy.offered(provider):
        return _refused(request, "Single sign-on is not set up", "Start again from the sign-in page.", status=400)
    if not match.ok:
        outcome, title, text = REFUSALS[match.problem]
        actions.record_event(
            organisation.pk, outcome, user=match.person, identity=identity, detail=match.problem, address=address
        )
        return _refused(
            request, title, text.format(who=identity.shown, organisation=organisation.name), organisation=organisation
        )
    person = match.person
    assert person is not None
    matching.link(person, identity)
    login(request, person, backend=BACKEND)
    request.session[policy.SIGN_IN_METHOD] = policy.SSO
    actions.record_event(
        organisation.pk, SignInEvent.Outcome.SIGNED_IN, user=person, identity=identity, address=address
    )
    return redirect(pending.next_url or "accounts:home")


def _tested(request, provider, pending, identity, address):
    """An administrator's test sign-in: the settings work; who would it let in?"""
    user = request.user
    if not (user.is_authenticated and user.pk == pending.user_id and user.organisation_id == provider.organisation_id):
        return _refused(request, "Test sign-in refused", "Start the test from the Single sign-on page.", status=400)
    match = matching.find(provider.organisation, identity, claimant=user)
    if match.ok:
        actions.record_test(provider, by=user)
        if match.person == user:
            matching.link(user, identity)
        actions.record_event(
            provider.organisation_id, SignInEvent.Outcome.TESTED, user=match.person, identity=identity, address=address
        )
    else:
        outcome = REFUSALS[match.problem][0]
        actions.record_event(
            provider.organisation_id, outcome, user=match.person, identity=identity, detail=f"test: {match.problem}"
        )
    claims = {name: identity.claims.get(name) for name in ("iss", "sub", "email", "preferred_username", "name")}
    return render(
        request,
        "sso/test_result.html",
        {"provider": provider, "identity": identity, "match": match, "claims": claims, "problem": match.problem},
    )


def _confirmed(request, provider, pending, identity, match, address):
    user = request.user
    if not (user.is_authenticated and user.pk == pending.user_id):
        return _refused(request, "Confirmation refused", "Sign in again.", status=400)
    recent = identity.auth_time is None or time.time() - identity.auth_time <= CONFIRM_MAX_AGE
    if match.person != user or not match.ok or not recent:
        actions.record_event(
            provider.organisation_id, SignInEvent.Outcome.REFUSED, user=user, identity=identity, detail="confirm"
        )
        return _refused(
            request,
            "That was not you",
            f"Your identity provider signed in {identity.shown}, not {user.full_name}: nothing was confirmed.",
        )
    mark_recent_sign_in(request)
    actions.record_event(
        provider.organisation_id, SignInEvent.Outcome.CONFIRMED, user=user, identity=identity, address=address
    )
    messages.success(request, "Thanks. You can carry on.")
    return redirect(pending.next_url or "/")
