"""History lines stored as compressed segments behave like one row per line: after any mix of
appends, re-sent and rewritten offsets, gaps filled later and sealing, every read (by step,
by line, tail, positions, series buckets) equals a brute-force model, on every database."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from runyard import registry
from runyard.domain.filestream import parse_request
from runyard.history.query import SeriesQuery
from runyard.stores.metadata.base import HistoryRecord, MetadataStore
from runyard.stores.metadata.sql.series import SEAL_LINES
from tests.stores.test_metadata_contract import T0, run
from tests.stores.test_series_contract import assert_exact, raw_points


def _row(line: int, step: int, rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {"_step": step, "_runtime": line * 0.25, "loss": rng.uniform(-1, 1)}
    if line % 4:
        row["_timestamp"] = T0 + line * 0.1
    if rng.random() < 0.2:
        row["note"] = "é" * rng.randint(0, 3)
    return row


def _send(store: MetadataStore, run_id: int, offset: int, rows: list[dict[str, Any]]) -> None:
    store.apply_stream(run_id, parse_request({"files": {"wandb-history.jsonl": {
        "offset": offset, "content": [json.dumps(r) for r in rows]}}}), T0)


def _check(store: MetadataStore, run_id: int, model: dict[int, dict[str, Any]]) -> None:
    expected = sorted(((r["_step"], line, json.dumps(r)) for line, r in model.items()))
    got = store.read_history(run_id, min_step=None, max_step=None, limit=10**6)
    assert [(r.step, r.line_no, r.text) for r in got] == expected
    low, high = 600, 3400
    window = [e for e in expected if low <= e[0] < high]
    got = store.read_history(run_id, min_step=low, max_step=high, limit=37)
    assert [(r.step, r.line_no, r.text) for r in got] == window[:37]
    assert store.history_positions(run_id, min_step=low, max_step=high) == [
        (line, step) for step, line, _ in window]
    tail = store.history_tail(run_id, 25)
    assert [r.line_no for r in tail] == sorted(model)[-25:]
    assert all(r.text == json.dumps(model[r.line_no]) for r in tail)
    pick = sorted(model)[::97] + [10**7]
    assert [(r.line_no, r.text) for r in store.read_lines(run_id, "history", pick)] == sorted(
        ((line, json.dumps(model[line])) for line in pick if line in model),
        key=lambda p: (model[p[0]]["_step"], p[0]))
    for record in got:
        row = model[record.line_no]
        assert record.runtime == row["_runtime"]
        assert record.timestamp == row.get("_timestamp")
    rows = [model[line] for line in sorted(model)]
    for buckets in (1000, 40, 2):
        result = store.read_series(run_id, SeriesQuery(keys=["loss"], buckets=buckets))
        assert_exact(result["loss"].to_json(), raw_points(rows, "loss"), -(2**63), 2**63,
                     buckets)


def test_random_appends_resends_and_gaps_read_like_rows(metadata_store: MetadataStore) -> None:
    rng = random.Random(11)
    created = run(metadata_store)
    model: dict[int, dict[str, Any]] = {}
    end = 0
    for round_no in range(30):
        kind = rng.choice(["append", "append", "big", "resend", "gap"])
        if kind == "append":
            size, offset = rng.randint(1, 40), end
        elif kind == "big":
            size, offset = rng.randint(SEAL_LINES, 2 * SEAL_LINES + 500), end
        elif kind == "resend" and end:
            offset = rng.randrange(end)
            size = rng.randint(1, min(300, end - offset + 50))
        else:  # leave a gap now, fill it in a later round
            offset, size = end + rng.randint(1, 5), rng.randint(1, 30)
        # Steps grow with lines (ties and smaller steps: the next test).
        rows = [_row(line, 2 * line, rng) for line in range(offset, offset + size)]
        _send(metadata_store, created.id, offset, rows)
        model.update(zip(range(offset, offset + size), rows, strict=True))
        end = max(end, offset + size)
        if round_no % 4 == 3:
            _check(metadata_store, created.id, model)
    missing = [line for line in range(end) if line not in model]
    for line in missing:  # the gaps, filled late
        model[line] = _row(line, 2 * line, rng)
        _send(metadata_store, created.id, line, [model[line]])
    _check(metadata_store, created.id, model)
    record = metadata_store.get_run_by_id(created.id)
    assert record is not None
    assert record.history_line_count == end


def test_a_line_twice_in_one_request_keeps_the_last(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    first, second = {"_step": 0, "v": 1}, {"_step": 0, "v": 2}
    metadata_store.apply_stream(created.id, parse_request({"files": {"wandb-history.jsonl": {
        "offset": 0, "content": [json.dumps(first)]}}}), T0)
    batch = parse_request({"files": {"wandb-history.jsonl": {
        "offset": 0, "content": [json.dumps(second)]}}})
    batch.history.extend(parse_request({"files": {"wandb-history.jsonl": {
        "offset": 0, "content": [json.dumps({"_step": 0, "v": 3})]}}}).history)
    metadata_store.apply_stream(created.id, batch, T0)
    got = metadata_store.read_history(created.id, min_step=None, max_step=None, limit=10)
    assert [r.text for r in got] == [json.dumps({"_step": 0, "v": 3})]


@pytest.mark.parametrize("needle", ['"loss"', '"note"'])
def test_read_history_filters_on_exact_text(metadata_store: MetadataStore, needle: str) -> None:
    created = run(metadata_store)
    rng = random.Random(5)
    rows = [_row(line, line, rng) for line in range(2 * SEAL_LINES + 10)]
    _send(metadata_store, created.id, 0, rows)
    got = metadata_store.read_history(created.id, min_step=None, max_step=None, limit=10**6,
                                      contains=[needle])
    assert [r.line_no for r in got] == [i for i, r in enumerate(rows)
                                        if needle in json.dumps(r)]
    assert all(isinstance(r, HistoryRecord) for r in got)


def test_steps_out_of_line_order_read_by_step(metadata_store: MetadataStore) -> None:
    """A resumed run may log smaller steps again: reads by step still come in step order,
    across segments and past a limit."""
    rng = random.Random(2)
    created = run(metadata_store)
    steps = [rng.randrange(5000) for _ in range(3 * SEAL_LINES)]
    for start in range(0, len(steps), 500):
        _send(metadata_store, created.id, start, [_row(line, steps[line], rng)
                                                  for line in range(start, start + 500)
                                                  if line < len(steps)])
    expected = sorted((step, line) for line, step in enumerate(steps) if 1000 <= step < 3000)
    got = metadata_store.read_history(created.id, min_step=1000, max_step=3000, limit=700)
    assert [(r.step, r.line_no) for r in got] == expected[:700]


def test_resending_inside_a_sealed_segment_then_compacting(metadata_store: MetadataStore
                                                            ) -> None:
    """Re-sealing may start inside a large segment while small segments after it are
    compacted: no line is lost or doubled."""
    rng = random.Random(4)
    created = run(metadata_store)
    model: dict[int, dict[str, Any]] = {}

    def send(offset: int, size: int) -> None:
        rows = [_row(line, 2 * line, rng) for line in range(offset, offset + size)]
        _send(metadata_store, created.id, offset, rows)
        model.update(zip(range(offset, offset + size), rows, strict=True))

    send(0, 2 * SEAL_LINES + 452)
    end = 2 * SEAL_LINES + 452
    send(end, 10)
    send(end + 10, 10)
    send(SEAL_LINES + 476, 10)
    _check(metadata_store, created.id, model)
    send(end + 20, SEAL_LINES)
    _check(metadata_store, created.id, model)


def test_a_write_by_another_server_is_sealed_from_what_it_wrote(
        metadata_store: MetadataStore, migrated_database: Any) -> None:
    """Two replicas on one database: one keeps the numbers of the lines it received for
    sealing, the other rewrites some of them; the seal must use the rewritten lines."""
    other = registry.metadata_store(migrated_database.url)
    other.open()
    try:
        rng = random.Random(8)
        created = run(metadata_store)
        keys = ["a", "b"]

        def rows(start: int, count: int, scale: float) -> list[dict[str, Any]]:
            return [{"_step": 2 * i, **{k: scale * rng.random() for k in keys}}
                    for i in range(start, start + count)]

        first = rows(0, 600, 1.0)
        _send(metadata_store, created.id, 0, first)
        rewritten = rows(100, 100, 1000.0)
        _send(other, created.id, 100, rewritten)
        rest = rows(600, SEAL_LINES, 1.0)
        _send(metadata_store, created.id, 600, rest)
        expected = first[:100] + rewritten + first[200:] + rest
        for store in (metadata_store, other):
            result = store.read_series(created.id, SeriesQuery(keys=["a"], buckets=3))
            assert_exact(result["a"].to_json(), raw_points(expected, "a"), -(2**63), 2**63, 3)
    finally:
        other.close()


def _segment_forms(store: MetadataStore, run_id: int) -> dict[bytes, int]:
    """How many of the run's segments are stored in each form, by magic."""
    from sqlalchemy import select

    from runyard.stores.metadata.sql.models import HistorySegment as T

    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        blobs = conn.execute(select(T.data).where(T.run_id == run_id)).scalars().all()
    forms: dict[bytes, int] = {}
    for blob in blobs:
        forms[bytes(blob[:4])] = forms.get(bytes(blob[:4]), 0) + 1
    return forms


