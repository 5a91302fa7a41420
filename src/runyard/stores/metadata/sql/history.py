"""History lines in SQL: compressed segments (runyard.history.segments), written a request at
a time and read by line or by step.

A request that appends (the usual case) inserts its lines as new segments without reading
anything. A request that re-sends known lines (a client retry, a resume) merges them into the
segments it overlaps: the re-sent line replaces the stored one, as a row update would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Table, delete, insert, select
from sqlalchemy.orm import Session

from runyard.history import segments
from runyard.stores.metadata.base import HistoryRecord, StreamLine
from runyard.stores.metadata.sql import sealed
from runyard.stores.metadata.sql.models import HistorySegment

#: At most this many lines, and about this many bytes of text, per segment.
SEGMENT_LINES = 4096
SEGMENT_BYTES = 4 << 20
#: Segments averaging fewer lines than this are merged when their lines are sealed.
COMPACT_BELOW = 64
#: Segments whose blobs are fetched in one query.
_FETCH = 16

T = HistorySegment
#: Its table: inserts into it skip the ORM's bulk machinery.
TABLE = cast(Table, HistorySegment.__table__)
_INSERT = insert(TABLE)
#: Where statements run: a session, or the plain connection of the file_stream write path.
Db = Session | Connection


def _pieces(records: Sequence[HistoryRecord]) -> Iterator[Sequence[HistoryRecord]]:
    start, size = 0, 0
    for i, record in enumerate(records):
        size += len(record.text)
        if i + 1 - start >= SEGMENT_LINES or size >= SEGMENT_BYTES or i + 1 == len(records):
            yield records[start:i + 1]
            start, size = i + 1, 0


def segment_rows(run_id: int, records: Sequence[HistoryRecord], *, level: int,
                 try_digits: bool = True) -> list[dict[str, object]]:
    """Rows of ``history_segments`` holding ``records`` (sorted by line, no duplicates);
    ``try_digits``: see ``segments.encode``."""
    rows: list[dict[str, object]] = []
    for piece in _pieces(records):
        steps = [r.step for r in piece]
        texts = [r.text for r in piece]
        rows.append({
            "run_id": run_id, "start_line": piece[0].line_no, "end_line": piece[-1].line_no + 1,
            "line_count": len(piece), "min_step": min(steps), "max_step": max(steps),
            "form": sealed.SEAL if segments.short_lines(texts) else sealed.LEAVE,
            "data": segments.encode([r.line_no for r in piece], steps,
                                    [r.runtime for r in piece], [r.timestamp for r in piece],
                                    texts, level=level, try_digits=try_digits),
        })
    return rows


def record_of(line: StreamLine) -> HistoryRecord:
    return HistoryRecord(line.line_no, line.step if line.step is not None else line.line_no,
                         line.runtime, line.timestamp, line.text)


def write_lines(s: Db, run_id: int, lines: Sequence[StreamLine], known_lines: int, *,
                sealing: bool = False) -> None:
    """Store ``lines``; ``known_lines`` is the run's line count before them. ``sealing``:
    the same transaction seals them (they are stored in the plain form, and sealing makes
    the smaller forms)."""
    latest = {line.line_no: line for line in lines}  # a line twice in a request: the last
    records = [record_of(latest[n]) for n in sorted(latest)]
    if records[0].line_no < known_lines:
        records = _merged(s, run_id, records)
    rows = segment_rows(run_id, records, level=segments.FAST, try_digits=not sealing)
    s.execute(_INSERT, rows)


def _merged(s: Db, run_id: int, records: list[HistoryRecord]) -> list[HistoryRecord]:
    """Take the segments that overlap ``records`` out; their lines with ``records`` on top."""
    low, high = records[0].line_no, records[-1].line_no + 1
    overlapping = s.execute(select(T.start_line, T.data).where(
        T.run_id == run_id, T.start_line < high, T.end_line > low)).all()
    if not overlapping:
        return records
    merged = {r.line_no: r for records_of in _decoded(s, run_id, [row[1] for row in overlapping])
              for r in records_of}
    merged.update((r.line_no, r) for r in records)
    s.execute(delete(T).where(T.run_id == run_id,
                              T.start_line.in_([int(row[0]) for row in overlapping])))
    return [merged[n] for n in sorted(merged)]


def _decode(blob: bytes, table: Mapping[str, npt.NDArray[np.float64]] | None = None
           ) -> list[HistoryRecord]:
    """A segment's lines; a sealed one's with its metrics' values (runyard...sql.sealed)."""
    where = segments.positions(blob)
    texts = segments.texts(blob, table)
    runtimes = [float(v) if has else None
                for v, has in zip(where.runtimes.tolist(), where.has_runtime.tolist(),
                                  strict=True)]
    times = [float(v) if has else None
             for v, has in zip(where.timestamps.tolist(), where.has_timestamp.tolist(),
                               strict=True)]
    return [HistoryRecord(*fields) for fields in zip(
        where.line_nos.tolist(), where.steps.tolist(), runtimes, times, texts, strict=True)]


def _decoded(s: Db, run_id: int, blobs: Sequence[bytes]) -> list[list[HistoryRecord]]:
    return [_decode(blob, table)
            for blob, table in zip(blobs, sealed.tables(s, run_id, blobs), strict=True)]


#: Reads of a batch of segments: a sealed one read with chunks that another transaction
#: rewrote in between (PostgreSQL reads each statement's newest rows) is read again.
_ATTEMPTS = 3


