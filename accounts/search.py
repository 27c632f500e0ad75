"""People search: what the People page's search box matches, and how it stays fast.

A person is found by any of their names, e-mail, userName, the location the identity
provider sent (even when it matched no location), department and phone numbers typed in
any format ("07400 123456", "+44 7400 123456", "7400123456"), ignoring accents and case
("zoe" finds "Zoë").

What is searched is one text per person, the *search document*:

- `User.search_text`, computed in Python whenever the person is saved (SearchTextField's
  pre_save, so bulk_create fills it too): every searched text folded (`fold`: NFKD,
  combining marks dropped, case folded) and the digits of the notification number and of
  the provider's number, each in international and national form;
- beside it the *live* columns that actions rewrite with UPDATE statements that never
  reach pre_save: `idp_location_key` and `notification_phone`.
  `accounts.actions.recompute_reachability` (a change of the organisation's fallbacks)
  writes the provider's number and location that way, and `update_own_profile` writes a
  person's own number. So location and number search also read those live columns:
  a number is found by its E.164 digits (a typed national number is read in the
  organisation's region first), a location by its identity key (accounts/identity.py:
  case-folded, accents kept) until the person is next saved refreshes `search_text`.

On PostgreSQL a trigram GIN index on the document (migration 0013, pg_trgm) serves
`document LIKE '%term%'` for terms of three characters or more; SQLite scans (its
databases are small). DOCUMENT_SQL is the document's SQL, and the index is built on
exactly that expression: the query must spell it the same way to use the index
(tests/test_people_search.py checks the plan). Figures: bench/RESULTS.md, "People search".
"""

import re
import unicodedata

import phonenumbers
from django.db import models
from django.db.models import Q
from django.db.models.lookups import Contains

from accounts.identity import identity_key

# The person's fields whose folded text is in search_text (see SEARCHED_FIELDS for saves).
TEXT_FIELDS = ("given_name", "family_name", "display_name", "user_name", "email", "idp_location", "department")
NUMBER_FIELDS = ("notification_phone", "idp_notification_phone")
SEARCHED_FIELDS = frozenset(TEXT_FIELDS + NUMBER_FIELDS)
# A query of more words than this uses the first ones: each word is one LIKE.
MAX_WORDS = 8
# A term of digits and the signs people write phone numbers with.
_NUMBER_LIKE = re.compile(r"\+?[\d\s().\-/]*\d[\d\s().\-/]*")

# The search document: search_text and the live columns (see the module's docstring).
# Migration 0013 builds its index on this expression, spelled the same way.
DOCUMENT_SQL = "search_text || ' ' || idp_location_key || ' ' || notification_phone"


def fold(text: str | None) -> str:
    """Text as the search compares it: compatibility-decomposed, without accents (combining
    marks), case-folded, with runs of white space as one space. "Zoë" → "zoe",
    "STRAßE" → "strasse", "ﬁle" → "file"."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).split())


def number_forms(number: str | None, region: str | None) -> list[str]:
    """The digits of a phone number as people type them: international (447400123456) and
    national (07400123456); for text that is no number, its digits as written."""
    if not number:
        return []
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        digits = re.sub(r"\D", "", number)
        return [digits] if digits else []
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    national = re.sub(r"\D", "", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))
    return list(dict.fromkeys(form for form in (international, national) if form))


def search_text(values, region: str | None) -> str:
    """The stored part of the search document, from a person's values (a User, or any object
    with the fields as attributes) and their organisation's phone region."""
    parts = [fold(getattr(values, name)) for name in TEXT_FIELDS]
    for name in NUMBER_FIELDS:
        parts.extend(number_forms(getattr(values, name), region))
    return " ".join(dict.fromkeys(part for part in parts if part))


def _region_of(user) -> str | None:
    """The organisation's phone region, without a query when the organisation is at hand."""
    if user.organisation_id is None:
        return None
    field = type(user)._meta.get_field("organisation")
    if field.is_cached(user):
        return user.organisation.phone_region
    return field.related_model.objects.filter(pk=user.organisation_id).values_list("phone_region", flat=True).first()


class SearchTextField(models.TextField):
    """`User.search_text`, computed on every INSERT and save() (bulk_create included: it calls
    pre_save too), like accounts.identity.IdentityKeyField. Never written directly.

    Deconstructs as the plain TextField it is in the database, so swapping it in needed no
    migration."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs

    def pre_save(self, model_instance, add):
        value = search_text(model_instance, _region_of(model_instance))
        setattr(model_instance, self.attname, value)
        return value


def with_search_text(update_fields):
    """`update_fields` of a save(), with search_text added when a searched field is among them
    (User.save: `save(update_fields=["given_name"])` must refresh the search too)."""
    if update_fields is None or "search_text" in update_fields or SEARCHED_FIELDS.isdisjoint(update_fields):
        return update_fields
    return [*update_fields, "search_text"]


class SearchDocument(models.Func):
    """DOCUMENT_SQL as an expression of the User table, whatever alias the query gives it."""

    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = models.TextField()

    def __init__(self):
        super().__init__(models.F("search_text"), models.F("idp_location_key"), models.F("notification_phone"))


def _number_variants(term: str, region: str) -> list[str]:
    """What a typed number is looked for as: its digits (the forms in search_text) and, read
    in the organisation's region, its E.164 digits (the live notification_phone).
    "07400 123456" in GB: 07400123456 and 447400123456."""
    digits = re.sub(r"\D", "", term)
    try:
        parsed = phonenumbers.parse(term, region)
    except phonenumbers.NumberParseException:
        return [digits]
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    # Digits the E.164 form ends with are found as they are ("7400123456", "12").
    return [digits] if international.endswith(digits) else [digits, international]


def _any_of(variants) -> Q:
    document = SearchDocument()
    condition = Q()
    for variant in variants:
        condition |= Q(Contains(document, variant))
    return condition


def matching(text: str, region: str) -> Q | None:
    """The condition for people matching the typed `text`, or None when it holds nothing to
    look for (only marks or spaces): a number-like term is one number; otherwise every word
    must appear."""
    if _NUMBER_LIKE.fullmatch(text.strip()):
        return _any_of(_number_variants(text, region))
    words = [word for word in text.split() if fold(word)][:MAX_WORDS]
    if not words:
        return None
    condition = Q()
    for word in words:
        # The identity key keeps accents: typed with them, it finds a location a recompute
        # just wrote to the live idp_location_key ("Zürich" → "zürich").
        condition &= _any_of(dict.fromkeys((fold(word), identity_key(word))))
    return condition
