"""Pages of long lists: deep pages without reading every row before them, and a total
that is counted once per listing rather than once per page.

OFFSET n makes the database walk n rows. Walking them in an index that holds the sort
key and the primary key (an index-only scan) and fetching full rows only for the page
("deferred join") keeps page 1,000 about as cheap as page 1 while the table's visibility
map is fresh; after mass updates every row walked is also read from the table, so the
next page of a listing starts from a bookmark where the last one ended (keyset) instead.
"""

import hashlib
from typing import NamedTuple

from django.core.cache import cache
from django.db import connection

# How long the count taken for a listing's first page answers for its later pages.
SNAPSHOT_SECONDS = 120
# Past this the page is empty without asking: a huge offset would overflow OFFSET.
MAX_OFFSET = 2**53
# A page this few rows past a bookmark is read in one query; further on, keys are walked
# first (see rows_at).
DIRECT_WALK = 500


class Bookmark(NamedTuple):
    """A served page of a listing ended at `position`, on the row with primary key `key`;
    `total` is the count the listing's first page took."""

    position: int
    key: int
    total: int | None


def rows_at(queryset, offset: int, limit: int, bookmark: Bookmark | None = None, read=None) -> list:
    """The ordered rows [offset, offset + limit) of `queryset`, read with `read` (a function
    of a queryset, such as a values_list; by default the model instances).

    With a `bookmark` (for lists in primary-key order) the page continues after the last
    key of a page served before it instead of walking every row from the start, and close
    to it the page is read in one query. Otherwise keys first, then rows: the keys' query
    is cheap to compile and run, so a look-up that finds nothing (an identity provider's
    GET before each POST) costs little; and right after a large initial synchronisation
    the table has no statistics yet, when PostgreSQL planned `pk IN (subquery)` as a
    nested loop that ran the subquery once per row (bench/RESULTS.md has the figures).
    A list of keys has only one plan.
    """
    read = read or (lambda rows: rows)
    if bookmark:
        queryset, offset = queryset.filter(pk__gt=bookmark.key), offset - bookmark.position
        if offset <= DIRECT_WALK:
            return list(read(queryset)[offset : offset + limit])
    keys = list(queryset.values_list("pk", flat=True)[offset : offset + limit])
    if not keys:
        return []
    if connection.vendor == "postgresql":
        # One array parameter: a hundred `IN (%s, ...)` parameters cost more to quote and parse.
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        column = connection.ops.quote_name(queryset.model._meta.pk.column)
        return list(read(queryset.extra(where=[f"{table}.{column} = ANY(%s)"], params=[keys])))
    return list(read(queryset.filter(pk__in=keys)))


def page_of(queryset, offset: int, limit: int, *, listing: str, bookmarks=None, read=None) -> tuple[int, list]:
    """(total, rows) of the ordered `queryset`'s page [offset, offset + limit).

    A page shorter than `limit` ends the list, so it tells the total itself: a look-up
    such as `userName eq "…"` costs no COUNT(*). A full page needs the count. The count
    a first page takes answers for the listing's later pages: those that continue from
    `bookmarks` (see rows_at) carry it, and for SNAPSHOT_SECONDS the shared cache keeps it
    under `listing` (what is listed, as text). A client paging through 100,000 people
    pays for one COUNT(*), not a thousand.
    """
    bookmark, rows = None, []
    if limit and offset < MAX_OFFSET:
        bookmark = bookmarks.nearest(offset) if bookmarks is not None and offset else None
        rows = rows_at(queryset, offset, limit, bookmark, read)
    if rows and len(rows) < limit or (offset == 0 and limit and not rows):
        return offset + len(rows), rows
    total = bookmark.total if bookmark and rows else None
    if total is None:
        key = "listing-total:" + hashlib.sha256(listing.encode()).hexdigest()
        total = cache.get(key) if offset and rows else None
        if total is None:
            total = queryset.count()
            cache.set(key, total, SNAPSHOT_SECONDS)
    if bookmarks is not None and rows:
        bookmarks.save(offset + limit, rows[-1].pk, total)
    return total, rows
