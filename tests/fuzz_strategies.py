"""Hostile input for tests/test_fuzz.py: odd Unicode, huge and empty values, wrong JSON types.

Strategies only (no fixtures, no requests). Every text strategy can produce what a careless
or malicious client can put in JSON: lone UTF-16 surrogates ("\\ud800" is valid JSON and
decodes to a Python str that UTF-8 cannot encode), NUL, C0 and C1 controls, zero-width and
bidirectional characters, combining marks, decomposed (NFD) and compatibility forms,
superscript digits that str.isdigit() accepts but int() refuses, and values around every
column's maximum up to ~300 KB.
"""

import copy
import json
import unicodedata
from urllib.parse import quote

from hypothesis import strategies as st

from tests.scim import CORE_GROUP, CORE_USER, ENTERPRISE, KLAXON, PATCH_OP, SEARCH


class Long(str):
    """A long repetition that hypothesis prints as `('é' * 300000)`, not 300 KB of it."""

    def __new__(cls, unit: str, times: int):
        text = super().__new__(cls, unit * times)
        text.unit, text.times = unit, times
        return text

    def __getnewargs__(self):  # copy and pickle rebuild it from its parts
        return self.unit, self.times

    def __repr__(self) -> str:
        return f"({self.unit!r} * {self.times})"

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis' pretty printer
        printer.text(repr(self))


# One character each: what makes text invisible, reversed, unencodable or unstorable.
ODD_CHARACTERS = [
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",  # lone surrogates (valid JSON escapes, not Unicode text)
    "\x00",
    "\x01",
    "\x08",
    "\t",
    "\n",
    "\r",
    "\x1b",
    "\x1f",
    "\x7f",  # NUL, C0, DEL
    "\x80",
    "\x85",
    "\x9f",
    "\xa0",  # C1 controls (NEL), no-break space
    "\u00ad",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2060",
    "\ufeff",  # soft hyphen, zero-width, BOM
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",  # bidi
    "\u2028",
    "\u2029",
    "\u3000",
    "\u1680",  # line/paragraph separators, odd spaces
    "\u0301",
    "\u0308",
    "\u0338",
    "\u20dd",  # combining marks
    "\ufffd",
    "\uffff",
    "\ufdd0",
    "\U0010ffff",
    "\U000e0041",
    "\U0001f600",
    "²",
    "¹",
    "½",
    "٣",
    "５",
    "ﬁ",
    "İ",
    "ı",
    "ß",
    "ẞ",
    "\u212b",
    "\u2126",
    "Σ",
    "ς",
]

# Whole values that have broken parsers, paginators and lookups before.
NOTABLE_TEXTS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "²",
    "¹",
    "¹²",
    "½",
    "٣",
    "５",
    "99999999999999999999",
    "9223372036854775808",
    "-1",
    "0",
    "00",
    "1.5",
    "1e3",
    "1e309",
    "0x10",
    " 1",
    "1 ",
    "+1",
    "NaN",
    "Infinity",
    "true",
    "false",
    "null",
    "None",
    "[]",
    "{}",
    "%",
    "%00",
    "%s",
    "%(x)s",
    "{0}",
    "_",
    "\\",
    "\\\\",
    '"',
    "'",
    "`",
    '"\\u0000"',
    "<b>x</b>",
    "{{ x }}",
    "' OR '1'='1",
    "\x00",
    "a\x00b",
    "\ud800",
    "a\udfffb",
    "\udbff\udc00",
    "\U0001f1ec\U0001f1e7",
    "\u202egnp.exe",
    "jo\u200b@acme.test",
    "\ufeffjo@acme.test",
    "ｊｏ@acme.test",
    "JO@ACME.TEST",
    "admin@acme.test",
    "jo@acme.test",
    "Night shift",
    "night SHIFT",
    "London",
    "london",
    " LONDON ",
    "Lo\u0301ndon",
    "Default",
    "default",
    "Leeds\u2066",
    "Jose\u0301",
    "Jos\u00e9",
    "e" + "\u0301" * 60,
    "\u0301",
    "ﬁnance",
    "STRASSE",
    "straße",
    "İstanbul",
    "07700 900123",
    "+44 7700 900123",
    "+1 202 555 0100",
    "+999",
    "0" * 64,
    "1" * 65,
    "2026-13-45T99:99:99Z",
    "9999-12-31T23:59:59Z",
    "0000-00-00T00:00:00Z",
    "2026-02-30T00:00:00+25:00",
    "00000000-0000-0000-0000-000000000000",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "{00000000-0000-0000-0000-000000000000}",
]

