"""Group commit for file_stream: writer threads apply waiting requests together.

Each request still gets its answer only after the transaction that holds its rows has
committed, so a 200 still means the rows are stored. Grouping spares a transaction, a
session and a thread hand-off per request, which is what limits many concurrent streams.

Each run belongs to one writer (by its path), so a run's requests are applied in the order
they came, and two writers' transactions lock different runs. Several writers keep the
process busy while a transaction waits on the database: one parses and encodes while
another's statements or commit are in flight (a thread waiting on its socket releases the
interpreter lock).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from runyard.domain.filestream import parse_request
from runyard.domain.jsonio import decode_json
from runyard.errors import ConfigError, NotFound, RunyardError, Unavailable
from runyard.stores.metadata.base import MetadataStore, RunRecord, StreamBatch

log = logging.getLogger("runyard.ingest")

MAX_GROUP_REQUESTS = 64
MAX_GROUP_BYTES = 4 * 1024 * 1024

RunPath = tuple[str, str, str]


@dataclass
class _Request:
    path: RunPath
    raw: bytes
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[tuple[StreamBatch, RunRecord]]


class StreamWriter:
    def __init__(self, store: MetadataStore, resolve: Callable[[RunPath], int | None],
                 forget: Callable[[RunPath], None], writers: int = 1) -> None:
        if writers < 1:
            raise ConfigError("RUNYARD_INGEST_WRITERS must be at least 1")
        self._store = store
        self._resolve = resolve  # run path -> run id (cached), None when there is no such run
        self._forget = forget
        self._queues: list[queue.Queue[_Request | None]] = [queue.Queue()
                                                            for _ in range(writers)]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number, waiting in enumerate(self._queues):
            thread = threading.Thread(target=self._work, args=(waiting,), daemon=True,
                                      name=f"runyard-stream-writer-{number}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for waiting in self._queues:
            waiting.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    async def submit(self, path: RunPath, raw: bytes) -> tuple[StreamBatch, RunRecord]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[StreamBatch, RunRecord]] = loop.create_future()
        self._queues[hash(path) % len(self._queues)].put(_Request(path, raw, loop, future))
        return await future

    def _work(self, waiting: queue.Queue[_Request | None]) -> None:
        while True:
            first = waiting.get()
            if first is None:
                return
            group, size = [first], len(first.raw)
            while len(group) < MAX_GROUP_REQUESTS and size < MAX_GROUP_BYTES:
                try:
                    item = waiting.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    waiting.put(None)
                    break
                group.append(item)
                size += len(item.raw)
            self._apply(group)

    def _apply(self, group: list[_Request]) -> None:
        answers: list[tuple[_Request, Outcome]] = []
        ready: list[tuple[_Request, int, StreamBatch]] = []
        for request in group:
            try:
                ready.append((request, *self._prepare(request)))
            except RunyardError as exc:
                answers.append((request, exc))
        retry: list[_Request] = []
        if ready:
            try:
                results = self._store.apply_streams([(rid, b) for _, rid, b in ready],
                                                    time.time())
            except RunyardError as exc:
                results = [exc] * len(ready)
            except Exception:
                log.exception("stream write failed")
                results = [Unavailable("could not store the stream; retry")] * len(ready)
            for (request, _, batch), result in zip(ready, results, strict=True):
                if isinstance(result, NotFound):
                    self._forget(request.path)  # deleted, perhaps created again: look up anew
                    retry.append(request)
                elif isinstance(result, RunyardError):
                    answers.append((request, result))
                else:
                    answers.append((request, (batch, result)))
        _answer_all(answers)
        for request in retry:
            self._apply_alone(request)

    def _prepare(self, request: _Request) -> tuple[int, StreamBatch]:
        """Parse the body and find the run: the work before a request can be applied."""
        batch = parse_request(decode_json(request.raw))
        run_id = self._resolve(request.path)
        if run_id is None:
            raise NotFound("run {}/{}/{} does not exist".format(*request.path))
        return run_id, batch

    def _apply_alone(self, request: _Request) -> None:
        try:
            run_id, batch = self._prepare(request)
            _answer(request, (batch, self._store.apply_stream(run_id, batch, time.time())))
        except RunyardError as exc:
            _answer(request, exc)


Outcome = tuple[StreamBatch, RunRecord] | RunyardError


def _answer(request: _Request, outcome: Outcome) -> None:
    _answer_all([(request, outcome)])


def _answer_all(answers: list[tuple[_Request, Outcome]]) -> None:
    """Settle the requests' futures: one wake-up of each event loop for the whole group,
    not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Request, Outcome]]] = {}
    for request, outcome in answers:
        by_loop.setdefault(request.loop, []).append((request, outcome))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle, settled)


def _settle(answers: list[tuple[_Request, Outcome]]) -> None:
    for request, outcome in answers:
        if request.future.done():
            continue
        if isinstance(outcome, RunyardError):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)
