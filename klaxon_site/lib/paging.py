"""Pages of long lists: deep pages without reading every row before them, and a total
that is counted once per listing rather than once per page.

OFFSET n makes the database walk n rows. Walking them in an index that holds the sort
key and the primary key (an index-only scan) and fetching full rows only for the page
("deferred join") keeps page 1,000 about as cheap as page 1 while the table's visibility
map is fresh; after mass updates every row walked is also read from the table, so the
next page of a listing starts from a bookmark where the last one ended (keyset) instead.
"""

import datetime
import hashlib
from typing import NamedTuple

from django.core.cache import cache
from django.utils import timezone

from klaxon_site.lib.lookups import any_of

# How long the count taken for a listing's first page answers for its later pages, and how
# long a bookmark is used.
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


class ListingBookmarks:
    """Where the served pages of one listing ended, with the listing's total, in a table
    shaped like scim_sync.models.PageBookmark (passed in, so that this module needs no app).
    One statement to read, one to write (an upsert: the latest page to end here wins)."""

    def __init__(self, model, listing: str):
        self.model = model
        self.digest = hashlib.sha256(listing.encode()).hexdigest()

    def nearest(self, position: int) -> Bookmark | None:
        """The fresh bookmark at or before `position`, if any.

        Not only the exact one: a client fetching pages in parallel asks for page n+1
        before page n has been served, and then starts a few pages back.
        """
        fresh = timezone.now() - datetime.timedelta(seconds=SNAPSHOT_SECONDS)
        row = (
            self.model.objects.filter(listing=self.digest, position__lte=position, written_at__gte=fresh)
            .order_by("-position")
            .values_list("position", "key", "total")
            .first()
        )
        return Bookmark(*row) if row else None

    def save(self, position: int, key: int, total: int | None = None) -> None:
        bookmark = self.model(listing=self.digest, position=position, key=key, total=total, written_at=timezone.now())
        self.model.objects.bulk_create(
            [bookmark],
            update_conflicts=True,
            unique_fields=["listing", "position"],
            update_fields=["key", "total", "written_at"],
        )


class CachedTotal:
    """The store of a listing served in another order than by key (the portal's People
    list): only its total, in the shared cache."""

    def __init__(self, listing: str):
        self.key = "listing-total:" + hashlib.sha256(listing.encode()).hexdigest()
        self.read: int | None = None

    def nearest(self, position: int) -> Bookmark | None:
        self.read = cache.get(self.key)
        return Bookmark(0, 0, self.read) if self.read is not None else None

    def save(self, position: int, key: int, total: int | None = None) -> None:
        if total != self.read:
            cache.set(self.key, total, SNAPSHOT_SECONDS)


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
    return list(read(queryset.filter(any_of("pk", keys))))


def page_of(queryset, offset: int, limit: int, *, store, keyset: bool = False, read=None) -> tuple[int, list]:
    """(total, rows) of the ordered `queryset`'s page [offset, offset + limit).

    A page shorter than `limit` ends the list, so it tells the total itself: a look-up
    such as `userName eq "…"` costs no COUNT(*). A full page needs the count. The count
    a first page takes answers for the listing's later pages, for SNAPSHOT_SECONDS: the
    listing's `store` (ListingBookmarks or CachedTotal) keeps it, beside where each page
    ended. With `keyset` (lists in primary-key order) a page continues from the store's
    nearest bookmark (see rows_at). A client paging through 100,000 people pays for one
    COUNT(*), not a thousand.
    """
    bookmark, rows = None, []
    if limit and offset < MAX_OFFSET:
        bookmark = store.nearest(offset) if offset else None
        rows = rows_at(queryset, offset, limit, bookmark if keyset else None, read)
    if rows and len(rows) < limit or (offset == 0 and limit and not rows):
        return offset + len(rows), rows
    total = bookmark.total if bookmark and rows else None
    if total is None:
        total = queryset.count()
    if rows:
        store.save(offset + limit, rows[-1].pk, total)
    return total, rows
