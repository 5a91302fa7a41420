"""Aggregates over runs of consecutive points, and their merge into at most N buckets.

An ``Entries`` table holds one row per group of consecutive points: its step span, first
wall time, min and max (of finite values), first and last value, point count, finite count
and finite sum. Raw points are entries of one point; coarser levels are entries of many.
Merging groups consecutive entries, so every output bucket is exactly the aggregate of the
raw points between its first and last step.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from runyard.history import zstd

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FIELDS = ("first_step", "last_step", "time", "min", "max", "first", "last", "count",
          "finite", "sum")
_INTEGER_FIELDS = frozenset({"first_step", "last_step", "count", "finite"})
_INTEGER_ROWS = [i for i, name in enumerate(FIELDS) if name in _INTEGER_FIELDS]
_PLAIN_UP_TO = 4
#: Marks compressed columns (chunks written before it hold 80 plain bytes an entry).
_PACKED = b"RYE1"


@dataclass
class Entries:
    first_step: I64
    last_step: I64
    time: F64
    min: F64
    max: F64
    first: F64
    last: F64
    count: I64
    finite: I64
    sum: F64

    def __len__(self) -> int:
        return len(self.first_step)

    @classmethod
    def empty(cls) -> Entries:
        i, f = np.empty(0, np.int64), np.empty(0, np.float64)
        return cls(i, i, f, f, f, f, f, i, i, f)

    @classmethod
    def from_points(cls, steps: I64, values: F64, times: F64) -> Entries:
        finite = np.isfinite(values)
        ones = np.ones(len(steps), np.int64)
        return cls(steps, steps, times,
                   np.where(finite, values, np.inf), np.where(finite, values, -np.inf),
                   values, values, ones, finite.astype(np.int64), np.where(finite, values, 0.0))

    @classmethod
    def concat(cls, parts: list[Entries]) -> Entries:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))

    def group(self, size: int) -> Entries:
        """Merge every ``size`` consecutive entries into one."""
        if size <= 1 or len(self) == 0:
            return self
        return self.group_at(np.arange(0, len(self), size))

    def group_at(self, starts: I64) -> Entries:
        """Merge entries into groups beginning at the ascending indices ``starts``."""
        n = len(self)
        ends = np.append(starts[1:], n) - 1
        return Entries(
            self.first_step[starts], self.last_step[ends], self.time[starts],
            np.minimum.reduceat(self.min, starts), np.maximum.reduceat(self.max, starts),
            self.first[starts], self.last[ends],
            np.add.reduceat(self.count, starts), np.add.reduceat(self.finite, starts),
            np.add.reduceat(self.sum, starts),
        )

    def to_bytes(self) -> bytes:
        """Columns as delta-coded (integers), byte-shuffled little-endian values, compressed;
        a few entries (a chunk's summary) as plain columns, which cost less (``pack``)."""
        table = np.empty((len(FIELDS), len(self)), np.int64)
        for row, name in enumerate(FIELDS):
            column = getattr(self, name)
            table[row] = column if name in _INTEGER_FIELDS \
                else np.ascontiguousarray(column, np.float64).view(np.int64)
        return pack(table[None])[0]

    @classmethod
    def from_bytes(cls, raw: bytes) -> Entries:
        return cls.from_many_bytes([raw])

    @classmethod
    def from_many_bytes(cls, raws: Sequence[bytes]) -> Entries:
        """The entries of ``to_bytes`` payloads one after another, decoded together (a
        chart over a thousand chunks decodes their pyramids in one numpy pass)."""
        found = tables(raws)
        table = found[0] if len(found) == 1 else np.concatenate(found, axis=1) if found \
            else np.empty((len(FIELDS), 0), np.int64)
        return cls(*(table[i] if name in _INTEGER_FIELDS else table[i].view(np.float64)
                     for i, name in enumerate(FIELDS)))

    def to_json(self) -> dict[str, list[Any]]:
        """Columns for the chart API; min/max/mean are null where a bucket has no finite
        value, first/last keep NaN and infinities as logged (as strings)."""
        has = self.finite > 0
        mean = np.divide(self.sum, self.finite, out=np.zeros(len(self)), where=has)
        return {
            "step": self.first_step.tolist(),
            "last_step": self.last_step.tolist(),
            "time": self.time.tolist(),
            "min": _nullable(self.min, has),
            "max": _nullable(self.max, has),
            "mean": _nullable(mean, has),
            "first": [_json_float(v) for v in self.first.tolist()],
            "last": [_json_float(v) for v in self.last.tolist()],
            "count": self.count.tolist(),
        }


def tables(payloads: Sequence[bytes]) -> list[I64]:
    """The (FIELDS, entries) tables of ``to_bytes`` payloads, floats as their bit patterns.
    Compressed payloads of one size (a seal's metrics) are undone in one numpy pass."""
    width = len(FIELDS)
    out: list[I64] = [np.empty((width, 0), np.int64)] * len(payloads)
    packed: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    for i, raw in enumerate(payloads):
        if raw.startswith(_PACKED):
            try:
                body = zstd.decompress(raw[len(_PACKED):])
            except ValueError:  # plain columns that happen to begin with the mark
                pass
            else:
                packed[len(body) // (8 * width)].append((i, body))
                continue
        n = len(raw) // (8 * width)  # older chunks hold plain columns
        out[i] = np.frombuffer(raw, "<i8", n * width).reshape(width, n).astype(np.int64)
    for n, members in packed.items():
        # One transpose for every column of every payload, then undo the integer deltas.
        grid = np.frombuffer(b"".join(body[:n * 8 * width] for _, body in members), np.uint8)
        planes = np.ascontiguousarray(grid.reshape(len(members), width, 8, n)
                                      .transpose(0, 1, 3, 2))
        table = planes.view("<i8").reshape(len(members), width, n).astype(np.int64, copy=False)
        table[:, _INTEGER_ROWS] = np.cumsum(table[:, _INTEGER_ROWS], axis=2)
        for (i, _), one in zip(members, table, strict=True):
            out[i] = one
    return out


def pack(tables: I64) -> list[bytes]:
    """The ``to_bytes`` payloads of many tables of one length, encoded together: ``tables``
    is (tables, FIELDS, entries), floats as their bit patterns (the inverse of ``tables``)."""
    count, fields, n = tables.shape
    if n <= _PLAIN_UP_TO:
        plain = tables.astype("<i8")
        return [plain[k].tobytes() for k in range(count)]
    coded = tables.astype(np.int64)  # a copy: the caller's table stays as it was
    coded[:, _INTEGER_ROWS, :] = np.diff(tables[:, _INTEGER_ROWS, :], axis=2,
                                         prepend=np.int64(0))
    planes = coded.astype("<i8").view(np.uint8).reshape(count, fields, n, 8)
    planes = planes.transpose(0, 1, 3, 2)
    return [_PACKED + zstd.compress(planes[k].tobytes(), 1) for k in range(count)]


def _nullable(values: F64, keep: npt.NDArray[np.bool_]) -> list[float | None]:
    return [v if k else None for v, k in zip(values.tolist(), keep.tolist(), strict=True)]


def _json_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def merge_to(entries: Entries, buckets: int) -> Entries:
    """At most ``buckets`` buckets of consecutive entries holding about equal numbers of
    points (an entry is never split, so each bucket stays an exact aggregate)."""
    if len(entries) <= buckets:
        return entries
    total = int(entries.count.sum())
    per_bucket = max(1, math.ceil(total / buckets))
    before = np.cumsum(entries.count) - entries.count
    group_of = before // per_bucket
    starts = np.flatnonzero(np.diff(group_of, prepend=-1)).astype(np.int64)
    return entries.group_at(starts)
