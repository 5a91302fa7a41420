"""The cache port: bytes by key with a TTL, plus generation counters for invalidation.

The server caches history, chart and runs-table query results. A cache is never the source
of truth: a miss, an expired entry or an unreachable backend only means the database answers.
Adapters never raise backend errors to callers; the Redis one degrades to "always miss".

Invalidation works by generation: a write bumps a counter (``incr``) and readers put the
counter's current value (``get`` returns it as decimal ASCII, ``None`` before the first
``incr``) into their cache keys, so entries cached before the write are never read again and
simply expire.

Keys are namespaced by the ``prefix`` given to the constructor (default ``"runyard:"``), so
several deployments or tests can share one Redis.
"""

from __future__ import annotations

import abc
import hashlib
import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

DEFAULT_PREFIX = "runyard:"


def key_part(value: object) -> str:
    """A short, stable cache-key part for any value with a faithful repr (query objects)."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:32]


class Cache(abc.ABC):
    """Constructors do no I/O; ``open`` connects (and never fails because a server is down)."""

    #: True when every server process sharing the database also shares this cache's entries
    #: and counters, so a counter bumped by one replica's write is seen by all. Only then may
    #: a reader trust a generation counter instead of asking the database.
    shared: bool = False

    def __init__(self, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The cached value, or None when absent, expired or the backend is unreachable."""

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Cache value for ttl_seconds (> 0). Best effort: may be dropped, never raises."""

    @abc.abstractmethod
    async def delete(self, *keys: str) -> None:
        """Forget keys (values and counters). Absent keys are fine."""

    @abc.abstractmethod
    async def incr(self, key: str) -> int:
        """Bump the generation counter ``key`` (no TTL) and return its new value (1 first)."""

    async def get_or_compute(
        self, key: str, ttl: float, compute: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """The cached value, or ``compute()``'s result, cached for ttl seconds.

        Errors from ``compute`` (the database) propagate and nothing is cached.
        """
        cached = await self.get(key)
        if cached is not None:
            return cached
        value = await compute()
        await self.set(key, value, ttl)
        return value


def check_ttl(ttl_seconds: float) -> float:
    """A TTL must be a positive, finite number of seconds."""
    if not (ttl_seconds > 0 and math.isfinite(ttl_seconds)):
        raise ValueError(f"ttl_seconds must be positive and finite, got {ttl_seconds!r}")
    return float(ttl_seconds)
