"""Configuration > Synchronisation: the portal page that connects an identity provider."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import actions, reachability
from accounts.access import recent_sign_in_required, site_admin_required
from accounts.models import Group, User
from scim_sync import credentials, health
from scim_sync.models import AuthFailureSummary, ScimActivity, ScimToken
from scim_sync.schema import KLAXON_USER_SCHEMA

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
ACTIVITY_PAGE_SIZE = 25
# Minutes with refused requests (wrong or missing token) listed on the page: the last day's, newest first.
REFUSALS_SHOWN = 30


class RotateTokenForm(forms.Form):
    # The token being replaced: re-sending the form (a page refresh) must not rotate twice
    # and silently kill the token that was just copied.
    current = forms.IntegerField(widget=forms.HiddenInput)
    grace = forms.ChoiceField(
        label="Keep the old token working for",
        choices=[("none", "No time: refuse it at once"), ("1h", "1 hour"), ("24h", "24 hours")],
        initial="1h",
    )


_OFF = ("", "Off")


class FallbacksForm(forms.Form):
    """Where numbers and locations come from when the provider sends no Klaxon attribute."""

    first_phone = forms.ChoiceField(label="Notification number: use the", required=False,
                                    choices=[(t, f"{t} number") for t in reachability.PHONE_TYPES] + [_OFF])
    then_phone = forms.ChoiceField(label="then the", required=False,
                                   choices=[("", "nothing else")] + [(t, f"{t} number") for t in reachability.PHONE_TYPES])
    address_field = forms.ChoiceField(label="Location: use the", required=False,
                                      choices=[*reachability.ADDRESS_FIELDS.items(), _OFF])

    @classmethod
    def for_organisation(cls, organisation, data=None):
        types = organisation.phone_fallback_types
        initial = {"first_phone": types[0] if types else "", "then_phone": types[1] if len(types) > 1 else "",
                   "address_field": organisation.location_fallback}
        return cls(data, initial=initial)

    def phone_types(self) -> list[str]:
        first, then = self.cleaned_data["first_phone"], self.cleaned_data["then_phone"]
        return [t for t in (first, then if first and then != first else "") if t]


def _sources(organisation) -> dict:
    """How many active people each source of number and location serves right now."""
    active = User.objects.filter(organisation=organisation, is_active=True)
    counts = {}
    for field in ("number_source", "location_source"):
        rows = active.values_list(field).annotate(people=Count("pk")).order_by("-people")
        counts[field] = [{"label": reachability.source_label(source), "people": people} for source, people in rows]
    return counts


def _status(organisation) -> dict:
    activity = ScimActivity.objects.filter(organisation=organisation)
    since = timezone.now() - timedelta(hours=24)
    return {
        "last_request": activity.order_by("-at").values_list("at", flat=True).first(),
        "last_write": activity.filter(method__in=WRITE_METHODS, status__lt=400)
        .order_by("-at").values_list("at", flat=True).first(),
        "errors_24h": activity.filter(at__gte=since, status__gte=400).count(),
        "users": User.objects.filter(organisation=organisation, source=User.Source.IDENTITY_PROVIDER).count(),
        "groups": Group.objects.filter(organisation=organisation, source=User.Source.IDENTITY_PROVIDER).count(),
    }


def _refusals(organisation) -> dict:
    recent = AuthFailureSummary.objects.filter(organisation=organisation,
                                               last_at__gte=timezone.now() - timedelta(hours=24))
    minutes = list(recent.order_by("-minute")[:REFUSALS_SHOWN + 1])
    return {
        "minutes": minutes[:REFUSALS_SHOWN],
        "more": len(minutes) > REFUSALS_SHOWN,
        "total": recent.aggregate(total=Sum("refused"))["total"] or 0,
    }


def _newest_token_id(organisation):
    live = ScimToken.objects.filter(organisation=organisation).live()
    return live.order_by("-created_at", "-pk").values_list("pk", flat=True).first()


def _page(request, organisation, **extra):
    activity = ScimActivity.objects.filter(organisation=organisation)
    errors_only = request.GET.get("errors") == "1"
    if errors_only:
        activity = activity.filter(status__gte=400)
    live_tokens = ScimToken.objects.filter(organisation=organisation).live().select_related("created_by")
    return render(request, "scim_sync/synchronisation.html", {
        "endpoint": credentials.endpoint_for(organisation),
        "tokens": live_tokens.order_by("-created_at"),
        "status": _status(organisation),
        "alerts": health.open_alerts(organisation),
        "refusals": _refusals(organisation),
        "activity": Paginator(activity.order_by("-at", "-pk"), ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page")),
        "errors_only": errors_only,
        "rotate_form": RotateTokenForm(initial={"current": _newest_token_id(organisation)}),
        "fallbacks_form": extra.pop("fallbacks_form", None) or FallbacksForm.for_organisation(organisation),
        "sources": _sources(organisation),
        "location_attribute": f"{KLAXON_USER_SCHEMA}:location",
        "phone_attribute": f"{KLAXON_USER_SCHEMA}:notificationPhoneNumber",
        **extra,
    })


@never_cache
@site_admin_required
def synchronisation(request):
    return _page(request, request.user.organisation)


@never_cache
@site_admin_required
@require_POST
@recent_sign_in_required
def generate_token(request):
    organisation = request.user.organisation
    if ScimToken.objects.filter(organisation=organisation).live().exists():
        messages.error(request, "A token already exists: rotate it instead.")
        return redirect("scim_sync:synchronisation")
    token = credentials.generate_token(organisation, created_by=request.user)
    return _page(request, organisation, new_token=token)


@never_cache
@site_admin_required
@require_POST
@recent_sign_in_required
def rotate_token(request):
    form = RotateTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the old token keeps working.")
        return redirect("scim_sync:synchronisation")
    if form.cleaned_data["current"] != _newest_token_id(request.user.organisation):
        messages.info(request, "That token was rotated already; the new token is shown only once. "
                               "Rotate again if you did not copy it.")
        return redirect("scim_sync:synchronisation")
    grace = credentials.GRACE_CHOICES[form.cleaned_data["grace"]]
    token = credentials.generate_token(request.user.organisation, created_by=request.user, grace=grace)
    return _page(request, request.user.organisation, new_token=token, grace=form.cleaned_data["grace"])


@site_admin_required
@require_POST
@recent_sign_in_required
def rotate_endpoint(request):
    endpoint = credentials.rotate_endpoint(request.user.organisation)
    messages.warning(request, "The endpoint URL changed. Update the Tenant URL in your identity provider now: "
                              f"the old URL no longer works. New URL: {endpoint.url}")
    return redirect("scim_sync:synchronisation")


@site_admin_required
@require_POST
def save_fallbacks(request):
    """Change the organisation's fallbacks; everyone the provider manages is recomputed at once."""
    organisation = request.user.organisation
    form = FallbacksForm.for_organisation(organisation, request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the offered phone types and address fields.")
        return _page(request, organisation, fallbacks_form=form)
    changed = actions.set_reachability_fallbacks(organisation, phone_types=form.phone_types(),
                                                 address_field=form.cleaned_data["address_field"])
    messages.success(request, f"Saved. {changed} {'person' if changed == 1 else 'people'} changed number or location.")
    return redirect(f"{reverse('scim_sync:synchronisation')}#fallbacks")
