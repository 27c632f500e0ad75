"""Counters in fixed time windows, kept in Django's cache (shared by every process when the
cache is: the database by default, or Redis or Memcached).

Each window has its own key (`name` plus the window's number), so a counter needs no
separate start time and simply disappears with its window. Names may be any text: they are
hashed, since Memcached refuses spaces, control characters and keys over 250 bytes.

Increments follow cache.add() then cache.incr(), atomic on every cache Klaxon supports:
Redis and Memcached increment in the server, and Klaxon's database cache
(klaxon_site/lib/cache.py) increments under a row lock, which Django's own does not. Each
keeps the entry's expiry, so a counter lasts exactly its window.
"""

import hashlib
import math
import time

from django.core.cache import cache

# The clock windows are cut from; tests move it.
clock = time.time


def _slot(name: str, window: int) -> tuple[str, int]:
    """The cache key of `name` in the current window, and the seconds the window has left."""
    now = clock()
    number = int(now // window)
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"counter:{digest}:{number}", max(1, int((number + 1) * window - now) + 1)


def count(name: str, window: int) -> int:
    """Add one to the counter `name` of the current `window` (seconds); its new value."""
    key, left = _slot(name, window)
    cache.add(key, 0, left)
    try:
        value = cache.incr(key)
    except ValueError:  # The window's entry expired between add() and incr().
        cache.set(key, 1, left)
        value = 1
    return value


def seconds_left(window: int) -> int:
    """Seconds until the current `window` ends and its counters start again from nothing."""
    now = clock()
    return max(1, math.ceil((now // window + 1) * window - now))


def current(name: str, window: int) -> int:
    """The value of the counter `name` in the current window (0 when never counted)."""
    return cache.get(_slot(name, window)[0]) or 0


def reset(name: str, window: int) -> None:
    cache.delete(_slot(name, window)[0])
