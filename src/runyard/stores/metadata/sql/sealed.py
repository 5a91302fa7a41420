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
from typing import cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Table, and_, bindparam, or_, select, update
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


def _spans(s: Db, run_id: int, ranges: Sequence[tuple[int, int]], keys: Iterable[str] | None
           ) -> dict[str, _Spans]:
    """Per metric (``keys``, or every one), its chunks overlapping any of the line
    ``ranges`` [low, high) (segments read together may lie far apart)."""
    query = select(C.key, C.start_line, C.end_line, C.count, C.points).where(
        C.run_id == run_id, or_(*(and_(C.start_line < high, C.end_line > low)
                                  for low, high in ranges)))
    if keys is not None:
        query = query.where(C.key.in_(sorted(set(keys))))
    found: dict[str, list[tuple[int, int, int, F64]]] = defaultdict(list)
    for key, start, end, count, points in s.execute(query.order_by(C.key, C.start_line)):
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


def seal(s: Db, run_id: int, after: int, sealed: int) -> None:
    """Seal the segments of short lines that ``after_write`` has just sealed the last lines
    of: those ending in (after, sealed]. A segment that no metric's chunks cover is kept in
    the smaller of its plain and digit forms."""
    rows = s.execute(select(T.start_line, T.data).where(
        T.run_id == run_id, T.form == SEAL, T.end_line > after, T.end_line <= sealed)).all()
    if not rows:
        return
    candidates = [(int(start), bytes(blob)) for start, blob in rows]
    where = [segments.positions(blob).line_nos for _, blob in candidates]
    spans = _spans(s, run_id, [(int(ln[0]), int(ln[-1]) + 1) for ln in where if len(ln)],
                   None)
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
    rows = s.execute(select(T.start_line, T.data).where(
        T.run_id == run_id, T.form == SEALED, T.end_line > first_line)).all()
    if not rows:
        return
    found = [(int(start), bytes(blob)) for start, blob in rows]
    changes = []
    for (start, blob), table in zip(found, tables(s, run_id, [b for _, b in found]),
                                    strict=True):
        changes.append({"rid": run_id, "start": start,
                        "blob": segments.unsealed(blob, table), "to": SEAL})
    s.execute(_REWRITE, changes)
