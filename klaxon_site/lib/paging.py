"""Deep pages without reading every row before them ("deferred join").

OFFSET n makes the database walk n rows. Walking them in an index that holds the sort
key and the primary key (an index-only scan) and fetching full rows only for the page
keeps page 1,000 about as cheap as page 1.
"""


def rows_at(queryset, offset: int, limit: int):
    """The ordered rows [offset, offset + limit) of `queryset`, as a queryset of one query."""
    window = queryset.values("pk")[offset:offset + limit]
    return queryset.filter(pk__in=window)
