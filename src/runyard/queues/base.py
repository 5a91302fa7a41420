"""The queue port: object-created notifications that tell the server a blob landed.

With the local blob store, Runyard's own upload endpoint publishes them; with S3, the bucket
sends them to SQS. Consumers must be idempotent: a message may arrive more than once.
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


class Queue(abc.ABC):
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
    async def ack(self, message: ObjectCreated) -> None: ...
