"""SCIM filters (RFC 7644 §3.4.2.2) translated into Django `Q` objects.

scim2-models parses the filter; this module maps each attribute path to a column so
that filtering, counting and paging all run in the database. An attribute Klaxon
cannot filter on is a 400 invalidFilter, never a silently wider result.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Left, Lower, Right, StrIndex
from django.db.models.lookups import Exact, GreaterThan
from django.utils.dateparse import parse_datetime
from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path import AttrPath, Comparison, LogicalExpr, Not, Present, ValuePath
from scim2_models.path.expressions import CompareOperator, LogicalOperator

from accounts.identity import identity_key
from accounts.models import GroupMembership
from scim_sync.protocol import unstorable_character
from scim_sync.schema import (
    CORE_GROUP_SCHEMA,
    CORE_USER_SCHEMA,
    ENTERPRISE_USER_SCHEMA,
    KLAXON_USER_SCHEMA,
    MAX_FILTER_LENGTH,
    MAX_FILTER_NODES,
)


@dataclass(frozen=True)
class Column:
    lookup: str
    kind: str = "string"  # string | bool | datetime | uuid | json | members
    case_exact: bool = False
    # The column holding the identity key of an identifier (accounts/identity.py): names are
    # compared, ordered and matched by it, exactly alike on SQLite and PostgreSQL.
    key: str = ""


_JSON_CORE = ("title", "nickName", "userType", "preferredLanguage", "locale", "timezone", "profileUrl")

USER_COLUMNS = {
    "id": Column("scim_id", "uuid", True),
    "externalid": Column("external_id", case_exact=True),
    "username": Column("user_name", key="user_name_key"),
    "displayname": Column("display_name"),
    "name.givenname": Column("given_name"),
    "name.familyname": Column("family_name"),
    "name.formatted": Column("scim_attributes__name__formatted", "json"),
    "name.middlename": Column("scim_attributes__name__middleName", "json"),
    "active": Column("is_active", "bool"),
    "emails": Column("email", key="email_key"),
    "emails.value": Column("email", key="email_key"),
    "meta.created": Column("date_joined", "datetime"),
    "meta.lastmodified": Column("updated_at", "datetime"),
    f"{ENTERPRISE_USER_SCHEMA}:department".lower(): Column("department"),
    f"{ENTERPRISE_USER_SCHEMA}:employeenumber".lower(): Column("employee_number"),
    # The Klaxon attributes as sent: idp_location and idp_notification_phone may hold a
    # fallback value instead (accounts/reachability.py).
    f"{KLAXON_USER_SCHEMA}:location".lower(): Column(f"scim_attributes__{KLAXON_USER_SCHEMA}__location", "json"),
    f"{KLAXON_USER_SCHEMA}:notificationphonenumber".lower(): Column(
        f"scim_attributes__{KLAXON_USER_SCHEMA}__notificationPhoneNumber", "json", case_exact=True
    ),
    **{name.lower(): Column(f"scim_attributes__{name}", "json") for name in _JSON_CORE},
}

GROUP_COLUMNS = {
    "id": Column("scim_id", "uuid", True),
    "externalid": Column("external_id", case_exact=True),
    "displayname": Column("display_name", key="display_name_key"),
    "meta.created": Column("created", "datetime"),
    "meta.lastmodified": Column("updated_at", "datetime"),
    "members": Column("", "members"),
    "members.value": Column("", "members"),
}

_CORE_SCHEMAS = {CORE_USER_SCHEMA.lower(), CORE_GROUP_SCHEMA.lower()}
_BARE_VALUE = re.compile(r'^\s*([A-Za-z][\w.:\-]*)\s+(eq|ne|co|sw|ew)\s+([^\s"()\[\]]+)\s*$', re.IGNORECASE)
_LITERALS = {"true", "false", "null"}


def parse_filter(text: str):
    """Parse a filter; an unquoted value (Entra's `externalId eq jyoung`) is read as a string."""
    try:
        return ScimFilter(text).ast
    except InvalidFilterException:
        bare = _BARE_VALUE.match(text)
        if not bare or bare.group(3).lower() in _LITERALS or _is_number(bare.group(3)):
            raise
        return ScimFilter(f"{bare.group(1)} {bare.group(2)} {ScimFilter.quote(bare.group(3))}").ast


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def attribute_key(attr_path: AttrPath) -> str:
    """Lower-case lookup key: `name.familyname`, or `<extension urn>:attr` for extensions."""
    name = attr_path.attr + (f".{attr_path.sub_attr}" if attr_path.sub_attr else "")
    if attr_path.uri and attr_path.uri.lower() not in _CORE_SCHEMAS:
        name = f"{attr_path.uri}:{name}"
    return name.lower()


def _invalid(detail: str) -> InvalidFilterException:
    return InvalidFilterException(detail=detail)


class QueryTranslator:
    """Walks a parsed filter and builds the `Q` for one resource type."""

    def __init__(self, columns: dict[str, Column]):
        self.columns = columns

    def to_q(self, node) -> Q:
        if isinstance(node, LogicalExpr):
            combined = Q()
            for i, term in enumerate(node.terms):
                q = self.to_q(term)
                combined = q if i == 0 else (combined & q if node.op == LogicalOperator.and_ else combined | q)
            return combined
        if isinstance(node, Not):
            return ~self.to_q(node.expr)
        if isinstance(node, Present):
            return self._present(self._column(node.attr_path))
        if isinstance(node, Comparison):
            return self._compare(self._column(node.attr_path), node.op, node.value)
        if isinstance(node, ValuePath):
            return self._value_path(node)
        raise _invalid("Unsupported filter expression.")

    def _column(self, attr_path: AttrPath) -> Column:
        column = self.columns.get(attribute_key(attr_path))
        if column is None:
            raise _invalid(f"Filtering on {attr_path} is not supported.")
        return column

    def _present(self, column: Column) -> Q:
        if column.kind == "members":
            return Q(Exists(GroupMembership.objects.filter(group=OuterRef("pk"))))
        if column.kind in ("bool", "datetime", "uuid"):
            return Q(**{f"{column.lookup}__isnull": False})
        return Q(**{f"{column.lookup}__isnull": False}) & ~Q(**{column.lookup: ""})

    def _compare(self, column: Column, op: CompareOperator, value) -> Q:
        if isinstance(value, str) and (found := unstorable_character(value)):
            # The filter grammar decodes "\u0000" and "\ud800" escapes that the raw query text
            # did not show: no column holds such a character, and the database refuses it.
            raise _invalid(f"A filter value cannot contain {found}.")
        if value is None:
            if op == CompareOperator.eq:
                return ~self._present(column)
            if op == CompareOperator.ne:
                return self._present(column)
            raise _invalid("null can only be compared with eq or ne.")
        if column.kind == "bool":
            if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
                raise _invalid("Boolean attributes compare with eq or ne and true or false.")
            q = Q(**{column.lookup: value})
            return q if op == CompareOperator.eq else ~q
        if column.kind == "datetime":
            return self._compare_datetime(column, op, value)
        if isinstance(value, bool):
            raise _invalid("A text attribute cannot be compared with a boolean.")
        value = str(value)
        if column.kind == "uuid":
            return self._compare_id(column.lookup, op, value)
        if column.kind == "members":
            q = Q(Exists(GroupMembership.objects.filter(group=OuterRef("pk"), user__scim_id=_as_uuid(value))))
            return self._eq_ne(op, q, "members")
        suffix = {
            CompareOperator.eq: "exact",
            CompareOperator.ne: "exact",
            CompareOperator.co: "contains",
            CompareOperator.sw: "startswith",
            CompareOperator.ew: "endswith",
            CompareOperator.gt: "gt",
            CompareOperator.ge: "gte",
            CompareOperator.lt: "lt",
            CompareOperator.le: "lte",
        }[op]
        if column.kind == "json" and suffix in ("gt", "gte", "lt", "lte"):
            raise _invalid("Ordering comparisons are not supported on this attribute.")
        if column.key and value:
            q = Q(**{f"{column.key}__{suffix}": identity_key(value)})
        elif not column.case_exact and column.kind == "string" and suffix in ("exact", "gt", "gte", "lt", "lte"):
            # RFC 7644 §3.4.2.2: a caseExact false string is compared and ordered without case.
            # The database lowers both sides: Python's lower() disagrees with SQLite's, which
            # folds ASCII only, and `familyName eq "Öberg"` found nobody. `exact` is served by
            # the lower(...) indexes.
            q = Q(**{f"{column.lookup}__lower__{suffix}": Lower(Value(value))})
        elif column.case_exact and column.kind == "string" and suffix in ("contains", "startswith", "endswith"):
            # Django's contains is SQLite's LIKE, which ignores ASCII case (`externalId co "A1"`
            # would find "a100"). An expression: Django does not guard it against NULL under
            # `not (...)`, so the presence test is part of it.
            q = self._present(column) & (Q(_case_exact_match(column.lookup, suffix, value)) if value else Q())
        else:
            if not column.case_exact and suffix in ("exact", "contains", "startswith", "endswith"):
                suffix = "i" + suffix
            q = Q(**{f"{column.lookup}__{suffix}": value})
        if value == "" or op in (CompareOperator.lt, CompareOperator.le) or column.kind == "json":
            # (JSON: an absent key reads as NULL, and NOT over NULL selects nothing, so
            # `not (attr eq "x")` would miss people without the attribute.)
            # A person without the attribute matches no comparison (`ne` is the negation), but
            # Klaxon keeps an absent text as "", which `eq ""`, `co ""` or `lt "m"` would match.
            # (Not added otherwise: PostgreSQL would take `IS NOT NULL` to the wrong index.)
            q = self._present(column) & q
        return ~q if op == CompareOperator.ne else q

    @staticmethod
    def _eq_ne(op, q: Q, name: str) -> Q:
        if op == CompareOperator.eq:
            return q
        if op == CompareOperator.ne:
            return ~q
        raise _invalid(f"{name} compares with eq or ne only.")

    def _compare_id(self, lookup: str, op, value: str) -> Q:
        ident = _as_uuid(value)
        q = Q(**{lookup: ident}) if ident else Q(pk__in=[])
        return self._eq_ne(op, q, "id")

    @staticmethod
    def _compare_datetime(column: Column, op, value) -> Q:
        try:
            moment = value if isinstance(value, datetime) else parse_datetime(str(value))
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)  # SCIM's times are UTC when no offset is given
            if moment is not None:
                moment.astimezone(UTC)  # the database compares in UTC
        except (ValueError, OverflowError):
            moment = None
        if moment is None:
            raise _invalid(f"{value!r} is not a date and time Klaxon can compare (RFC 3339, years 1 to 9999).")
        suffix = {
            CompareOperator.eq: "exact",
            CompareOperator.ne: "exact",
            CompareOperator.gt: "gt",
            CompareOperator.ge: "gte",
            CompareOperator.lt: "lt",
            CompareOperator.le: "lte",
        }.get(op)
        if suffix is None:
            raise _invalid("Dates compare with eq, ne, gt, ge, lt or le.")
        q = Q(**{f"{column.lookup}__{suffix}": moment})
        return ~q if op == CompareOperator.ne else q

    def _value_path(self, node: ValuePath) -> Q:
        key = attribute_key(node.attr_path)
        if key == "members" and "members" in self.columns:
            return MemberTranslator().to_q(node.val_filter)
        if key == "emails" and "emails" in self.columns:
            # RFC 7644 §3.4.2.2: a value path selects existing values, so a person without an
            # e-mail matches no emails[...], not even emails[type eq "work" and value ne "x"].
            email = self.columns["emails"]
            return self._present(email) & EmailTranslator(email).to_q(node.val_filter)
        raise _invalid(f"Filtering inside {node.attr_path} is not supported.")


