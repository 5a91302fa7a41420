"""The cache port (``base.Cache``) and its adapters, chosen by URL scheme.

``memory://`` (default, in-process; ``?max_bytes=N``), ``redis://`` and ``rediss://``.
Adapters are imported only when chosen, so redis-py is needed only for a Redis URL.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

from runyard.cache.base import DEFAULT_PREFIX, Cache
from runyard.errors import ConfigError

__all__ = ["CACHES", "Cache", "cache_from_url"]


def _memory(url: str, prefix: str) -> Cache:
    from runyard.cache.memory import DEFAULT_MAX_BYTES, MemoryCache

    options = parse_qs(urlparse(url).query)
    unknown = sorted(set(options) - {"max_bytes"})
    if unknown:
        raise ConfigError(f"unknown memory:// cache option(s): {', '.join(unknown)}")
    try:
        max_bytes = int(options.get("max_bytes", [str(DEFAULT_MAX_BYTES)])[-1])
        return MemoryCache(prefix=prefix, max_bytes=max_bytes)
    except ValueError:
        raise ConfigError("memory:// cache max_bytes must be a positive integer") from None


def _redis(url: str, prefix: str) -> Cache:
    try:
        from runyard.cache.redis import RedisCache
    except ImportError:
        raise ConfigError(
            "a redis:// cache needs the redis package: pip install 'runyard[redis]'"
        ) from None
    return RedisCache(url, prefix=prefix)


CACHES: dict[str, Callable[[str, str], Cache]] = {
    "memory": _memory,
    "redis": _redis,
    "rediss": _redis,
}


def cache_from_url(url: str, *, prefix: str = DEFAULT_PREFIX) -> Cache:
    """The cache for ``url``; it does no I/O until ``open``."""
    scheme = urlparse(url).scheme
    factory = CACHES.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(CACHES))
        raise ConfigError(f"unknown cache URL scheme {scheme + '://'!r}; known: {known}")
    return factory(url, prefix)
