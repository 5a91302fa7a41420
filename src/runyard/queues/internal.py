"""The embedded queue (``internal://``): messages live in the metadata database.

Durable (a restart loses none) and shared by every server process on the same database,
so it also works with several replicas. Claims are leases: a consumer that dies mid-message
lets the lease run out and another picks the message up.
"""

from __future__ import annotations

import asyncio
import json
import time

import anyio

from runyard.queues.base import ObjectCreated, Queue
from runyard.stores.metadata.base import MetadataStore

LEASE_SECONDS = 60.0
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 5


class InternalQueue(Queue):
    def __init__(self, store: MetadataStore, *, poll_seconds: float = POLL_SECONDS,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self._store = store
        self._poll = poll_seconds
        self._max_attempts = max_attempts
        self._wakeup: asyncio.Event | None = None

    async def open(self) -> None:
        self._wakeup = asyncio.Event()

    async def publish(self, message: ObjectCreated) -> None:
        body = json.dumps({"key": message.key, "size": message.size, "md5": message.md5})
        await anyio.to_thread.run_sync(self._store.enqueue, body, time.time())
        if self._wakeup is not None:
            self._wakeup.set()

    async def receive(self, *, max_messages: int, wait_seconds: float) -> list[ObjectCreated]:
        deadline = time.monotonic() + wait_seconds
        while True:
            claimed = await anyio.to_thread.run_sync(
                self._store.claim_messages, max_messages, LEASE_SECONDS, time.time())
            if claimed:
                return [_decode(m.id, m.body, m.attempts) for m in claimed]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if self._wakeup is None:
                raise RuntimeError("queue is not open")
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=min(remaining, self._poll))
            except TimeoutError:
                pass

    async def ack(self, message: ObjectCreated) -> None:
        await anyio.to_thread.run_sync(self._store.delete_message, int(message.receipt))

    async def nack(self, message: ObjectCreated) -> None:
        dead = message.attempts >= self._max_attempts
        retry_at = time.time() + min(60.0, 2.0 ** message.attempts)
        await anyio.to_thread.run_sync(
            lambda: self._store.release_message(int(message.receipt), retry_at=retry_at,
                                                dead=dead))


def _decode(message_id: int, body: str, attempts: int) -> ObjectCreated:
    data = json.loads(body)
    return ObjectCreated(key=str(data["key"]), size=int(data["size"]), md5=str(data["md5"]),
                         receipt=str(message_id), attempts=attempts)
