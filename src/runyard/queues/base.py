"""The queue port: object-created notifications that tell the server a blob landed.

With the local blob store, Runyard's own upload endpoint publishes them; with S3, the bucket
sends them to SQS. Delivery is at least once: consumers must be idempotent. A message that
fails is handed back (``nack``) and retried later; one that keeps failing ends in a
dead-letter place (the queue's DLQ, or a parked row for the embedded queue), never lost.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ObjectCreated:
    key: str
    size: int
    md5: str
    receipt: str = ""
    attempts: int = 1


class Queue(abc.ABC):
    """Constructors do no I/O; ``open`` connects."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    async def close(self) -> None:
        return None

    @abc.abstractmethod
    async def publish(self, message: ObjectCreated) -> None: ...

    @abc.abstractmethod
    async def receive(self, *, max_messages: int, wait_seconds: float) -> list[ObjectCreated]:
        """Up to max_messages, waiting at most wait_seconds for the first one."""

    @abc.abstractmethod
    async def ack(self, message: ObjectCreated) -> None:
        """The message is handled: never deliver it again."""

    @abc.abstractmethod
    async def nack(self, message: ObjectCreated) -> None:
        """Handling failed: deliver it again later (or dead-letter it after the last try)."""

    async def check(self) -> None:
        """Prove the queue can be read, without consuming anything; raise if it cannot."""
        return None
