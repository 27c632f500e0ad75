"""Primary keys read from text a visitor controls (query strings)."""

import re

_DIGITS = re.compile(r"[0-9]{1,19}")
BIGINT_MAX = 2**63 - 1


def database_key(text) -> int | None:
    """`text` as a primary key: ASCII digits only, from 1 to PostgreSQL's bigint maximum;
    anything else is None. ("²" and "٣" are digits to str.isdigit() but not to int(), and
    numbers past 2**63 overflow SQLite and PostgreSQL.)"""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= BIGINT_MAX else None
