"""Configuration > Synchronisation: the portal page that connects an identity provider."""

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import actions, reachability, time_zones
from accounts.access import recent_sign_in_required, site_admin_required
from accounts.identity import hidden_character
from accounts.models import Group, User
from klaxon_site.lib.keys import database_key
from scim_sync import activity, credentials, health
from scim_sync.models import AuthFailureSummary, ScimActivity, ScimToken
from scim_sync.schema import KLAXON_USER_SCHEMA

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
ACTIVITY_PAGE_SIZE = 25
# Minutes with refused requests (wrong or missing token) listed on the page: the last day's, newest first.
REFUSALS_SHOWN = 30


class LabelField(forms.CharField):
    """A token's label: at most the column's length, and no character that hides what it says
    (the label is repeated in the activity log)."""

    def __init__(self, **kwargs):
        super().__init__(
            label="Label", required=False, max_length=ScimToken._meta.get_field("label").max_length, **kwargs
        )

    def validate(self, value):
        super().validate(value)
        if found := hidden_character(value):
            raise forms.ValidationError(f"A label cannot contain the invisible character {found}.")


class GenerateTokenForm(forms.Form):
    label = LabelField(widget=forms.TextInput(attrs={"placeholder": "e.g. Entra production"}))
    expiry = forms.ChoiceField(
        label="Stops working",
        required=False,
        initial="none",
        choices=[
            ("none", "Never (until rotated or revoked)"),
            ("30d", "After 30 days"),
            ("90d", "After 90 days"),
            ("365d", "After 365 days"),
        ],
    )

    def clean_expiry(self):
        return self.cleaned_data["expiry"] or "none"  # forms posted before expiries existed

    def token_options(self) -> dict:
        data = self.cleaned_data
        return {"label": data["label"], "expires_in": credentials.EXPIRY_CHOICES[data["expiry"]]}


class RotateTokenForm(GenerateTokenForm):
    # The token being replaced: re-sending the form (a page refresh) must not rotate twice
    # and silently kill the token that was just copied.
    current = forms.IntegerField(widget=forms.HiddenInput)
    grace = forms.ChoiceField(
        label="Keep the old token working for",
        choices=[("none", "No time: refuse it at once"), ("1h", "1 hour"), ("24h", "24 hours")],
        initial="1h",
    )
    field_order = ["grace", "label", "expiry", "current"]


class KeyField(forms.Field):
    """A database key in a hidden field: ASCII digits within the bigint range, else invalid."""

    widget = forms.HiddenInput

    def to_python(self, value):
        key = database_key(value)
        if key is None:
            raise forms.ValidationError("This is not one of your tokens.", code="invalid")
        return key


class TokenActionForm(forms.Form):
    """Names one of the organisation's tokens for an action on it (revoke, end grace)."""

    token = KeyField()


class TokenLabelForm(TokenActionForm):
    label = LabelField()


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Times on this page, on people's provisioning history and in the exported log are shown in it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", "UTC")] + [(name, name) for name in time_zones.names()]


_OFF = ("", "Off")


class FallbacksForm(forms.Form):
    """Where numbers and locations come from when the provider sends no Klaxon attribute."""

    first_phone = forms.ChoiceField(
        label="Notification number: use the",
        required=False,
        choices=[(t, f"{t} number") for t in reachability.PHONE_TYPES] + [_OFF],
    )
    then_phone = forms.ChoiceField(
        label="then the",
        required=False,
        choices=[("", "nothing else")] + [(t, f"{t} number") for t in reachability.PHONE_TYPES],
    )
    address_field = forms.ChoiceField(
        label="Location: use the", required=False, choices=[*reachability.ADDRESS_FIELDS.items(), _OFF]
    )

    @classmethod
    def for_organisation(cls, organisation, data=None):
        types = organisation.phone_fallback_types
        initial = {
            "first_phone": types[0] if types else "",
            "then_phone": types[1] if len(types) > 1 else "",
            "address_field": organisation.location_fallback,
        }
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
    requests = ScimActivity.objects.requests().filter(organisation=organisation)
    since = timezone.now() - timedelta(hours=24)
    return {
        "last_request": requests.order_by("-at").values_list("at", flat=True).first(),
        "last_write": requests.filter(method__in=WRITE_METHODS, status__lt=400)
        .order_by("-at")
        .values_list("at", flat=True)
        .first(),
        "errors_24h": requests.filter(at__gte=since, status__gte=400).count(),
        "users": User.objects.filter(organisation=organisation, source=User.Source.IDENTITY_PROVIDER).count(),
        "groups": Group.objects.filter(organisation=organisation, source=User.Source.IDENTITY_PROVIDER).count(),
    }


