"""Sealed history segments: texts stored against the values their chunks already hold.

Once a segment's lines are all sealed into chunks, its digit runs are stored as differences
to guesses from its metrics' chunk values (runyard.history.segments.sealed), so that each
value's noise is kept once. Reading such a segment's texts takes those values again, so a
sealed segment depends on the chunks it was sealed against:

- a line's value is its metric's chunk point ``line - start_line`` (only metrics whose
  every chunk over the segment holds one point per line, in line order, are used);
- a chunk only grows by appending points (``series._chunk_rows``): the points a sealed
  segment reads keep their places;
- before chunks are deleted (lines re-sent below the sealed mark: ``series.after_write``),
  the segments from there on are unsealed (back to the plain digit form).

Deleting a run deletes both together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from runyard.history import codec, segments
from runyard.stores.metadata.sql.models import HistorySegment, SeriesChunk

Db = Session | Connection
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Table_ = Mapping[str, F64]

T = HistorySegment
C = SeriesChunk
#: Segment forms (``history_segments.form``): never sealed (long lines, or written before
#: sealed segments existed), to seal once its lines are, sealed.
LEAVE, SEAL, SEALED = 0, 1, 2
_SEGMENTS = cast(Table, HistorySegment.__table__)
_REWRITE = (update(_SEGMENTS)
            .where(_SEGMENTS.c.run_id == bindparam("rid"),
                   _SEGMENTS.c.start_line == bindparam("start"))
            .values(data=bindparam("blob"), form=bindparam("to")))


@dataclass(frozen=True, slots=True)
class _Spans:
    """One metric's chunks over a line range, in line order."""

    starts: I64
    ends: I64
    counts: I64
    offsets: I64  # where each chunk's points begin in ``values``
    values: F64

    def dense(self, at: I64) -> bool:
        return bool((self.counts[at] == self.ends[at] - self.starts[at]).all())

    def lookup(self, lines: I64) -> tuple[F64, I64] | None:
        """Each line's value and its chunk's index; None when a line has no point."""
        at = np.searchsorted(self.starts, lines, side="right") - 1
        if (at < 0).any():
            return None
        place = lines - self.starts[at]
        if ((lines >= self.ends[at]) | (place >= self.counts[at])).any():
            return None
        return self.values[self.offsets[at] + place], at


