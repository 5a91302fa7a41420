"""The history engine's SQL side: seal history lines into chunks, rewind, read series."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import orjson
from sqlalchemy import Table, case, delete, func, or_, select
from sqlalchemy.orm import Session

from runyard.history import chunks, codec
from runyard.history.buckets import Entries, merge_to
from runyard.history.parts import join as join_parts
from runyard.history.query import SeriesQuery
from runyard.stores.metadata.base import HistoryRecord, StreamLine
from runyard.stores.metadata.sql import history, upsert
from runyard.stores.metadata.sql import models as m
from runyard.stores.metadata.sql import sealed as segment_seals
from runyard.stores.metadata.sql.history import Db
from runyard.stores.metadata.sql.models import SeriesChunk
from runyard.stores.metadata.sql.pending import Block, PendingValues

#: History lines per chunk: the unsealed tail a chart query parses is shorter than this.
SEAL_LINES = 1024
#: Points per entry of the middle level of the pyramid.
LOD_POINTS = 128
#: A metric's newest chunk takes in the next seal's points (appended as parts, nothing
#: re-encoded) while the grown chunk spans at most MERGE_LINES lines and the chunk's points
#: are under MERGE_BYTES: a database pays about half a page per stored value (SQLite's leaf
#: pages, InnoDB's off-page blobs), which for chunks of 1,024 noisy points was a sixth of
#: the disk used.
MERGE_LINES = 8 * SEAL_LINES
MERGE_BYTES = 24 << 10
#: InnoDB (MySQL, MariaDB) keeps a blob too large for its row in 16 KB pages of its own, so
#: there a chunk grows only while it still fits inside its row (about half a page): a
#: noisy metric's chunk of 1,024 points already does, small ones still gain.
MERGE_BYTES_INNODB = 6 << 10
MAX_KEY_LENGTH = 255
#: The chunks' table: inserts into it skip the ORM's bulk machinery.
CHUNKS = cast(Table, SeriesChunk.__table__)


def loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN / Infinity tokens, which orjson does not accept
        return json.loads(text)


def numeric_items(row: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, float]]:
    """Chartable values of a history row: numbers (nested dicts flattened with '.')."""
    for key, value in row.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            if prefix or not key.startswith("_") or key == "_runtime":
                yield prefix + key, float(value)
        elif isinstance(value, dict) and "_type" not in value:
            yield from numeric_items(value, f"{prefix}{key}.")


Columns = dict[str, tuple["np.ndarray[Any, Any]", "np.ndarray[Any, Any]", "np.ndarray[Any, Any]"]]
_NUMBER_TYPES = frozenset({int, float})


Parsed = Sequence[tuple[int, float | None, Any]]  # step, wall time, the parsed line


def parse(records: Sequence[HistoryRecord], known: Mapping[int, Any] | None = None) -> Parsed:
    """Lines as (step, wall time, value), reusing values the caller already parsed."""
    known = known or {}
    return [(r.step, r.timestamp,
             known[r.line_no] if r.line_no in known else loads(r.text)) for r in records]


def _points_by_key(parsed: Parsed, wanted: Sequence[str] | None = None) -> Columns:
    """Per metric, its (steps, values, wall times) over the rows, in line order.

    Rows whose values are all plain numbers (the usual training log) are read as one numpy
    matrix per set of keys; other rows go value by value. With ``wanted``, only those
    metrics are read.
    """
    collected: dict[str, list[tuple[Any, Any, Any, Any]]] = defaultdict(list)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    slow: list[int] = []
    for index, (_step, _when, row) in enumerate(parsed):
        if not isinstance(row, dict):
            continue
        if wanted is None and set(map(type, row.values())) <= _NUMBER_TYPES:
            groups[tuple(row)].append(index)
        else:
            slow.append(index)
    steps_all = np.fromiter((p[0] for p in parsed), np.int64, len(parsed))
    times_all = np.fromiter((math.nan if p[1] is None else p[1] for p in parsed), np.float64,
                            len(parsed))
    for keys, members in groups.items():
        at = np.asarray(members, np.int64)
        matrix = np.array([list(parsed[i][2].values()) for i in members], np.float64)
        for column, key in enumerate(keys):
            if (key.startswith("_") and key != "_runtime") or len(key) > MAX_KEY_LENGTH:
                continue
            collected[key].append((at, steps_all[at], matrix[:, column], times_all[at]))
    for key, found in _slow_points(parsed, slow, wanted).items():
        at = np.asarray(found[0], np.int64)
        collected[key].append((at, steps_all[at], np.asarray(found[1], np.float64),
                               times_all[at]))
    series: Columns = {}
    for key, parts in collected.items():
        at = np.concatenate([p[0] for p in parts])
        order = np.argsort(at, kind="stable")
        series[key] = tuple(np.concatenate([p[i] for p in parts])[order]  # type: ignore[assignment]
                            for i in (1, 2, 3))
    return series


def _slow_points(parsed: Sequence[tuple[int, Any, Any]], indices: Sequence[int],
                 wanted: Sequence[str] | None) -> dict[str, tuple[list[int], list[float]]]:
    found: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for index in indices:
        row = parsed[index][2]
        if wanted is None:
            items: Iterable[tuple[str, float]] = numeric_items(row)
        else:
            items = ((key, value) for key in wanted
                     if (value := _path_value(row, key)) is not None)
        for key, value in items:
            if len(key) <= MAX_KEY_LENGTH:
                found[key][0].append(index)
                found[key][1].append(value)
    return found


def _path_value(row: dict[str, Any], key: str) -> float | None:
    value: Any = row.get(key)
    if value is None and "." in key:
        value = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _watermark(s: Session, run_id: int) -> int:
    return int(s.scalar(select(m.Run.sealed_lines).where(m.Run.id == run_id)) or 0)


def seals(line_count: int, sealed: int) -> bool:
    """Whether ``after_write`` will seal every line of a run of ``line_count`` lines,
    ``sealed`` of them sealed (it may also reseal from lower, never seal less)."""
    return line_count - sealed >= SEAL_LINES


def after_write(s: Db, run_id: int, line_count: int, sealed: int, stamp: int,
                lowest_line: int, fresh: Sequence[StreamLine], pending: PendingValues) -> int:
    """Keep chunks in step with the lines after history lines from ``lowest_line`` changed
    (``fresh`` are the lines just written; the run now has ``line_count`` lines, those below
    ``sealed`` sealed, and its row will carry ``stamp``). Once SEAL_LINES lines wait, they are
    sealed into chunks, their segments compacted, and the segments whose lines are now all
    sealed stored against the chunks' values (runyard.stores.metadata.sql.sealed). The
    numbers come from memory when this process parsed every waiting line (``pending``),
    else from the segments. Returns the run's new count of sealed lines."""
    was = sealed
    if lowest_line < sealed:  # lines already sealed were written again: reseal from there
        start = s.scalar(select(func.min(SeriesChunk.start_line)).where(
            SeriesChunk.run_id == run_id, SeriesChunk.end_line > lowest_line))
        # A chunk ends at its last line: a gap line filled late may lie before the next.
        sealed = min(int(start), lowest_line) if start is not None else lowest_line
        segment_seals.unseal(s, run_id, sealed)  # they read the chunks deleted here
        s.execute(delete(SeriesChunk).where(SeriesChunk.run_id == run_id,
                                            SeriesChunk.start_line >= sealed))
    latest = {ln.line_no: ln for ln in fresh if ln.line_no >= sealed}
    ordered = [latest[n] for n in sorted(latest)]
    if sealed != was or (ordered and ordered[-1].line_no + 1 != line_count):
        pending.forget(run_id)  # a rewrite or a gap: the segments decide
    else:
        pending.add(run_id, sealed, ordered, stamp)
    if seals(line_count, sealed):
        block = pending.block(run_id, sealed, line_count)
        keys: set[str] = set()
        if block is not None:
            for at in range(0, len(block[1]), SEAL_LINES):
                window = slice(at, at + SEAL_LINES)
                keys.update(_seal_block(s, run_id, sealed + at,
                                        sealed + min(at + SEAL_LINES, len(block[1])),
                                        (block[0], block[1][window], block[2][window],
                                         block[3][window])))
            history.compact(s, run_id, sealed)
        else:
            if len(latest) == line_count - sealed:  # every waiting line came with this request
                records = [history.record_of(ln) for ln in ordered]
            else:
                records = history.lines_from(s, run_id, sealed)
            known = {ln.line_no: ln.values for ln in fresh if ln.values is not None}
            parsed = parse(records, known)
            for at in range(0, len(records), SEAL_LINES):
                end = min(at + SEAL_LINES, len(records))
                keys.update(_seal(s, run_id, records[at].line_no, records[end - 1].line_no + 1,
                                  parsed[at:end]))
            history.compact(s, run_id, sealed, records)
        segment_seals.seal(s, run_id, sealed, line_count, keys)
        sealed = line_count
    return sealed


