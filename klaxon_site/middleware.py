"""Project-wide middleware: SCIM's shorter chain, request ids and access lines, security
headers, and the portal's answer to a database outage."""

import logging
import re
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader
from django.utils.module_loading import import_string

from klaxon_site.lib.logging import redact, request_context

access_log = logging.getLogger("klaxon.access")
logger = logging.getLogger(__name__)

# A proxy's or client's id is kept only when it is a short plain token, so that it can
# neither forge log lines nor smuggle a phone number or a token into them.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Probes arrive every few seconds from every load balancer: their lines would drown the rest.
_QUIET_PATHS = {"/healthz", "/readyz"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# The portal needs none of these browser features; deny them to anything that gets in.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()"


class ScimRequestsSkipPortalLayers:
    """First in MIDDLEWARE: a SCIM request (/scim/…) runs through KLAXON_SCIM_MIDDLEWARE, then
    URL resolution and its view, instead of the portal's middleware (settings.py says which
    layers and why). Everything else goes on down the portal's chain.

    Django builds one chain per handler from settings.MIDDLEWARE; this builds the second the
    same way for the plain (sync) middleware SCIM uses, and refuses at start-up any that would
    need the rest of Django's handler machinery (view, template-response or exception hooks).
    """

    def __init__(self, get_response):
        self.portal = get_response
        self.scim = _chain(settings.KLAXON_SCIM_MIDDLEWARE)

    def __call__(self, request):
        if request.path_info.startswith("/scim/"):
            return self.scim(request)
        return self.portal(request)


def _chain(paths: list[str]):
    # BaseHandler's private parts, as its own load_middleware() sets them (django-stubs omit them).
    handler: Any = BaseHandler()
    handler._view_middleware, handler._template_response_middleware, handler._exception_middleware = [], [], []
    get_response = convert_exception_to_response(handler._get_response)
    for path in reversed(paths):
        layer = import_string(path)(get_response)
        hooks = [
            name for name in ("process_view", "process_template_response", "process_exception") if hasattr(layer, name)
        ]
        if hooks:
            raise ImproperlyConfigured(
                f"KLAXON_SCIM_MIDDLEWARE: {path} needs {', '.join(hooks)}, which SCIM's chain does not run."
            )
        get_response = convert_exception_to_response(layer)
    return get_response


def _request_id(request) -> str:
    incoming = request.headers.get("X-Request-ID", "")
    if _SANE_REQUEST_ID.fullmatch(incoming) and redact(incoming) == incoming:
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each request an id (the proxy's X-Request-ID when sane), returns it in the
    response, attaches it to every log record made meanwhile and logs one access line.

    The access line carries the path without its query string: SCIM filters quote people's
    names, e-mail addresses and phone numbers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = _request_id(request)
        context = request_context.set({"request_id": request.id, "method": request.method, "path": request.path})
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.id
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_log.log(
                logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO,
                "%s %s %s %sms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={"status": response.status_code, "duration_ms": duration_ms},
            )
            return response
        finally:
            request_context.reset(context)


def security_headers(get_response):
    """Content-Security-Policy and Permissions-Policy on every response.

    Django sets X-Frame-Options, Referrer-Policy, nosniff and HSTS itself. The policy allows
    no inline script or style anywhere, Django admin included: Django 5.2's admin templates
    carry none (tests/test_security.py checks the portal's and the admin's pages).
    """

    def middleware(request):
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response

    return middleware


class DatabaseUnavailableMiddleware:
    """A database outage in the portal is a 503 page that asks to retry, not a 500.

    Rendered without the request, so that the page itself needs no session or user from the
    database. SCIM paths are left to scim_sync.protocol, which answers a SCIM error document.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)) or request.path.startswith("/scim/"):
            return None
        logger.error("Database unavailable", exc_info=exception)
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = "30"
        return response
