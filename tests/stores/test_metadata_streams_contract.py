"""Contract of the metadata store port, part two: run listing order and paging, file_stream
writes and reads, stale runs, files, alerts, text round trips, the embedded queue and saved
settings. Run against every adapter (see conftest) with real data; nothing is mocked.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from runyard.domain.filestream import parse_request
from runyard.errors import NotFound
from runyard.history.query import SeriesQuery
from runyard.stores.metadata.base import (
    SORTABLE_RUN_COLUMNS,
    HistoryRecord,
    MetadataStore,
    QueuedMessage,
    RunFields,
    RunQuery,
    RunRecord,
    StreamBatch,
)
from tests import asyncrun
from tests.stores.test_metadata_contract import (
    ENTITY,
    PROJECT,
    T0,
    _names,
    history,
    line,
    rows,
    run,
)


def reread(store: MetadataStore, run_id: int) -> RunRecord:
    """The run as stored (apply_stream/upsert return what they wrote, this reads it back)."""
    record = store.get_run_by_id(run_id)
    assert record is not None
    return record


def heartbeat(store: MetadataStore, run_id: int, now: float) -> RunRecord:
    return store.apply_stream(run_id, StreamBatch(), now)


def events(offset: int, count: int, tag: str = "e") -> StreamBatch:
    return StreamBatch(events=[
        line(n, json.dumps({"system.cpu": n + 0.5, "tag": f"{tag}{n}", "_runtime": float(n),
                            "_timestamp": T0 + n}))
        for n in range(offset, offset + count)
    ])


def console(offset: int, texts: list[str]) -> StreamBatch:
    return StreamBatch(console=[(offset + i, t) for i, t in enumerate(texts)])


def all_events(store: MetadataStore, run_id: int) -> list[tuple[int, str]]:
    return [(e.line_no, e.text) for e in store.read_events(run_id, offset=0, limit=10_000)]


def steps(texts: list[int]) -> list[str]:
    return [json.dumps({"_step": s, "v": s * 10}) for s in texts]


# list_runs: sorting and paging -------------------------------------------------------------
# Created in this order; every sortable column orders them differently (all lowercase, so
# collation does not matter).
SORT_FIXTURE = [  # name, display_name, state, heartbeat offset
    ("charlie", "romeo", "killed", 1),
    ("alpha", "tango", "running", 3),
    ("delta", "quebec", "finished", 2),
    ("bravo", "sierra", "failed", 4),
]
ASCENDING = {
    "created_at": ["charlie", "alpha", "delta", "bravo"],
    "name": ["alpha", "bravo", "charlie", "delta"],
    "display_name": ["delta", "charlie", "bravo", "alpha"],
    "state": ["bravo", "delta", "charlie", "alpha"],
    "heartbeat_at": ["charlie", "delta", "alpha", "bravo"],
    "updated_at": ["charlie", "alpha", "bravo", "delta"],  # delta updated last, below
}


def _sort_fixture(store: MetadataStore) -> None:
    ids = {}
    for name, display, state, _ in SORT_FIXTURE:
        ids[name] = run(store, name, display_name=display, state=state).id
    for name, *_, beat in SORT_FIXTURE:
        heartbeat(store, ids[name], T0 + beat)  # sets heartbeat_at and updated_at
    store.update_run(ids["delta"], RunFields(notes="touched"))  # updated_at = now > T0


def test_every_sortable_column_has_an_expected_order() -> None:
    assert set(ASCENDING) == set(SORTABLE_RUN_COLUMNS)
    assert len({tuple(v) for v in ASCENDING.values()}) == len(ASCENDING)


def test_list_runs_sorts_on_every_sortable_column(metadata_store: MetadataStore) -> None:
    _sort_fixture(metadata_store)
    for column in SORTABLE_RUN_COLUMNS:
        expected = ASCENDING[column]
        for sort, order in ((column, expected), (f"-{column}", expected[::-1])):
            runs, total = metadata_store.list_runs(ENTITY, PROJECT, RunQuery(sort=sort))
            assert ([r.name for r in runs], total) == (order, 4), sort


def test_list_runs_default_sort_is_newest_first(metadata_store: MetadataStore) -> None:
    _sort_fixture(metadata_store)
    runs, _ = metadata_store.list_runs(ENTITY, PROJECT, RunQuery())
    assert [r.name for r in runs] == ASCENDING["created_at"][::-1]


def test_list_runs_pages_with_limit_and_offset(metadata_store: MetadataStore) -> None:
    for name in ("e", "c", "a", "d", "b"):
        run(metadata_store, name)
    assert _names(metadata_store, limit=2, offset=0) == (["a", "b"], 5)
    assert _names(metadata_store, limit=2, offset=2) == (["c", "d"], 5)
    assert _names(metadata_store, limit=2, offset=4) == (["e"], 5)
    assert _names(metadata_store, limit=2, offset=5) == ([], 5)
    assert _names(metadata_store, limit=10, offset=0) == (["a", "b", "c", "d", "e"], 5)
    runs, total = metadata_store.list_runs(ENTITY, PROJECT,
                                           RunQuery(sort="-name", limit=3, offset=1))
    assert ([r.name for r in runs], total) == (["d", "c", "b"], 5)


def test_list_runs_total_counts_the_filter_not_the_page(metadata_store: MetadataStore) -> None:
    for i in range(7):
        run(metadata_store, f"r{i}", state="finished" if i % 2 else "running",
            group_name="even" if i % 2 == 0 else "odd", job_type="train" if i < 4 else "eval")
    assert _names(metadata_store, state="running", limit=2) == (["r0", "r2"], 4)
    assert _names(metadata_store, state="running", limit=2, offset=2) == (["r4", "r6"], 4)
    assert _names(metadata_store, group="odd") == (["r1", "r3", "r5"], 3)
    assert _names(metadata_store, job_type="eval") == (["r4", "r5", "r6"], 3)
    assert _names(metadata_store, job_type="train", group="even", state="running") == (
        ["r0", "r2"], 2)
    assert _names(metadata_store, job_type="eval", group="odd", state="finished",
                  limit=1, offset=1) == ([], 1)
    assert _names(metadata_store, job_type="eval", state="crashed") == ([], 0)


# apply_stream ------------------------------------------------------------------------------
def test_apply_stream_on_an_unknown_run_is_not_found(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    with pytest.raises(NotFound):
        metadata_store.apply_stream(created.id + 1000, history(0, steps([0])), T0)


def test_apply_stream_writes_history_events_and_console(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    batch = history(0, steps([0, 1]))
    batch.events = events(0, 2).events
    batch.console = [(0, "hello"), (1, "world")]
    written = metadata_store.apply_stream(created.id, batch, T0)
    assert (written.history_line_count, written.events_line_count, written.log_line_count) == (
        2, 2, 2)
    second = history(2, steps([2]))
    second.events = events(2, 3).events
    second.console = [(2, "again")]
    metadata_store.apply_stream(created.id, second, T0 + 1)
    stored = reread(metadata_store, created.id)
    assert (stored.history_line_count, stored.events_line_count, stored.log_line_count) == (
        3, 5, 3)
    assert rows(metadata_store, created.id) == list(enumerate(steps([0, 1, 2])))
    assert all_events(metadata_store, created.id) == [
        (ln.line_no, ln.text) for ln in events(0, 5).events]
    assert metadata_store.read_console(created.id, offset=0, limit=100) == [
        (0, "hello"), (1, "world"), (2, "again")]


def test_resending_a_chunk_writes_no_duplicates(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)

    def batch() -> StreamBatch:
        b = history(0, steps([0, 1, 2]))
        b.events = events(0, 3).events
        b.console = [(0, "a"), (1, "b"), (2, "c")]
        return b

    first = metadata_store.apply_stream(created.id, batch(), T0)
    again = metadata_store.apply_stream(created.id, batch(), T0 + 1)
    for record in (again, reread(metadata_store, created.id)):
        assert (record.history_line_count, record.events_line_count, record.log_line_count) == (
            3, 3, 3)
        assert record.history_keys == first.history_keys
        assert record.last_step == 2
    assert rows(metadata_store, created.id) == list(enumerate(steps([0, 1, 2])))
    assert all_events(metadata_store, created.id) == [
        (ln.line_no, ln.text) for ln in events(0, 3).events]
    assert metadata_store.read_console(created.id, offset=0, limit=100) == [
        (0, "a"), (1, "b"), (2, "c")]


def test_a_group_of_requests_is_applied_in_order_in_one_call(
        metadata_store: MetadataStore) -> None:
    """apply_streams (group commit): requests for one run follow each other, every request
    gets its own answer, an unknown run fails only its own slot, and what is stored matches
    the answers."""
    a, b = run(metadata_store, "ga"), run(metadata_store, "gb")
    summary = '{"acc": 0.5}'
    results = metadata_store.apply_streams([
        (a.id, history(0, steps([0, 1]))),
        (b.id, StreamBatch(summary=summary, console=[(0, "hi")])),
        (a.id + b.id + 1000, history(0, steps([0]))),
        (a.id, history(2, steps([2, 3]))),
        (b.id, StreamBatch(preempting=True)),
    ], T0)
    first_a, first_b, missing, second_a, second_b = results
    assert isinstance(missing, NotFound)
    assert all(isinstance(r, RunRecord) for r in (first_a, first_b, second_a, second_b))
    assert isinstance(second_a, RunRecord)
    assert isinstance(second_b, RunRecord)
    assert (second_a.history_line_count, second_a.last_step) == (4, 3)
    assert json.loads(second_a.history_keys)["v"] == {"number": 4}
    assert (second_b.summary, second_b.log_line_count, second_b.state) == (
        summary, 1, "preempting")
    assert second_a == reread(metadata_store, a.id)
    assert second_b == reread(metadata_store, b.id)
    assert rows(metadata_store, a.id) == list(enumerate(steps([0, 1, 2, 3])))
    assert metadata_store.list_runs(ENTITY, PROJECT, RunQuery(state="preempting"))[1] == 1


def test_writers_of_different_runs_run_concurrently_and_lose_nothing(
        metadata_store: MetadataStore) -> None:
    """The server's file_stream writers (RUNYARD_INGEST_WRITERS) each apply groups for their
    own runs at the same time: past the seal size, so they also rewrite chunks side by side
    (with REPEATABLE READ, InnoDB's gap locks between two runs' chunks deadlocked them)."""
    store = metadata_store
    writers, runs_each, requests, per_request = 3, 2, 15, 150  # sealed twice, chunks grown
    runs = [[run(store, f"w{w}-{r}").id for r in range(runs_each)] for w in range(writers)]

    def texts(run_id: int, offset: int) -> list[str]:
        return [json.dumps({"_step": n, "loss": run_id + n / 7, "acc": n % 5,
                            **{f"m{k}": (n * k) % 11 for k in range(30)},
                            "_runtime": n * 0.25}) for n in range(offset, offset + per_request)]

    start = threading.Barrier(writers)

    def writer(mine: list[int]) -> list[RunRecord | Exception]:
        start.wait()
        out: list[RunRecord | Exception] = []
        for k in range(requests):
            out.extend(store.apply_streams([
                (run_id, parse_request({"files": {"wandb-history.jsonl": {
                    "offset": k * per_request, "content": texts(run_id, k * per_request)}}}))
                for run_id in mine], T0 + k))
        return out

    with ThreadPoolExecutor(writers) as pool:
        results = [r for f in [pool.submit(writer, mine) for mine in runs] for r in f.result()]
    assert all(isinstance(r, RunRecord) for r in results), results
    total = requests * per_request
    for run_id in (r for mine in runs for r in mine):
        assert rows(store, run_id) == list(enumerate(texts(run_id, 0) + [
            t for k in range(1, requests) for t in texts(run_id, k * per_request)]))
        series = store.read_series(run_id, SeriesQuery(keys=["loss", "acc"], buckets=total))
        assert series["loss"].last.tolist() == [run_id + n / 7 for n in range(total)]
        assert series["acc"].count.sum() == total


def test_overlapping_offsets_keep_the_later_content(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    old = [json.dumps({"_step": i, "old": i}) for i in range(5)]       # lines 0..4
    new = [json.dumps({"_step": i, "new": i}) for i in range(3, 8)]    # lines 3..7
    first = history(0, old)
    first.events = events(0, 5, "old").events
    first.console = console(0, [f"old {i}" for i in range(5)]).console
    metadata_store.apply_stream(created.id, first, T0)
    second = history(3, new)
    second.events = events(3, 5, "new").events
    second.console = console(3, [f"new {i}" for i in range(3, 8)]).console
    written = metadata_store.apply_stream(created.id, second, T0 + 1)
    assert rows(metadata_store, created.id) == list(enumerate(old[:3] + new))
    assert all_events(metadata_store, created.id) == [
        (ln.line_no, ln.text) for ln in events(0, 3, "old").events + events(3, 5, "new").events]
    assert metadata_store.read_console(created.id, offset=0, limit=100) == (
        [(i, f"old {i}") for i in range(3)] + [(i, f"new {i}") for i in range(3, 8)])
    for record in (written, reread(metadata_store, created.id)):
        assert (record.history_line_count, record.events_line_count, record.log_line_count) == (
            8, 8, 8)


def test_line_counters_never_shrink(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    full = history(0, steps(list(range(10))))
    full.events = events(0, 10).events
    full.console = console(0, [str(i) for i in range(10)]).console
    metadata_store.apply_stream(created.id, full, T0)
    early = history(0, steps([0, 1, 2]))
    early.events = events(0, 3).events
    early.console = console(0, ["0", "1", "2"]).console
    written = metadata_store.apply_stream(created.id, early, T0 + 1)
    for record in (written, reread(metadata_store, created.id)):
        assert (record.history_line_count, record.events_line_count, record.log_line_count) == (
            10, 10, 10)
        assert record.last_step == 9
    assert len(rows(metadata_store, created.id)) == 10
    # a chunk beyond the end moves each counter to max(offset + len)
    gap = history(20, steps([20]))
    gap.console = console(15, ["x", "y"]).console
    later = metadata_store.apply_stream(created.id, gap, T0 + 2)
    assert (later.history_line_count, later.events_line_count, later.log_line_count) == (
        21, 10, 17)


def test_history_key_stats_count_only_new_lines(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    first = StreamBatch(history=[line(i, loss=1.0 / (i + 1), name=f"n{i}") for i in range(3)])
    written = metadata_store.apply_stream(created.id, first, T0)
    expected = {"_step": {"number": 3}, "loss": {"number": 3}, "name": {"string": 3}}
    assert json.loads(written.history_keys) == expected
    metadata_store.apply_stream(created.id, first, T0 + 1)  # re-sent: counts nothing
    assert json.loads(reread(metadata_store, created.id).history_keys) == expected
    overlap = StreamBatch(history=[line(2, loss=0.25, name="n2"), line(3, loss=None),
                                   line(4, img={"_type": "image-file", "path": "a.png"})])
    metadata_store.apply_stream(created.id, overlap, T0 + 2)
    assert json.loads(reread(metadata_store, created.id).history_keys) == {
        "_step": {"number": 5}, "loss": {"number": 3, "nil": 1}, "name": {"string": 3},
        "img": {"image-file": 1}}


def test_last_step_is_the_highest_step_seen(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    assert created.last_step is None
    assert metadata_store.apply_stream(created.id, history(0, steps([0])), T0).last_step == 0
    assert metadata_store.apply_stream(
        created.id, history(1, steps([5, 7])), T0 + 1).last_step == 7
    assert metadata_store.apply_stream(created.id, history(0, steps([0])), T0 + 2).last_step == 7
    assert metadata_store.apply_stream(created.id, StreamBatch(), T0 + 3).last_step == 7
    assert reread(metadata_store, created.id).last_step == 7


def test_summary_is_replaced(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    metadata_store.apply_stream(created.id, StreamBatch(summary='{"a":1,"n":{"x":1}}'), T0)
    assert reread(metadata_store, created.id).summary == '{"a":1,"n":{"x":1}}'
    metadata_store.apply_stream(created.id, StreamBatch(summary='{"b":2}'), T0 + 1)
    assert reread(metadata_store, created.id).summary == '{"b":2}'
    metadata_store.apply_stream(created.id, history(0, steps([0])), T0 + 2)  # no summary
    assert reread(metadata_store, created.id).summary == '{"b":2}'


def test_uploaded_marks_files_uploaded(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    other = run(metadata_store, "other")
    metadata_store.register_files(created.id, ["a.txt", "b.txt"], lambda n: f"k/1/{n}")
    metadata_store.register_files(other.id, ["a.txt"], lambda n: f"k/2/{n}")
    metadata_store.apply_stream(created.id, StreamBatch(uploaded=["a.txt", "unknown.txt"]),
                                T0 + 5)
    a = metadata_store.get_file(created.id, "a.txt")
    b = metadata_store.get_file(created.id, "b.txt")
    theirs = metadata_store.get_file(other.id, "a.txt")
    assert a is not None
    assert b is not None
    assert theirs is not None
    assert (a.uploaded, a.updated_at) == (True, T0 + 5)
    assert (b.uploaded, theirs.uploaded) == (False, False)
    assert metadata_store.get_file(created.id, "unknown.txt") is None


@pytest.mark.parametrize(("exit_code", "stop_first", "state"), [
    (0, False, "finished"),
    (1, False, "failed"),
    (-9, False, "failed"),
    (1, True, "killed"),
    (255, True, "killed"),
])
def test_complete_sets_the_final_state(
    metadata_store: MetadataStore, exit_code: int, stop_first: bool, state: str,
) -> None:
    created = run(metadata_store)
    if stop_first:
        metadata_store.request_stop(created.id)
    written = metadata_store.apply_stream(
        created.id, StreamBatch(complete=True, exit_code=exit_code), T0 + 7)
    for record in (written, reread(metadata_store, created.id)):
        assert (record.state, record.exit_code, record.finished_at) == (state, exit_code, T0 + 7)


def test_preempting_and_revival_by_a_later_heartbeat(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    assert metadata_store.apply_stream(
        created.id, StreamBatch(preempting=True), T0).state == "preempting"
    assert reread(metadata_store, created.id).state == "preempting"
    assert heartbeat(metadata_store, created.id, T0 + 1).state == "running"
    assert reread(metadata_store, created.id).state == "running"
    assert metadata_store.mark_stale_runs_crashed(T0 + 2) == 1
    assert reread(metadata_store, created.id).state == "crashed"
    assert heartbeat(metadata_store, created.id, T0 + 3).state == "running"
    assert reread(metadata_store, created.id).state == "running"


@pytest.mark.parametrize(("exit_code", "state"), [(0, "finished"), (1, "failed")])
def test_a_late_heartbeat_does_not_reopen_a_completed_run(
    metadata_store: MetadataStore, exit_code: int, state: str,
) -> None:
    created = run(metadata_store)
    metadata_store.apply_stream(created.id, StreamBatch(complete=True, exit_code=exit_code), T0)
    assert heartbeat(metadata_store, created.id, T0 + 1).state == state
    assert reread(metadata_store, created.id).state == state


def test_heartbeat_and_updated_at_advance(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    start = created.heartbeat_at
    for delta in (5.0, 10.25):
        written = heartbeat(metadata_store, created.id, start + delta)
        stored = reread(metadata_store, created.id)
        for record in (written, stored):
            assert (record.heartbeat_at, record.updated_at) == (start + delta, start + delta)
        assert stored.created_at == created.created_at
        assert stored.state == "running"


# reads -------------------------------------------------------------------------------------
def _stepped_history(store: MetadataStore) -> int:
    created = run(store)
    texts = [json.dumps({"_step": 5 * i, "_runtime": i + 0.5, "_timestamp": T0 + i, "v": i})
             for i in range(10)]  # line i has step 5*i
    store.apply_stream(created.id, history(0, texts), T0)
    return created.id


def _steps(records: Sequence[HistoryRecord]) -> list[int]:
    return [r.step for r in records]


def test_read_history_returns_a_step_range_ascending(metadata_store: MetadataStore) -> None:
    run_id = _stepped_history(metadata_store)
    read = metadata_store.read_history
    assert _steps(read(run_id, min_step=10, max_step=25, limit=100)) == [10, 15, 20]
    assert _steps(read(run_id, min_step=11, max_step=25, limit=100)) == [15, 20]
    assert _steps(read(run_id, min_step=10, max_step=25, limit=2)) == [10, 15]
    assert _steps(read(run_id, min_step=None, max_step=10, limit=100)) == [0, 5]
    assert _steps(read(run_id, min_step=40, max_step=None, limit=100)) == [40, 45]
    assert _steps(read(run_id, min_step=None, max_step=None, limit=3)) == [0, 5, 10]
    assert _steps(read(run_id, min_step=None, max_step=None, limit=100)) == list(range(0, 50, 5))
    assert read(run_id, min_step=46, max_step=None, limit=100) == []
    assert read(run_id, min_step=20, max_step=20, limit=100) == []
    record = read(run_id, min_step=15, max_step=16, limit=100)[0]
    assert (record.line_no, record.step, record.runtime, record.timestamp) == (
        3, 15, 3.5, T0 + 3)
    assert json.loads(record.text) == {"_step": 15, "_runtime": 3.5, "_timestamp": T0 + 3,
                                       "v": 3}
    assert read(run_id + 1000, min_step=None, max_step=None, limit=100) == []


def test_history_tail_returns_the_last_lines_ascending(metadata_store: MetadataStore) -> None:
    run_id = _stepped_history(metadata_store)
    tail = metadata_store.history_tail(run_id, 3)
    assert [(r.line_no, r.step) for r in tail] == [(7, 35), (8, 40), (9, 45)]
    assert _steps(metadata_store.history_tail(run_id, 100)) == list(range(0, 50, 5))
    assert metadata_store.history_tail(run(metadata_store, "empty").id, 5) == []


def test_read_events_with_offset_and_limit(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    written = events(0, 6)
    metadata_store.apply_stream(created.id, written, T0)
    page = metadata_store.read_events(created.id, offset=2, limit=3)
    assert [(e.line_no, e.text) for e in page] == [
        (ln.line_no, ln.text) for ln in written.events[2:5]]
    assert (page[0].runtime, page[0].timestamp) == (2.0, T0 + 2)
    assert [e.line_no for e in metadata_store.read_events(created.id, offset=4, limit=10)] == [
        4, 5]
    assert metadata_store.read_events(created.id, offset=6, limit=10) == []


CONTROL_LINES = [
    "\x1b[31mred\x1b[0m plain",
    "progress 10%\rprogress 50%\rprogress 100%",
    "bell\x07ring",
    "nul\x00byte",
    "\x00",
    "tab\there, del\x7f, form\x0cfeed, vt\x0b",
    "trailing cr\r",
    "line sep\u2028para sep\u2029",
    "",
    "   padded   ",
    "unicode ✓ 実験 🚀 e\u0301",
    '{"looks":"like json"}',
    "back\\slash \\n not a newline",
]


def test_read_console_pages_and_keeps_control_characters(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    metadata_store.apply_stream(created.id, console(0, CONTROL_LINES), T0)
    assert metadata_store.read_console(created.id, offset=0, limit=100) == list(
        enumerate(CONTROL_LINES))
    assert metadata_store.read_console(created.id, offset=3, limit=2) == [
        (3, CONTROL_LINES[3]), (4, CONTROL_LINES[4])]
    assert metadata_store.read_console(created.id, offset=len(CONTROL_LINES), limit=5) == []


# stale runs --------------------------------------------------------------------------------
def test_mark_stale_runs_crashed_touches_only_stale_running_runs(
    metadata_store: MetadataStore,
) -> None:
    ids = {name: run(metadata_store, name).id
           for name in ("stale", "fresh", "finished", "failed", "preempting", "other")}
    for name in ids:
        heartbeat(metadata_store, ids[name], T0 + 100 if name == "fresh" else T0)
    other_project = run(metadata_store, "stale2", project="elsewhere")
    heartbeat(metadata_store, other_project.id, T0 + 10)
    metadata_store.apply_stream(ids["finished"], StreamBatch(complete=True, exit_code=0), T0)
    metadata_store.apply_stream(ids["failed"], StreamBatch(complete=True, exit_code=1), T0)
    metadata_store.apply_stream(ids["preempting"], StreamBatch(preempting=True), T0)
    metadata_store.update_run(ids["other"], RunFields(state="killed"))
    assert metadata_store.mark_stale_runs_crashed(T0 + 50) == 2
    assert {name: reread(metadata_store, i).state for name, i in ids.items()} == {
        "stale": "crashed", "fresh": "running", "finished": "finished", "failed": "failed",
        "preempting": "preempting", "other": "killed"}
    assert reread(metadata_store, other_project.id).state == "crashed"
    assert metadata_store.mark_stale_runs_crashed(T0 + 50) == 0
    assert metadata_store.mark_stale_runs_crashed(T0 + 100) == 0  # strictly older
    assert metadata_store.mark_stale_runs_crashed(T0 + 101) == 1
    assert reread(metadata_store, ids["fresh"]).state == "crashed"


# files -------------------------------------------------------------------------------------
def test_register_files_in_input_order_and_idempotent(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    names = ["z.txt", "media/images/a.png", "b.bin"]
    first = metadata_store.register_files(created.id, names, lambda n: f"first/{n}")
    assert [f.name for f in first] == names
    assert [f.storage_key for f in first] == [f"first/{n}" for n in names]
    assert all((f.run_id, f.size, f.md5, f.uploaded) == (created.id, None, None, False)
               for f in first)
    assert len({f.id for f in first}) == 3
    again = metadata_store.register_files(created.id, ["b.bin", "new.txt", "z.txt"],
                                          lambda n: f"second/{n}")
    by_name = {f.name: f for f in first}
    assert [f.name for f in again] == ["b.bin", "new.txt", "z.txt"]
    assert (again[0].id, again[0].storage_key) == (by_name["b.bin"].id, "first/b.bin")
    assert (again[2].id, again[2].storage_key) == (by_name["z.txt"].id, "first/z.txt")
    assert again[1].storage_key == "second/new.txt"
    assert again[1].id not in {f.id for f in first}
    assert len(metadata_store.list_files(created.id, limit=100, offset=0)) == 4
    assert metadata_store.register_files(created.id, [], lambda n: f"third/{n}") == []


def test_file_stored_records_the_blob(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    other = run(metadata_store, "other")
    metadata_store.register_files(created.id, ["a.txt", "b.txt"], lambda n: f"k1/{n}")
    metadata_store.register_files(other.id, ["a.txt"], lambda n: f"k2/{n}")
    md5 = "0cc175b9c0f1b6a831c399e269772661"
    assert metadata_store.file_stored("k1/a.txt", 5_000_000_000, md5, T0 + 9) is True
    stored = metadata_store.get_file(created.id, "a.txt")
    assert stored is not None
    assert (stored.size, stored.md5, stored.uploaded, stored.updated_at) == (
        5_000_000_000, md5, True, T0 + 9)
    assert metadata_store.file_stored("k1/a.txt", 5_000_000_000, md5, T0 + 9) is True  # again
    untouched = [metadata_store.get_file(created.id, "b.txt"),
                 metadata_store.get_file(other.id, "a.txt")]
    assert [(f.size, f.uploaded) for f in untouched if f] == [(None, False), (None, False)]
    assert metadata_store.file_stored("k1/missing.txt", 1, md5, T0) is False


def test_list_files_by_name_with_paging_and_get_file(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    other = run(metadata_store, "other")
    names = ["d.txt", "a.txt", "c/x.txt", "b.txt", "e.txt"]
    registered = metadata_store.register_files(created.id, names, lambda n: f"k/{n}")
    metadata_store.register_files(other.id, ["aa.txt"], lambda n: f"o/{n}")
    listed = metadata_store.list_files(created.id, limit=100, offset=0)
    assert [f.name for f in listed] == sorted(names)
    assert [f.name for f in metadata_store.list_files(created.id, limit=2, offset=1)] == [
        "b.txt", "c/x.txt"]
    assert metadata_store.list_files(created.id, limit=2, offset=5) == []
    assert metadata_store.get_file(created.id, "c/x.txt") == registered[2]
    assert metadata_store.get_file(created.id, "aa.txt") is None
    assert metadata_store.get_file(other.id, "a.txt") is None
    assert metadata_store.list_files(run(metadata_store, "empty").id, limit=5, offset=0) == []


def database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["db_server"])


@pytest.mark.parametrize(("name", "lookalike"), [
    ("Model.pt", "model.pt"),
    ("résumé.txt", "resume.txt"),
], ids=["case", "accent"])
def test_file_names_differing_only_by_case_or_accent_are_distinct(
    metadata_store: MetadataStore, name: str, lookalike: str,
) -> None:
    created = run(metadata_store)
    md5 = "0cc175b9c0f1b6a831c399e269772661"
    first = metadata_store.register_files(created.id, [name], lambda n: f"k/{n}")[0]
    second = metadata_store.register_files(created.id, [lookalike], lambda n: f"k/{n}")[0]
    assert (second.name, second.storage_key) == (lookalike, f"k/{lookalike}")
    assert second.id != first.id
    found = metadata_store.get_file(created.id, lookalike)
    assert found is not None
    assert found.id == second.id
    assert metadata_store.file_stored(f"k/{lookalike}", 1, md5, T0) is True
    original = metadata_store.get_file(created.id, name)
    assert original is not None
    assert (original.id, original.uploaded) == (first.id, False)
    assert sorted(f.name for f in metadata_store.list_files(created.id, limit=10, offset=0)) == (
        sorted([name, lookalike]))


# alerts ------------------------------------------------------------------------------------
def test_alerts_are_listed_in_the_order_added(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    other = run(metadata_store, "other")
    assert metadata_store.list_alerts(created.id) == []
    added = [metadata_store.add_alert(created.id, "Loss diverged", "loss is nan", "ERROR"),
             metadata_store.add_alert(other.id, "theirs", "x", "INFO"),
             metadata_store.add_alert(created.id, "Résumé ✓", "long " * 1000, "WARN"),
             metadata_store.add_alert(created.id, "done", "", "INFO")]
    assert metadata_store.list_alerts(created.id) == [added[0], added[2], added[3]]
    assert [(a.run_id, a.title, a.severity) for a in metadata_store.list_alerts(other.id)] == [
        (other.id, "theirs", "INFO")]
    assert added[2].text == "long " * 1000


# round trips -------------------------------------------------------------------------------
UNICODE_TEXT = json.dumps({
    "名前": "実験 🚀", "emoji": "👩‍🔬🏳️‍🌈", "rtl": "עברית العربية", "combining": "e\u0301",
    "zero width": "a\u200bb", "escaped": "\\n\\u0000", "quote": '"', "bmp edge": "\uffff",
}, ensure_ascii=False)
BIG_TEXT = json.dumps({"_step": 0, "blob": "🚀é" * 150_000 + "x" * 250_000},
                      ensure_ascii=False)
assert len(BIG_TEXT.encode()) > 1_000_000
FLOAT_TEXT = ('{"z": 0.1, "a" :0.30000000000000004,"tiny":5e-324,"max":1.7976931348623157e+308,'
              '"neg0":-0.0,"exp":1E-7,"trailing":2.50,"int":123456789012345678901234567890,'
              '"list":[1.0, 1e10 ,-3.14159265358979323846264338327950288]}')


@pytest.mark.parametrize("text", [UNICODE_TEXT, BIG_TEXT, FLOAT_TEXT],
                         ids=["unicode", "1mb", "floats"])
def test_texts_round_trip_exactly(metadata_store: MetadataStore, text: str) -> None:
    created = run(metadata_store, config=text)
    assert reread(metadata_store, created.id).config == text
    history_text = text if "_step" in text else text[:-1] + ', "_step": 0}'
    batch = history(0, [history_text])
    batch.events = [line(0, text)]
    batch.summary = text
    metadata_store.apply_stream(created.id, batch, T0)
    stored = reread(metadata_store, created.id)
    assert (stored.config, stored.summary) == (text, text)
    assert rows(metadata_store, created.id) == [(0, history_text)]
    assert metadata_store.history_tail(created.id, 1)[0].text == history_text
    assert all_events(metadata_store, created.id) == [(0, text)]
    listed, _ = metadata_store.list_runs(ENTITY, PROJECT, RunQuery())
    assert (listed[0].config, listed[0].summary) == (text, text)


def test_console_round_trips_a_large_unicode_line(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    big = "🚀\x1b[0m\x00é" * 100_000
    metadata_store.apply_stream(created.id, console(0, [big, "after"]), T0)
    assert metadata_store.read_console(created.id, offset=0, limit=10) == [(0, big),
                                                                           (1, "after")]


# embedded queue ----------------------------------------------------------------------------
def _bodies(messages: list[QueuedMessage]) -> list[tuple[str, int]]:
    return [(msg.body, msg.attempts) for msg in messages]


def test_claim_leases_messages_and_counts_attempts(metadata_store: MetadataStore) -> None:
    store = metadata_store
    assert store.claim_messages(10, 30, T0) == []
    store.enqueue("m1", T0)
    store.enqueue("m2", T0)
    store.enqueue("m3", T0 + 100)  # not ready before T0 + 100
    assert _bodies(store.claim_messages(10, 30, T0)) == [("m1", 1), ("m2", 1)]
    assert store.claim_messages(10, 30, T0 + 29) == []  # leased
    assert _bodies(store.claim_messages(1, 30, T0 + 30)) == [("m1", 2)]  # lease over, limit 1
    assert _bodies(store.claim_messages(10, 30, T0 + 30)) == [("m2", 2)]
    assert _bodies(store.claim_messages(10, 30, T0 + 100)) == [("m1", 3), ("m2", 3), ("m3", 1)]
    assert store.dead_messages() == []


def test_delete_message_is_final_and_harmless_twice(metadata_store: MetadataStore) -> None:
    store = metadata_store
    store.enqueue("keep", T0)
    store.enqueue("drop", T0)
    claimed = store.claim_messages(10, 30, T0)
    drop = next(msg for msg in claimed if msg.body == "drop")
    store.delete_message(drop.id)
    store.delete_message(drop.id)
    store.delete_message(drop.id + 1000)
    assert _bodies(store.claim_messages(10, 30, T0 + 1000)) == [("keep", 2)]


def test_release_retries_later_or_parks_as_dead(metadata_store: MetadataStore) -> None:
    store = metadata_store
    store.enqueue("retry", T0)
    store.enqueue("dead", T0)
    retry, dead = store.claim_messages(10, 1000, T0)
    store.release_message(retry.id, retry_at=T0 + 50, dead=False)
    assert store.claim_messages(10, 1000, T0 + 49) == []
    assert _bodies(store.claim_messages(10, 1000, T0 + 50)) == [("retry", 2)]
    store.release_message(dead.id, retry_at=T0, dead=True)
    assert _bodies(store.dead_messages()) == [("dead", 1)]
    assert store.dead_messages()[0].id == dead.id
    assert _bodies(store.claim_messages(10, 1000, T0 + 10**6)) == [("retry", 3)]
    assert store.claim_messages(10, 1000, T0 + 10**7) == [
        QueuedMessage(retry.id, "retry", 4)]  # never the dead one
    store.delete_message(dead.id)
    assert store.dead_messages() == []


def test_concurrent_claims_hand_out_each_message_once(metadata_store: MetadataStore) -> None:
    store = metadata_store
    count, workers = 90, 6
    for i in range(count):
        store.enqueue(f"msg-{i}", T0)
    claimed: list[QueuedMessage] = []
    lock = threading.Lock()
    start = threading.Barrier(workers)
    deadline = time.monotonic() + 15

    def worker() -> int:
        start.wait()
        calls = 0
        while time.monotonic() < deadline:
            with lock:
                if len(claimed) >= count:
                    return calls
            got = store.claim_messages(4, 3600, T0)
            calls += 1
            with lock:
                claimed.extend(got)
            if not got:
                time.sleep(0.002)
        return calls

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(worker) for _ in range(workers)]
        for future in futures:
            future.result()
    per_body = Counter(msg.body for msg in claimed)
    assert per_body == Counter(f"msg-{i}" for i in range(count))
    assert {msg.attempts for msg in claimed} == {1}
    assert store.claim_messages(10, 3600, T0) == []


# saved settings ----------------------------------------------------------------------------
def test_saved_settings_overwrite_only_the_names_given(metadata_store: MetadataStore) -> None:
    store = metadata_store
    assert store.saved_settings() == {}
    store.save_settings({"blob_url": "s3://bucket/prefix", "queue_url": "internal://"}, T0)
    assert store.saved_settings() == {"blob_url": "s3://bucket/prefix",
                                      "queue_url": "internal://"}
    store.save_settings({"queue_url": "sqs://q", "note": "ünïcödé ✓ " + "x" * 5000}, T0 + 1)
    assert store.saved_settings() == {"blob_url": "s3://bucket/prefix", "queue_url": "sqs://q",
                                      "note": "ünïcödé ✓ " + "x" * 5000}
    store.save_settings({}, T0 + 2)
    assert len(store.saved_settings()) == 3


@pytest.mark.parametrize(("name", "lookalike"), [("Runs", "runs"), ("résumé", "resume")])
def test_run_and_project_names_are_exact(metadata_store: MetadataStore, name: str,
                                         lookalike: str) -> None:
    first = run(metadata_store, name)
    second = run(metadata_store, lookalike)
    assert first.id != second.id
    assert metadata_store.get_run(first.entity, first.project, lookalike) == second


def test_history_versions_name_each_existing_run_with_its_line_count(
        metadata_store: MetadataStore) -> None:
    first = run(metadata_store, "r1")
    second = run(metadata_store, "r2")
    metadata_store.apply_stream(first.id, history(0, ['{"_step": 0}', '{"_step": 1}']), T0)
    versions = metadata_store.history_versions(ENTITY, PROJECT, ["r2", "missing", "r1"])
    assert versions == {"r1": (first.id, 2), "r2": (second.id, 0)}
    assert list(versions) == ["r2", "r1"]  # the order asked for
    metadata_store.apply_stream(first.id, history(2, ['{"_step": 2}']), T0 + 1)
    assert metadata_store.history_versions(ENTITY, PROJECT, ["r1"]) == {"r1": (first.id, 3)}
    assert metadata_store.history_versions(ENTITY, "other", ["r1"]) == {}
    assert metadata_store.history_versions(ENTITY, PROJECT, []) == {}


def test_history_versions_async_answers_the_same_seeing_every_earlier_write(
        metadata_store: MetadataStore) -> None:
    """From the event loop (where cached charts ask it): the same answer as
    history_versions, each call seeing every write committed before it, on one loop."""
    first = run(metadata_store, "r1")
    second = run(metadata_store, "r2")

    async def main() -> None:
        for count in (1, 2, 3):
            metadata_store.apply_stream(first.id, history(count - 1, [f'{{"_step": {count}}}']),
                                        T0)
            found = await metadata_store.history_versions_async(
                ENTITY, PROJECT, ["missing", "r2", "r1"])
            assert found == {"r2": (second.id, 0), "r1": (first.id, count)}
            assert list(found) == ["r2", "r1"]
        assert await metadata_store.history_versions_async(ENTITY, PROJECT, []) == {}
        assert await metadata_store.history_versions_async(ENTITY, "other", ["r1"]) == {}

    asyncrun.run(main())
