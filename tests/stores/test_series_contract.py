"""The history engine's buckets are exact: each equals a brute-force aggregate of the raw
points between its first and last step, at every level of the pyramid, on every database."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from runyard.domain.filestream import parse_request
from runyard.history.query import SeriesQuery
from runyard.stores.metadata.base import MetadataStore
from runyard.stores.metadata.sql.series import SEAL_LINES
from tests.stores.test_metadata_contract import T0, run

LINES = 3 * SEAL_LINES + 300


def logged_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        row: dict[str, Any] = {"_step": i * 2, "_runtime": i * 0.5, "_timestamp": T0 + i,
                               "loss": rng.uniform(-5, 5)}
        if i % 3 == 0:
            row["sparse"] = rng.random()
        if i % 97 == 0:
            row["loss"] = float("nan")
        if i % 389 == 0:
            row["loss"] = float("inf") if i % 2 else float("-inf")
        row["nested"] = {"acc": i / count}
        rows.append(row)
    return rows


def ingest(store: MetadataStore, run_id: int, rows: list[dict[str, Any]], offset: int = 0,
           batch: int = 700) -> None:
    for start in range(0, len(rows), batch):
        texts = [json.dumps(r) for r in rows[start:start + batch]]
        store.apply_stream(run_id, parse_request({"files": {"wandb-history.jsonl": {
            "offset": offset + start, "content": texts}}}), T0)


def raw_points(rows: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    out = []
    for row in rows:
        value: Any = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append((row["_step"], float(value)))
    return out


def assert_exact(result: dict[str, list[Any]], points: list[tuple[int, float]],
                 low: int, high: int, buckets: int) -> None:
    in_range = [(s, v) for s, v in points if low <= s < high]
    assert len(result["step"]) <= buckets
    assert sum(result["count"]) == len(in_range)
    for i, (first, last) in enumerate(zip(result["step"], result["last_step"], strict=True)):
        inside = [v for s, v in in_range if first <= s <= last]
        finite = [v for v in inside if math.isfinite(v)]
        assert result["count"][i] == len(inside)
        assert result["min"][i] == (min(finite) if finite else None)
        assert result["max"][i] == (max(finite) if finite else None)
        assert _same(result["first"][i], inside[0])
        assert _same(result["last"][i], inside[-1])
        if finite:
            assert result["mean"][i] == pytest.approx(sum(finite) / len(finite), rel=1e-12)
    if len(result["step"]) > 1:
        assert all(a < b for a, b in zip(result["last_step"], result["step"][1:], strict=False))


def _same(reported: float | str, value: float) -> bool:
    if isinstance(reported, str):
        return reported == ("NaN" if math.isnan(value) else
                            "Infinity" if value > 0 else "-Infinity")
    return reported == value


@pytest.mark.parametrize(("low", "high", "buckets"), [
    (None, None, 1000),   # raw points
    (None, None, 60),     # 32-point aggregates
    (None, None, 2),      # whole-chunk aggregates
    (301, 5001, 40),      # a window that cuts chunks at both ends
    (2000, 2100, 1000),   # a narrow zoom
    (7000, 9000, 3),      # the unsealed tail only
])
def test_buckets_are_exact(metadata_store: MetadataStore, low: int | None, high: int | None,
                           buckets: int) -> None:
    rows = logged_rows(LINES)
    created = run(metadata_store)
    ingest(metadata_store, created.id, rows)
    query = SeriesQuery(keys=["loss", "sparse", "nested.acc", "_runtime"], min_step=low,
                        max_step=high, buckets=buckets)
    result = metadata_store.read_series(created.id, query)
    for key in query.keys:
        assert_exact(result[key].to_json(), raw_points(rows, key),
                     low if low is not None else -(2**63),
                     high if high is not None else 2**63, buckets)


def test_resent_and_rewritten_lines_reseal(metadata_store: MetadataStore) -> None:
    rows = logged_rows(LINES)
    created = run(metadata_store)
    ingest(metadata_store, created.id, rows)
    changed = logged_rows(LINES, seed=99)
    ingest(metadata_store, created.id, changed[500:1500], offset=500, batch=1000)
    expected = rows[:500] + changed[500:1500] + rows[1500:]
    result = metadata_store.read_series(created.id, SeriesQuery(keys=["loss"], buckets=50))
    assert_exact(result["loss"].to_json(), raw_points(expected, "loss"), -(2**63), 2**63, 50)


def test_unknown_metric_is_empty(metadata_store: MetadataStore) -> None:
    created = run(metadata_store)
    ingest(metadata_store, created.id, logged_rows(10))
    result = metadata_store.read_series(created.id, SeriesQuery(keys=["nope"]))
    assert result["nope"].to_json()["step"] == []


def test_uniform_lines_in_any_key_order_are_exact(metadata_store: MetadataStore) -> None:
    """Lines with the same metrics, their keys in a different order each time (as the Go
    core of the wandb client writes them), sealed together, read back exactly."""
    rng = random.Random(9)
    keys = [f"m{j}" for j in range(12)] + ["_step", "_runtime", "_timestamp"]
    rows = []
    for i in range(2 * SEAL_LINES + 77):
        row: dict[str, Any] = {f"m{j}": rng.uniform(-3, 3) for j in range(12)}
        row.update({"_step": i, "_runtime": i * 0.1, "_timestamp": T0 + i})
        if i % 50 == 0:
            row["m3"] = float("nan")
        order = keys[:]
        rng.shuffle(order)
        rows.append({k: row[k] for k in order})
    created = run(metadata_store)
    ingest(metadata_store, created.id, rows, batch=SEAL_LINES + 5)
    for buckets in (1000, 40, 2):
        result = metadata_store.read_series(created.id, SeriesQuery(
            keys=["m0", "m3", "m11", "_runtime"], buckets=buckets))
        for key in ("m0", "m3", "m11", "_runtime"):
            assert_exact(result[key].to_json(), raw_points(rows, key), -(2**63), 2**63, buckets)
