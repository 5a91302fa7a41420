"""Chunk payloads for many metrics at once.

A training log usually holds the same metrics in every line: a matrix of lines x metrics.
Sealing it one metric at a time costs some twenty small numpy operations per metric, which
for a hundred metrics outweighs the arithmetic. Here every level is computed for all
columns together, and each column's payloads are the bytes ``Entries.to_bytes`` and
``codec.encode`` would make for that column alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from runyard.history import codec
from runyard.history.buckets import FIELDS, pack, tables

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_SHARED = {"first_step", "last_step", "time", "count"}


@dataclass(frozen=True, slots=True)
class Payloads:
    summary: bytes
    lod: bytes
    points: bytes


def payloads(steps: I64, times: F64, matrix: F64, lod_points: int,
             earlier_lods: Sequence[bytes | None] = ()) -> list[Payloads]:
    """Per column of ``matrix`` (lines x metrics, at least one line): its whole-chunk
    summary, its aggregates of every ``lod_points`` lines, and its raw points.

    ``earlier_lods``, when given, holds per column the aggregates of the chunk these points
    are appended to (or None): such a column's aggregates then follow those in one payload,
    re-encoded whole (they are small; a chart reads them in one piece)."""
    n = matrix.shape[0]
    summary = pack(_table(steps, times, matrix, np.zeros(1, np.int64)))
    table = _table(steps, times, matrix, np.arange(0, n, max(1, lod_points)))
    lod = pack(table)
    by_length: dict[int, list[tuple[int, I64]]] = defaultdict(list)
    grown = [k for k, blob in enumerate(earlier_lods) if blob is not None]
    for k, old in zip(grown, tables([cast(bytes, earlier_lods[k]) for k in grown]),
                      strict=True):
        by_length[old.shape[1]].append((k, old))
    for members in by_length.values():  # usually one: every metric on every line
        columns = [k for k, _ in members]
        joined = np.concatenate([np.stack([old for _, old in members]), table[columns]], axis=2)
        for k, payload in zip(columns, pack(joined), strict=True):
            lod[k] = payload
    points = _points(steps, times, matrix)
    return [Payloads(s, g, p) for s, g, p in zip(summary, lod, points, strict=True)]


def _table(steps: I64, times: F64, matrix: F64, starts: I64) -> I64:
    """Per column, the aggregates of the groups of lines beginning at ``starts``:
    (columns, FIELDS, groups), floats as their bit patterns."""
    n, width = matrix.shape
    ends = np.append(starts[1:], n) - 1
    finite = np.isfinite(matrix)
    if len(starts) == n:  # groups of one point: the points themselves
        per_key = {"min": np.where(finite, matrix, np.inf),
                   "max": np.where(finite, matrix, -np.inf),
                   "first": matrix, "last": matrix,
                   "finite": finite.astype(np.int64),
                   "sum": np.where(finite, matrix, 0.0)}
    else:
        per_key = {
            "min": np.minimum.reduceat(np.where(finite, matrix, np.inf), starts, axis=0),
            "max": np.maximum.reduceat(np.where(finite, matrix, -np.inf), starts, axis=0),
            "first": matrix[starts], "last": matrix[ends],
            "finite": np.add.reduceat(finite.astype(np.int64), starts, axis=0),
            "sum": np.add.reduceat(np.where(finite, matrix, 0.0), starts, axis=0),
        }
    shared = {"first_step": steps[starts], "last_step": steps[ends], "time": times[starts],
              "count": np.diff(np.append(starts, n)).astype(np.int64)}
    groups = len(starts)
    table = np.empty((width, len(FIELDS), groups), np.int64)
    for row, name in enumerate(FIELDS):
        if name in _SHARED:
            column = shared[name]
            table[:, row, :] = column if column.dtype == np.int64 else column.view(np.int64)
        else:
            values = per_key[name]
            table[:, row, :] = (values if values.dtype == np.int64
                                else np.ascontiguousarray(values).view(np.int64)).T
    return table


def _points(steps: I64, times: F64, matrix: F64) -> list[bytes]:
    n, width = matrix.shape
    step_planes = codec.step_bytes(steps)
    (time_places,) = codec.decimal_places(times.reshape(-1, 1))
    time_planes = codec.column_bytes(times, time_places, as_deltas=True)
    places = codec.decimal_places(matrix)
    values = np.ascontiguousarray(matrix.T).astype("<f8").view(np.uint8).reshape(width, n, 8)
    value_planes = values.transpose(0, 2, 1)
    return [codec.payload(n, places[k], time_places, step_planes,
                          value_planes[k].tobytes() if places[k] < 0 else
                          codec.column_bytes(matrix[:, k], places[k], as_deltas=False),
                          time_planes)
            for k in range(width)]


_FIELD = {name: i for i, name in enumerate(FIELDS)}
_SUMMARY_BYTES = 8 * len(FIELDS)


def merge_summaries(earlier: list[bytes], later: list[bytes]) -> list[bytes]:
    """Pairwise, the whole-chunk aggregate of a chunk followed by the next seal's points,
    from their two one-entry summaries (as ``payloads`` makes them)."""
    if not earlier:
        return []
    if any(len(b) != _SUMMARY_BYTES for b in (*earlier, *later)):
        raise ValueError("not a whole-chunk summary")
    # A plain entry is its fields, one little-endian 8-byte column each.
    a = np.frombuffer(b"".join(earlier), "<i8").reshape(-1, len(FIELDS)).astype(np.int64)
    b = np.frombuffer(b"".join(later), "<i8").reshape(-1, len(FIELDS)).astype(np.int64)
    out = a.copy()
    floats, b_floats, out_floats = a.view(np.float64), b.view(np.float64), out.view(np.float64)
    for name in ("last_step", "last"):
        out[:, _FIELD[name]] = b[:, _FIELD[name]]
    for name in ("count", "finite"):
        out[:, _FIELD[name]] = a[:, _FIELD[name]] + b[:, _FIELD[name]]
    at = _FIELD["min"], _FIELD["max"], _FIELD["sum"]
    out_floats[:, at[0]] = np.minimum(floats[:, at[0]], b_floats[:, at[0]])
    out_floats[:, at[1]] = np.maximum(floats[:, at[1]], b_floats[:, at[1]])
    out_floats[:, at[2]] = floats[:, at[2]] + b_floats[:, at[2]]
    plain = out.astype("<i8")
    return [plain[i].tobytes() for i in range(len(plain))]
