"""Failed sign-ins are throttled per organisation and name, and per client address.

Counters live in Django's cache so they hold across processes when a shared cache
(Redis, Memcached) is configured.
"""

from django.core.cache import cache

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ADDRESS = 50


def _keys(request, organisation: str, username: str) -> list[tuple[str, int]]:
    address = request.META.get("REMOTE_ADDR", "")
    return [
        (f"signin:{organisation.lower()}:{username.lower()}", MAX_FAILURES),
        (f"signin-ip:{address}", MAX_FAILURES_PER_ADDRESS),
    ]


def is_blocked(request, organisation: str, username: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(request, organisation, username))


def record_failure(request, organisation: str, username: str) -> None:
    for key, _ in _keys(request, organisation, username):
        cache.add(key, 0, WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, WINDOW_SECONDS)


def clear(request, organisation: str, username: str) -> None:
    cache.delete(_keys(request, organisation, username)[0][0])
