"""The SQL adapter of the metadata store (SQLite, MySQL/MariaDB/Aurora, PostgreSQL)."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.orm import Session, sessionmaker

from runyard.errors import Conflict, NotFound, RunyardError, Unavailable
from runyard.history.buckets import Entries
from runyard.history.query import SeriesQuery
from runyard.stores.metadata.base import (
    SORTABLE_RUN_COLUMNS,
    AlertRecord,
    FileRecord,
    HistoryRecord,
    MetadataStore,
    ProjectRecord,
    QueuedMessage,
    RunFields,
    RunQuery,
    RunRecord,
    StreamBatch,
    UserRecord,
)
from runyard.stores.metadata.sql import history, races, series, streams, versions
from runyard.stores.metadata.sql import models as m
from runyard.stores.metadata.sql.artifacts import SqlArtifactsMixin
from runyard.stores.metadata.sql.pending import PendingValues
from runyard.stores.metadata.sql.run_queries import SqlRunQueriesMixin, index_values
from runyard.stores.metadata.sql.urls import normalize
from runyard.stores.metadata.sql.users import SqlUsersMixin

_UPSERT_ATTEMPTS = 12
#: Attempts of a group of file_stream requests that the database chose as a deadlock victim.
_STREAM_ATTEMPTS = 3
#: Project names remembered by id (they never change); the map is emptied when full.
_PROJECT_NAMES = 10_000


class PasswordProvider(Protocol):
    def get(self, *, refresh: bool = False) -> str: ...


class SqlMetadataStore(SqlUsersMixin, SqlArtifactsMixin, SqlRunQueriesMixin,
                       MetadataStore):
    def __init__(self, url: str, *, password: PasswordProvider | None = None,
                 echo: bool = False) -> None:
        self.url = normalize(url)
        self._password = password
        self._echo = echo
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._checkpointer: _Checkpointer | None = None
        self._project_names: dict[int, tuple[str, str]] = {}
        self._pending = PendingValues()
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if self.url.get_backend_name() == "sqlite"
            else contextlib.nullcontext())
        # Readers of history_versions on the event loop (sql/versions.py), made by open().
        self._sqlite_reader: versions.SqliteReader | None = None
        self._loop_reader: versions.LoopReader | None = None

    # lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        if self._engine is not None:
            return
        kwargs: dict[str, Any] = {"echo": self._echo}
        if self.url.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_recycle=1800, pool_size=10, max_overflow=20)
        if self.url.get_backend_name() in ("mysql", "mariadb"):
            # PostgreSQL's default, on every backend: reads in a write see what other writers
            # committed, and InnoDB takes no gap locks. (Writers of different runs still
            # must not delete by part of a key: see upsert.py.)
            kwargs["isolation_level"] = "READ COMMITTED"
        engine = create_engine(self.url, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        if self._password is not None:
            event.listen(engine, "do_connect", _connect_with(self._password))
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        if engine.dialect.name == "sqlite":
            self._checkpointer = _Checkpointer(engine)
            self._checkpointer.start()
            self._sqlite_reader = versions.SqliteReader(engine)
        else:
            self._loop_reader = versions.LoopReader.for_engine(
                engine, self._password.get if self._password is not None else None)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        for reader in (self._sqlite_reader, self._loop_reader):
            if reader is not None:
                reader.close()
        self._sqlite_reader = self._loop_reader = None
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._sessions = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("metadata store is not open")
        return self._engine

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except (OperationalError, SAInterfaceError):
            return False

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction. ``write=True`` on SQLite also takes the process's write lock:
        SQLite has one writer at a time, and its own wait for the lock sleeps in steps of up
        to 100 ms, which turns contention into seconds of latency; a lock hands over at once.
        """
        if self._sessions is None:
            raise RuntimeError("metadata store is not open")
        with _db_errors(), (self._write_lock if write else contextlib.nullcontext()), \
                self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _write_conn(self) -> Iterator[Connection]:
        """A write transaction on a plain connection (no session), with the errors and the
        SQLite write lock of ``_tx``."""
        with _db_errors(), self._write_lock, self.engine.begin() as conn:
            yield conn

    # users and keys ----------------------------------------------------------------------
    def count_users(self) -> int:
        with self._tx() as s:
            return int(s.scalar(select(func.count()).select_from(m.User)) or 0)

    def create_user(self, username: str, *, email: str = "", is_admin: bool = False,
                    api_key: tuple[str, str] | None = None,
                    password_hash: str | None = None) -> UserRecord:
        now = time.time()
        with self._tx(write=True) as s:
            if s.scalar(select(m.Entity.id).where(m.Entity.name == username)) is not None:
                raise Conflict(f"the name {username!r} is taken")
            entity = m.Entity(name=username, created_at=now)
            s.add(entity)
            s.flush()
            user = m.User(username=username, email=email, is_admin=is_admin,
                          entity_id=entity.id, created_at=now, password_hash=password_hash)
            s.add(user)
            s.flush()
            if api_key is not None:
                s.add(m.ApiKey(user_id=user.id, key_hash=api_key[0], hint=api_key[1],
                               created_at=now))
            return UserRecord(user.id, username, email, is_admin, username)

    def get_user(self, username: str) -> UserRecord | None:
        with self._tx() as s:
            row = s.execute(_user_select().where(m.User.username == username)).first()
            return _user_record(row) if row else None

    # add_api_key, user_for_key and the other user and key methods: sql/users.py

    # entities and projects ---------------------------------------------------------------
    def entity_exists(self, name: str) -> bool:
        with self._tx() as s:
            return s.scalar(select(m.Entity.id).where(m.Entity.name == name)) is not None

    def get_project(self, entity: str, name: str) -> ProjectRecord | None:
        with self._tx() as s:
            row = s.execute(
                _project_select().where(m.Entity.name == entity, m.Project.name == name)
            ).first()
            return _project_record(row) if row else None

    def list_projects(self, entity: str, *, limit: int, offset: int = 0,
                      after: tuple[float, int] | None = None) -> list[ProjectRecord]:
        stmt = _project_select().where(m.Entity.name == entity)
        if after is not None:
            created, project_id = after
            stmt = stmt.where(or_(m.Project.created_at < created,
                                  and_(m.Project.created_at == created,
                                       m.Project.id < project_id)))
        with self._tx() as s:
            rows = s.execute(
                stmt.order_by(m.Project.created_at.desc(), m.Project.id.desc())
                .limit(limit).offset(offset)
            ).all()
            return [_project_record(r) for r in rows]

    # runs --------------------------------------------------------------------------------
    def upsert_run(
        self,
        entity: str,
        project: str,
        name: str,
        *,
        user_id: int,
        fields: RunFields,
        make_display_name: Callable[[int], str],
    ) -> tuple[RunRecord, bool]:
        # Runs started at once in a new project (or with the same id) race to insert the
        # project (or run) row; the loser's unique-key Conflict is resolved by running the
        # upsert again, which then finds the row.
        for attempt in range(_UPSERT_ATTEMPTS):
            try:
                return self._upsert_run_once(entity, project, name, user_id=user_id,
                                             fields=fields, make_display_name=make_display_name)
            except (Conflict, Unavailable) as exc:
                if attempt == _UPSERT_ATTEMPTS - 1 or not _retryable(exc):
                    raise
                # Back off a little, at random, so racing creators stop colliding.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise AssertionError("unreachable")

    def _upsert_run_once(
        self,
        entity: str,
        project: str,
        name: str,
        *,
        user_id: int,
        fields: RunFields,
        make_display_name: Callable[[int], str],
    ) -> tuple[RunRecord, bool]:
        now = time.time()
        with self._tx(write=True) as s:
            entity_id = s.scalar(select(m.Entity.id).where(m.Entity.name == entity))
            if entity_id is None:
                raise NotFound(f"entity {entity!r} does not exist")
            project_id = s.scalar(
                select(m.Project.id).where(m.Project.entity_id == entity_id,
                                           m.Project.name == project)
            )
            if project_id is None:
                proj = m.Project(entity_id=entity_id, name=project, created_at=now)
                s.add(proj)
                s.flush()
                project_id = proj.id
            # Look the run up without a lock, then lock it by primary key: a locking read of a
            # row that does not exist takes InnoDB gap locks, and runs created at the same
            # time in one project then deadlock. A lost insert race is a Conflict, retried.
            run_id = s.scalar(
                select(m.Run.id).where(m.Run.project_id == project_id, m.Run.name == name))
            run = s.get(m.Run, run_id, with_for_update=True) if run_id is not None else None
            inserted = run is None
            if run is None:
                count = s.scalar(select(func.count()).where(m.Run.project_id == project_id)) or 0
                run = m.Run(
                    project_id=project_id, user_id=user_id, name=name,
                    display_name=fields.display_name or make_display_name(int(count)),
                    state="running", tags="[]", config="{}", summary="{}", history_keys="{}",
                    stop_requested=False, history_line_count=0, events_line_count=0,
                    log_line_count=0, created_at=now, updated_at=now, heartbeat_at=now,
                )
                s.add(run)
            _apply_fields(run, fields, now)
            s.flush()
            _index_fields(s, run, fields, new_run=inserted)
            return self._run_record(s, run), inserted

    def update_run(self, run_id: int, fields: RunFields) -> RunRecord:
        with self._tx(write=True) as s:
            run = s.get(m.Run, run_id, with_for_update=True)
            if run is None:
                raise NotFound("run does not exist")
            _apply_fields(run, fields, time.time())
            s.flush()
            _index_fields(s, run, fields)
            return self._run_record(s, run)

    def get_run(self, entity: str, project: str, name: str) -> RunRecord | None:
        with self._tx() as s:
            run = s.scalar(
                select(m.Run).join(m.Project, m.Project.id == m.Run.project_id)
                .join(m.Entity, m.Entity.id == m.Project.entity_id)
                .where(m.Entity.name == entity, m.Project.name == project, m.Run.name == name)
            )
            return self._run_record(s, run) if run else None

    async def history_versions_async(self, entity: str, project: str,
                                     names: Sequence[str]) -> dict[str, tuple[int, int]]:
        # On the event loop when a reader can answer there without blocking it (SQLite's
        # local file, MySQL/MariaDB through its async driver; sql/versions.py), else from a
        # worker thread.
        found: versions.Versions | None = None
        if names and self._sqlite_reader is not None:
            found = self._sqlite_reader.read(entity, project, names)
        elif names and self._loop_reader is not None:
            found = await self._loop_reader.read(entity, project, names)
        if found is not None:
            return found
        return await super().history_versions_async(entity, project, names)

    def history_versions(self, entity: str, project: str,
                         names: Sequence[str]) -> dict[str, tuple[int, int]]:
        # Two columns for every run in one Core statement (~0.03 ms on SQLite), not a whole
        # run through a session per name (~0.25 ms each): it runs on every cached chart.
        if not names:
            return {}
        with _db_errors(), self.engine.connect() as conn:
            return versions.pooled(conn, entity, project, names)

    def get_run_by_id(self, run_id: int) -> RunRecord | None:
        with self._tx() as s:
            run = s.get(m.Run, run_id)
            return self._run_record(s, run) if run else None

    def list_runs(self, entity: str, project: str, query: RunQuery) -> tuple[list[RunRecord], int]:
        with self._tx() as s:
            project_id = s.scalar(
                select(m.Project.id).join(m.Entity, m.Entity.id == m.Project.entity_id)
                .where(m.Entity.name == entity, m.Project.name == project)
            )
            if project_id is None:
                raise NotFound(f"project {entity}/{project} does not exist")
            where: list[Any] = [m.Run.project_id == project_id]
            if query.state:
                where.append(m.Run.state == query.state)
            if query.group:
                where.append(m.Run.group_name == query.group)
            if query.job_type:
                where.append(m.Run.job_type == query.job_type)
            for tag in query.tags:  # the tag with its JSON quotes: an exact element match
                where.append(m.Run.tags.contains(json.dumps(tag), autoescape=True))
            if query.search:
                where.append(or_(m.Run.display_name.icontains(query.search, autoescape=True),
                                 m.Run.name.icontains(query.search, autoescape=True)))
            total = int(s.scalar(select(func.count()).select_from(m.Run).where(*where)) or 0)
            column_name = query.sort.lstrip("+-")
            if column_name not in SORTABLE_RUN_COLUMNS:
                column_name = "created_at"
            column = getattr(m.Run, column_name)
            descending = query.sort.startswith("-")
            order = [column.desc(), m.Run.id.desc()] if descending else [column.asc(), m.Run.id]
            runs = s.scalars(
                select(m.Run).where(*where).order_by(*order)
                .limit(query.limit).offset(query.offset)
            ).all()
            names = self._names_for_project(s, project_id)
            return [_to_run_record(r, *names) for r in runs], total

    def request_stop(self, run_id: int) -> None:
        with self._tx(write=True) as s:
            result = s.execute(
                update(m.Run).where(m.Run.id == run_id)
                .values(stop_requested=True, updated_at=time.time())
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound("run does not exist")

    def mark_stale_runs_crashed(self, heartbeat_before: float) -> int:
        with self._tx(write=True) as s:
            result = s.execute(
                update(m.Run)
                .where(m.Run.state == "running", m.Run.heartbeat_at < heartbeat_before)
                .values(state="crashed", updated_at=time.time())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # streams -----------------------------------------------------------------------------
    def apply_stream(self, run_id: int, batch: StreamBatch, now: float) -> RunRecord:
        result = self.apply_streams([(run_id, batch)], now)[0]
        if isinstance(result, RunyardError):
            raise result
        return result

    def apply_streams(self, items: Sequence[tuple[int, StreamBatch]], now: float
                      ) -> list[RunRecord | RunyardError]:
        """Apply a group of requests in one transaction (sql/streams.py: Core, no ORM); run
        again when the database broke a deadlock by aborting it."""
        for attempt in range(1, _STREAM_ATTEMPTS + 1):
            try:
                return self._apply_streams_once(items, now)
            except Unavailable as exc:
                if attempt == _STREAM_ATTEMPTS or not races.deadlocked(exc):
                    raise
                time.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")

    def _apply_streams_once(self, items: Sequence[tuple[int, StreamBatch]], now: float
                            ) -> list[RunRecord | RunyardError]:
        with self._write_conn() as conn:
            runs = streams.lock_runs(conn, (run_id for run_id, _ in items))
            session: Session | None = None

            def index_summary(run_id: int, summary: str) -> None:
                nonlocal session
                if session is None:  # index_values takes a session: one on this transaction
                    session = Session(bind=conn)
                index_values(session, run_id, "summary", summary)

            try:
                for run_id, batch in items:
                    run = runs.get(run_id)
                    if run is not None:
                        streams.apply_one(conn, run, batch, now, self._pending, index_summary)
            finally:
                if session is not None:
                    session.close()  # bound to our transaction: leaves it to us
            streams.save(conn, runs.values())
            results: list[RunRecord | RunyardError] = []
            for run_id, _ in items:
                run = runs.get(run_id)
                if run is None:
                    results.append(NotFound("run does not exist"))
                else:
                    names = self._names_for_project(conn, int(run["project_id"]))
                    results.append(streams.record(run.values, *names))
            return results

    def read_history(
        self, run_id: int, *, min_step: int | None, max_step: int | None, limit: int,
        contains: Sequence[str] = (),
    ) -> list[HistoryRecord]:
        with self._tx() as s:
            return history.read_by_step(s, run_id, min_step=min_step, max_step=max_step,
                                        limit=limit, contains=contains)

    def history_tail(self, run_id: int, count: int) -> list[HistoryRecord]:
        with self._tx() as s:
            return history.tail(s, run_id, count)

    def read_series(self, run_id: int, query: SeriesQuery) -> dict[str, Entries]:
        with self._tx() as s:
            return series.read_series(s, run_id, query)

    def read_events(self, run_id: int, *, offset: int, limit: int) -> list[HistoryRecord]:
        with self._tx() as s:
            rows = s.scalars(
                select(m.EventRow).where(m.EventRow.run_id == run_id,
                                         m.EventRow.line_no >= offset)
                .order_by(m.EventRow.line_no).limit(limit)
            ).all()
            return [HistoryRecord(r.line_no, r.line_no, r.runtime, r.timestamp, r.data)
                    for r in rows]

    def read_console(self, run_id: int, *, offset: int, limit: int) -> list[tuple[int, str]]:
        with self._tx() as s:
            rows = s.execute(
                select(m.ConsoleLine.line_no, m.ConsoleLine.content)
                .where(m.ConsoleLine.run_id == run_id, m.ConsoleLine.line_no >= offset)
                .order_by(m.ConsoleLine.line_no).limit(limit)
            ).all()
            return [(int(no), str(json.loads(content))) for no, content in rows]

    def add_alert(self, run_id: int, title: str, text: str, severity: str) -> AlertRecord:
        with self._tx(write=True) as s:
            row = m.Alert(run_id=run_id, title=title, text=text, severity=severity,
                          created_at=time.time())
            s.add(row)
            s.flush()
            return AlertRecord(row.id, run_id, title, text, severity, row.created_at)

    def list_alerts(self, run_id: int) -> list[AlertRecord]:
        with self._tx() as s:
            rows = s.scalars(select(m.Alert).where(m.Alert.run_id == run_id)
                             .order_by(m.Alert.id)).all()
            return [AlertRecord(r.id, r.run_id, r.title, r.text, r.severity, r.created_at)
                    for r in rows]

    # embedded queue (durable) -----------------------------------------------------------
    def enqueue(self, body: str, now: float) -> None:
        with self._tx(write=True) as s:
            s.add(m.QueueMessage(body=body, attempts=0, available_at=now, dead=False,
                                 created_at=now))

    def claim_messages(self, limit: int, lease_seconds: float, now: float) -> list[QueuedMessage]:
        # SQLite has no SKIP LOCKED and takes its write lock only at the first write, so
        # claims in one process are serialized by the write lock (SQLite serves one process).
        with self._tx(write=True) as s:
            rows = s.scalars(
                select(m.QueueMessage)
                .where(m.QueueMessage.dead.is_(False), m.QueueMessage.available_at <= now)
                .order_by(m.QueueMessage.id).limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.attempts += 1
                row.available_at = now + lease_seconds
            return [QueuedMessage(r.id, r.body, r.attempts) for r in rows]

    def delete_message(self, message_id: int) -> None:
        with self._tx(write=True) as s:
            s.execute(delete(m.QueueMessage).where(m.QueueMessage.id == message_id))

    def release_message(self, message_id: int, *, retry_at: float, dead: bool) -> None:
        with self._tx(write=True) as s:
            s.execute(update(m.QueueMessage).where(m.QueueMessage.id == message_id)
                      .values(available_at=retry_at, dead=dead))

    def dead_messages(self) -> list[QueuedMessage]:
        with self._tx() as s:
            rows = s.scalars(select(m.QueueMessage).where(m.QueueMessage.dead.is_(True))
                             .order_by(m.QueueMessage.id)).all()
            return [QueuedMessage(r.id, r.body, r.attempts) for r in rows]

    # saved settings ----------------------------------------------------------------------
    def saved_settings(self) -> dict[str, str]:
        with self._tx() as s:
            return {r.name: r.value for r in s.scalars(select(m.SavedSetting))}

    def save_settings(self, values: dict[str, str], now: float) -> None:
        with self._tx(write=True) as s:
            for name, value in values.items():
                row = s.get(m.SavedSetting, name, with_for_update=True)
                if row is None:
                    s.add(m.SavedSetting(name=name, value=value, updated_at=now))
                else:
                    row.value, row.updated_at = value, now

    # files -------------------------------------------------------------------------------
    def register_files(self, run_id: int, names: Sequence[str], key_for: Callable[[str], str]
                       ) -> list[FileRecord]:
        now = time.time()
        with self._tx(write=True) as s:
            existing = {
                f.name: f for f in s.scalars(
                    select(m.RunFile).where(m.RunFile.run_id == run_id,
                                            m.RunFile.name.in_(set(names)))
                )
            }
            for name in names:
                if name not in existing:
                    row = m.RunFile(run_id=run_id, name=name, storage_key=key_for(name),
                                    uploaded=False, created_at=now, updated_at=now)
                    s.add(row)
                    existing[name] = row
            s.flush()
            return [_file_record(existing[n]) for n in names]

    def file_stored(self, storage_key: str, size: int, md5: str, now: float) -> bool:
        with self._tx(write=True) as s:
            result = s.execute(
                update(m.RunFile).where(m.RunFile.storage_key == storage_key)
                .values(size=size, md5=md5, uploaded=True, updated_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def list_files(self, run_id: int, *, limit: int, offset: int) -> list[FileRecord]:
        with self._tx() as s:
            rows = s.scalars(
                select(m.RunFile).where(m.RunFile.run_id == run_id)
                .order_by(m.RunFile.name).limit(limit).offset(offset)
            ).all()
            return [_file_record(r) for r in rows]

    def get_file(self, run_id: int, name: str) -> FileRecord | None:
        with self._tx() as s:
            row = s.scalar(select(m.RunFile).where(m.RunFile.run_id == run_id,
                                                   m.RunFile.name == name))
            return _file_record(row) if row else None

    # helpers -----------------------------------------------------------------------------
    def _names_for_project(self, s: Session | Connection, project_id: int) -> tuple[str, str]:
        """(entity, project) names; they never change, so they are remembered."""
        names = self._project_names.get(project_id)
        if names is None:
            row = s.execute(
                select(m.Entity.name, m.Project.name)
                .join(m.Project, m.Project.entity_id == m.Entity.id)
                .where(m.Project.id == project_id)
            ).one()
            if len(self._project_names) >= _PROJECT_NAMES:
                self._project_names.clear()
            names = self._project_names[project_id] = (str(row[0]), str(row[1]))
        return names

    def _run_record(self, s: Session, run: m.Run) -> RunRecord:
        entity, project = self._names_for_project(s, run.project_id)
        return _to_run_record(run, entity, project)


@contextmanager
def _db_errors() -> Iterator[None]:
    """Driver errors as the store's own: a conflict, or the database unavailable."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict("the request conflicts with stored data") from exc
    except (OperationalError, SAInterfaceError) as exc:
        raise Unavailable("the metadata database is unavailable") from exc


def _connect_with(password: PasswordProvider) -> Callable[..., Any]:
    """Connect with the current secret; on an authentication refusal, re-read it once."""

    def do_connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cparams["password"] = password.get()
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            if not _is_auth_error(exc):
                raise
            cparams["password"] = password.get(refresh=True)
            return dialect.connect(*cargs, **cparams)

    return do_connect


def _retryable(exc: Exception) -> bool:
    """A lost race: a unique-key conflict, or a deadlock the database resolved by aborting
    us; running the transaction again wins."""
    return isinstance(exc, Conflict) or races.deadlocked(exc)


def _is_auth_error(exc: Exception) -> bool:
    """MySQL 1045 / PostgreSQL 28P01: the password was refused. psycopg reports a refusal
    at connect time without a SQLSTATE, so its message is checked too."""
    code = getattr(exc, "sqlstate", None) or (exc.args[0] if exc.args else None)
    if code in (1045, "28P01", "28000"):
        return True
    text = str(exc)
    return "password authentication failed" in text or "Access denied for user" in text


#: Bytes of SQLite's write-ahead log kept on disk once checkpointed (it grows again as needed).
WAL_SIZE_LIMIT = 0
#: Bytes of the database file read through a memory map.
MMAP_BYTES = 256 << 20


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Checkpoints run in the background (_Checkpointer), not inside a writer's commit.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    # A checkpointed log is cut back when writing starts over at its beginning, instead of
    # keeping the size of the largest burst on disk for good.
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    # Database pages read through a memory map, shared by every connection of the process
    # (SQLite's own page cache is 2 MB per connection): a run search that touches pages all
    # over a large project reads them from the OS cache without copying.
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cursor.close()


class _Checkpointer:
    """Copies SQLite's write-ahead log into the database every second, off the request
    path: a checkpoint inside a commit would stall that write and every write queued
    behind it. Every minute it also refreshes the query planner's statistics (a sampled
    ANALYZE, a few milliseconds): without fresh ones, after a project grows, SQLite scans
    its runs to filter on a config value instead of starting from the value's index."""

    INTERVAL = 1.0
    ANALYZE_EVERY = 60

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runyard-sqlite-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        rounds = self.ANALYZE_EVERY - 10  # the first statistics ten seconds after start
        last_frames = -1
        while not self._stop.wait(self.INTERVAL):
            rounds += 1
            try:
                with self._engine.connect() as conn:
                    _busy, frames, copied = conn.exec_driver_sql(
                        "PRAGMA wal_checkpoint(PASSIVE)").one()
                    if 0 < frames == copied == last_frames:
                        # Nothing written for a whole round and all of it copied: the
                        # idle database gives the log's disk space back (a no-op wait
                        # for nobody, since no one is writing).
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                        frames = 0
                    last_frames = frames
                    if rounds >= self.ANALYZE_EVERY:
                        rounds = 0
                        conn.exec_driver_sql("PRAGMA analysis_limit=400")
                        conn.exec_driver_sql("ANALYZE")
                        conn.commit()
            except Exception:  # noqa: S112 - the next round tries again
                continue


def _user_select() -> Any:
    return select(m.User.id, m.User.username, m.User.email, m.User.is_admin, m.Entity.name).join(
        m.Entity, m.Entity.id == m.User.entity_id)


def _user_record(row: Any) -> UserRecord:
    return UserRecord(int(row[0]), str(row[1]), str(row[2]), bool(row[3]), str(row[4]))


def _project_select() -> Any:
    run_count = (
        select(func.count()).where(m.Run.project_id == m.Project.id).scalar_subquery()
    )
    return select(m.Project.id, m.Entity.name, m.Project.name, m.Project.created_at,
                  run_count).join(m.Entity, m.Entity.id == m.Project.entity_id)


def _project_record(row: Any) -> ProjectRecord:
    return ProjectRecord(int(row[0]), str(row[1]), str(row[2]), float(row[3]), int(row[4]))


def _apply_fields(run: m.Run, fields: RunFields, now: float) -> None:
    for name in ("display_name", "notes", "group_name", "job_type", "config", "summary", "host",
                 "program", "commit", "repo", "sweep", "state"):
        value = getattr(fields, name)
        if value is not None:
            setattr(run, name, value)
    if fields.tags is not None:
        run.tags = json.dumps(list(fields.tags))
    run.updated_at = now


def _index_fields(s: Session, run: m.Run, fields: RunFields, *, new_run: bool = False) -> None:
    """Keep run_values (the search index of config and summary) in step with the run."""
    if fields.config is not None:
        index_values(s, run.id, "config", run.config, new_run=new_run)
    if fields.summary is not None:
        index_values(s, run.id, "summary", run.summary, new_run=new_run)


def _flavor(engine: Engine) -> str:
    dialect = engine.dialect
    return "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name


def _to_run_record(run: m.Run, entity: str, project: str) -> RunRecord:
    tags = json.loads(run.tags or "[]")
    return RunRecord(
        id=run.id, project_id=run.project_id, entity=entity, project=project, name=run.name,
        display_name=run.display_name, state=run.state, user_id=run.user_id, notes=run.notes,
        group_name=run.group_name, job_type=run.job_type,
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        config=run.config, summary=run.summary, history_keys=run.history_keys, host=run.host,
        program=run.program, commit=run.commit, repo=run.repo, sweep=run.sweep,
        exit_code=run.exit_code, stop_requested=bool(run.stop_requested),
        history_line_count=run.history_line_count, events_line_count=run.events_line_count,
        log_line_count=run.log_line_count, last_step=run.last_step, created_at=run.created_at,
        updated_at=run.updated_at, heartbeat_at=run.heartbeat_at, finished_at=run.finished_at,
    )


def _file_record(f: m.RunFile) -> FileRecord:
    return FileRecord(f.id, f.run_id, f.name, f.storage_key, f.size, f.md5, bool(f.uploaded),
                      f.created_at, f.updated_at)
