"""The file_stream write path in SQL Core, without the ORM's unit of work.

A file_stream request is the server's most frequent write (every run posts one a second or
more). Through the ORM each cost a session, an identity map, attribute history and a flush
that diffs the run object: about as much CPU as storing the lines themselves. Here a group of
requests is one transaction on a plain connection: one ``SELECT ... FOR UPDATE`` of the runs,
the line inserts, and one ``UPDATE runs`` per set of changed columns (usually one statement for
the whole group). A 200 still follows the commit of the transaction holding the rows.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from runyard.stores.metadata.base import RunRecord, StreamBatch, StreamLine
from runyard.stores.metadata.sql import history, series
from runyard.stores.metadata.sql import models as m
from runyard.stores.metadata.sql.pending import PendingValues

RUNS = cast(Table, m.Run.__table__)
EVENTS = cast(Table, m.EventRow.__table__)
CONSOLE = cast(Table, m.ConsoleLine.__table__)
FILES = cast(Table, m.RunFile.__table__)

#: Statements built once (building one costs about as much as executing it from the cache).
_LOCK = (select(RUNS).where(RUNS.c.id.in_(bindparam("ids", expanding=True)))
         .order_by(RUNS.c.id).with_for_update())
_SAVE = update(RUNS).where(RUNS.c.id == bindparam("run_id_"))
_UPLOADED = (update(FILES).where(FILES.c.run_id == bindparam("run_id_"),
                                 FILES.c.name.in_(bindparam("names", expanding=True)))
             .values(uploaded=True, updated_at=bindparam("now")))
_REPLACE = {table: (delete(table).where(table.c.run_id == bindparam("run_id_"),
                                        table.c.line_no >= bindparam("low"),
                                        table.c.line_no <= bindparam("high"),
                                        table.c.line_no.in_(bindparam("numbers", expanding=True))),
                    insert(table))
            for table in (EVENTS, CONSOLE)}

#: Write tokens only need to differ between writes (and replicas): a generator seeded from
#: the OS per process is enough, and spares a system call (``secrets``) per write.
_TOKENS = random.Random(os.urandom(16))  # noqa: S311 - not a secret, an identity


class RunRow:
    """A locked run row as read, with the columns the requests of a group changed."""

    __slots__ = ("values", "changed")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.changed: set[str] = set()

    @property
    def id(self) -> int:
        return int(self.values["id"])

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        if self.values[name] != value:
            self.values[name] = value
            self.changed.add(name)


def lock_runs(conn: Connection, ids: Iterable[int]) -> dict[int, RunRow]:
    """The runs, locked in id order (two groups never wait on each other in a cycle)."""
    result = conn.execute(_LOCK, {"ids": sorted(set(ids))})
    return {int(r["id"]): RunRow(dict(r)) for r in result.mappings()}


def apply_one(conn: Connection, run: RunRow, batch: StreamBatch, now: float,
              pending: PendingValues, index_summary: Callable[[int, str], None]) -> None:
    """One request's writes; the run row's new values are kept in ``run`` (see save)."""
    run_id = run.id
    pending.check(run_id, run["write_token"])
    if batch.history:
        lines = batch.history
        known = int(run["history_line_count"])
        line_count = max(known, max(ln.line_no for ln in lines) + 1)
        history.write_lines(conn, run_id, lines, known, sealing=series.seals(
            line_count, int(run["sealed_lines"] or 0)))
        fresh = [ln for ln in lines if ln.line_no >= known]
        if fresh:
            run["history_keys"] = merge_key_stats(run["history_keys"], fresh)
        run["history_line_count"] = line_count
        steps = [ln.step for ln in lines if ln.step is not None]
        if steps:
            last = run["last_step"]
            run["last_step"] = max(steps + ([last] if last else []))
        token = _TOKENS.getrandbits(62)
        # after_write stamps the pending entry with ``token``; the row carries it on commit.
        run["sealed_lines"] = series.after_write(
            conn, run_id, line_count, int(run["sealed_lines"] or 0), token,
            min(ln.line_no for ln in lines), lines, pending)
        run["write_token"] = token
        pending.touch(run_id, token)
    if batch.events:
        replace_lines(conn, EVENTS, run_id, int(run["events_line_count"]), [
            {"run_id": run_id, "line_no": ln.line_no, "runtime": ln.runtime,
             "timestamp": ln.timestamp, "data": ln.text}
            for ln in batch.events])
        run["events_line_count"] = max(run["events_line_count"],
                                       max(ln.line_no for ln in batch.events) + 1)
    if batch.console:
        replace_lines(conn, CONSOLE, run_id, int(run["log_line_count"]), [
            {"run_id": run_id, "line_no": no, "content": json.dumps(content)}
            for no, content in batch.console])
        run["log_line_count"] = max(run["log_line_count"],
                                    max(no for no, _ in batch.console) + 1)
    if batch.summary is not None and batch.summary != run["summary"]:
        run["summary"] = batch.summary
        index_summary(run_id, batch.summary)
    if batch.uploaded:
        conn.execute(_UPLOADED, {"run_id_": run_id, "names": batch.uploaded, "now": now})
    run["heartbeat_at"] = now
    run["updated_at"] = now
    if batch.complete:
        run["exit_code"] = batch.exit_code
        if (batch.exit_code or 0) == 0:
            run["state"] = "finished"
        else:
            run["state"] = "killed" if run["stop_requested"] else "failed"
        run["finished_at"] = now
    elif batch.preempting:
        run["state"] = "preempting"
    elif run["state"] in ("crashed", "preempting"):
        run["state"] = "running"


def save(conn: Connection, runs: Iterable[RunRow]) -> None:
    """Write the changed columns of the runs: one executemany per set of changed columns."""
    by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
    for run in runs:
        if run.changed:
            params = {name: run.values[name] for name in run.changed}
            params["run_id_"] = run.id
            by_columns.setdefault(frozenset(run.changed), []).append(params)
    for rows in by_columns.values():
        conn.execute(_SAVE, rows)


def replace_lines(conn: Connection, table: Table, run_id: int, known: int,
                  rows: list[dict[str, Any]]) -> None:
    """Write lines at their offsets; a line re-sent at a known offset replaces the old one.
    ``known``: the run's line count (appended lines need no delete, which on InnoDB would
    also lock the next run's first line)."""
    numbers = [r["line_no"] for r in rows]
    remove, add = _REPLACE[table]
    if min(numbers) < known:
        conn.execute(remove, {"run_id_": run_id, "low": min(numbers), "high": max(numbers),
                              "numbers": numbers})
    conn.execute(add, rows)