def test_sealed_segments_read_back_exactly_through_resends_and_growth(
        metadata_store: MetadataStore) -> None:
    """Segments whose lines are all sealed are stored against their chunks' values
    (segments.sealed): every read stays byte-exact when later seals grow those chunks,
    when sealed lines are re-sent (the chunks are rewritten, the segments unsealed
    first), and for lines whose metrics come and go."""
    rng = random.Random(21)
    created = run(metadata_store)
    model: dict[int, dict[str, Any]] = {}

    def row(line: int) -> dict[str, Any]:
        out: dict[str, Any] = {"_step": line, "_runtime": line * 0.5,
                               "loss": rng.gauss(0, 1) * 10 ** rng.randint(-6, 6)}
        if line % 3:
            out["acc"] = rng.random()
        if line % 7 == 0:
            out["lr"] = 10 ** -rng.randint(1, 9)  # exponent form: kept as digits
        out["epoch"] = line // 500
        return out

    def send(offset: int, size: int) -> None:
        rows = [row(line) for line in range(offset, offset + size)]
        _send(metadata_store, created.id, offset, rows)
        model.update(zip(range(offset, offset + size), rows, strict=True))

    send(0, 3 * SEAL_LINES + 300)
    forms = _segment_forms(metadata_store, created.id)
    assert forms.get(b"RYS3", 0) >= 1, forms  # sealed: stored against the chunks
    _check(metadata_store, created.id, model)
    send(3 * SEAL_LINES + 300, SEAL_LINES)  # the newest chunks grow
    _check(metadata_store, created.id, model)
    send(SEAL_LINES + 17, 40)  # sealed lines re-sent: their chunks are rewritten
    _check(metadata_store, created.id, model)
    send(4 * SEAL_LINES + 300, 2 * SEAL_LINES)
    assert _segment_forms(metadata_store, created.id).get(b"RYS3", 0) >= 3
    _check(metadata_store, created.id, model)


