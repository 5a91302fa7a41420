"""Failed sign-in attempts, counted in memory per (username, client address).

After ``limit`` failures within ``window`` seconds the pair is refused (429) until the oldest
of them is older than the window; a successful sign-in clears the count. Each server
replica counts on its own, so with N replicas an attacker gets at most N times the limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

from runyard.errors import RunyardError


class TooManyRequests(RunyardError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class FailureLimiter:
    def __init__(self, limit: int = 10, window: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: tuple[str, str], now: float | None = None) -> None:
        """TooManyRequests while ``key`` has ``limit`` failures within the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                raise TooManyRequests(
                    "too many failed sign-in attempts; try again later",
                    times[0] + self.window - now)

    def failed(self, key: tuple[str, str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque()
            times.append(now)
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