# Column maxima (64, 150, 200, 254, 255), the attribute cap (2048) and far beyond it. (Hypothesis
# favours the first and last items of a list: neither is the costly 300 KB.)
LENGTHS = [256, 63, 64, 65, 150, 151, 200, 201, 254, 2048, 2049, 20_000, 300_000, 255]
REPEATED = ["x", "e\u0301", "\U0001f600", " ", "\u200b", "²", "\x00", "\ud800", "é"]


@st.composite
def weighted(draw, *choices):
    """One of `choices`, (weight, strategy) pairs, about in proportion to the weights.

    Hypothesis tries the ends of a range first (st.one_of picks its last branch about half
    the time, st.integers(0, 14) gives 0 a fifth of the time), so the roll is rotated: its
    favoured ends land in the first choice, which must be the most common one.
    """
    total = sum(weight for weight, _ in choices)
    assert 2 * choices[0][0] > total, "the first choice carries more than half the weight"
    roll = (draw(st.integers(0, total - 1)) + total // 2) % total
    for weight, strategy in choices:
        if roll < weight:
            return draw(strategy)
        roll -= weight
    raise AssertionError(roll)


def chance(draw, percent: int) -> bool:
    """True about `percent` times in a hundred (at most 49)."""
    return draw(weighted((100 - percent, st.just(False)), (percent, st.just(True))))


def _insert(base: str, char: str, where: int) -> str:
    where = where % (len(base) + 1)
    return base[:where] + char + base[where:]


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)  # surrogates pass through unchanged


ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates included
ODD_CHARACTER = st.sampled_from(ODD_CHARACTERS)

huge_texts = st.builds(Long, st.sampled_from(REPEATED), st.sampled_from(LENGTHS))

hostile_texts = st.one_of(
    st.sampled_from(NOTABLE_TEXTS),
    st.builds(
        _insert, st.sampled_from(["jo@acme.test", "London", "Night shift", "x", ""]), ODD_CHARACTER, st.integers(0, 20)
    ),
    st.text(ODD_CHARACTER, min_size=1, max_size=6),
    st.text(ANY_CHARACTER, max_size=16),
    st.text(st.one_of(ODD_CHARACTER, st.sampled_from("aéZ0 @.")), max_size=12).map(_nfd),
)
# What no database column can hold (PostgreSQL refuses NUL, UTF-8 cannot encode a lone
# surrogate), in a short text: the characters that most often crash a server, so more often.
unstorable_texts = st.builds(
    _insert,
    st.sampled_from(["x", "London", "+44 7700 900123", ""]),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\udbff"]),
    st.integers(0, 20),
)
_hostile_texts = weighted((80, hostile_texts), (10, unstorable_texts), (10, huge_texts))
# Deferred, so that hypothesis names it `hostile_texts` in failure reports, not 50 kB of alphabet.
hostile_texts = st.deferred(lambda: _hostile_texts)

# Numbers as JSON has them, and as json.dumps writes Python's: NaN and Infinity included.
json_numbers = st.one_of(
    st.integers(-10, 10),
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**30, -(2**63), 2**63, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_scalars = weighted((60, hostile_texts), (40, st.one_of(st.none(), st.booleans(), json_numbers)))
_json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(hostile_texts, children, max_size=3)),
    max_leaves=6,
)
json_values = st.deferred(lambda: _json_values)
_wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    json_numbers,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(hostile_texts, json_scalars, max_size=3),
    st.builds(list),
    st.builds(dict),
)
wrong_types = st.deferred(lambda: _wrong_types)

# Where text is expected: mostly hostile text, sometimes another JSON type.
_hostile_values = weighted((80, hostile_texts), (20, wrong_types))
hostile_values = st.deferred(lambda: _hostile_values)
hostile_booleans = weighted(
    (60, st.booleans()),
    (20, st.sampled_from(["True", "False", "true", "false", "yes", "1", "0", ""])),
    (20, hostile_values),
)