class EmailTranslator(QueryTranslator):
    """Inside emails[...]: Klaxon keeps one e-mail, the work (primary) one."""

    def __init__(self, email: Column):
        super().__init__({"value": email})
        self.email = email

    def to_q(self, node) -> Q:
        if isinstance(node, Comparison) and attribute_key(node.attr_path) in ("type", "primary"):
            if (node.op, str(node.value).lower()) in ((CompareOperator.eq, "work"), (CompareOperator.eq, "true")):
                return Q()
            raise _invalid('Only the work e-mail can be filtered: use emails[type eq "work"].')
        return super().to_q(node)


class MemberTranslator(QueryTranslator):
    def __init__(self):
        super().__init__({"value": Column("", "members")})


USER_FILTERS = QueryTranslator(USER_COLUMNS)
GROUP_FILTERS = QueryTranslator(GROUP_COLUMNS)


def _case_exact_match(lookup: str, suffix: str, value: str):
    """co, sw or ew of a non-empty `value` that respect case on every database."""
    if suffix == "contains":
        return GreaterThan(StrIndex(lookup, Value(value)), 0)
    part = (Left if suffix == "startswith" else Right)(lookup, len(value))
    return Exact(part, Value(value))


def _as_uuid(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def filter_q(translator: QueryTranslator, text: str) -> Q:
    """The `Q` for a client's filter, refusing one too long or too complex to run cheaply."""
    if len(text) > MAX_FILTER_LENGTH:
        raise _invalid("The filter is too long.")
    node = parse_filter(text)
    if count_nodes(node) > MAX_FILTER_NODES:
        raise _invalid("The filter is too complex.")
    return translator.to_q(node)


def count_nodes(node) -> int:
    """Comparisons, presence tests, and/or/not and value paths in a parsed filter.

    Parentheses leave no node; `a or b or c` is one `or` with three terms (4 nodes).
    """
    count, pending = 0, [node]
    while pending:
        node = pending.pop()
        count += 1
        if isinstance(node, LogicalExpr):
            pending.extend(node.terms)
        elif isinstance(node, Not):
            pending.append(node.expr)
        elif isinstance(node, ValuePath):
            pending.append(node.val_filter)
    return count


def sort_field(columns: dict[str, Column], sort_by: str) -> str:
    """The column behind `sortBy`; RFC 7644 §3.4.2.3."""
    try:
        column = columns.get(attribute_key(_parse_attr_path(sort_by)))
    except ValueError:
        column = None
    if column is None or column.kind in ("members",):
        raise _invalid(f"Sorting by {sort_by} is not supported.")
    if column.key:
        return column.key
    if column.kind == "string" and not column.case_exact:
        # "for case-insensitive attributes, sort the result using case-insensitive ... order"
        return f"{column.lookup}__lower"
    return column.lookup


def _parse_attr_path(text: str) -> AttrPath:
    node = parse_filter(f"{text} pr")
    if not isinstance(node, Present):
        raise ValueError(text)
    return node.attr_path