def _refusals(organisation) -> dict:
    recent = AuthFailureSummary.objects.filter(
        organisation=organisation, last_at__gte=timezone.now() - timedelta(hours=24)
    )
    minutes = list(recent.order_by("-minute")[: REFUSALS_SHOWN + 1])
    return {
        "minutes": minutes[:REFUSALS_SHOWN],
        "more": len(minutes) > REFUSALS_SHOWN,
        "total": recent.aggregate(total=Sum("refused"))["total"] or 0,
    }


def _newest_token_id(organisation):
    live = ScimToken.objects.filter(organisation=organisation).live()
    return live.order_by("-created_at", "-pk").values_list("pk", flat=True).first()


def _tokens(organisation) -> list[dict]:
    """The live tokens, newest first: the newest is the one to use, any other is kept by a
    rotation's grace period; the newest warns when its chosen expiry is near."""
    live = ScimToken.objects.filter(organisation=organisation).live().select_related("created_by")
    warn_after = timezone.now() + timedelta(days=health.setting("KLAXON_ALERT_TOKEN_EXPIRY_DAYS"))
    return [
        {
            "token": token,
            "in_grace": index > 0,
            "expires_soon": index == 0 and token.expires_at is not None and token.expires_at <= warn_after,
        }
        for index, token in enumerate(live.order_by("-created_at", "-pk"))
    ]


def _page(request, organisation, **extra):
    filter_form = activity.ActivityFilterForm(request.GET)
    filters = filter_form.applied()  # an invalid filter is shown as an error and not applied
    log = Paginator(activity.filtered(organisation, filters), ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    tokens = _tokens(organisation)
    query = urlencode(filters)
    with timezone.override(time_zones.zone_of(organisation)):
        return render(
            request,
            "scim_sync/synchronisation.html",
            {
                "endpoint": credentials.endpoint_for(organisation),
                "tokens": tokens,
                "status": _status(organisation),
                "alerts": health.open_alerts(organisation),
                "refusals": _refusals(organisation),
                "activity": log,
                "activity_rows": activity.with_links(organisation, log.object_list),
                "filter_form": filter_form,
                "filters": query,
                "csv_url": reverse("scim_sync:activity-csv") + (f"?{query}" if query else ""),
                "zone_name": time_zones.zone_name(organisation),
                "log_days": settings.KLAXON_SCIM_LOG_DAYS,
                "generate_form": GenerateTokenForm(),
                "rotate_form": RotateTokenForm(initial={"current": tokens[0]["token"].pk if tokens else None}),
                "fallbacks_form": extra.pop("fallbacks_form", None) or FallbacksForm.for_organisation(organisation),
                "time_zone_form": extra.pop("time_zone_form", None)
                or TimeZoneForm(initial={"time_zone": organisation.time_zone}),
                "sources": _sources(organisation),
                "location_attribute": f"{KLAXON_USER_SCHEMA}:location",
                "phone_attribute": f"{KLAXON_USER_SCHEMA}:notificationPhoneNumber",
                **extra,
            },
        )


def _back_to(section: str):
    return redirect(f"{reverse('scim_sync:synchronisation')}#{section}")


@never_cache
@site_admin_required
def synchronisation(request):
    organisation = request.user.organisation
    credentials.log_ended_tokens(organisation)  # so the log says which tokens expired since
    return _page(request, organisation)


@never_cache
@site_admin_required
@require_POST
@recent_sign_in_required
def generate_token(request):
    organisation = request.user.organisation
    if ScimToken.objects.filter(organisation=organisation).live().exists():
        messages.error(request, "A token already exists: rotate it instead.")
        return redirect("scim_sync:synchronisation")
    form = GenerateTokenForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Give the token a label of at most 100 visible characters and choose when it stops working."
        )
        return redirect("scim_sync:synchronisation")
    token = credentials.generate_token(organisation, created_by=request.user, **form.token_options())
    return _page(request, organisation, new_token=token)


