"""Contract of the queue port, run against every adapter (add adapters to ``BACKENDS``).

The embedded queue keeps its messages in the metadata database, so it runs once per database
kind; SQS (on moto, a new queue per test) needs no database and runs once, on SQLite. Each test
runs in one event loop; the queue is opened and closed inside it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import pytest

from runyard import registry
from runyard.queues.base import ObjectCreated, Queue
from runyard.stores.metadata.base import MetadataStore
from tests.services import AwsService
from tests.stores import databases


@dataclass
class QueueBackend:
    url: str
    store: MetadataStore


def _internal(request: pytest.FixtureRequest, store: MetadataStore) -> QueueBackend:
    return QueueBackend("internal://", store)


def _sqs_moto(request: pytest.FixtureRequest, store: MetadataStore) -> QueueBackend:
    request.getfixturevalue("aws_env")
    moto: AwsService = request.getfixturevalue("moto")
    name = f"runyard-contract-{uuid.uuid4().hex[:12]}"
    url = moto.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    return QueueBackend(f"sqs://{url}", store)


#: adapter -> (factory, database kinds it runs on)
BACKENDS: dict[str, tuple[Callable[[pytest.FixtureRequest, MetadataStore], QueueBackend],
                          tuple[str, ...]]] = {
    "internal": (_internal, databases.KINDS),
    "sqs-moto": (_sqs_moto, ("sqlite",)),
}

pytestmark = pytest.mark.parametrize(
    ("queue_kind", "db_server"),
    [pytest.param(kind, db, id=f"{kind}-{db}")
     for kind, (_, kinds) in sorted(BACKENDS.items()) for db in kinds],
    indirect=["db_server"])


@pytest.fixture
def queue_backend(request: pytest.FixtureRequest, queue_kind: str,
                  metadata_store: MetadataStore) -> QueueBackend:
    return BACKENDS[queue_kind][0](request, metadata_store)


def run(backend: QueueBackend, body: Callable[[Queue], Awaitable[None]]) -> None:
    async def main() -> None:
        queue = registry.queue(backend.url, backend.store)
        await queue.open()
        try:
            await body(queue)
        finally:
            await queue.close()

    anyio.run(main)


def message(i: int) -> ObjectCreated:
    return ObjectCreated(key=f"runs/1/files/f{i}.txt", size=i * 100, md5=f"{i:032x}")


def essentials(messages: list[ObjectCreated]) -> list[tuple[str, int, str]]:
    """What the publisher sent; ``receipt`` belongs to the backend."""
    return [(m.key, m.size, m.md5) for m in messages]


def test_receive_returns_published_messages_in_order(queue_backend: QueueBackend) -> None:
    async def body(queue: Queue) -> None:
        sent = [message(i) for i in range(5)]
        for m in sent:
            await queue.publish(m)
        got = await queue.receive(max_messages=10, wait_seconds=1)
        assert essentials(got) == essentials(sent)
        for m in got:
            await queue.ack(m)

    run(queue_backend, body)


def test_receive_honours_max_messages(queue_backend: QueueBackend) -> None:
    async def body(queue: Queue) -> None:
        sent = [message(i) for i in range(5)]
        for m in sent:
            await queue.publish(m)
        received: list[ObjectCreated] = []
        for expected_size in (2, 2, 1):
            batch = await queue.receive(max_messages=2, wait_seconds=1)
            assert len(batch) == expected_size
            received += batch
            for m in batch:
                await queue.ack(m)
        assert essentials(received) == essentials(sent)
        assert await queue.receive(max_messages=1, wait_seconds=0.1) == []

    run(queue_backend, body)


@pytest.mark.parametrize("wait_seconds", [0.05, 0.3])
def test_receive_on_an_empty_queue_returns_nothing_after_the_wait(
    queue_backend: QueueBackend, wait_seconds: float
) -> None:
    async def body(queue: Queue) -> None:
        started = time.monotonic()
        got = await queue.receive(max_messages=10, wait_seconds=wait_seconds)
        elapsed = time.monotonic() - started
        assert got == []
        assert wait_seconds * 0.9 <= elapsed < wait_seconds + 1.0

    run(queue_backend, body)


def test_receive_wakes_up_for_a_message_published_while_waiting(
    queue_backend: QueueBackend,
) -> None:
    async def body(queue: Queue) -> None:
        async def publish_later() -> None:
            await anyio.sleep(0.1)
            await queue.publish(message(7))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(publish_later)
            got = await queue.receive(max_messages=10, wait_seconds=5)
        elapsed = time.monotonic() - started
        assert essentials(got) == essentials([message(7)])
        assert elapsed < 2.5
        await queue.ack(got[0])

    run(queue_backend, body)


def test_acked_messages_are_not_delivered_again(queue_backend: QueueBackend) -> None:
    async def body(queue: Queue) -> None:
        await queue.publish(message(1))
        await queue.publish(message(2))
        [first] = await queue.receive(max_messages=1, wait_seconds=1)
        await queue.ack(first)
        [second] = await queue.receive(max_messages=1, wait_seconds=1)
        await queue.ack(second)
        assert essentials([first, second]) == essentials([message(1), message(2)])
        assert await queue.receive(max_messages=10, wait_seconds=0.2) == []

    run(queue_backend, body)


def test_duplicate_messages_are_delivered(queue_backend: QueueBackend) -> None:
    """Publishing is not deduplicated: consumers are idempotent, the queue need not be."""

    async def body(queue: Queue) -> None:
        await queue.publish(message(1))
        await queue.publish(message(1))
        got: list[ObjectCreated] = []
        while len(got) < 2:
            batch = await queue.receive(max_messages=10, wait_seconds=1)
            assert batch, "expected both copies"
            got += batch
        assert essentials(got) == essentials([message(1), message(1)])
        for m in got:
            await queue.ack(m)

    run(queue_backend, body)


def test_an_unacked_message_is_leased_to_one_consumer(queue_backend: QueueBackend) -> None:
    async def body(queue: Queue) -> None:
        await queue.publish(message(1))
        [got] = await queue.receive(max_messages=10, wait_seconds=1)
        assert got.attempts == 1
        assert await queue.receive(max_messages=10, wait_seconds=0.2) == []
        await queue.ack(got)

    run(queue_backend, body)


def test_a_nacked_message_is_delivered_again(queue_backend: QueueBackend) -> None:
    async def body(queue: Queue) -> None:
        await queue.publish(message(3))
        [first] = await queue.receive(max_messages=10, wait_seconds=1)
        await queue.nack(first)
        again = await queue.receive(max_messages=10, wait_seconds=8)
        assert essentials(again) == essentials([message(3)])
        assert again[0].attempts == first.attempts + 1
        await queue.ack(again[0])
        assert await queue.receive(max_messages=10, wait_seconds=0.1) == []

    run(queue_backend, body)


def test_messages_survive_a_new_queue_object(queue_backend: QueueBackend) -> None:
    """Durability: what one queue object published, a fresh one (a restart) receives."""

    async def publish(queue: Queue) -> None:
        await queue.publish(message(1))
        await queue.publish(message(2))

    async def consume(queue: Queue) -> None:
        got = await queue.receive(max_messages=10, wait_seconds=1)
        assert essentials(got) == essentials([message(1), message(2)])
        for m in got:
            await queue.ack(m)

    run(queue_backend, publish)
    run(queue_backend, consume)
