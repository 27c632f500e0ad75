"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9)."""

import re
from dataclasses import dataclass

from scim_sync.protocol import ScimError
from scim_sync.schema import CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, KLAXON_USER_SCHEMA

ALWAYS_RETURNED = {"id", "schemas"}
_EXTENSIONS = {ENTERPRISE_USER_SCHEMA.lower(), KLAXON_USER_SCHEMA.lower()}
_CORE = (CORE_USER_SCHEMA.lower() + ":", CORE_GROUP_SCHEMA.lower() + ":")


# RFC 7644 §3.10: an attribute name, with an optional sub-attribute and schema URN prefix.
_ATTRIBUTE_PATH = re.compile(
    r"^(urn:[\w.:\-]+:)?[A-Za-z$][\w$\-]*(\.[A-Za-z$][\w$\-]*)?$|^urn:[\w.:\-]+$", re.IGNORECASE
)


def _split(path: str) -> tuple[str, str | None]:
    """`name.givenName` → ("name", "givenname"); `urn:…:User:department` → (urn, "department")."""
    text = path.strip().lower()
    for prefix in _CORE:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.startswith("urn:"):
        if text in _EXTENSIONS:
            return text, None
        urn, _, attr = text.rpartition(":")  # split at the last colon
        return urn, attr
    top, _, sub = text.partition(".")
    return top, sub or None


@dataclass(frozen=True)
class Projection:
    attributes: tuple = ()
    excluded: tuple = ()

    @classmethod
    def parse(cls, attributes, excluded) -> "Projection":
        def paths(value):
            # A query string carries "a,b"; a POST /.search body carries ["a", "b"].
            items = value if isinstance(value, list) else str(value or "").split(",")
            items = [str(p).strip() for p in items if str(p).strip()]
            for item in items:
                if not _ATTRIBUTE_PATH.match(item):
                    raise ScimError(
                        400,
                        f"{item!r} is not an attribute name: attributes and excludedAttributes "
                        "take names such as emails or name.givenName, not filters.",
                        "invalidValue",
                    )
            return tuple(_split(p) for p in items)

        return cls(paths(attributes), paths(excluded))

    @classmethod
    def excluding_members(cls) -> "Projection":
        return cls(excluded=(("members", None),))

    def includes(self, top: str) -> bool:
        top = top.lower()
        if self.attributes:
            return any(t == top for t, _ in self.attributes)
        return (top, None) not in self.excluded

    def apply(self, document: dict) -> dict:
        if not self.attributes and not self.excluded:
            return document
        result = {}
        for key, value in document.items():
            lowered = key.lower()
            if lowered in ALWAYS_RETURNED:
                result[key] = value
                continue
            if self.attributes:
                wanted = [sub for top, sub in self.attributes if top == lowered]
                if not wanted:
                    continue
                if None not in wanted and isinstance(value, dict):
                    value = {k: v for k, v in value.items() if k.lower() in wanted}
                elif None not in wanted and isinstance(value, list):
                    value = [
                        {k: v for k, v in item.items() if k.lower() in wanted} if isinstance(item, dict) else item
                        for item in value
                    ]
            excluded_subs = [sub for top, sub in self.excluded if top == lowered]
            if None in excluded_subs:
                continue
            if excluded_subs and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k.lower() not in excluded_subs}
            if value == {} != document[key]:  # every sub-attribute was left out
                continue
            result[key] = value
        if isinstance(result.get("schemas"), list):
            # RFC 7643 §3: schemas lists the schemas of the attributes present, so an
            # extension whose attributes were all left out leaves it too.
            result["schemas"] = [urn for urn in result["schemas"] if urn.lower() not in _EXTENSIONS or urn in result]
        return result
