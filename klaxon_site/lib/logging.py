"""JSON log lines with the request id, and redaction of secrets and phone numbers.

Logs leave the application (log shippers, support tickets), so nothing that would let a
reader call SCIM or call a person may reach them: the formatter redacts every line it
writes, whoever logged it (Django, DRF, gunicorn or Klaxon). Imports only the standard
library, so gunicorn's master process can use it before Django is set up.
"""

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

# Set by klaxon_site.middleware.RequestIdMiddleware for the duration of one request.
request_context: contextvars.ContextVar[dict] = contextvars.ContextVar("klaxon_request", default={})  # noqa: B039 (never mutated: replaced per request)

REDACTED = "[redacted]"
_RULES = [
    # An Authorization header however it is printed ("Authorization: Bearer …", {'Authorization': '…'}).
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|token)\s+)?[^\s'\",}]+"),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), rf"\g<1> {REDACTED}"),
    # Klaxon SCIM tokens: klx_ + token_urlsafe characters.
    (re.compile(r"klx_[A-Za-z0-9_\-]+"), f"klx_{REDACTED}"),
    # SCIM filters quote userName, emails and phone numbers: drop the whole expression.
    (
        re.compile(r"(?i)(\bfilter['\"]?\s*[=:]\s*)(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^&\n]+)"),
        rf"\g<1>{REDACTED}",
    ),
    # The endpoint key in a SCIM URL: the first four characters are enough to tell them apart.
    (re.compile(r"(/scim/v2/[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]{12,60}"), r"\g<1>…"),
    # Phone numbers: E.164 with or without separators, and any run of 7 or more digits.
    (re.compile(r"\+\d[\d\s().\-]{5,}\d"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])\d{7,}(?![A-Za-z0-9])"), REDACTED),
]
_FIELDS = ("request_id", "method", "path", "status", "duration_ms")


def redact(text: str) -> str:
    """The text with tokens, Authorization values, SCIM filters and phone numbers removed."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RequestContextFilter(logging.Filter):
    """Copies the current request's id, method and path onto every record logged during it."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in request_context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the request fields known."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = redact(value) if name == "path" else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for development, redacted all the same."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record = logging.makeLogRecord({**record.__dict__, "request_id": "-"})
        return redact(super().format(record))