def _seal(s: Db, run_id: int, start: int, end: int, parsed: Parsed) -> list[str]:
    """Seal lines [start, end) into chunks; returns the metrics sealed."""
    block = _uniform_block(parsed)
    if block is not None:  # the usual log: every metric in every line, all at once
        return _seal_block(s, run_id, start, end, block)
    series = _points_by_key(parsed)
    previous = _previous_chunks(s, run_id, start, end, list(series))
    rows: list[dict[str, Any]] = []
    for key, (step_arr, value_arr, time_arr) in series.items():
        rows.extend(_chunk_rows(run_id, start, end, step_arr, time_arr,
                                value_arr.reshape(-1, 1), [key], previous))
    upsert.replace(s, CHUNKS, rows)
    return list(series)


def _seal_block(s: Db, run_id: int, start: int, end: int, block: Block) -> list[str]:
    keys, steps, times, matrix = block
    columns = [i for i, key in enumerate(keys)
               if not (key.startswith("_") and key != "_runtime") and len(key) <= MAX_KEY_LENGTH]
    if not columns or not len(steps):
        return []
    names = [keys[i] for i in columns]
    previous = _previous_chunks(s, run_id, start, end, names)
    upsert.replace(s, CHUNKS, _chunk_rows(run_id, start, end, steps, times,
                                          np.ascontiguousarray(matrix[:, columns]), names,
                                          previous))
    return names


