"""Configuration › Single sign-on: connect the organisation's OpenID Connect provider, test
it, require it, choose break-glass administrators and read the sign-in log."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import time_zones
from accounts.access import recent_sign_in_required, site_admin_required
from accounts.identity import hidden_character
from accounts.models import User
from mfa import devices as mfa_devices
from sso import actions, oidc, policy
from sso.models import IdentityProvider, SignInEvent

EVENTS_SHOWN = 50


class SettingsForm(forms.Form):
    issuer = forms.CharField(
        label="Issuer URL",
        max_length=500,
        help_text="Entra ID: https://login.microsoftonline.com/<Directory (tenant) ID>/v2.0 · "
        "Okta: https://<your domain>.okta.com",
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    client_id = forms.CharField(
        label="Client ID", max_length=255, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    # Write-only: never rendered back (render_value=False); empty keeps the stored secret.
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=False,
        max_length=1000,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    display_name = forms.CharField(
        label="Button text",
        required=False,
        max_length=60,
        help_text='People see "Continue with …" this name. Empty: Microsoft, Okta or "your identity provider".',
    )
    admin_group = forms.CharField(
        label="Administrators group (optional)",
        required=False,
        max_length=255,
        help_text="The members of this group, as your identity provider pushes it over SCIM, are this organisation's "
        "site administrators, and nobody else is (except break-glass administrators).",
    )

    def __init__(self, *args, has_secret: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if has_secret:
            self.fields["client_secret"].help_text = "Stored encrypted and never shown. Leave empty to keep it."

    def clean_display_name(self):
        value = self.cleaned_data["display_name"].strip()
        if found := hidden_character(value):
            raise forms.ValidationError(f"The button text cannot contain the invisible character {found}.")
        return value

    def wanted(self) -> actions.Settings:
        data = self.cleaned_data
        return actions.Settings(
            issuer=data["issuer"].strip(),
            client_id=data["client_id"].strip(),
            client_secret=data["client_secret"],
            admin_group=data["admin_group"].strip(),
            display_name=data["display_name"],
        )


class BreakGlassForm(forms.Form):
    people = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Break-glass administrators",
    )

    def __init__(self, organisation, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["people"].queryset = User.objects.filter(
            organisation=organisation, role=User.Role.SITE_ADMIN, is_active=True
        ).order_by("user_name")


def _provider(request) -> IdentityProvider | None:
    return policy.provider_of(request.user.organisation)


def _page(request, *, form=None, status=200):
    organisation = request.user.organisation
    provider = policy.provider_of(organisation)
    initial = {}
    if provider is not None:
        initial = {
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "display_name": provider.display_name,
            "admin_group": provider.admin_group,
        }
    break_glass = []
    if provider is not None:
        chosen = set(provider.break_glass.values_list("pk", flat=True))
        for person in BreakGlassForm(organisation).fields["people"].queryset:
            break_glass.append(
                {
                    "person": person,
                    "chosen": person.pk in chosen,
                    "has_password": person.has_usable_password(),
                    "has_second_factor": mfa_devices.has_device(person),
                }
            )
    with timezone.override(time_zones.zone_of(organisation)):
        response = render(
            request,
            "sso/single_sign_on.html",
            {
                "provider": provider,
                "form": form or SettingsForm(initial=initial, has_secret=provider is not None),
                "redirect_uri": oidc.redirect_uri(),
                "sign_in_url": request.build_absolute_uri(reverse("sso:organisation", args=[organisation.slug])),
                "break_glass": break_glass,
                "events": SignInEvent.objects.filter(organisation=organisation).select_related("user")[:EVENTS_SHOWN],
                "zone_name": time_zones.zone_name(organisation),
            },
            status=status,
        )
    return oidc.allow_forms_to_reach(response, provider) if provider is not None else response


@never_cache
@site_admin_required
def single_sign_on(request):
    return _page(request)


@never_cache
@sensitive_post_parameters("client_secret")
@site_admin_required
@require_POST
@recent_sign_in_required(back_to="sso:single-sign-on")
def save_settings(request):
    """Save issuer, client and secret: the issuer's discovery document is fetched first."""
    provider = _provider(request)
    form = SettingsForm(request.POST, has_secret=provider is not None)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    wanted = form.wanted()
    try:
        actions.check_settings(request.user.organisation, wanted)
    except ValidationError as error:
        for field, texts in error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]:
            for text in texts:
                form.add_error(field if field in form.fields else None, text)
        return _page(request, form=form, status=400)
    provider, changed = actions.configure(request.user.organisation, wanted, by=request.user)
    if changed:
        messages.success(request, "Saved. Now test the sign-in: nobody can use single sign-on until a test succeeds.")
    else:
        messages.success(request, "Saved.")
    return redirect("sso:single-sign-on")


@site_admin_required
@require_POST
def test_sign_in(request):
    """Sign in at the provider as yourself: proves the settings before anyone depends on them.
    Your Klaxon session stays as it is."""
    provider = _provider(request)
    if provider is None:
        messages.error(request, "Save the settings first.")
        return redirect("sso:single-sign-on")
    try:
        return redirect(oidc.begin(request, provider, purpose="test", force_login=True))
    except oidc.OidcError as error:
        messages.error(request, f"The test could not start: {error.message}")
        return redirect("sso:single-sign-on")


@site_admin_required
@require_POST
@recent_sign_in_required(back_to="sso:single-sign-on")
def require(request):
    provider = _provider(request)
    if provider is None:
        return redirect("sso:single-sign-on")
    try:
        actions.set_required(provider, True, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("sso:single-sign-on")
    messages.warning(
        request,
        f"Single sign-on is required: only break-glass administrators can sign in with a password now, "
        f"with their second factor. Everyone else signs in with {provider.display_name}.",
    )
    return redirect("sso:single-sign-on")


@site_admin_required
@require_POST
@recent_sign_in_required(back_to="sso:single-sign-on")
def allow_passwords(request):
    provider = _provider(request)
    if provider is not None:
        actions.set_required(provider, False, by=request.user)
        messages.success(request, "Passwords work again for everyone who has one.")
    return redirect("sso:single-sign-on")


@site_admin_required
@require_POST
@recent_sign_in_required(back_to="sso:single-sign-on")
def save_break_glass(request):
    provider = _provider(request)
    if provider is None:
        return redirect("sso:single-sign-on")
    form = BreakGlassForm(request.user.organisation, request.POST)
    if not form.is_valid():
        messages.error(request, "Choose among the organisation's active site administrators.")
        return redirect(f"{reverse('sso:single-sign-on')}#break-glass")
    actions.set_break_glass(provider, form.cleaned_data["people"], by=request.user)
    messages.success(request, "Break-glass administrators saved.")
    return redirect(f"{reverse('sso:single-sign-on')}#break-glass")


@site_admin_required
@require_POST
@recent_sign_in_required(back_to="sso:single-sign-on")
def remove(request):
    provider = _provider(request)
    if provider is not None:
        actions.remove(provider)
        messages.warning(request, "Single sign-on is removed: everyone signs in with a password again.")
    return redirect("sso:single-sign-on")
