"""HTTP plumbing of RFC 7644 on Django REST framework: media types and errors."""

import json
import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from scim2_models import SCIMException

from accounts.actions import Conflict

logger = logging.getLogger(__name__)

SCIM_MEDIA_TYPE = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_JSON_DEPTH = 32
# Seconds an identity provider is asked to wait when the database is unavailable.
DATABASE_RETRY_AFTER = 30


class ScimError(Exception):
    """An error answered as RFC 7644 §3.12 JSON."""

    def __init__(self, status_code: int, detail: str, scim_type: str | None = None, headers=None):
        super().__init__(detail)
        self.status_code, self.detail, self.scim_type = status_code, detail, scim_type
        self.headers = headers or {}


def error_body(status_code: int, detail: str, scim_type: str | None = None) -> dict:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status_code), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


class ScimRenderer(BaseRenderer):
    media_type = SCIM_MEDIA_TYPE
    format = "scim"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class ScimParser(BaseParser):
    """Reads application/scim+json and application/json alike (Okta posts the latter)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF hands over the raw request stream, which Django does not limit: enforce
        # DATA_UPLOAD_MAX_MEMORY_SIZE here, reading at most one byte more than allowed.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            raw = (stream.read() if limit is None else stream.read(limit + 1)) if stream else b""
        except RequestDataTooBig:
            raw = None
        if raw is None or (limit is not None and len(raw) > limit):
            raise ScimError(413, "The request body is larger than Klaxon accepts.")
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ScimError(400, "The request body is nested too deeply.", "invalidSyntax") from None
        except (ValueError, UnicodeDecodeError):
            raise ScimError(400, "The request body is not valid JSON.", "invalidSyntax") from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise ScimError(400, "The request body is nested too deeply.", "invalidSyntax")
        if not isinstance(data, dict):
            raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
        refuse_unstorable_text(data)
        return data


def _depth(value, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def unstorable_character(value) -> str | None:
    """The first character no text column can hold, in any text of a parsed JSON document
    (keys included) or query: U+0000 (PostgreSQL refuses it) or a lone UTF-16 surrogate,
    which JSON's "\\ud800" escape can spell but UTF-8 cannot encode (both databases fail
    on it, and so would every later read of the row)."""
    if isinstance(value, str):
        if value.isascii():
            return "U+0000" if "\x00" in value else None
        for char in value:
            if char == "\x00" or "\ud800" <= char <= "\udfff":
                return f"U+{ord(char):04X}"
        return None
    if isinstance(value, dict):
        return next(
            (found for k, v in value.items() if (found := unstorable_character(k) or unstorable_character(v))), None
        )
    if isinstance(value, list | tuple):
        return next((found for v in value if (found := unstorable_character(v))), None)
    return None


def refuse_unstorable_text(value) -> None:
    found = unstorable_character(value)
    if found:
        kind = "the character U+0000" if found == "U+0000" else f"a lone surrogate ({found}), which is not Unicode text"
        raise ScimError(400, f"Text in the request cannot contain {kind}.", "invalidValue")


class AlwaysScim(BaseContentNegotiation):
    """Every answer is application/scim+json, whatever Accept says (Entra sends none)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _from_validation_error(error) -> tuple[str, str]:
    """Map pydantic / Django validation errors to (detail, scimType)."""
    if isinstance(error, ValidationError):
        return "; ".join(error.messages), "invalidValue"
    scim_type = "invalidValue"
    messages = []
    for item in error.errors()[:3]:
        kind = str(item.get("type", ""))
        if kind.startswith("scim_"):
            scim_type = kind.removeprefix("scim_")
        location = ".".join(str(p) for p in item.get("loc", ()))
        messages.append(f"{location}: {item.get('msg')}" if location else str(item.get("msg")))
    return "; ".join(messages) or "The request is not valid.", scim_type


def scim_exception_handler(exc, context):
    """DRF exception handler answering every error in the SCIM form."""
    from pydantic import ValidationError as PydanticValidationError

    headers = {}
    if isinstance(exc, ScimError):
        status_code, detail, scim_type, headers = exc.status_code, exc.detail, exc.scim_type, exc.headers
    elif isinstance(exc, SCIMException):
        status_code, detail, scim_type = exc.status, exc.detail or str(exc), exc.scim_type
    elif isinstance(exc, PydanticValidationError | ValidationError):
        status_code = 400
        detail, scim_type = _from_validation_error(exc)
    elif isinstance(exc, Conflict):
        status_code, detail, scim_type = 409, str(exc), "uniqueness"
    elif isinstance(exc, Http404 | exceptions.NotFound):
        status_code, detail, scim_type = 404, str(exc) or "Resource not found.", None
    elif isinstance(exc, exceptions.Throttled):
        status_code, detail, scim_type = 429, "Too many failed attempts; try again later.", None
        if exc.wait:
            headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    elif isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        status_code, detail, scim_type = 401, "Authorization failure", None
        headers["WWW-Authenticate"] = 'Bearer realm="Klaxon SCIM"'
    elif isinstance(exc, exceptions.MethodNotAllowed):
        status_code, detail, scim_type = 405, str(exc.detail), None
    elif isinstance(exc, exceptions.APIException):
        status_code, detail, scim_type = exc.status_code, str(exc.detail), None
    elif isinstance(exc, PermissionDenied):
        status_code, detail, scim_type = 403, "Forbidden.", None
    elif isinstance(exc, OperationalError | InterfaceError):
        # The database is down, restarting or failing over (or a lock or statement timed
        # out): the request was rolled back whole, so it is safe to send again. 503 with
        # Retry-After (RFC 9110 §15.6.4) tells the identity provider the failure is temporary.
        logger.error("SCIM request failed: database unavailable", exc_info=exc)
        status_code, detail, scim_type = 503, "Klaxon's database is unavailable; try again shortly.", None
        headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    else:
        return None
    return Response(error_body(status_code, detail, scim_type), status=status_code, headers=headers)


def unhandled_error_response() -> Response:
    return Response(
        error_body(500, "Klaxon could not complete the request."), status=status.HTTP_500_INTERNAL_SERVER_ERROR
    )