def test_a_read_racing_a_chunk_rewrite_reads_again(metadata_store: MetadataStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Values read after another transaction rewrote the chunks (possible where each
    statement sees the newest rows) fail the sealed segment's checksum: the batch is read
    again, and a lasting mismatch is an error, never other texts."""
    from runyard.history import segments
    from runyard.stores.metadata.sql import sealed

    created = run(metadata_store)
    rows = [{"_step": i, "loss": 1 / (i + 3)} for i in range(2 * SEAL_LINES)]
    _send(metadata_store, created.id, 0, rows)
    real = sealed.tables
    calls = {"n": 0}

    def racing(s: Any, run_id: int, blobs: Any) -> Any:
        calls["n"] += 1
        found = real(s, run_id, blobs)
        if calls["n"] > limit:
            return found
        return [None if t is None else {k: v + 1.0 for k, v in t.items()} for t in found]

    monkeypatch.setattr(sealed, "tables", racing)
    limit = 1
    got = metadata_store.read_history(created.id, min_step=None, max_step=None, limit=10**6)
    assert [r.text for r in got] == [json.dumps(r) for r in rows]
    assert calls["n"] >= 2
    limit = 10**6
    with pytest.raises(segments.StaleValues):
        metadata_store.read_history(created.id, min_step=None, max_step=None, limit=10**6)