def encode_component(text: str) -> str:
    """Percent-encode text for a URL, lone surrogates as the (invalid) UTF-8 bytes a client
    can still send."""
    return quote(str(text).encode("utf-8", "surrogatepass"), safe="")


def query_string(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{encode_component(k)}={encode_component(v)}" for k, v in params)


def json_bytes(body, *, ascii_only: bool = True) -> bytes:
    """The body as a client would send it. Without ensure_ascii a lone surrogate goes out as
    the bytes ED A0 80: invalid UTF-8, which the server must refuse (400), not crash on."""
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def filter_literal(value, ascii_only: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


# Users ------------------------------------------------------------------------------

EMAIL = st.fixed_dictionaries(
    {"value": hostile_values},
    optional={
        "type": weighted((70, st.sampled_from(["work", "home", "Work", "other"])), (30, hostile_values)),
        "primary": hostile_booleans,
        "display": hostile_values,
    },
)
PHONE = st.fixed_dictionaries(
    {"value": hostile_values},
    optional={
        "type": weighted((70, st.sampled_from(["mobile", "work"])), (30, hostile_values)),
        "primary": hostile_booleans,
    },
)
ADDRESS = st.fixed_dictionaries(
    {},
    optional={
        key: hostile_values
        for key in ("type", "formatted", "streetAddress", "locality", "region", "postalCode", "country")
    },
)
NAME = st.fixed_dictionaries(
    {},
    optional={key: hostile_values for key in ("givenName", "familyName", "formatted", "middleName", "honorificPrefix")},
)


def manager_values(user_ids: list[str]):
    """Entra sends the manager as an object, a bare id, a list or an object without $ref."""
    ids = weighted((60, st.sampled_from(user_ids)), (40, hostile_values))
    objects = st.fixed_dictionaries({"value": ids}, optional={"displayName": hostile_values, "$ref": hostile_values})
    return weighted(
        (55, objects),
        (15, ids),
        (10, st.lists(ids, max_size=2)),
        (10, st.lists(st.fixed_dictionaries({"value": ids}), max_size=2)),
        (10, wrong_types),
    )


def user_slots(user_ids: list[str]) -> dict[tuple, st.SearchStrategy]:
    """Every place of a User document, with what to put there."""
    return {
        ("schemas",): weighted(
            (60, st.just([CORE_USER])), (20, st.lists(hostile_texts, max_size=2)), (20, wrong_types)
        ),
        ("userName",): hostile_values,
        ("externalId",): hostile_values,
        ("displayName",): hostile_values,
        ("nickName",): hostile_values,
        ("title",): hostile_values,
        ("userType",): hostile_values,
        ("preferredLanguage",): hostile_values,
        ("locale",): hostile_values,
        ("timezone",): hostile_values,
        ("profileUrl",): hostile_values,
        ("active",): hostile_booleans,
        ("id",): hostile_values,
        ("meta",): weighted((60, st.fixed_dictionaries({"lastModified": hostile_values})), (40, wrong_types)),
        ("password",): hostile_values,
        ("name",): weighted((75, NAME), (25, wrong_types)),
        ("name", "givenName"): hostile_values,
        ("name", "familyName"): hostile_values,
        ("name", "formatted"): hostile_values,
        ("emails",): weighted((75, st.lists(EMAIL, max_size=3)), (25, wrong_types)),
        ("emails", 0, "value"): hostile_values,
        ("emails", 0, "type"): hostile_values,
        ("emails", 0, "primary"): hostile_booleans,
        ("phoneNumbers",): weighted((75, st.lists(PHONE, max_size=2)), (25, wrong_types)),
        ("phoneNumbers", 0, "value"): hostile_values,
        ("addresses",): weighted((75, st.lists(ADDRESS, max_size=2)), (25, wrong_types)),
        ("addresses", 0, "locality"): hostile_values,
        ("addresses", 0, "formatted"): hostile_values,
        ("groups",): weighted(
            (75, st.lists(st.fixed_dictionaries({"value": hostile_values}), max_size=2)), (25, wrong_types)
        ),
        ("roles",): weighted(
            (75, st.lists(st.fixed_dictionaries({"value": hostile_values}), max_size=2)), (25, wrong_types)
        ),
        (ENTERPRISE,): wrong_types,
        (ENTERPRISE, "department"): hostile_values,
        (ENTERPRISE, "employeeNumber"): hostile_values,
        (ENTERPRISE, "costCenter"): hostile_values,
        (ENTERPRISE, "manager"): manager_values(user_ids),
        (KLAXON,): wrong_types,
        (KLAXON, "location"): hostile_values,
        (KLAXON, "notificationPhoneNumber"): hostile_values,
        (hostile_texts,): json_values,  # an attribute nobody defined, or a hostile URN
    }


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def _set(document: dict, path: tuple, value) -> None:
    """Put `value` at `path` (keys, and list positions inside it), creating the objects and
    lists on the way, or replacing a scalar that stands where one belongs."""
    container = document
    for position, key in enumerate(path[:-1]):
        empty = [] if isinstance(path[position + 1], int) else {}
        if isinstance(container, list) and isinstance(key, int):
            if not container:
                container.append(empty)
            key = min(key, len(container) - 1)
        elif not isinstance(container, dict) or isinstance(key, int):
            return
        if not isinstance(container.get(key) if isinstance(container, dict) else container[key], dict | list):
            container[key] = empty
        container = container[key]
    if not isinstance(container, dict):
        return
    if value is DELETE:
        container.pop(path[-1], None)
    else:
        container[path[-1]] = copy.deepcopy(value)  # later places may write inside it


@st.composite
def mutated(draw, base: dict, slots: dict) -> dict:
    """`base` with one to three of its places removed or given a hostile value."""
    document = json.loads(json.dumps(base))
    names = list(slots)
    for path in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True), label="places"):
        strategy = slots[path]
        if path and isinstance(path[0], st.SearchStrategy):
            path = (draw(path[0]),)
        _set(document, path, draw(weighted((85, strategy), (15, st.just(DELETE)))))
    return document