@never_cache
@site_admin_required
@require_POST
@recent_sign_in_required
def rotate_token(request):
    form = RotateTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the old token keeps working and when the new one stops working.")
        return redirect("scim_sync:synchronisation")
    if form.cleaned_data["current"] != _newest_token_id(request.user.organisation):
        messages.info(
            request,
            "That token was rotated already; the new token is shown only once. Rotate again if you did not copy it.",
        )
        return redirect("scim_sync:synchronisation")
    grace = credentials.GRACE_CHOICES[form.cleaned_data["grace"]]
    token = credentials.generate_token(
        request.user.organisation, created_by=request.user, grace=grace, **form.token_options()
    )
    return _page(request, request.user.organisation, new_token=token, grace=form.cleaned_data["grace"])


def _token(request, form) -> ScimToken | None:
    """The organisation's token the form names; another organisation's is not found (404)."""
    if not form.is_valid():
        return None
    return get_object_or_404(ScimToken, pk=form.cleaned_data["token"], organisation=request.user.organisation)


@site_admin_required
@require_POST
@recent_sign_in_required
def revoke_token(request):
    token = _token(request, TokenActionForm(request.POST))
    if token is None:
        messages.error(request, "Choose a token to revoke.")
    elif credentials.revoke_token(token, by=request.user):
        messages.warning(request, f"Token {token.shown_name} is revoked: it no longer works.")
    else:
        messages.info(request, f"Token {token.shown_name} had already stopped working.")
    return _back_to("tokens")


@site_admin_required
@require_POST
@recent_sign_in_required
def end_grace_period(request):
    token = _token(request, TokenActionForm(request.POST))
    if token is None:
        messages.error(request, "Choose a token whose grace period should end.")
    elif credentials.end_grace_period(token, by=request.user):
        messages.success(request, f"The grace period of token {token.shown_name} is over: it no longer works.")
    else:
        messages.info(request, f"Token {token.shown_name} is not kept by a grace period (any more): nothing changed.")
    return _back_to("tokens")


@site_admin_required
@require_POST
def label_token(request):
    form = TokenLabelForm(request.POST)
    token = _token(request, form)
    if token is None:
        messages.error(request, "A label has at most 100 characters and no invisible ones.")
    elif credentials.set_token_label(token, form.cleaned_data["label"], by=request.user):
        messages.success(request, f"Label saved: {token.shown_name}.")
    return _back_to("tokens")


@never_cache
@site_admin_required
def activity_csv(request):
    """The activity log with the page's filters, as CSV streamed from the database."""
    organisation = request.user.organisation
    form = activity.ActivityFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in form.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {errors}", content_type="text/plain; charset=utf-8")
    rows = activity.filtered(organisation, form.applied())
    today = timezone.now().astimezone(time_zones.zone_of(organisation)).date()
    response = StreamingHttpResponse(activity.csv_lines(organisation, rows), content_type="text/csv; charset=utf-8")
    filename = f"klaxon-scim-activity-{organisation.slug}-{today:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@site_admin_required
@require_POST
def save_time_zone(request):
    organisation = request.user.organisation
    form = TimeZoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the offered time zones.")
        return _page(request, organisation, time_zone_form=form)
    time_zones.set_time_zone(organisation, form.cleaned_data["time_zone"])
    messages.success(request, f"Times are now shown in {time_zones.zone_name(organisation)}.")
    return _back_to("time-zone")


@site_admin_required
@require_POST
@recent_sign_in_required
def rotate_endpoint(request):
    endpoint = credentials.rotate_endpoint(request.user.organisation)
    messages.warning(
        request,
        "The endpoint URL changed. Update the Tenant URL in your identity provider now: "
        f"the old URL no longer works. New URL: {endpoint.url}",
    )
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
    changed = actions.set_reachability_fallbacks(
        organisation, phone_types=form.phone_types(), address_field=form.cleaned_data["address_field"]
    )
    messages.success(request, f"Saved. {changed} {'person' if changed == 1 else 'people'} changed number or location.")
    return redirect(f"{reverse('scim_sync:synchronisation')}#fallbacks")
