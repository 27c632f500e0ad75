"""Portal pages for an organisation's locations."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.access import safe_next, site_admin_required
from accounts.forms import LocationForm
from locations import actions
from locations.models import Location


def _locations(request):
    return (
        Location.objects.filter(organisation=request.user.organisation)
        .annotate(user_count=Count("users"))
        .order_by("-is_default", "name")  # annotate() drops Meta.ordering
    )


def _location(request, pk) -> Location:
    return get_object_or_404(_locations(request), pk=pk)


def _picked_up(count: int) -> str:
    """How many people waiting on Default a new or renamed location took in."""
    if not count:
        return ""
    return f" It picked up {count} {'person' if count == 1 else 'people'} from Default."


def _first_error(error: ValidationError) -> str:
    return error.messages[0] if error.messages else "That did not work."


@site_admin_required
def location_list(request):
    form = LocationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            location, picked_up = actions.create_location(request.user.organisation, form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", _first_error(error))
        else:
            messages.success(request, f"Location {location.name} created.{_picked_up(picked_up)}")
            return redirect("locations:list")
    return render(request, "locations/location_list.html", {"locations": _locations(request), "form": form})


@site_admin_required
@require_POST
def location_create_sent(request):
    """The People page's one-click "Create location Bristol" for a name the identity provider
    sent that matched no location: everyone waiting for it on Default moves to it. Back to
    the page the button was on."""
    back = safe_next(request, request.POST.get("next"), reverse("accounts:people"))
    form = LocationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That name cannot be a location: " + " ".join(form.errors.get("name", [])))
        return redirect(back)
    try:
        location, picked_up = actions.create_location(request.user.organisation, form.cleaned_data["name"])
    except ValidationError as error:
        messages.error(request, _first_error(error))
    else:
        messages.success(request, f"Location {location.name} created.{_picked_up(picked_up)}")
    return redirect(back)


@site_admin_required
def location_rename(request, pk):
    location = _location(request, pk)
    if location.is_default:
        messages.error(request, "The Default location cannot be renamed.")
        return redirect("locations:list")
    form = LocationForm(request.POST or None, initial={"name": location.name})
    if request.method == "POST" and form.is_valid():
        try:
            picked_up = actions.rename_location(location, form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", _first_error(error))
        else:
            messages.success(request, f"Location renamed to {location.name}.{_picked_up(picked_up)}")
            return redirect("locations:list")
    return render(request, "locations/location_rename.html", {"location": location, "form": form})


@site_admin_required
def location_delete(request, pk):
    location = _location(request, pk)
    if location.is_default:
        messages.error(request, "The Default location cannot be deleted.")
        return redirect("locations:list")
    if request.method == "POST":
        moved = actions.delete_location(location)
        messages.success(request, f"Location {location.name} deleted; {moved} moved to Default.")
        return redirect("locations:list")
    return render(request, "locations/location_delete.html", {"location": location})