@st.composite
def user_documents(draw, bases: list[dict], user_ids: list[str]) -> dict:
    return draw(mutated(draw(st.sampled_from(bases)), user_slots(user_ids)))


def user_patch_values(user_ids: list[str]) -> dict[str, st.SearchStrategy]:
    """PATCH paths (RFC 7644 §3.5.2), with what suits them and what does not."""
    text = hostile_values
    return {
        "userName": text,
        "displayName": text,
        "title": text,
        "nickName": text,
        "externalId": text,
        "active": hostile_booleans,
        "name": weighted((75, NAME), (25, wrong_types)),
        "name.givenName": text,
        "name.familyName": text,
        "name.formatted": text,
        "emails": weighted((65, st.lists(EMAIL, max_size=2)), (15, EMAIL), (20, wrong_types)),
        'emails[type eq "work"].value': text,
        'emails[type eq "work"]': weighted((75, EMAIL), (25, wrong_types)),
        'emails[type eq "work"].primary': hostile_booleans,
        'emails[value eq "patch.me@acme.test"].type': text,
        "phoneNumbers": weighted((75, st.lists(PHONE, max_size=2)), (25, wrong_types)),
        'phoneNumbers[type eq "mobile"].value': text,
        "addresses": weighted((75, st.lists(ADDRESS, max_size=2)), (25, wrong_types)),
        'addresses[type eq "work"].locality': text,
        'addresses[type eq "work"].formatted': text,
        ENTERPRISE: weighted(
            (
                75,
                st.fixed_dictionaries(
                    {}, optional={"department": text, "employeeNumber": text, "manager": manager_values(user_ids)}
                ),
            ),
            (25, wrong_types),
        ),
        f"{ENTERPRISE}:department": text,
        f"{ENTERPRISE}:employeeNumber": text,
        f"{ENTERPRISE}:manager": manager_values(user_ids),
        "manager": manager_values(user_ids),  # Entra's older form, without the URN
        KLAXON: weighted(
            (75, st.fixed_dictionaries({}, optional={"location": text, "notificationPhoneNumber": text})),
            (25, wrong_types),
        ),
        f"{KLAXON}:location": text,
        f"{KLAXON}:notificationPhoneNumber": text,
        f"{CORE_USER}:displayName": text,
        f"{CORE_USER}:name.givenName": text,
    }


OPS = ["add", "replace", "remove", "Add", "Replace", "Remove", "REPLACE"]


