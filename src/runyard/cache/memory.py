"""``memory://``: an in-process LRU cache bounded by total bytes, with per-entry TTLs.

The default backend: nothing to run, nothing shared between server processes. Each entry
counts ``len(key) + len(value)`` bytes against ``max_bytes``; the least recently used entries
go first, and a value larger than the whole budget is not cached. Expired entries are dropped
when read or when they reach the LRU end.

Generation counters live outside the LRU so that eviction can never move a generation back
(which would revive stale entries). They are a few dozen bytes each; past ``max_counters``
everything (entries and counters) is flushed at once, which is always safe for a cache.

All operations hold a ``threading.Lock`` and never await while holding it, so one instance is
safe to share between event-loop tasks and threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from runyard.cache.base import DEFAULT_PREFIX, Cache, check_ttl

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_COUNTERS = 1_000_000


class MemoryCache(Cache):
    def __init__(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_counters: int = DEFAULT_MAX_COUNTERS,
    ) -> None:
        super().__init__(prefix=prefix)
        if max_bytes <= 0 or max_counters <= 0:
            raise ValueError("max_bytes and max_counters must be positive")
        self.max_bytes = max_bytes
        self.max_counters = max_counters
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # value, expiry
        self._counters: dict[str, int] = {}
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """Bytes currently charged against ``max_bytes``."""
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        full = self._key(key)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(full)
            if entry is not None:
                value, expires = entry
                if expires <= now:
                    self._drop(full)
                    return None
                self._entries.move_to_end(full)
                return value
            counter = self._counters.get(full)
            return None if counter is None else str(counter).encode("ascii")

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        expires = time.monotonic() + check_ttl(ttl_seconds)
        full = self._key(key)
        value = bytes(value)
        with self._lock:
            self._drop(full)
            self._counters.pop(full, None)
            size = len(full) + len(value)
            if size > self.max_bytes:
                return
            self._entries[full] = (value, expires)
            self._bytes += size
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._entries))
                self._drop(oldest)

    async def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                full = self._key(key)
                self._drop(full)
                self._counters.pop(full, None)

    async def incr(self, key: str) -> int:
        full = self._key(key)
        now = time.monotonic()
        with self._lock:
            current = self._counters.get(full)
            if current is None:
                current = 0
                entry = self._entries.get(full)
                if entry is not None and entry[1] > now:
                    try:
                        current = int(entry[0])
                    except ValueError:
                        raise ValueError(f"cache key {key!r} does not hold an integer") from None
                self._drop(full)
                if len(self._counters) >= self.max_counters:
                    self._entries.clear()
                    self._counters.clear()
                    self._bytes = 0
            self._counters[full] = current + 1
            return current + 1

    def _drop(self, full: str) -> None:
        """Remove one entry (lock held)."""
        entry = self._entries.pop(full, None)
        if entry is not None:
            self._bytes -= len(full) + len(entry[0])