@dataclass(frozen=True, slots=True)
class _Open:
    """A metric's newest chunk, still small enough to take in the next seal."""

    start_line: int
    first_step: int
    last_step: int
    count: int
    summary: bytes
    lod: bytes
    points: bytes


Previous = dict[str, _Open]


def _previous_chunks(s: Db, run_id: int, start: int, end: int, keys: Sequence[str]
                     ) -> Previous:
    """Per key, its chunk that ends where lines [start, end) begin, when that chunk is
    small enough to take them in (MERGE_LINES, MERGE_BYTES or MERGE_BYTES_INNODB)."""
    if not keys:
        return {}
    c = CHUNKS.c
    bind = s.get_bind() if isinstance(s, Session) else s
    limit = MERGE_BYTES_INNODB if bind.dialect.name in ("mysql", "mariadb") else MERGE_BYTES
    rows = s.execute(select(c.key, c.start_line, c.first_step, c.last_step, c.count,
                            c.summary, c.lod, c.points).where(
        c.run_id == run_id, c.key.in_(keys), c.start_line >= end - MERGE_LINES,
        c.start_line < start, c.end_line == start,
        func.length(c.points) < limit)).all()
    return {str(r[0]): _Open(int(r[1]), int(r[2]), int(r[3]), int(r[4]), bytes(r[5]),
                             bytes(r[6]), bytes(r[7])) for r in rows}


def _chunk_rows(run_id: int, start: int, end: int, steps: Any, times: Any,
                matrix: Any, keys: Sequence[str], previous: Previous) -> list[dict[str, Any]]:
    """Rows for the columns of ``matrix`` (``keys``, lines [start, end)). A key whose
    ``previous`` chunk takes them in gets one row for both, with that chunk's primary key
    (it replaces it): the new points are appended to its own as a part
    (runyard.history.parts, nothing re-encoded) and its aggregates re-encoded with the new
    ones (they are small). A chunk's steps must keep rising across the join: its first and
    last step bound it."""
    takers = [previous[key] if key in previous and previous[key].last_step <= int(steps[0])
              else None for key in keys]
    payloads = chunks.payloads(steps, times, np.ascontiguousarray(matrix), LOD_POINTS,
                               [old.lod if old is not None else None for old in takers])
    rows: list[dict[str, Any]] = []
    grown: list[tuple[str, _Open, chunks.Payloads]] = []
    for key, old, payload in zip(keys, takers, payloads, strict=True):
        if old is not None:
            grown.append((key, old, payload))
        else:
            rows.append(_chunk_row(run_id, key, start, end, steps, payload))
    if not grown:
        return rows
    summaries = chunks.merge_summaries([old.summary for _, old, _ in grown],
                                       [new.summary for _, _, new in grown])
    for (key, old, new), summary in zip(grown, summaries, strict=True):
        rows.append({"run_id": run_id, "key": key, "start_line": old.start_line,
                     "end_line": end, "first_step": old.first_step,
                     "last_step": int(steps[-1]), "count": old.count + len(steps),
                     "summary": summary, "lod": new.lod,
                     "points": join_parts([old.points, new.points])})
    return rows