@st.composite
def filtered_paths(draw, attribute: str, sub: str) -> str:
    """A value-filter path with a hostile literal: emails[type eq "<x>"].value. With `eq`
    and nothing matching, the entry is created with the literal in it (scim_sync.schema's
    TOLERANT policy): the literal is a value the client sends, spelled as a JSON escape."""
    literal = filter_literal(draw(hostile_texts), draw(st.booleans()))
    selector = draw(st.sampled_from(["type", "value", "display", "primary"]))
    op = draw(weighted((60, st.just("eq")), (40, st.sampled_from(["ne", "co", "sw", "gt", "pr"]))))
    inside = f"{selector} pr" if op == "pr" else f"{selector} {op} {literal}"
    return f"{attribute}[{inside}]" + (f".{sub}" if sub else "")


@st.composite
def operations(
    draw, values: dict, pathless_keys: list[str], extra_paths, pathless_values: dict, filtered_paths_of
) -> dict:
    """One PATCH operation, mostly well-formed so that the hostile value is what gets tested:
    a known path, else a hostile or value-filter path, else none (a value object)."""
    op = draw(weighted((90, st.sampled_from(OPS)), (10, hostile_values)), label="op")
    shape = draw(
        weighted((55, st.just("known")), (15, st.just("filtered")), (15, st.just("other")), (15, st.just("none")))
    )
    if shape == "known":
        path = draw(st.sampled_from(list(values)))
        value = draw(values[path])
        if value is None and not chance(draw, 20):
            op = draw(st.sampled_from(["remove", "Remove"]))  # a path that selects what to remove
    elif shape == "filtered":
        path = draw(filtered_paths_of)
        value = draw(weighted((70, hostile_texts), (30, json_values)))
    elif shape == "other":
        path = draw(weighted((70, extra_paths), (30, hostile_values)))
        value = draw(json_values)
    else:
        keys = draw(st.lists(st.sampled_from(pathless_keys), min_size=1, max_size=3, unique=True))
        value = {key: draw(pathless_values.get(key, hostile_values)) for key in keys}
        document = {"op": op, "value": value}
        return {**document, "path": draw(st.sampled_from(["", None]))} if chance(draw, 10) else document
    document = {"op": op, "path": path, "value": value}
    if str(op).lower() == "remove" and draw(st.booleans()):
        del document["value"]
    return document


@st.composite
def patch_bodies(draw, values: dict, pathless_keys: list[str], extra_paths, filtered, pathless_values=None) -> dict:
    operation = operations(values, pathless_keys, extra_paths, pathless_values or values, filtered)
    body = {"schemas": [PATCH_OP], "Operations": draw(st.lists(operation, min_size=1, max_size=2))}
    shape = draw(
        weighted((85, st.just("")), (5, st.just("schemas")), (5, st.just("Operations")), (5, st.just("extra")))
    )
    if shape == "extra":
        body[draw(hostile_texts)] = draw(json_values)
    elif shape:
        body[shape] = draw(wrong_types)
    return body


def user_patch_bodies(user_ids: list[str]):
    values = user_patch_values(user_ids)
    pathless = [
        "userName",
        "displayName",
        "active",
        "title",
        "externalId",
        "name.givenName",
        "name.familyName",
        "name",
        "emails",
        f"{ENTERPRISE}:department",
        f"{ENTERPRISE}:manager",
        f"{KLAXON}:location",
        f"{KLAXON}:notificationPhoneNumber",
        ENTERPRISE,
        KLAXON,
        "id",
        "meta",
        "schemas",
    ]
    filtered = st.one_of(
        filtered_paths("emails", "value"),
        filtered_paths("emails", "type"),
        filtered_paths("phoneNumbers", "value"),
        filtered_paths("phoneNumbers", "type"),
        filtered_paths("addresses", "locality"),
        filtered_paths("addresses", "type"),
        filtered_paths("emails", ""),
    )
    extra = st.sampled_from(
        [
            "id",
            "meta.created",
            "schemas",
            "groups",
            "name[",
            "emails[type eq]",
            f"{ENTERPRISE}:",
            f"{KLAXON}:colour",
            "urn:example:nothing:attr",
            f"{CORE_USER}:emails.value",
        ]
    )
    return patch_bodies(values, pathless, extra, filtered)


# Groups -----------------------------------------------------------------------------


