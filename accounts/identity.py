"""Identity strings: how userNames, e-mail addresses, group and location names compare.

Two names that a person cannot tell apart must not be two people (or two groups, or two
locations). Each such name is compared by its *identity key*: Unicode NFKC normalisation
(so "josé" composed and decomposed, and full-width "ｊｏ", are one name), then full case
folding (so "STRASSE" and "straße" are one name), then NFKC again, as Unicode's
NFKC_Casefold does. The key is computed in Python and stored in its own column, so SQLite
and PostgreSQL compare exactly alike whatever their collation, and the unique indexes are
on the key. The name itself is kept as sent (the provider reads back what it wrote).

Invisible and direction-changing characters (Unicode categories Cc and Cf: zero-width
spaces and joiners, the byte-order mark, bidirectional overrides and isolates; and the
other default-ignorable characters and blanks listed below) make a name that looks like
another one; they are refused in identifiers, never silently removed.
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db import models


def identity_key(text: str | None) -> str:
    """The form in which two names are the same name; '' for no name."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.strip()


# Characters that draw nothing but are not of category Cc or Cf: Unicode's other
# Default_Ignorable_Code_Points (combining grapheme joiner, Hangul fillers, variation
# selectors, ...) and the Braille blank.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def hidden_character(text: str | None) -> str | None:
    """The first invisible or control character in `text` as "U+200B", else None."""
    text = text or ""
    if text.isascii():  # nearly every name: the only such ASCII characters are C0 and DEL
        found = _ASCII_CONTROL.search(text)
        return f"U+{ord(found.group()):04X}" if found else None
    for char in text:
        code = ord(char)
        if unicodedata.category(char) in ("Cc", "Cf") or any(lo <= code <= hi for lo, hi in _INVISIBLE_RANGES):
            return f"U+{code:04X}"
    return None


def check_identifier(text: str | None, attribute: str, field: str | None = None) -> None:
    """Refuse a name carrying a character that hides what it is (ValidationError)."""
    found = hidden_character(text)
    if found:
        raise ValidationError(
            {
                field or attribute: (
                    f"{attribute} contains an invisible or control character ({found}); "
                    "names with such characters look like other names and are refused."
                )
            }
        )


class IdentityKeyField(models.TextField):
    """The identity key of another field of the same row, computed on every INSERT and
    save() (bulk_create included: it calls pre_save too). Never written directly."""

    def __init__(self, *args, source: str = "", **kwargs):
        self.source = source
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = identity_key(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


def refresh_identity_keys(instance) -> None:
    """Set every identity key of `instance` now, so that model validation (Django admin's
    forms) checks the unique constraints on the keys before saving."""
    for field in instance._meta.concrete_fields:
        if isinstance(field, IdentityKeyField):
            field.pre_save(instance, add=False)


def check_unique_name(instance, key_field: str, name_field: str, label: str) -> None:
    """Form validation of a per-organisation unique name by its identity key (Django's own
    constraint check skips fields a form does not show, and the key is never shown)."""
    key = getattr(instance, key_field)
    others = type(instance)._default_manager.filter(organisation_id=instance.organisation_id, **{key_field: key})
    if key and instance.organisation_id and others.exclude(pk=instance.pk).exists():
        raise ValidationError(
            {
                name_field: f"{label} {getattr(instance, name_field)!r} looks the same as an "
                "existing one in this organisation."
            }
        )
