"""Pages of long lists: deep pages without reading every row before them, and a total
that is counted once per listing rather than once per page.

OFFSET n makes the database walk n rows. Walking them in an index that holds the sort
key and the primary key (an index-only scan) and fetching full rows only for the page
("deferred join") keeps page 1,000 about as cheap as page 1 while the table's visibility
map is fresh; after mass updates every row walked is also read from the table, so the
next page of a listing starts from a bookmark where the last one ended (keyset) instead.
"""

import hashlib

from django.core.cache import cache
from django.db import connection

# How long the count taken for a listing's first page answers for its later pages.
SNAPSHOT_SECONDS = 120
# Past this the page is empty without asking: a huge offset would overflow OFFSET.
MAX_OFFSET = 2**53


def rows_at(queryset, offset: int, limit: int, bookmarks=None) -> list:
    """The ordered rows [offset, offset + limit) of `queryset`.

    Keys first, then rows, rather than one query with a subquery: right after a large
    initial synchronisation the table has no statistics yet, and PostgreSQL then planned
    `pk IN (subquery)` as a nested loop that ran the subquery once per row (0.9 s for a
    page of 2,000 people). A list of keys has only one plan. With `bookmarks` (for lists
    in primary-key order) a page continues after the last key of the nearest page served
    before it instead of walking every row from the start.
    """
    bookmark = bookmarks.nearest(offset) if bookmarks is not None and offset else None
    if bookmark:
        position, key = bookmark
        after = queryset.filter(pk__gt=key).values_list("pk", flat=True)
        keys = list(after[offset - position:offset - position + limit])
    else:
        keys = list(queryset.values_list("pk", flat=True)[offset:offset + limit])
    if not keys:
        return []
    if connection.vendor == "postgresql":
        # One array parameter: a hundred `IN (%s, ...)` parameters cost more to quote and parse.
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        column = connection.ops.quote_name(queryset.model._meta.pk.column)
        return list(queryset.extra(where=[f"{table}.{column} = ANY(%s)"], params=[keys]))
    return list(queryset.filter(pk__in=keys))


def page_of(queryset, offset: int, limit: int, *, listing: str, bookmarks=None) -> tuple[int, list]:
    """(total, rows) of the ordered `queryset`'s page [offset, offset + limit).

    A page shorter than `limit` ends the list, so it tells the total itself: a look-up
    such as `userName eq "…"` costs no COUNT(*). A full page needs the count. The count
    a first page takes is kept for SNAPSHOT_SECONDS in the shared cache under `listing`
    (what is listed, as text), so a client paging through 100,000 people pays for one
    COUNT(*), not a thousand; within that time a later page's total is the snapshot's.
    `bookmarks` (see rows_at) records where each full page ends.
    """
    rows = rows_at(queryset, offset, limit, bookmarks) if limit and offset < MAX_OFFSET else []
    if bookmarks is not None and rows and len(rows) == limit:
        bookmarks.save(offset + limit, rows[-1].pk)
    if rows and len(rows) < limit or (offset == 0 and limit and not rows):
        return offset + len(rows), rows
    key = "listing-total:" + hashlib.sha256(listing.encode()).hexdigest()
    total = cache.get(key) if offset and rows else None
    if total is None:
        total = queryset.count()
        cache.set(key, total, SNAPSHOT_SECONDS)
    return total, rows