def _chunk_row(run_id: int, key: str, start: int, end: int, steps: Any,
               payload: chunks.Payloads) -> dict[str, Any]:
    return {"run_id": run_id, "key": key, "start_line": start, "end_line": end,
            "first_step": int(steps[0]), "last_step": int(steps[-1]), "count": len(steps),
            "summary": payload.summary, "lod": payload.lod, "points": payload.points}


def _uniform_block(parsed: Parsed) -> Block | None:
    """(keys, steps, wall times, lines x keys matrix) when every line holds the same
    plain-number keys (in any order); None otherwise."""
    if not parsed:
        return None
    first = parsed[0][2]
    if not isinstance(first, dict):
        return None
    order = tuple(first)
    canonical = tuple(sorted(order))
    same_order: dict[tuple[str, ...], bool] = {order: True}
    values: list[list[Any]] = []
    for _step, _when, row in parsed:
        if not isinstance(row, dict) or len(row) != len(canonical):
            return None
        shape = tuple(row)
        known = same_order.get(shape)
        if known is None:
            if tuple(sorted(shape)) != canonical:
                return None
            known = same_order[shape] = False
        if not set(map(type, row.values())) <= _NUMBER_TYPES:
            return None
        values.append(list(row.values()) if known else [row[k] for k in order])
    try:
        matrix = np.array(values, np.float64)
    except OverflowError:  # an integer beyond any float: the careful path skips it
        return None
    steps = np.fromiter((p[0] for p in parsed), np.int64, len(parsed))
    times = np.fromiter((math.nan if p[1] is None else p[1] for p in parsed), np.float64,
                        len(parsed))
    return order, steps, times, matrix


def read_series(s: Session, run_id: int, query: SeriesQuery) -> dict[str, Entries]:
    """Per key, at most ``query.buckets`` exact aggregates over the step range."""
    low = query.min_step if query.min_step is not None else -(2**63)
    high = query.max_step if query.max_step is not None else 2**63 - 1
    sealed = _watermark(s, run_id)
    tail_lines = [r for r in history.lines_from(s, run_id, sealed) if low <= r.step < high]
    tail = _points_by_key(parse(tail_lines), query.keys)
    result: dict[str, Entries] = {}
    c = SeriesChunk
    for key in query.keys:
        in_range = (c.run_id == run_id, c.key == key, c.last_step >= low, c.first_step < high)
        chunks, points, biggest = s.execute(
            select(func.count(), func.sum(c.count), func.max(c.count)).where(*in_range)).one()
        tail_points = len(tail[key][0]) if key in tail else 0
        # Edge chunks count whole: at most this many points are in range.
        points_in_range = int(points or 0) + tail_points
        per_bucket = points_in_range / max(1, query.buckets)
        biggest = int(biggest or SEAL_LINES)
        # The coarsest level whose entries still fit one to a bucket.
        level = "summary" if per_bucket >= biggest else (
            "lod" if per_bucket >= LOD_POINTS else "points")
        parts = _read_chunks(s, in_range, level, low, high) if chunks else []
        if key in tail:
            parts.append(Entries.from_points(*tail[key]))
        result[key] = merge_to(Entries.concat(parts), query.buckets)
    return result


def _read_chunks(s: Session, in_range: Sequence[Any], level: str, low: int, high: int
                 ) -> list[Entries]:
    """The entries of the chunks ``in_range`` (one key's, in the step range), in line order,
    at ``level``; an edge chunk (partly outside the range) as its points in the range. One
    query with the range's own condition: the chunks' blobs and whether each is an edge."""
    c = SeriesChunk
    column = c.summary if level == "summary" else c.lod if level == "lod" else c.points
    edge = or_(c.first_step < low, c.last_step >= high)
    rows = s.execute(select(edge, case((edge, c.points), else_=column))
                     .where(*in_range).order_by(c.start_line))
    parts: list[Entries] = []
    entries: list[bytes] = []  # consecutive aggregates, decoded together
    for is_edge, blob in rows:
        if level != "points" and not is_edge:
            entries.append(blob)
            continue
        if entries:
            parts.append(Entries.from_many_bytes(entries))
            entries = []
        if is_edge:
            steps, values, times = codec.decode(blob)
            keep = (steps >= low) & (steps < high)
            parts.append(Entries.from_points(steps[keep], values[keep], times[keep]))
        else:
            parts.append(Entries.from_points(*codec.decode(blob)))
    if entries:
        parts.append(Entries.from_many_bytes(entries))
    return parts