def _segments(s: Db, run_id: int, starts: Sequence[int]) -> Iterator[list[HistoryRecord]]:
    """The lines of the segments starting at ``starts``, segment by segment, in that order."""
    for i in range(0, len(starts), _FETCH):
        part = starts[i:i + _FETCH]
        for attempt in range(_ATTEMPTS):
            found = dict(s.execute(select(T.start_line, T.data).where(
                T.run_id == run_id, T.start_line.in_(part))).all())
            blobs = [bytes(found[start]) for start in part if start in found]
            try:
                decoded = _decoded(s, run_id, blobs)
            except segments.StaleValues:
                if attempt + 1 == _ATTEMPTS:
                    raise
                continue
            break
        yield from decoded


def _step_bounds(min_step: int | None, max_step: int | None) -> tuple[int, int]:
    return (min_step if min_step is not None else -(2**63),
            max_step if max_step is not None else 2**63 - 1)


def read_by_step(s: Session, run_id: int, *, min_step: int | None, max_step: int | None,
                 limit: int, contains: Sequence[str] = ()) -> list[HistoryRecord]:
    """The first ``limit`` lines with ``min_step <= step < max_step`` holding every needle,
    by (step, line)."""
    low, high = _step_bounds(min_step, max_step)
    found: list[HistoryRecord] = []
    metas = s.execute(select(T.start_line, T.min_step).where(
        T.run_id == run_id, T.max_step >= low, T.min_step < high)
        .order_by(T.min_step, T.start_line)).all()
    done = 0
    while done < len(metas):
        batch = metas[done:done + _FETCH]
        done += len(batch)
        for records in _segments(s, run_id, [int(start) for start, _ in batch]):
            found.extend(r for r in records if low <= r.step < high
                         and all(needle in r.text for needle in contains))
        if len(found) >= limit:
            found.sort(key=lambda r: (r.step, r.line_no))
            del found[limit:]
            # Segments still to read start at or after their min_step: past the last kept
            # step, none of their lines can come first.
            if done >= len(metas) or int(metas[done][1]) > found[-1].step:
                break
    found.sort(key=lambda r: (r.step, r.line_no))
    return found[:limit]


def tail(s: Session, run_id: int, count: int) -> list[HistoryRecord]:
    """The last ``count`` lines, in line order."""
    out: list[HistoryRecord] = []
    metas = s.execute(select(T.start_line, T.line_count).where(T.run_id == run_id)
                      .order_by(T.start_line.desc()))
    starts, total = [], 0
    for start, lines in metas:
        if total >= count:
            break
        starts.append(int(start))
        total += int(lines)
    for records in _segments(s, run_id, starts[::-1]):
        out.extend(records)
    return out[-count:] if count else []


def lines_from(s: Db, run_id: int, first_line: int) -> list[HistoryRecord]:
    """Every line from ``first_line`` on, in line order."""
    starts = [int(v) for v in s.scalars(select(T.start_line).where(
        T.run_id == run_id, T.end_line > first_line).order_by(T.start_line))]
    return [r for records in _segments(s, run_id, starts) for r in records
            if r.line_no >= first_line]


def positions(s: Session, run_id: int, *, min_step: int | None, max_step: int | None
              ) -> list[tuple[int, int]]:
    """(line, step) of every line in the step range, by (step, line)."""
    low, high = _step_bounds(min_step, max_step)
    out: list[tuple[int, int]] = []
    for (blob,) in s.execute(select(T.data).where(
            T.run_id == run_id, T.max_step >= low, T.min_step < high)):
        where = segments.positions(blob)
        keep = (where.steps >= low) & (where.steps < high)
        out.extend(zip(where.line_nos[keep].tolist(), where.steps[keep].tolist(), strict=True))
    out.sort(key=lambda p: (p[1], p[0]))
    return out


def read_lines(s: Session, run_id: int, line_numbers: Iterable[int]) -> list[HistoryRecord]:
    wanted = np.unique(np.fromiter(line_numbers, np.int64))
    if not len(wanted):
        return []
    metas = s.execute(select(T.start_line, T.end_line).where(
        T.run_id == run_id, T.start_line <= int(wanted[-1]), T.end_line > int(wanted[0]))
        .order_by(T.start_line)).all()
    starts = np.fromiter((int(a) for a, _ in metas), np.int64, len(metas))
    ends = np.fromiter((int(b) for _, b in metas), np.int64, len(metas))
    # A segment is read only when a wanted line falls in its range.
    at = np.searchsorted(wanted, starts)
    hit = (at < len(wanted)) & (wanted[np.minimum(at, len(wanted) - 1)] < ends)
    chosen = set(wanted.tolist())
    return [r for records in _segments(s, run_id, starts[hit].tolist()) for r in records
            if r.line_no in chosen]


def compact(s: Db, run_id: int, first_line: int,
            records: Sequence[HistoryRecord] | None = None) -> None:
    """Rewrite the segments from ``first_line`` on as few large ones, when they are many
    small ones (a client that sends a few lines a request). ``records``: their lines, when
    the caller has them."""
    metas = s.execute(select(T.start_line, T.line_count).where(
        T.run_id == run_id, T.start_line >= first_line)).all()
    lines = sum(int(count) for _, count in metas)
    if len(metas) <= 1 or lines >= COMPACT_BELOW * len(metas):
        return
    first = min(int(start) for start, _ in metas)
    if records is None:
        records = lines_from(s, run_id, first)
    kept = [r for r in records if r.line_no >= first]
    if len(kept) != lines:  # not the lines those segments hold: leave them as they are
        return
    # By their keys, not ``start_line >= first``: a range would lock the next run's first
    # segment too on InnoDB (see upsert.py).
    s.execute(delete(T).where(T.run_id == run_id,
                              T.start_line.in_([int(start) for start, _ in metas])))
    # Sealing follows (sealed.seal): it makes the digit forms.
    s.execute(insert(TABLE), segment_rows(run_id, kept, level=segments.COMPACT,
                                          try_digits=False))