def member_lists(user_ids: list[str]):
    ids = weighted((80, st.sampled_from(user_ids)), (20, hostile_values))
    member = st.fixed_dictionaries(
        {"value": ids}, optional={"display": hostile_values, "type": hostile_values, "$ref": hostile_values}
    )
    return weighted((80, st.lists(member, max_size=3)), (10, member), (10, wrong_types))


def group_slots(user_ids: list[str]) -> dict[tuple, st.SearchStrategy]:
    return {
        ("schemas",): weighted((75, st.lists(hostile_texts, max_size=2)), (25, wrong_types)),
        ("displayName",): hostile_values,
        ("externalId",): hostile_values,
        ("members",): member_lists(user_ids),
        ("members", 0, "value"): hostile_values,
        ("members", 0, "display"): hostile_values,
        ("id",): hostile_values,
        ("meta",): wrong_types,
        (hostile_texts,): json_values,
    }


@st.composite
def group_documents(draw, user_ids: list[str]) -> dict:
    base = {
        "schemas": [CORE_GROUP],
        "displayName": "Fuzzed group",
        "externalId": "fuzz-g",
        "members": [{"value": user_ids[0], "display": "First"}],
    }
    return draw(mutated(base, group_slots(user_ids)))


def group_patch_bodies(group_id: str, user_ids: list[str]):
    name = hostile_values
    members = member_lists(user_ids)
    values = {
        "displayName": name,
        "externalId": hostile_values,
        "members": members,
        f"{CORE_GROUP}:displayName": name,
        f'members[value eq "{user_ids[0]}"]': st.none(),
        f'members[value eq "{user_ids[0]}" or value eq "{user_ids[-1]}"]': st.none(),
    }
    filtered = st.one_of(filtered_paths("members", ""), filtered_paths("members", "display"))
    extra = st.sampled_from(["members[", "members.value", "meta.lastModified", "MEMBERS", "id"])
    values_by_key = {**values, "id": weighted((80, st.just(group_id)), (20, hostile_values))}  # Okta's rename
    return patch_bodies(
        values,
        ["displayName", "externalId", "members", "id", "schemas", "meta"],
        extra,
        filtered,
        pathless_values=values_by_key,
    )


# Queries ----------------------------------------------------------------------------

USER_FILTER_ATTRIBUTES = [
    "userName",
    "externalId",
    "id",
    "displayName",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "active",
    "emails",
    "emails.value",
    "meta.created",
    "meta.lastModified",
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:employeeNumber",
    f"{KLAXON}:location",
    f"{KLAXON}:notificationPhoneNumber",
    "title",
    "nickName",
    "locale",
    f"{CORE_USER}:userName",
    "members",
    "groups",
    "password",
]
GROUP_FILTER_ATTRIBUTES = [
    "displayName",
    "externalId",
    "id",
    "members",
    "members.value",
    "meta.created",
    "meta.lastModified",
    f"{CORE_GROUP}:displayName",
    "userName",
]
DATES = [
    "2026-13-45T99:99:99Z",
    "2026-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "2026-02-30",
    "2026-01-01T00:00:00+99:00",
    "-0001-01-01T00:00:00Z",
    "20260101",
    "2026-01-01T00:00:00.9999999Z",
]
COMPARISONS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Gt", "xx"]


@st.composite
def literals(draw) -> str:
    return draw(
        weighted(
            (55, st.builds(filter_literal, hostile_texts, st.booleans())),
            (15, st.sampled_from(DATES).map(filter_literal)),
            (10, st.sampled_from(["true", "false", "null", "1", "-1", "1.5", "1e309", "99999999999999999999"])),
            (10, st.text(st.sampled_from('abc"\\ ()[]'), max_size=6)),  # unquoted, half-quoted
            (10, json_numbers.map(json.dumps)),
        )
    )


@st.composite
def comparisons(draw, attributes: list[str]) -> str:
    attribute = draw(weighted((85, st.sampled_from(attributes)), (15, hostile_texts)))
    op = draw(st.sampled_from([*COMPARISONS, "pr"]))
    if op == "pr":
        return f"{attribute} pr"
    return f"{attribute} {op} {draw(literals())}"


