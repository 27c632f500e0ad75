"""Tiny typed readers for settings taken from the environment.

A bad value stops the process at start with ImproperlyConfigured, never later.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


_CACHE_BACKENDS = {
    "db": "klaxon_site.lib.cache.DatabaseCache",  # with an atomic incr()
    "redis": "django.core.cache.backends.redis.RedisCache",
    "rediss": "django.core.cache.backends.redis.RedisCache",
    "memcached": "django.core.cache.backends.memcached.PyMemcacheCache",
    "locmem": "django.core.cache.backends.locmem.LocMemCache",
}


def cache_from_url(url: str) -> dict:
    """`db://table`, `redis://host:6379/0`, `memcached://host:11211` or `locmem://` as a CACHES entry."""
    scheme, _, rest = url.partition("://")
    backend = _CACHE_BACKENDS.get(scheme)
    if backend is None:
        raise ImproperlyConfigured(f"CACHE_URL must start with one of {', '.join(_CACHE_BACKENDS)}://, not {url!r}")
    if scheme == "db":
        return {"BACKEND": backend, "LOCATION": rest or "klaxon_cache"}
    if scheme in ("redis", "rediss"):
        return {"BACKEND": backend, "LOCATION": url}
    return {"BACKEND": backend, "LOCATION": rest}
