"""The file_stream writers: each run's requests are applied in the order they came, by one
writer, while several writers apply different runs' requests at the same time."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence

import pytest

from runyard.errors import ConfigError
from runyard.ingest import StreamWriter
from runyard.stores.metadata.base import StreamBatch


class RecordingStore:
    """apply_streams only: records (thread, run, first line) per request, and is slow enough
    that writers overlap."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, int, int]] = []
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def apply_streams(self, items: Sequence[tuple[int, StreamBatch]], now: float
                      ) -> list[int]:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(0.01)  # a transaction waiting on the database
        with self.lock:
            self.active -= 1
            for run_id, batch in items:
                self.applied.append((threading.current_thread().name, run_id,
                                     batch.history[0].line_no))
        return [run_id for run_id, _ in items]  # the writer hands answers back as they are


def body(offset: int) -> bytes:
    return json.dumps({"files": {"wandb-history.jsonl": {
        "offset": offset, "content": [json.dumps({"_step": offset, "x": 1.5})]}}}).encode()


def test_each_run_is_written_in_order_by_one_writer_while_writers_overlap() -> None:
    store = RecordingStore()
    runs, requests = 24, 10
    writer = StreamWriter(store,  # type: ignore[arg-type]
                          lambda path: int(path[2]), lambda path: None, writers=3)
    writer.start()

    async def stream(run: int) -> None:
        for k in range(requests):  # a client waits for each answer before the next
            await writer.submit(("e", "p", str(run)), body(k))

    async def main() -> None:
        await asyncio.gather(*(stream(r) for r in range(runs)))

    try:
        asyncio.run(main())
    finally:
        writer.stop()
    assert len(store.applied) == runs * requests
    for run in range(runs):
        mine = [(thread, line) for thread, run_id, line in store.applied if run_id == run]
        assert [line for _, line in mine] == list(range(requests))
        assert len({thread for thread, _ in mine}) == 1
    # Runs go to writers by their path's hash (seeded per process): 24 runs all on one of
    # 3 writers has odds of 3 in 3**24.
    assert len({thread for thread, _, _ in store.applied}) >= 2
    assert store.most_active > 1


def test_at_least_one_writer() -> None:
    with pytest.raises(ConfigError, match="RUNYARD_INGEST_WRITERS"):
        StreamWriter(RecordingStore(), lambda path: 1,  # type: ignore[arg-type]
                     lambda path: None, writers=0)

