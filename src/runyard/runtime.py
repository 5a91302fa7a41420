"""The running server's parts, wired from settings: stores, queue, signer, background work.

The constructor only chooses adapters; ``start`` does the I/O (directories, database
connection, migrations, first admin user) in that order, and ``stop`` undoes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

import anyio

from runyard import registry
from runyard.auth.keys import generate_key, hash_key, is_well_formed, key_hint
from runyard.auth.signing import UrlSigner
from runyard.domain import artifacts
from runyard.errors import ConfigError, Conflict, Unauthorized
from runyard.ingest import StreamWriter
from runyard.queues.base import ObjectCreated, Queue
from runyard.settings import Settings
from runyard.stores.blobs.base import BlobStore
from runyard.stores.metadata.base import UserRecord
from runyard.stores.metadata.sql import schema
from runyard.stores.metadata.sql.store import SqlMetadataStore

log = logging.getLogger("runyard")

ADMIN_USERNAME = "admin"
#: How long a replica trusts what it found for a key. A revoked key, a deactivated user, is
#: forgotten at once by the replica that did it; other replicas notice within this time.
_AUTH_CACHE_SECONDS = 10.0


def _key_digest(key: str | None) -> str:
    if not key:
        raise Unauthorized("missing API key: send Authorization: Basic base64(api:KEY)")
    return hash_key(key)


class RunIds:
    """(entity, project, run name) -> run id, for the hot file_stream path. Ids never change;
    a deleted run's stale id makes the write fail, and the caller then forgets it."""

    def __init__(self, size: int = 10_000) -> None:
        self._ids: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, path: tuple[str, str, str]) -> int | None:
        with self._lock:
            return self._ids.get(path)

    def put(self, path: tuple[str, str, str], run_id: int) -> int:
        with self._lock:
            self._ids[path] = run_id
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
        return run_id

    def forget(self, path: tuple[str, str, str]) -> None:
        with self._lock:
            self._ids.pop(path, None)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = registry.metadata_store_for(settings)
        self.cache = registry.cache(settings.cache_url)
        self.run_ids = RunIds()
        self.stream_writer = StreamWriter(self.store, self._run_id, self.run_ids.forget,
                                          settings.ingest_writers)
        # Chosen at start: /system-admin may have saved their settings in the database.
        self._blobs: BlobStore | None = None
        self._queue: Queue | None = None
        self.signer: UrlSigner | None = None
        self.ready = False
        self._background = False
        self._tasks: list[asyncio.Task[None]] = []
        self._auth_cache: dict[str, tuple[float, UserRecord]] = {}
        self._auth_locks: dict[str, threading.Lock] = {}
        self._auth_locks_lock = threading.Lock()

    # lifecycle ---------------------------------------------------------------------------
    async def start(self, *, background: bool = True) -> str | None:
        """Connect and prepare everything. Returns a newly generated admin key, if any."""
        await anyio.to_thread.run_sync(self._prepare_data_dir)
        self.signer = UrlSigner(await anyio.to_thread.run_sync(self._signing_secret),
                                self.settings.signed_url_ttl)
        await anyio.to_thread.run_sync(self.store.open)
        await self.cache.open()
        await anyio.to_thread.run_sync(self._migrate)
        saved = await anyio.to_thread.run_sync(self.store.saved_settings)
        self.settings = self.settings.with_saved(saved)
        new_key = await anyio.to_thread.run_sync(self._bootstrap_admin)
        self._blobs = registry.blob_store(self.settings)
        await self._blobs.open()
        self._queue = registry.queue(self.settings.queue_url, self.store, self.settings)
        await self._queue.open()
        self._background = background
        self.stream_writer.start()
        if background:
            self._tasks = [
                asyncio.create_task(self._reap_crashed_runs(), name="runyard-reaper"),
                asyncio.create_task(self._consume_notifications(), name="runyard-notifications"),
            ]
        self.ready = True
        return new_key

    async def reconfigure(self, settings: Settings) -> None:
        """Switch to new storage settings (from /system-admin) without a restart."""
        blobs = registry.blob_store(settings)
        await blobs.open()
        queue = registry.queue(settings.queue_url, self.store, settings)
        await queue.open()
        old_blobs, old_queue = self._blobs, self._queue
        self.settings, self._blobs, self._queue = settings, blobs, queue
        if self._background:
            consumer = next((t for t in self._tasks if t.get_name() == "runyard-notifications"),
                            None)
            if consumer is not None:
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
                self._tasks.remove(consumer)
            self._tasks.append(asyncio.create_task(self._consume_notifications(),
                                                   name="runyard-notifications"))
        for closing in (old_queue, old_blobs):
            if closing is not None:
                await closing.close()

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await anyio.to_thread.run_sync(self.stream_writer.stop)
        if self._queue is not None:
            await self._queue.close()
        if self._blobs is not None:
            await self._blobs.close()
        await self.cache.close()
        await anyio.to_thread.run_sync(self.store.close)

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            raise RuntimeError("runtime is not started")
        return self._blobs

    @property
    def queue(self) -> Queue:
        if self._queue is None:
            raise RuntimeError("runtime is not started")
        return self._queue

    def _prepare_data_dir(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)

    def _signing_secret(self) -> bytes:
        if self.settings.secret_key:
            secret = self.settings.secret_key.encode()
            if len(secret) < 32:
                raise ConfigError("RUNYARD_SECRET_KEY must be at least 32 characters")
            return secret
        path: Path = self.settings.data_dir / "secret.key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    def _migrate(self) -> None:
        if not isinstance(self.store, SqlMetadataStore):
            return
        schema.ensure_current(self.store.engine, migrate=self.settings.should_migrate)

    def _bootstrap_admin(self) -> str | None:
        """On an empty database, create user ``admin`` with the configured or a new key."""
        if self.store.count_users() > 0:
            return None
        key = self.settings.admin_api_key
        if key and not is_well_formed(key):
            raise ConfigError("RUNYARD_ADMIN_API_KEY must be 40+ characters of [A-Za-z0-9_] "
                              "after an optional 'prefix-'")
        generated = not key
        key = key or generate_key()
        try:
            self.store.create_user(ADMIN_USERNAME, is_admin=True,
                                   api_key=(hash_key(key), key_hint(key)))
        except Conflict:
            return None  # another replica, starting at the same time, created it
        return key if generated else None

    # requests ----------------------------------------------------------------------------
    def cached_user(self, key: str | None) -> UserRecord | None:
        """The user behind a key seen in the last seconds, without touching the database."""
        return self._cached(_key_digest(key))

    def _cached(self, digest: str) -> UserRecord | None:
        cached = self._auth_cache.get(digest)
        return cached[1] if cached and cached[0] > time.monotonic() else None

    def authenticate(self, key: str | None) -> UserRecord:
        """The user behind an API key; Unauthorized when missing or unknown. Requests with
        the same unknown key wait for one lookup (a client's streams all start at once)."""
        digest = _key_digest(key)
        cached = self._cached(digest)
        if cached is not None:
            return cached
        with self._auth_locks_lock:
            lock = self._auth_locks.get(digest)
            if lock is None:
                if len(self._auth_locks) > 10_000:
                    self._auth_locks.clear()
                lock = self._auth_locks[digest] = threading.Lock()
        with lock:
            return self._cached(digest) or self._look_up(digest)

    def _look_up(self, digest: str) -> UserRecord:
        user = self.store.user_for_key(digest)
        if user is None:
            raise Unauthorized("invalid API key")
        if len(self._auth_cache) > 10_000:
            self._auth_cache.clear()
        self._auth_cache[digest] = (time.monotonic() + _AUTH_CACHE_SECONDS, user)
        return user

    def forget_key(self, key_hash: str) -> None:
        """A revoked key: the next request with it asks the database (and is refused)."""
        self._auth_cache.pop(key_hash, None)

    def forget_user(self, user_id: int) -> None:
        """A deactivated (or changed) user: every cached key of it asks the database again."""
        for digest, (_, user) in list(self._auth_cache.items()):
            if user.id == user_id:
                self._auth_cache.pop(digest, None)

    async def project_changed(self, entity: str, project: str) -> None:
        """Invalidate cached reads of a project's runs (a run was created or written)."""
        await self.cache.incr(f"gen:project:{entity}/{project}")

    async def project_generation(self, entity: str, project: str) -> str:
        value = await self.cache.get(f"gen:project:{entity}/{project}")
        return value.decode() if value else "0"

    def blob_url(self, method: str, key: str, base_url: str) -> str:
        """Where a client PUTs or GETs a blob: the backend's own pre-signed URL, or ours."""
        direct = self.blobs.presign(method, key, self.settings.signed_url_ttl)
        return direct or self.require_signer().sign(method, key, base_url)

    async def uploads_reported(self, keys: list[str]) -> None:
        """The client says it uploaded these. When the bytes went straight to the backend
        and no bucket notification tells us, check them ourselves (size, checksum)."""
        if not self.blobs.direct_transfers:
            return  # uploads came through /storage, which already announced them
        for key in keys:
            await self.queue.publish(ObjectCreated(key=self.blobs.object_key(key), size=-1,
                                                   md5=""))

    def _run_id(self, path: tuple[str, str, str]) -> int | None:
        """A run's id by (entity, project, name), cached; None when there is no such run."""
        run_id = self.run_ids.get(path)
        if run_id is None:
            record = self.store.get_run(*path)
            if record is None:
                return None
            run_id = self.run_ids.put(path, record.id)
        return run_id

    def require_signer(self) -> UrlSigner:
        if self.signer is None:
            raise RuntimeError("runtime is not started")
        return self.signer

    # background work ---------------------------------------------------------------------
    async def _reap_crashed_runs(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_interval)
            try:
                cutoff = time.time() - self.settings.run_heartbeat_timeout
                count = await anyio.to_thread.run_sync(self.store.mark_stale_runs_crashed, cutoff)
                if count:
                    log.info("marked %d run(s) crashed: no heartbeat since %.0f s", count,
                             self.settings.run_heartbeat_timeout)
            except Exception:
                log.exception("crash reaper failed; retrying next interval")

    async def _consume_notifications(self) -> None:
        while True:
            try:
                messages = await self.queue.receive(max_messages=50, wait_seconds=5)
                for message in messages:
                    try:
                        await self.handle_object_created(message)
                    except Exception:
                        log.exception("notification for %r failed (attempt %d)", message.key,
                                      message.attempts)
                        await self.queue.nack(message)
                    else:
                        await self.queue.ack(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notification consumer failed; retrying")
                await asyncio.sleep(1)

    async def handle_object_created(self, message: ObjectCreated) -> None:
        """Idempotent: record size and checksum of the blob on its file row.

        A message with a negative size only says "look": the blob is checked with a stat,
        and a blob that is not there yet makes the message fail, so it is retried.
        """
        key = self.blobs.relative_key(message.key)
        if key is None:
            return
        size, md5 = message.size, message.md5
        if size < 0:
            info = await self.blobs.stat(key)
            if info is None:
                raise LookupError(f"reported upload {key!r} is not in the blob store yet")
            size, md5 = info.size, info.md5
        stored = await anyio.to_thread.run_sync(self.store.file_stored, key, size, md5,
                                                time.time())
        if not stored:
            await self._artifact_blob_landed(key, size, md5)

    async def _artifact_blob_landed(self, key: str, size: int, md5: str) -> None:
        """An artifact file under ``artifacts/md5/<md5>``: note it stored, unless its bytes
        have another md5 (then they are thrown away and the client's commit will fail)."""
        expected = artifacts.md5_of_blob_key(key)
        if expected is None:
            return
        if artifacts.is_hex_md5(md5) and md5 != expected:
            log.warning("artifact upload %r has md5 %s: discarded", key, md5)
            await anyio.to_thread.run_sync(self.store.artifact_blob_rejected, expected)
            await self.blobs.delete(key)
            return
        await anyio.to_thread.run_sync(self.store.artifact_blob_stored, expected, size,
                                       time.time())