@st.composite
def value_paths(draw, attributes: list[str]) -> str:
    outer = draw(st.sampled_from(["emails", "members", "phoneNumbers", "addresses"]))
    inner = draw(comparisons(["type", "value", "primary", "display"]))
    tail = draw(st.sampled_from(["", "", ".value", ".type", ".display"]))
    if tail:
        return f"{outer}[{inner}]{tail} {draw(st.sampled_from(COMPARISONS))} {draw(literals())}"
    return f"{outer}[{inner}]"


def filters(attributes: list[str]):
    leaf = weighted((75, comparisons(attributes)), (25, value_paths(attributes)))

    def combine(children):
        return st.one_of(
            st.builds(lambda a, op, b: f"({a}) {op} ({b})", children, st.sampled_from(["and", "or", "AND"]), children),
            children.map(lambda a: f"not ({a})"),
        )

    return weighted((85, st.recursive(leaf, combine, max_leaves=4)), (15, hostile_texts))


ATTRIBUTE_NAMES = [
    "userName",
    "displayName",
    "members",
    "name.familyName",
    "emails",
    "emails.value",
    "id",
    "meta",
    "meta.lastModified",
    f"{ENTERPRISE}:department",
    ENTERPRISE,
    KLAXON,
    "schemas",
    "",
]
NUMBERS = [
    "²",
    "¹",
    "99999999999999999999",
    "9223372036854775808",
    "-1",
    "0",
    "1",
    "",
    " ",
    "1.5",
    "1e3",
    "0x10",
    "５",
    "٣",
    "+2",
    "2 ",
    "-99999999999999999999",
]


def attribute_lists():
    names = weighted((80, st.sampled_from(ATTRIBUTE_NAMES)), (20, hostile_texts))
    return st.lists(names, max_size=3).map(",".join)


@st.composite
def list_parameters(draw, attributes: list[str]) -> list[tuple[str, str]]:
    """RFC 7644 §3.4.2 parameters of GET /Users or /Groups (sometimes one twice)."""
    strategies = {
        "filter": filters(attributes),
        "sortBy": weighted((70, st.sampled_from(attributes)), (30, hostile_texts)),
        "sortOrder": weighted(
            (70, st.sampled_from(["ascending", "descending", "DESCENDING", ""])), (30, hostile_texts)
        ),
        "startIndex": weighted((70, st.sampled_from(NUMBERS)), (30, hostile_texts)),
        "count": weighted((70, st.sampled_from(NUMBERS)), (30, hostile_texts)),
        "attributes": attribute_lists(),
        "excludedAttributes": attribute_lists(),
    }
    names = draw(st.lists(st.sampled_from([*strategies, "filter", "filter"]), min_size=1, max_size=4))
    return [(name, draw(strategies[name])) for name in names]


@st.composite
def search_bodies(draw, attributes: list[str]) -> dict:
    """A SearchRequest (RFC 7644 §3.4.3) with hostile values and wrong JSON types."""
    params = dict(draw(list_parameters(attributes)))
    body = {"schemas": [SEARCH]}
    for name, text in params.items():
        body[name] = draw(
            weighted(
                (70, st.just(text)), (20, json_values), (10, st.lists(st.sampled_from(ATTRIBUTE_NAMES), max_size=3))
            )
        )
    if chance(draw, 10):
        body["schemas"] = draw(wrong_types)
    if chance(draw, 10):
        body[draw(hostile_texts)] = draw(json_values)
    return body


# The portal -------------------------------------------------------------------------

PORTAL_VALUES = [
    "²",
    "¹",
    "99999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-1",
    "",
    "0",
    "1",
    "2",
    "1.5",
    "５",
    "٣",
    "yes",
    "no",
    "identity_provider",
    "manual",
    "missing",
    "problem",
    "usable",
    "on",
    "true",
    "https://evil.example/",
    "//evil.example",
    "/people/",
    "javascript:alert(1)",
]


@st.composite
def portal_parameters(draw, names: list[str], known: list[str]) -> list[tuple[str, str]]:
    """Values for the parameters a page reads (and a stray one), known keys included."""
    value = weighted((60, st.sampled_from(PORTAL_VALUES)), (20, st.sampled_from(known or [""])), (20, hostile_texts))
    chosen = draw(st.lists(st.sampled_from([*names, "page"] if names else ["page", "x"]), max_size=5))
    params = [(name, draw(value)) for name in chosen]
    if chance(draw, 10):
        params.append((draw(hostile_texts), draw(value)))
    return params
