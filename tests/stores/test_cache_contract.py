"""Contract of the cache port, run against every adapter.

Redis is the server at ``RUNYARD_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); each
test gets a fresh key prefix and its keys are deleted afterwards. When Redis cannot be reached
the Redis cases are skipped locally and fail on CI (``CI=true``).

Each test body runs in one event loop (``asyncio.run``); the cache is opened inside it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
import redis

from runyard.cache import Cache, cache_from_url
from runyard.cache.memory import MemoryCache
from runyard.cache.redis import RedisCache
from runyard.errors import ConfigError
from tests import asyncrun
from tests.stores import databases

REDIS_URL = os.environ.get("RUNYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = {"memory": "memory://", "redis": REDIS_URL}


@dataclass
class Backend:
    url: str
    prefixes: list[str] = field(default_factory=list)

    def new(self) -> Cache:
        """An unopened cache on this backend under a prefix no other test uses.

        Redis gets timeouts far above its production defaults (0.5 s to connect): these tests
        check what the cache answers while Redis serves, and a loaded CI machine once took
        longer than 0.5 s to open the pool's connections for 20 concurrent calls, so the
        adapter degraded to its local counts, as designed. Degradation is tested on purpose,
        with a Redis that is really stopped, in ``test_cache_faults.py``.
        """
        prefix = f"runyard-test:{secrets.token_hex(6)}:"
        self.prefixes.append(prefix)
        if self.url.startswith("redis"):
            return RedisCache(
                self.url, prefix=prefix, connect_timeout=10, socket_timeout=10, op_timeout=20
            )
        return cache_from_url(self.url, prefix=prefix)


@pytest.fixture(params=sorted(BACKENDS))
def cache_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    url = BACKENDS[request.param]
    if not url.startswith("redis"):
        yield Backend(url)
        return
    admin = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        try:
            admin.ping()
        except redis.RedisError as exc:
            databases.unavailable(
                f"Redis at {url} is unreachable ({type(exc).__name__}); "
                f"start one or set RUNYARD_TEST_REDIS_URL"
            )
        backend = Backend(url)
        yield backend
        for prefix in backend.prefixes:
            keys = list(admin.scan_iter(match=prefix + "*", count=1000))
            if keys:
                admin.delete(*keys)
    finally:
        admin.close()


@pytest.fixture
def cache(cache_backend: Backend) -> Cache:
    return cache_backend.new()


def run(cache: Cache, body: Callable[[Cache], Awaitable[None]]) -> None:
    async def main() -> None:
        async with cache:
            await body(cache)

    asyncrun.run(main())


BINARY = bytes(range(256)) * 40 + b"\x00\xff\r\n"


def test_get_returns_what_set_stored_byte_for_byte(cache: Cache) -> None:
    async def body(c: Cache) -> None:
        assert await c.get("absent") is None
        await c.set("blob", BINARY, 60)
        await c.set("empty", b"", 60)
        assert await c.get("blob") == BINARY
        assert await c.get("empty") == b""
        await c.set("blob", b"replaced", 60)
        assert await c.get("blob") == b"replaced"

    run(cache, body)


def test_entries_expire_after_their_ttl(cache: Cache) -> None:
    async def body(c: Cache) -> None:
        await c.set("short", b"s", 0.3)
        await c.set("long", b"l", 60)
        assert await c.get("short") == b"s"
        await asyncio.sleep(0.6)
        assert await c.get("short") is None
        assert await c.get("long") == b"l"
        for bad in (0, -1, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="ttl_seconds"):
                await c.set("bad", b"x", bad)

    run(cache, body)


def test_delete_forgets_values_and_counters(cache: Cache) -> None:
    async def body(c: Cache) -> None:
        await c.set("a", b"1", 60)
        await c.set("b", b"2", 60)
        await c.set("c", b"3", 60)
        await c.incr("gen")
        await c.delete("a", "b", "gen", "never-set")
        await c.delete()
        assert await c.get("a") is None
        assert await c.get("b") is None
        assert await c.get("gen") is None
        assert await c.get("c") == b"3"
        assert await c.incr("gen") == 1

    run(cache, body)


def test_incr_counts_up_from_one_and_get_reads_the_generation(cache: Cache) -> None:
    async def body(c: Cache) -> None:
        assert [await c.incr("gen:run:1") for _ in range(5)] == [1, 2, 3, 4, 5]
        assert await c.incr("gen:run:2") == 1
        assert await c.get("gen:run:1") == b"5"
        results = await asyncio.gather(*(c.incr("gen:run:3") for _ in range(20)))
        assert sorted(results) == list(range(1, 21))

    run(cache, body)


def test_get_or_compute_computes_once_then_serves_the_cached_value(cache: Cache) -> None:
    calls: list[int] = []

    async def compute() -> bytes:
        calls.append(1)
        return BINARY

    async def failing() -> bytes:
        raise RuntimeError("database down")

    async def body(c: Cache) -> None:
        assert await c.get_or_compute("q", 60, compute) == BINARY
        assert await c.get_or_compute("q", 60, compute) == BINARY
        assert await c.get("q") == BINARY
        assert len(calls) == 1
        with pytest.raises(RuntimeError, match="database down"):
            await c.get_or_compute("other", 60, failing)
        assert await c.get("other") is None

    run(cache, body)


def test_generation_keys_invalidate_on_write(cache: Cache) -> None:
    """The pattern the API uses: the generation is part of the key, a write bumps it."""
    computed: list[bytes] = []

    async def body(c: Cache) -> None:
        async def read(version: bytes) -> bytes:
            generation = int(await c.get("gen:run:7") or b"0")

            async def compute() -> bytes:
                computed.append(version)
                return version

            return await c.get_or_compute(f"history:run:7:g{generation}", 60, compute)

        assert await read(b"v1") == b"v1"
        assert await read(b"v2") == b"v1"  # cached
        await c.incr("gen:run:7")  # a write
        assert await read(b"v2") == b"v2"

    run(cache, body)
    assert computed == [b"v1", b"v2"]


def test_prefixes_keep_caches_apart(cache_backend: Backend) -> None:
    first, second = cache_backend.new(), cache_backend.new()

    async def main() -> None:
        async with first, second:
            await first.set("k", b"first", 60)
            await second.set("k", b"second", 60)
            await first.incr("gen")
            await first.incr("gen")
            assert await second.incr("gen") == 1
            await second.delete("k")
            assert await first.get("k") == b"first"
            assert await second.get("k") is None
            assert await first.get("gen") == b"2"

    asyncrun.run(main())


# -- memory adapter ------------------------------------------------------------------


def test_memory_evicts_least_recently_used_entries_by_size() -> None:
    cache = MemoryCache(prefix="", max_bytes=1000)
    value = b"x" * 299  # with its 1-byte key, 300 bytes per entry

    async def main() -> None:
        for key in "abc":
            await cache.set(key, value, 60)
        assert cache.size_bytes == 900
        assert await cache.get("a") == value  # "a" is now the most recently used
        await cache.set("d", value, 60)  # 1200 > 1000: "b" goes
        assert await cache.get("b") is None
        assert [await cache.get(k) for k in "acd"] == [value] * 3
        assert cache.size_bytes == 900
        await cache.set("big", b"y" * 1001, 60)  # larger than the budget: not cached at all
        assert await cache.get("big") is None
        assert [await cache.get(k) for k in "acd"] == [value] * 3
        await cache.set("e", b"z" * 699, 60)  # 700 bytes: evicts the two oldest
        assert [await cache.get(k) for k in "acde"] == [None, None, value, b"z" * 699]
        assert cache.size_bytes == 1000

    asyncrun.run(main())


def test_memory_counters_are_never_evicted_by_entries() -> None:
    cache = MemoryCache(prefix="", max_bytes=100)

    async def main() -> None:
        await cache.incr("gen")
        for i in range(50):
            await cache.set(f"k{i}", b"v" * 50, 60)
        assert await cache.get("gen") == b"1"
        assert await cache.incr("gen") == 2

    asyncrun.run(main())


def test_memory_cache_is_thread_safe() -> None:
    cache = MemoryCache(max_bytes=10_000)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        async def main() -> None:
            for i in range(500):
                await cache.set(f"{n}:{i % 20}", b"v" * (i % 300), 60)
                await cache.get(f"{(n + 1) % 8}:{i % 20}")
                await cache.incr("shared")

        try:
            asyncrun.run(main())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert asyncrun.run(cache.get("shared")) == b"4000"
    assert 0 <= cache.size_bytes <= 10_000


# -- choosing a backend ---------------------------------------------------------------


def test_cache_from_url_chooses_by_scheme_without_io() -> None:
    assert isinstance(cache_from_url("memory://"), MemoryCache)
    small = cache_from_url("memory://?max_bytes=1024")
    assert isinstance(small, MemoryCache)
    assert small.max_bytes == 1024
    started = time.monotonic()
    tls = cache_from_url("rediss://default:token@cache.example.invalid:6379/0?ssl_cert_reqs=none")
    assert isinstance(tls, RedisCache)
    assert isinstance(cache_from_url("redis://127.0.0.1:1"), RedisCache)
    assert time.monotonic() - started < 0.5
    assert "token" not in tls.location
    assert cache_from_url("memory://", prefix="p:").prefix == "p:"
    assert cache_from_url("memory://").prefix == "runyard:"


def test_only_a_cache_all_replicas_reach_is_shared() -> None:
    """Readers trust generation counters instead of the database only on a shared cache."""
    assert not cache_from_url("memory://").shared
    assert cache_from_url("redis://127.0.0.1:1").shared
    assert cache_from_url("rediss://cache.example.invalid:6379/0").shared


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://x", "known: memory://, redis://, rediss://"),
        ("memory://?max_bytes=lots", "max_bytes"),
        ("memory://?size=1", "unknown memory:// cache option"),
        ("redis://host:notaport", "invalid Redis cache URL"),
    ],
)
def test_cache_from_url_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cache_from_url(url)
