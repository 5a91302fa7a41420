"""Failed sign-ins: counted per (username, address) in a sliding window."""

from __future__ import annotations

import pytest

from runyard.auth.ratelimit import FailureLimiter, TooManyRequests

KEY = ("alice", "127.0.0.1")


def test_limit_then_refused_with_retry_after() -> None:
    limiter = FailureLimiter(limit=3, window=60)
    for t in (0.0, 1.0, 2.0):
        limiter.check(KEY, now=t)
        limiter.failed(KEY, now=t)
    with pytest.raises(TooManyRequests) as info:
        limiter.check(KEY, now=10.0)
    assert info.value.status_code == 429
    assert info.value.headers() == {"Retry-After": "50"}  # the first failure ages out at 60


def test_window_slides() -> None:
    limiter = FailureLimiter(limit=2, window=60)
    limiter.failed(KEY, now=0.0)
    limiter.failed(KEY, now=30.0)
    with pytest.raises(TooManyRequests):
        limiter.check(KEY, now=59.0)
    limiter.check(KEY, now=60.5)  # the first one is older than the window now


def test_other_users_and_addresses_are_counted_apart() -> None:
    limiter = FailureLimiter(limit=1, window=60)
    limiter.failed(KEY, now=0.0)
    limiter.check(("bob", "127.0.0.1"), now=1.0)
    limiter.check(("alice", "10.0.0.1"), now=1.0)
    with pytest.raises(TooManyRequests):
        limiter.check(KEY, now=1.0)


def test_success_clears() -> None:
    limiter = FailureLimiter(limit=2, window=60)
    limiter.failed(KEY, now=0.0)
    limiter.succeeded(KEY)
    limiter.failed(KEY, now=1.0)
    limiter.check(KEY, now=2.0)


def test_memory_is_bounded() -> None:
    limiter = FailureLimiter(limit=1, window=60, max_keys=100)
    for i in range(1000):
        limiter.failed((f"user{i}", "1.2.3.4"), now=0.0)
    assert len(limiter._failures) == 100
    limiter.check(("user0", "1.2.3.4"), now=1.0)  # the oldest were dropped
