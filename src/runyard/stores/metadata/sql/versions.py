"""The runs' history versions (run id, line count): the query every cached chart makes.

A cached chart is about 1 ms of work. Asked from a worker thread, this query costs it the
hop to that thread and back, which on a busy 2-core machine is a third of that time. So it
is answered on the event loop whenever that cannot block the loop:

- SQLite (``SqliteReader``): the database is a local file and the query takes ~0.03 ms. It
  runs on a connection of its own with a 20 ms busy timeout, and only when no other caller
  holds that connection.
- MySQL / MariaDB (``LoopReader``): through the async driver (aiomysql) on a connection of its
  own, in autocommit mode (each query reads the latest committed rows, as a fresh
  transaction would), with the statement compiled once per number of names. It waits on the
  network without blocking the loop; a query that fails or takes over a second drops the
  connection, and for the next few seconds the worker threads answer.

Either reader answers None when it cannot answer now (busy, failed, or not set up for this
database), and the caller asks from a worker thread (``pooled``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from runyard.stores.metadata.sql import models as m

log = logging.getLogger(__name__)

Versions = dict[str, tuple[int, int]]
#: How long SQLite's reader may wait for the database lock before giving up.
SQLITE_BUSY_MS = 20
#: Seconds the async driver's query and connect may take.
QUERY_TIMEOUT = 1.0
CONNECT_TIMEOUT = 5.0
#: Seconds before a failed connection is tried again (worker threads answer meanwhile).
RETRY_AFTER = 5.0
#: Connect arguments of the sync driver that the async one takes as they are; any other
#: (TLS files, for one) leaves the query to the worker threads.
_PORTABLE = frozenset({"host", "port", "user", "password", "database", "charset",
                       "client_flag", "unix_socket", "connect_timeout"})

STATEMENT = (
    select(m.Run.name, m.Run.id, m.Run.history_line_count)
    .join(m.Project, m.Project.id == m.Run.project_id)
    .join(m.Entity, m.Entity.id == m.Project.entity_id)
    .where(m.Entity.name == bindparam("entity"), m.Project.name == bindparam("project"),
           m.Run.name.in_(bindparam("names", expanding=True)))
)


def pooled(conn: Connection, entity: str, project: str, names: Sequence[str]) -> Versions:
    """(run id, line count) per named run that exists, in the order asked for."""
    rows = conn.execute(STATEMENT, {"entity": entity, "project": project,
                                    "names": list(names)}).all()
    return ordered(names, rows)


def ordered(names: Sequence[str], rows: Sequence[Any]) -> Versions:
    by_name = {str(name): (int(run_id), int(count)) for name, run_id, count in rows}
    return {name: by_name[name] for name in names if name in by_name}


class SqliteReader:
    """The query on the event loop's thread, on SQLite (see the module's text)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: Connection | None = None

    def read(self, entity: str, project: str, names: Sequence[str]) -> Versions | None:
        if not self._lock.acquire(blocking=False):  # another caller holds it: do not wait
            return None
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
                self._conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            try:
                return pooled(self._conn, entity, project, names)
            finally:
                self._conn.rollback()  # end the read: later calls see later writes
        except SQLAlchemyError:
            self._close_locked()
            return None
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.invalidate()  # its short busy timeout must not go back to the pool
                conn.close()


class LoopReader:
    """The query through the async driver, on the event loop (see the module's text)."""

    def __init__(self, engine: Engine, password: Callable[[], str] | None) -> None:
        self._engine = engine
        self._password = password
        self._busy = False
        self._conn: Any = None  # an aiomysql connection, bound to self._loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry_at = 0.0
        self._compiled: dict[int, tuple[str, list[str]]] = {}

    @classmethod
    def for_engine(cls, engine: Engine, password: Callable[[], str] | None
                   ) -> LoopReader | None:
        """A reader when the database is MySQL or MariaDB, its async driver is installed
        and the connection needs nothing it cannot pass on; else None."""
        if engine.dialect.name not in ("mysql", "mariadb"):
            return None
        try:
            import aiomysql  # noqa: F401
        except ImportError:
            return None
        _args, params = engine.dialect.create_connect_args(engine.url)
        if set(params) - _PORTABLE:
            log.info("cached charts ask the database from worker threads: its connection "
                     "options %s are not passed to the async driver",
                     sorted(set(params) - _PORTABLE))
            return None
        return cls(engine, password)

    async def read(self, entity: str, project: str, names: Sequence[str]) -> Versions | None:
        """The versions, or None when the connection is busy or cannot answer now."""
        loop = asyncio.get_running_loop()
        if self._busy or (self._conn is None and loop.time() < self._retry_at):
            return None
        self._busy = True
        try:
            if self._conn is None or self._loop is not loop:
                self._drop()
                self._conn = await self._connect()
                self._loop = loop
            sql, name_params = self._statement(len(names))
            values: dict[str, Any] = {"entity": entity, "project": project,
                                      **dict(zip(name_params, names, strict=True))}
            async with asyncio.timeout(QUERY_TIMEOUT):  # lighter than an anyio cancel scope
                async with self._conn.cursor() as cursor:
                    await cursor.execute(sql, values)
                    rows = await cursor.fetchall()
            return ordered(names, rows)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the threads answer
            log.warning("history versions on the event loop failed (%s); worker threads "
                        "answer for the next %.0f s", type(exc).__name__, RETRY_AFTER)
            self._drop()
            self._retry_at = loop.time() + RETRY_AFTER
            return None
        except BaseException:  # cancelled mid-query: what the connection reads next is unknown
            self._drop()
            raise
        finally:
            self._busy = False

    async def _connect(self) -> Any:
        import aiomysql

        _args, params = self._engine.dialect.create_connect_args(self._engine.url)
        if self._password is not None:  # may fetch a secret: not on the event loop
            params["password"] = await anyio.to_thread.run_sync(self._password)
        params["db"] = params.pop("database", None)
        with anyio.fail_after(CONNECT_TIMEOUT):
            return await aiomysql.connect(**params, autocommit=True)

    def _statement(self, count: int) -> tuple[str, list[str]]:
        """SQL text for ``count`` names, and the names' parameter names in order."""
        found = self._compiled.get(count)
        if found is None:
            state = STATEMENT.compile(dialect=self._engine.dialect).construct_expanded_state(
                {"entity": "", "project": "", "names": [f"n{i}" for i in range(count)]})
            slot = {value: key for key, value in state.parameters.items()
                    if key not in ("entity", "project")}
            found = (state.statement, [slot[f"n{i}"] for i in range(count)])
            self._compiled[count] = found
        return found

    def _drop(self) -> None:
        conn, self._conn, self._loop = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):  # its loop may be closed already
                conn.close()  # closes the socket at once, no round trip

    def close(self) -> None:
        self._drop()