def merge_key_stats(raw: str, lines: Sequence[StreamLine]) -> str:
    """The run's historyKeys statistics (key -> type -> lines) with ``lines`` counted."""
    stats: dict[str, dict[str, int]] = series.loads(raw or "{}")  # orjson, else json
    shapes: dict[int, tuple[dict[str, str], int]] = {}
    for line in lines:  # lines of one shape share their key->type dict
        shape, seen = shapes.get(id(line.keys), (line.keys, 0))
        shapes[id(line.keys)] = (shape, seen + 1)
    for shape, seen in shapes.values():
        for key, type_name in shape.items():
            counts = stats.setdefault(key, {})
            counts[type_name] = counts.get(type_name, 0) + seen
    try:
        return orjson.dumps(stats, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # a key that is no valid UTF-8 (a lone surrogate)
        return json.dumps(stats, separators=(",", ":"), sort_keys=True)


def record(values: Mapping[str, Any], entity: str, project: str) -> RunRecord:
    """The run record of a runs row (as a column -> value mapping)."""
    tags = json.loads(values["tags"] or "[]")
    return RunRecord(
        id=values["id"], project_id=values["project_id"], entity=entity, project=project,
        name=values["name"], display_name=values["display_name"], state=values["state"],
        user_id=values["user_id"], notes=values["notes"], group_name=values["group_name"],
        job_type=values["job_type"],
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        config=values["config"], summary=values["summary"],
        history_keys=values["history_keys"], host=values["host"], program=values["program"],
        commit=values["commit"], repo=values["repo"], sweep=values["sweep"],
        exit_code=values["exit_code"], stop_requested=bool(values["stop_requested"]),
        history_line_count=values["history_line_count"],
        events_line_count=values["events_line_count"],
        log_line_count=values["log_line_count"], last_step=values["last_step"],
        created_at=values["created_at"], updated_at=values["updated_at"],
        heartbeat_at=values["heartbeat_at"], finished_at=values["finished_at"],
    )
