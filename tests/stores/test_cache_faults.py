"""The Redis cache when Redis dies, hangs or refuses us: callers never see an error.

Each test starts its own ``redis-server`` (password-protected, no persistence) on a free port
in a temporary directory, then kills (SIGKILL), freezes (SIGSTOP) or restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import redis

from runyard.cache import cache_from_url
from runyard.cache.redis import RedisCache
from tests import asyncrun
from tests.stores import databases

T = TypeVar("T")
PASSWORD = "pw-" + secrets.token_hex(8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.dir = directory
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, password: str = PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.dir),
                    "--daemonize",
                    "no",
                    "--requirepass",
                    PASSWORD,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis.from_url(self.url(), socket_timeout=1)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        databases.unavailable("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def quick(call: Awaitable[T]) -> T:
    """Await call and check that it returned within a second."""
    started = time.monotonic()
    result = await call
    assert time.monotonic() - started < 1.0
    return result


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float) -> float:
    """Poll check until it passes; returns how long that took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "runyard.cache" and r.levelno >= logging.WARNING]


def assert_no_password(caplog: pytest.LogCaptureFixture, *passwords: str) -> None:
    for password in passwords:
        assert password not in caplog.text
        for record in caplog.records:
            assert password not in record.getMessage()


def test_killed_redis_degrades_quietly_then_recovers(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, redis-py's own loggers included
    # A short back-off (the default is 5 s) keeps the recovery check clear of a slow start
    # of the new redis-server on a busy machine.
    cache = RedisCache(redis_server.url(), prefix="t:", retry_after=2.0)

    async def main() -> None:
        async with cache:
            await cache.set("k", b"before", 60)
            assert await cache.get("k") == b"before"
            assert await cache.incr("gen") == 1
            assert cache_warnings(caplog) == []

            redis_server.kill()
            for _ in range(3):
                assert await quick(cache.get("k")) is None
                await quick(cache.set("k", b"during", 60))
                await quick(cache.delete("k", "other"))
                assert isinstance(await quick(cache.incr("gen")), int)
                assert await quick(cache.get_or_compute("q", 60, db_query)) == b"from-db"
            assert not cache.available
            warnings = cache_warnings(caplog)
            assert len(warnings) == 1, "one warning per outage, not one per call"
            assert "serving from the database" in warnings[0].getMessage()
            assert "127.0.0.1" in warnings[0].getMessage()

            redis_server.start()  # same port, empty (no persistence)

            async def works() -> bool:
                await cache.set("k", b"after", 60)
                return await cache.get("k") == b"after"

            assert await eventually(works, seconds=15) < 12
            assert cache.available
            # the counter bumped during the outage was replayed once Redis answered
            assert await cache.get("gen") == b"1"
            assert await cache.incr("gen") == 2

    async def db_query() -> bytes:
        return b"from-db"

    asyncrun.run(main())
    assert len(cache_warnings(caplog)) == 1
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert_no_password(caplog, PASSWORD)


def test_hung_redis_times_out_and_replays_invalidations(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cache = RedisCache(redis_server.url(), prefix="t:", retry_after=1.0)

    async def main() -> None:
        async with cache:
            await cache.set("history:run:1:g1", b"stale soon", 60)
            await cache.set("entry", b"old", 60)
            assert await cache.incr("gen:run:1") == 1

            redis_server.signal(signal.SIGSTOP)
            try:
                assert await quick(cache.get("entry")) is None  # read timeout, not a hang
                await quick(cache.delete("entry"))  # a write during the outage...
                await quick(cache.incr("gen:run:1"))  # ...invalidates its run
                await quick(cache.set("entry", b"lost", 60))
            finally:
                redis_server.signal(signal.SIGCONT)

            async def works() -> bool:
                return await cache.get("history:run:1:g1") == b"stale soon"

            await eventually(works, seconds=5)
            assert await cache.get("gen:run:1") == b"2"
            assert await cache.get("entry") is None

    asyncrun.run(main())
    assert cache_warnings(caplog)
    assert_no_password(caplog, PASSWORD)


def test_wrong_password_is_a_warning_not_an_error(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + secrets.token_hex(8)
    cache = cache_from_url(redis_server.url(password=wrong))

    async def main() -> None:
        async with cache:  # open does not raise either
            assert await quick(cache.get("k")) is None
            await quick(cache.set("k", b"v", 60))
            assert await quick(cache.incr("gen")) == 1

    asyncrun.run(main())
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1
    assert "AuthenticationError" in warnings[0].getMessage()
    assert_no_password(caplog, wrong, PASSWORD)


def test_redis_down_at_startup_serves_without_it(caplog: pytest.LogCaptureFixture) -> None:
    cache = cache_from_url(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")

    async def main() -> None:
        started = time.monotonic()
        async with cache:
            assert await cache.get("k") is None
            await cache.set("k", b"v", 60)
            await cache.delete("k")
            assert await cache.incr("gen") == 1
            assert await cache.incr("gen") == 2
        assert time.monotonic() - started < 1.0

    asyncrun.run(main())
    assert len(cache_warnings(caplog)) == 1
    assert_no_password(caplog, PASSWORD)


def test_redis_tls_url_options_reach_redis_py() -> None:
    port = free_port()
    cache = RedisCache(
        f"rediss://default:tok@127.0.0.1:{port}/2?ssl_cert_reqs=none&socket_timeout=2"
    )

    async def main() -> None:
        await cache.open()  # nothing listens there: a warning, no error
        try:
            client = cache._client
            assert client is not None
            kwargs = client.connection_pool.connection_kwargs
            assert kwargs["ssl_cert_reqs"] == "none"
            assert kwargs["socket_timeout"] == 2.0  # the URL wins over our default
            assert kwargs["username"] == "default"
            assert kwargs["db"] == 2
            assert client.connection_pool.connection_class.__name__ == "SSLConnection"
        finally:
            await cache.close()

    asyncrun.run(main())
