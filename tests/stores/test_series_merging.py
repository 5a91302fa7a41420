"""A metric's newest chunk takes in the next seals' points (series.MERGE_LINES,
MERGE_BYTES): fewer, larger rows, and buckets still exact, on every database."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select

from runyard.history.query import SeriesQuery
from runyard.stores.metadata.sql.models import SeriesChunk
from runyard.stores.metadata.sql.series import MERGE_LINES, SEAL_LINES
from tests.stores.test_metadata_contract import T0, run
from tests.stores.test_series_contract import assert_exact, ingest, logged_rows, raw_points

BIG = -(2**63), 2**63


def uniform_rows(count: int, seed: int = 3, first_step: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"_step": first_step + i, "_runtime": i * 0.25, "_timestamp": T0 + i,
             "loss": rng.gauss(1, 0.1), "acc": i / count, "lr": 0.001}
            for i in range(count)]


def chunk_spans(store: Any, run_id: int, key: str) -> list[tuple[int, int, int]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(SeriesChunk.start_line, SeriesChunk.end_line, SeriesChunk.count)
            .where(SeriesChunk.run_id == run_id, SeriesChunk.key == key)
            .order_by(SeriesChunk.start_line))]


def check_all(store: Any, run_id: int, rows: list[dict[str, Any]], keys: list[str]) -> None:
    last = rows[-1]["_step"]
    windows = [(None, None), (SEAL_LINES - 3, SEAL_LINES + 5), (100, MERGE_LINES + 700),
               (MERGE_LINES - 10, last - 50)]
    for low, high in windows:
        for buckets in (1000, 37, 2):
            result = store.read_series(run_id, SeriesQuery(
                keys=keys, min_step=low, max_step=high, buckets=buckets))
            for key in keys:
                assert_exact(result[key].to_json(), raw_points(rows, key),
                             low if low is not None else BIG[0],
                             high if high is not None else BIG[1], buckets)


def test_seals_grow_the_newest_chunk_and_stay_exact(metadata_store: Any) -> None:
    lines = 2 * MERGE_LINES + 3 * SEAL_LINES + 100
    rows = uniform_rows(lines)
    created = run(metadata_store)
    ingest(metadata_store, created.id, rows, batch=SEAL_LINES)
    spans = chunk_spans(metadata_store, created.id, "lr")
    # Contiguous, each within MERGE_LINES, far fewer than one per seal.
    assert spans[0][0] == 0
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(end - start <= MERGE_LINES for start, end, _ in spans)
    assert len(spans) == 3  # two full spans of MERGE_LINES and the last seals' chunk
    assert sum(count for *_, count in spans) == lines - lines % SEAL_LINES
    # A noisy metric's chunks stop growing at MERGE_BYTES instead.
    assert len(chunk_spans(metadata_store, created.id, "loss")) > len(spans)
    check_all(metadata_store, created.id, rows, ["loss", "acc", "lr", "_runtime"])


def test_mixed_lines_merge_per_metric_and_stay_exact(metadata_store: Any) -> None:
    """Lines with a metric every third line and nested values: the careful sealing path."""
    rows = logged_rows(MERGE_LINES + 2 * SEAL_LINES + 11)
    created = run(metadata_store)
    ingest(metadata_store, created.id, rows, batch=SEAL_LINES)
    assert len(chunk_spans(metadata_store, created.id, "sparse")) < MERGE_LINES // SEAL_LINES
    check_all(metadata_store, created.id, rows, ["loss", "sparse", "nested.acc", "_runtime"])


def test_rewriting_lines_inside_a_merged_chunk_reseals_it(metadata_store: Any) -> None:
    rows = uniform_rows(MERGE_LINES + 2 * SEAL_LINES)
    created = run(metadata_store)
    ingest(metadata_store, created.id, rows, batch=SEAL_LINES)
    changed = uniform_rows(len(rows), seed=11)
    low, high = 3 * SEAL_LINES + 17, 3 * SEAL_LINES + 600
    ingest(metadata_store, created.id, changed[low:high], offset=low, batch=high - low)
    expected = rows[:low] + changed[low:high] + rows[high:]
    check_all(metadata_store, created.id, expected, ["loss", "acc", "lr"])
    # Sending more lines afterwards still merges and stays exact.
    more = uniform_rows(len(expected) + 2 * SEAL_LINES, seed=12)[len(expected):]
    ingest(metadata_store, created.id, more, offset=len(expected), batch=SEAL_LINES)
    check_all(metadata_store, created.id, expected + more, ["loss", "acc", "lr"])


def test_steps_that_go_back_start_a_new_chunk(metadata_store: Any) -> None:
    """A chunk is bounded by its first and last step: a seal whose steps start below the
    previous chunk's last step is not merged into it."""
    first = uniform_rows(SEAL_LINES, first_step=10_000)
    second = uniform_rows(SEAL_LINES, seed=4, first_step=0)
    created = run(metadata_store)
    ingest(metadata_store, created.id, first + second, batch=SEAL_LINES)
    with metadata_store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(SeriesChunk).where(
            SeriesChunk.run_id == created.id, SeriesChunk.key == "lr")).scalar_one()
    assert count == 2
    result = metadata_store.read_series(created.id, SeriesQuery(keys=["loss"], buckets=5000))
    assert sum(result["loss"].to_json()["count"]) == 2 * SEAL_LINES
