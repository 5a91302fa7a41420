"""``redis://`` and ``rediss://`` (TLS, e.g. ElastiCache with in-transit encryption and AUTH).

The URL goes to redis-py's ``from_url`` unchanged, so username and password come from it
(``rediss://user:token@host:6379/0``) and query options pass through
(``?ssl_cert_reqs=none``, ``?socket_timeout=2``). Our defaults are short timeouts and no
redis-py retries: a dead Redis must cost a request milliseconds, not seconds.

Resilience: a Redis error never reaches callers. ``get`` misses, ``set`` is dropped,
``delete`` and ``incr`` are remembered and replayed (deletes, and one INCR per counter) as
soon as Redis answers again, so writes made during an outage still invalidate what was cached
before it; meanwhile ``incr`` returns a local in-process count. After a connection failure the
adapter does not touch Redis for ``retry_after`` seconds, then lets one call probe it. Warnings
go to the ``runyard.cache`` logger at most once per ``warn_every`` seconds and never contain
the password.

Counters are stored without a TTL. Keep the server's ``maxmemory-policy`` at a ``volatile-*``
policy (ElastiCache's default ``volatile-lru``) so that only TTL'd entries are evicted.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from runyard.cache.base import DEFAULT_PREFIX, Cache, check_ttl
from runyard.errors import ConfigError

log = logging.getLogger("runyard.cache")

T = TypeVar("T")

#: Failures that mean "Redis cannot serve us right now": back off before trying again.
#: (``OSError`` covers socket and TLS errors and the builtin ``TimeoutError``.)
_UNREACHABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # includes AuthenticationError
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.ReadOnlyError,  # a failover turned our node into a replica
    OSError,
)
#: Most invalidations remembered during an outage; past it, entries may stay stale until TTL.
MAX_PENDING = 10_000


class _Skipped(Exception):
    """Redis was not asked or did not answer; the caller degrades."""


class RedisCache(Cache):
    shared = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = 0.5,
        connect_timeout: float = 0.5,
        op_timeout: float = 1.0,
        retry_after: float = 5.0,
        warn_every: float = 30.0,
    ) -> None:
        super().__init__(prefix=prefix)
        parsed = urlparse(url)
        try:
            parse_url(url)
            parsed.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ConfigError(f"invalid Redis cache URL: {exc}") from None
        if parsed.scheme not in ("redis", "rediss"):
            raise ConfigError(f"Redis cache URL must start with redis:// or rediss://: {url!r}")
        self._url = url
        self._secrets = _secrets_of(url)
        port = parsed.port or 6379
        self.location = f"{parsed.scheme}://{parsed.hostname or 'localhost'}:{port}{parsed.path}"
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._op_timeout = op_timeout
        self._retry_after = retry_after
        self._warn_every = warn_every
        self._client: Redis | None = None
        self._down_until = 0.0  # monotonic time; 0 while healthy
        self._probing = False
        self._last_warning = -float("inf")
        self._pending_incr: set[str] = set()  # full keys
        self._pending_delete: set[str] = set()
        self._local_counts: dict[str, int] = {}

    @property
    def available(self) -> bool:
        """False while backing off after a failure."""
        return self._down_until == 0.0

    async def open(self) -> None:
        if self._client is None:
            self._client = Redis.from_url(
                self._url,
                socket_timeout=self._socket_timeout,
                socket_connect_timeout=self._connect_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        try:
            await self._run("open", lambda r: r.ping())
        except _Skipped:
            pass  # logged; the server starts anyway and serves from the database

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                async with asyncio.timeout(self._op_timeout):
                    await client.aclose()
            except (redis_errors.RedisError, OSError):
                pass

    async def get(self, key: str) -> bytes | None:
        full = self._key(key)
        try:
            value = await self._run("get", lambda r: r.get(full))
        except _Skipped:
            return None
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        ms = max(1, round(check_ttl(ttl_seconds) * 1000))
        full = self._key(key)
        try:
            await self._run("set", lambda r: r.set(full, value, px=ms))
        except _Skipped:
            pass

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        full = [self._key(k) for k in keys]
        try:
            await self._run("delete", lambda r: r.delete(*full))
        except _Skipped:
            for k in full:
                self._remember(self._pending_delete, k)

    async def incr(self, key: str) -> int:
        full = self._key(key)
        try:
            return int(await self._run("incr", lambda r: r.incr(full)))
        except _Skipped:
            self._remember(self._pending_incr, full)
            count = self._local_counts.get(full, 0) + 1
            self._local_counts[full] = count
            return count

    # -- resilience ---------------------------------------------------------------------

    async def _run(self, op: str, command: Callable[[Redis], Awaitable[Any]]) -> Any:
        """Run one command within ``op_timeout``, unless backing off. _Skipped on failure."""
        client = self._client
        if client is None:
            raise RuntimeError("RedisCache used before open() or after close()")
        probing = False
        if self._down_until:
            if time.monotonic() < self._down_until or self._probing:
                raise _Skipped
            self._probing = probing = True
        try:
            async with asyncio.timeout(self._op_timeout):
                if self._pending_incr or self._pending_delete:
                    await self._replay(client)
                result = await command(client)
        except _UNREACHABLE as exc:
            self._down_until = time.monotonic() + self._retry_after
            self._warn(op, exc, backing_off=True)
            if isinstance(exc, redis_errors.ReadOnlyError):
                await self._drop_connections(client)
            raise _Skipped from None
        except redis_errors.RedisError as exc:
            self._warn(op, exc, backing_off=False)
            raise _Skipped from None
        finally:
            if probing:
                self._probing = False
        if self._down_until:
            self._down_until = 0.0
            log.info("redis cache at %s is reachable again", self.location)
        return result

    async def _replay(self, client: Redis) -> None:
        """Send the deletes and counter bumps that failed while Redis was away."""
        incrs, deletes = self._pending_incr, self._pending_delete
        self._pending_incr, self._pending_delete = set(), set()
        try:
            async with client.pipeline(transaction=False) as pipe:
                if deletes:
                    pipe.delete(*deletes)
                for key in incrs:
                    pipe.incr(key)
                await pipe.execute(raise_on_error=False)
        except BaseException:
            self._pending_incr |= incrs
            self._pending_delete |= deletes
            raise
        for key in incrs:
            self._local_counts.pop(key, None)

    def _remember(self, pending: builtins.set[str], full_key: str) -> None:
        if len(self._pending_incr) + len(self._pending_delete) < MAX_PENDING:
            pending.add(full_key)
        elif full_key not in pending:
            self._warn(
                "invalidate",
                RuntimeError(f"more than {MAX_PENDING} invalidations pending"),
                backing_off=False,
            )

    async def _drop_connections(self, client: Redis) -> None:
        try:
            async with asyncio.timeout(self._op_timeout):
                await client.connection_pool.disconnect()
        except (redis_errors.RedisError, OSError):
            pass

    def _warn(self, op: str, exc: BaseException, *, backing_off: bool) -> None:
        now = time.monotonic()
        if now - self._last_warning < self._warn_every:
            return
        self._last_warning = now
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        for secret in self._secrets:
            detail = detail.replace(secret, "***")
        then = f"retrying in {self._retry_after:g} s" if backing_off else "continuing"
        log.warning(
            "redis cache at %s failed during %s (%s); serving from the database, %s",
            self.location,
            op,
            detail,
            then,
        )


def _secrets_of(url: str) -> list[str]:
    """Every spelling of the URL's password, longest first, to scrub from log messages."""
    parsed = urlparse(url)
    found = {parsed.password or ""} | set(parse_qs(parsed.query).get("password", []))
    found |= {unquote(s) for s in found}
    return sorted((s for s in found if s), key=len, reverse=True)