def _merged(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def _spans(s: Db, run_id: int, ranges: Sequence[tuple[int, int]], keys: Iterable[str]
           ) -> dict[str, _Spans]:
    """Per metric of ``keys``, its chunks overlapping any of the line ``ranges``
    [low, high) (segments read together may lie far apart). Every condition is a range of
    the primary key (run, key, start line): a metric's chunks never overlap, so of those
    starting at or before ``low`` only the last can reach into the range."""
    conditions = []
    for key in sorted(set(keys)):
        for low, high in _merged(ranges):
            before = s.scalar(select(func.max(C.start_line)).where(
                C.run_id == run_id, C.key == key, C.start_line <= low))
            conditions.append(and_(C.key == key,
                                   C.start_line >= (low if before is None else int(before)),
                                   C.start_line < high))
    if not conditions:
        return {}
    query = select(C.key, C.start_line, C.end_line, C.count, C.points).where(
        C.run_id == run_id, or_(*conditions))
    found: dict[str, list[tuple[int, int, int, F64]]] = defaultdict(list)
    lowest = min(low for low, _ in ranges)
    for key, start, end, count, points in s.execute(query.order_by(C.key, C.start_line)):
        if int(end) <= lowest:
            continue  # the last chunk before a range, ending before it
        values = codec.decode(bytes(points))[1]
        if len(values) != int(count):
            raise ValueError("corrupt history chunk")
        found[str(key)].append((int(start), int(end), int(count), values))
    out: dict[str, _Spans] = {}
    for key, rows in found.items():
        counts = np.array([r[2] for r in rows], np.int64)
        out[key] = _Spans(np.array([r[0] for r in rows], np.int64),
                          np.array([r[1] for r in rows], np.int64), counts,
                          np.cumsum(counts) - counts, np.concatenate([r[3] for r in rows]))
    return out


def tables(s: Db, run_id: int, blobs: Sequence[bytes]) -> list[Table_ | None]:
    """Per segment, the chunk values reading its texts takes (None for one that takes
    none: not sealed, or sealed against its own steps and clocks only)."""
    wanted = [segments.keys_of(blob) for blob in blobs]
    if not any(wanted):
        return [None] * len(blobs)
    lines = [segments.positions(blob).line_nos if keys else None
             for blob, keys in zip(blobs, wanted, strict=True)]
    ranges = [(int(ln[0]), int(ln[-1]) + 1) for ln in lines if ln is not None and len(ln)]
    spans = _spans(s, run_id, ranges, {k for keys in wanted for k in keys})
    out: list[Table_ | None] = []
    for keys, line_nos in zip(wanted, lines, strict=True):
        if not keys or line_nos is None:
            out.append(None)
            continue
        table: dict[str, F64] = {}
        for key in keys:
            found = spans[key].lookup(line_nos) if key in spans else None
            if found is None:
                # Read after another transaction rewrote them, or lost: see _segments.
                raise segments.StaleValues("a sealed history segment without its values")
            table[key] = found[0]
        out.append(table)
    return out


def _from_line(s: Db, run_id: int, line: int) -> int:
    """The first line of the segment holding ``line`` or the first after it: segments
    never overlap, so one ending past ``line`` starts there or later (a primary-key bound
    for queries on end lines, which have no index)."""
    start = s.scalar(select(func.max(T.start_line)).where(
        T.run_id == run_id, T.start_line <= line))
    return int(start) if start is not None else line


def _with_form(s: Db, run_id: int, form: int, low: int, high: int | None, *where: Any
               ) -> list[tuple[int, bytes]]:
    """(start line, blob) of the run's segments of ``form`` starting in [low, high) that
    match ``where``. The blobs are fetched apart: a database returns a row's blob before it
    tests the row (InnoDB reads it off-page, SQLite walks its overflow pages to reach a
    column after it), and most segments in range are of another form."""
    bounds = [T.run_id == run_id, T.start_line >= low, *where]
    if high is not None:
        bounds.append(T.start_line < high)
    starts = [int(start) for start, found in s.execute(select(T.start_line, T.form).where(
        *bounds)) if int(found) == form]
    if not starts:
        return []
    return [(int(start), bytes(blob)) for start, blob in s.execute(
        select(T.start_line, T.data).where(T.run_id == run_id, T.start_line.in_(starts))
        .order_by(T.start_line))]


def seal(s: Db, run_id: int, after: int, sealed: int, keys: Iterable[str]) -> None:
    """Seal the segments of short lines that ``after_write`` has just sealed the last lines
    of, those ending in (after, sealed], against the chunks of ``keys`` (the metrics it
    sealed). A segment that no metric's chunks cover is kept in the smaller of its plain
    and digit forms."""
    rows = _with_form(s, run_id, SEAL, _from_line(s, run_id, after), sealed,
                      and_(T.end_line > after, T.end_line <= sealed))
    if not rows:
        return
    candidates = rows
    where = [segments.positions(blob).line_nos for _, blob in candidates]
    spans = _spans(s, run_id, [(int(ln[0]), int(ln[-1]) + 1) for ln in where if len(ln)],
                   keys)
    changes = []
    for (start, blob), line_nos in zip(candidates, where, strict=True):
        table: dict[str, F64] = {}
        for key, span in spans.items():
            found = span.lookup(line_nos)
            if found is not None and span.dense(found[1]):
                table[key] = found[0]
        smaller = segments.sealed(blob, table) or blob
        changes.append({"rid": run_id, "start": start, "blob": smaller,
                        "to": SEALED if smaller[:4] == segments.MAGIC_SEALED else LEAVE})
    s.execute(_REWRITE, changes)


def unseal(s: Db, run_id: int, first_line: int) -> None:
    """Turn the sealed segments holding lines from ``first_line`` on back into the plain
    digit form: their chunks from there on are about to be rewritten."""
    rows = _with_form(s, run_id, SEALED, _from_line(s, run_id, first_line), None,
                      T.end_line > first_line)
    if not rows:
        return
    found = rows
    changes = []
    for (start, blob), table in zip(found, tables(s, run_id, [b for _, b in found]),
                                    strict=True):
        changes.append({"rid": run_id, "start": start,
                        "blob": segments.unsealed(blob, table), "to": SEAL})
    s.execute(_REWRITE, changes)
