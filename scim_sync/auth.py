"""Who is calling: the endpoint key in the URL picks the organisation, the bearer token proves it.

This is the SCIM access helper; every SCIM view relies on `request.scim_organisation`
set here and filters by it.
"""

from datetime import timedelta

from django.http import Http404
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from klaxon_site.lib import counters
from scim_sync import health, refusals
from scim_sync.models import ScimEndpoint, ScimToken

# Failed attempts allowed per endpoint in one window before further failures get 429.
MAX_FAILURES = 20
FAILURE_WINDOW_SECONDS = 5 * 60
# last_used_at is for administrators ("used 3 minutes ago"): one write a minute is plenty.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def bearer_token(authorization: str) -> str | None:
    """The token in an Authorization header value, or None.

    RFC 6750 §2.1: the scheme is case-insensitive. The setup guide tells administrators who
    see errors to paste "Bearer <token>" as the secret (Entra ID and Okta then send
    "Bearer Bearer <token>"), so one repeated scheme is accepted too.
    """
    parts = authorization.split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    if len(parts) == 3 and parts[0].lower() == parts[1].lower() == "bearer":
        return parts[2]
    return None


def endpoint_for_key(key: str | None) -> ScimEndpoint:
    """The endpoint with this key, or Http404: an unknown or rotated key is not found."""
    endpoint = ScimEndpoint.objects.select_related("organisation").filter(key=key or "").first()
    if endpoint is None:
        raise Http404("Unknown SCIM endpoint")
    return endpoint


def _count_failure(endpoint: ScimEndpoint, request) -> None:
    """Count a failed attempt on `endpoint`; raise Throttled once the window's allowance is spent.

    The counter is one of klaxon_site/lib/counters.py's (a fixed window in Django's shared
    cache, so it holds across processes). Only failures are throttled: a correct token always works, so someone
    guessing cannot lock the identity provider out. Each refusal, 401 or 429, is counted in the
    minute's summary (scim_sync.refusals), not in the activity log.
    """
    failures = counters.count(f"scim:auth-failures:{endpoint.pk}", FAILURE_WINDOW_SECONDS)
    throttled = failures > MAX_FAILURES
    refusals.record(
        endpoint.organisation_id, status=429 if throttled else 401, address=refusals.source_address(request)
    )
    health.failed_authentication_counted(endpoint.organisation, failures)
    if throttled:
        raise Throttled(wait=counters.seconds_left(FAILURE_WINDOW_SECONDS))


class ScimTokenAuthentication(BaseAuthentication):
    """DRF authentication for SCIM views whose URL has an `endpoint_key` kwarg.

    Unknown key: Http404. Missing or wrong token, or another organisation's: 401 with
    WWW-Authenticate, the same answer in every case so nothing is revealed. On success
    request.user is None, request.auth the ScimToken, and request.scim_organisation /
    request.scim_endpoint are set on both the DRF and the Django request.
    """

    def authenticate(self, request):
        key = (request.parser_context or {}).get("kwargs", {}).get("endpoint_key") or ""
        raw = bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
        token = ScimToken.objects.authenticate(key, raw) if raw else None
        if token is None:
            _count_failure(endpoint_for_key(key), request)  # Http404 for an unknown endpoint
            raise AuthenticationFailed("Authorization failure")
        endpoint = token.organisation.scim_endpoint

        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        for target in (request, request._request):
            target.scim_organisation = endpoint.organisation
            target.scim_endpoint = endpoint
        return (None, token)
