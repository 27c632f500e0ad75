"""The second step of a password sign-in, and setting up a second factor on My profile.

After the right password, a person who needs a second factor (sso.policy.second_factor_needed)
is not signed in yet: the session remembers who passed the password, for 5 minutes, and the
next page asks for a code from their authenticator or a recovery code, or, when they have
none yet, has them set one up first. Only then does Django's login() open the session.
"""

import time

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import member_required, recent_sign_in_required
from accounts.models import User
from mfa import devices

PENDING = "klaxon_mfa_pending"
NEW_SECRET = "klaxon_mfa_new_secret"
PENDING_SECONDS = 5 * 60
BACKEND = "accounts.backends.OrganisationScopedBackend"
SIGN_IN_METHOD = "klaxon_sign_in_method"  # sso.policy.SIGN_IN_METHOD


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "autocapitalize": "none"}
        ),
        error_messages={"required": "Enter the code."},
    )


class SetUpForm(forms.Form):
    code = forms.CharField(
        label="Code from your app",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={"required": "Enter the 6-digit code your app shows."},
    )


def start(request, user: User, next_url: str):
    """Called by the sign-in view after the right password: remember who, ask for the factor."""
    request.session[PENDING] = {
        "user": user.pk,
        "at": time.time(),
        "next": next_url,
        "hash": user.get_session_auth_hash(),
    }
    return redirect("mfa:verify" if devices.has_device(user) else "mfa:set-up-at-sign-in")


def _pending_user(request) -> tuple[User | None, dict]:
    pending = request.session.get(PENDING) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, {}
    user = User.objects.filter(pk=pending["user"], is_active=True).select_related("organisation").first()
    # A password changed meanwhile voids the step (the hash covers the password).
    if user is None or user.get_session_auth_hash() != pending.get("hash"):
        return None, {}
    return user, pending


def _finish(request, user: User, pending: dict):
    request.session.pop(PENDING, None)
    request.session.pop(NEW_SECRET, None)
    login(request, user, backend=BACKEND)
    request.session[SIGN_IN_METHOD] = "password"
    return pending.get("next") or reverse("accounts:home")


def _start_again(request, text: str):
    request.session.pop(PENDING, None)
    messages.error(request, text)
    return redirect("accounts:login")


@never_cache
def verify(request):
    user, pending = _pending_user(request)
    if user is None:
        return _start_again(request, "Sign in again: the second step waits 5 minutes at most.")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        how = devices.verify(user, form.cleaned_data["code"])
        if how is not None:
            next_url = _finish(request, user, pending)
            if how == "recovery":
                left = devices.unused_recovery_codes(user)
                messages.warning(
                    request,
                    f"You used a recovery code; {left} left. Make new ones on My profile if you are running out.",
                )
            return redirect(next_url)
        if devices.blocked(user):
            return _start_again(request, "Too many wrong codes. Wait 15 minutes, then sign in again.")
        form.add_error("code", "That code is not right, or was already used.")
    return render(request, "mfa/verify.html", {"form": form, "person": user})


def _set_up_context(request, user: User, form) -> dict:
    secret = request.session.get(NEW_SECRET)
    if not secret:
        secret = request.session[NEW_SECRET] = devices.new_secret()
    uri = devices.provisioning_uri(user, secret)
    return {"form": form, "secret": secret, "qr_code": devices.qr_code(uri), "person": user}


@never_cache
def set_up_at_sign_in(request):
    """A site administrator without a second factor sets one up before getting in."""
    user, pending = _pending_user(request)
    if user is None:
        return _start_again(request, "Sign in again: the second step waits 5 minutes at most.")
    if devices.has_device(user):
        # The password alone must not replace a factor the person already has.
        return redirect("mfa:verify")
    form = SetUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = devices.enrol(user, request.session.get(NEW_SECRET, ""), form.cleaned_data["code"])
        if codes is not None:
            next_url = _finish(request, user, pending)
            return render(request, "mfa/recovery_codes.html", {"codes": codes, "next": next_url})
        form.add_error("code", "That code does not match: check the time on your phone and try the next code.")
    context = _set_up_context(request, user, form)
    context["at_sign_in"] = True
    return render(request, "mfa/set_up.html", context)


@never_cache
@member_required
@recent_sign_in_required(back_to="mfa:set-up")
def set_up(request):
    """My profile › Two-factor authentication: set up (or replace) the authenticator. After a
    recent sign-in, whose confirmation asks for the current factor when there is one: an
    open session alone must not swap the authenticator and void the recovery codes."""
    user = request.user
    form = SetUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = devices.enrol(user, request.session.get(NEW_SECRET, ""), form.cleaned_data["code"])
        if codes is not None:
            request.session.pop(NEW_SECRET, None)
            messages.success(request, "Two-factor authentication is on.")
            return render(request, "mfa/recovery_codes.html", {"codes": codes, "next": reverse("accounts:profile")})
        form.add_error("code", "That code does not match: check the time on your phone and try the next code.")
    return render(request, "mfa/set_up.html", _set_up_context(request, user, form))


@member_required
@require_POST
@recent_sign_in_required(back_to="accounts:profile")
def new_recovery_codes(request):
    if not devices.has_device(request.user):
        return redirect("accounts:profile")
    codes = devices.regenerate_recovery_codes(request.user)
    return render(request, "mfa/recovery_codes.html", {"codes": codes, "next": reverse("accounts:profile")})


@member_required
@require_POST
@recent_sign_in_required(back_to="accounts:profile")
def remove(request):
    from sso.policy import second_factor_required  # the sign-in policy decides who must keep one

    if second_factor_required(request.user):
        messages.error(
            request,
            "Site administrators who sign in with a password must keep a second factor: set up a new one instead.",
        )
        return redirect("accounts:profile")
    devices.remove(request.user)
    messages.success(request, "Two-factor authentication is off.")
    return redirect("accounts:profile")
