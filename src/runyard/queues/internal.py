"""The embedded queue (``internal://``): in-process, for a single server on one machine."""

from __future__ import annotations

import asyncio

from runyard.queues.base import ObjectCreated, Queue


class InternalQueue(Queue):
    def __init__(self, url: str = "internal://") -> None:
        self.url = url
        self._queue: asyncio.Queue[ObjectCreated] | None = None

    async def open(self) -> None:
        self._queue = asyncio.Queue()

    def _q(self) -> asyncio.Queue[ObjectCreated]:
        if self._queue is None:
            raise RuntimeError("queue is not open")
        return self._queue

    async def publish(self, message: ObjectCreated) -> None:
        await self._q().put(message)

    async def receive(self, *, max_messages: int, wait_seconds: float) -> list[ObjectCreated]:
        queue = self._q()
        try:
            first = await asyncio.wait_for(queue.get(), timeout=wait_seconds)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < max_messages and not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    async def ack(self, message: ObjectCreated) -> None:
        self._q().task_done()
