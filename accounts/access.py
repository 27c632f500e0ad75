"""Who may do what in the portal: one helper per kind of caller.

Every portal query filters by `request.user.organisation`; another organisation's
objects are simply not found (404).
"""

import time
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

RECENT_SIGN_IN_SECONDS = 15 * 60
SIGNED_IN_AT = "klaxon_signed_in_at"


def mark_recent_sign_in(request) -> None:
    request.session[SIGNED_IN_AT] = time.time()


def signed_in_recently(request) -> bool:
    return time.time() - request.session.get(SIGNED_IN_AT, 0) < RECENT_SIGN_IN_SECONDS


def member_required(view):
    """Signed in as a person of an organisation (staff without one use /admin/)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.organisation_id is None:
            raise PermissionDenied("Klaxon staff use /admin/.")
        return view(request, *args, **kwargs)

    return wrapper


def site_admin_required(view):
    @member_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_site_admin:
            raise PermissionDenied("Only site administrators can open this page.")
        return view(request, *args, **kwargs)

    return wrapper


def recent_sign_in_required(view=None, *, back_to: str = "scim_sync:synchronisation"):
    """Sensitive actions ask for the password again when the sign-in is older than 15 minutes.

    A POST cannot be replayed after the password is confirmed, so the person is sent back to
    the page the form was on: the form's `next` field, else the page named `back_to` (a URL
    name, reversed with the view's own arguments), where they press the button again. Used
    bare (`@recent_sign_in_required`) or with `back_to` (`@recent_sign_in_required(back_to=...)`).
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not signed_in_recently(request):
                if request.method == "POST":
                    back = request.POST.get("next") or reverse(back_to, args=args, kwargs=kwargs)
                else:
                    back = request.get_full_path()
                return redirect(f"{reverse('accounts:confirm-password')}?{urlencode({'next': back})}")
            return view(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def safe_next(request, candidate: str | None, default: str) -> str:
    """Where to go after a form: `candidate` when it is a path on this site, else `default`.

    Only a path ("/people/?page=2") is accepted: a bare word would be read by redirect() as a
    URL name (a 500), and another host would be an open redirect.
    """
    if (
        candidate
        and candidate.startswith("/")
        and not candidate.startswith("//")
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    ):
        return candidate
    return default
