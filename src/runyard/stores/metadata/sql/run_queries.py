"""Public-API reads and run deletion in the SQL metadata store: a mixin that
``SqlMetadataStore`` inherits (run search, history sampling positions, file pages, users)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import ColumnElement, Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from runyard.errors import NotFound
from runyard.stores.metadata.base import (
    FileRecord,
    HistoryRecord,
    RunFilter,
    RunHit,
    RunRecord,
    RunSearch,
    UserRecord,
)
from runyard.stores.metadata.sql import history
from runyard.stores.metadata.sql import models as m
from runyard.stores.metadata.sql.run_search import SearchSql, plain, value_rows
from runyard.stores.metadata.sql.search_statements import page_query

if TYPE_CHECKING:
    from sqlalchemy import Engine

_CHUNK = 500
#: Tables that belong to a run and go with it; other tables that point at runs keep their
#: rows (their foreign keys decide: SET NULL, CASCADE, or refuse the delete).
_RUN_CHILDREN = (m.RunValue, m.HistorySegment, m.EventRow, m.ConsoleLine, m.RunFile, m.Alert)


class SqlRunQueriesMixin:
    if TYPE_CHECKING:
        @property
        def engine(self) -> Engine: ...

        def _tx(self) -> AbstractContextManager[Session]: ...

        def _names_for_project(self, s: Session, project_id: int) -> tuple[str, str]: ...

        def _run_record(self, s: Session, run: m.Run) -> RunRecord: ...

    # users ---------------------------------------------------------------------------------
    def get_user_by_id(self, user_id: int) -> UserRecord | None:
        with self._tx() as s:
            row = s.execute(
                select(m.User.id, m.User.username, m.User.email, m.User.is_admin, m.Entity.name)
                .join(m.Entity, m.Entity.id == m.User.entity_id).where(m.User.id == user_id)
            ).first()
            if row is None:
                return None
            return UserRecord(int(row[0]), str(row[1]), str(row[2]), bool(row[3]), str(row[4]))

    # run search ----------------------------------------------------------------------------
    def _flavor(self) -> str:
        dialect = self.engine.dialect
        return "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name

    def _project_id(self, s: Session, entity: str, project: str) -> int:
        project_id = s.scalar(
            select(m.Project.id).join(m.Entity, m.Entity.id == m.Project.entity_id)
            .where(m.Entity.name == entity, m.Project.name == project))
        if project_id is None:
            raise NotFound(f"project {entity}/{project} does not exist")
        return int(project_id)

    def search_runs(self, entity: str, project: str, search: RunSearch) -> list[RunHit]:
        with self._tx() as s:
            return self._search(s, self._project_id(s, entity, project), search, False)[0]

    def search_runs_counted(self, entity: str, project: str, search: RunSearch
                            ) -> tuple[list[RunHit], int]:
        """A page as ``search_runs`` returns it, and how many runs match ``search.where``
        (what ``count_runs`` returns), read together. The first page of ``api.runs()`` asks
        for both; on the first page the count comes with the page's query (a window count
        over the rows it sorts anyway) instead of a second pass over the matching runs."""
        with self._tx() as s:
            return self._search(s, self._project_id(s, entity, project), search, True)

    def _search(self, s: Session, project_id: int, search: RunSearch, counted: bool
                ) -> tuple[list[RunHit], int]:
        query = page_query(self._flavor(), project_id, search, counted)
        rows: Sequence[Any] = s.execute(query.stmt).all()
        total = 0
        if query.windowed:
            total = int(rows[0][-1]) if rows else 0
            rows = [row[:-1] for row in rows]
        elif counted:
            total = self._count(s, project_id, query.where)
        hits = self._load_hits(s, project_id, rows)
        return hits, total

    def _load_hits(self, s: Session, project_id: int, rows: Sequence[Any]) -> list[RunHit]:
        """The runs of a page by id, each with its sort key (``rows``: id, sort key...)."""
        if not rows:
            return []
        # Plain rows, not ORM objects (a third of the cost for a page of 50): the record
        # mapper reads the same attribute names from either.
        runs = {r.id: cast(m.Run, r) for r in s.execute(
            select(m.Run.__table__).where(m.Run.id.in_([row[0] for row in rows])))}
        names = self._names_for_project(s, project_id)
        # store.py imports this module: import its record mapper when first used.
        from runyard.stores.metadata.sql.store import _to_run_record
        return [RunHit(_to_run_record(runs[row[0]], *names),
                       tuple(plain(v) for v in row[1:])) for row in rows
                if row[0] in runs]  # a run deleted in between is left out

    def count_runs(self, entity: str, project: str, where: RunFilter | None) -> int:
        with self._tx() as s:
            project_id = self._project_id(s, entity, project)
            return self._count(s, project_id, None if where is None
                               else SearchSql(self._flavor()).where(where))

    @staticmethod
    def _count(s: Session, project_id: int, where: ColumnElement[bool] | None) -> int:
        stmt = select(func.count()).select_from(m.Run).where(m.Run.project_id == project_id)
        if where is not None:
            stmt = stmt.where(where)
        return int(s.scalar(stmt) or 0)

    # deletion ------------------------------------------------------------------------------
    def delete_run(self, run_id: int) -> list[str]:
        with self._tx() as s:
            run = s.get(m.Run, run_id, with_for_update=True)
            if run is None:
                raise NotFound("run does not exist")
            keys = [str(k) for k in s.scalars(
                select(m.RunFile.storage_key).where(m.RunFile.run_id == run_id))]
            for model in _RUN_CHILDREN:
                table: Table = model.__table__  # type: ignore[assignment]
                s.execute(delete(table).where(table.c.run_id == run_id))
            _detach_references(s, run_id)
            s.execute(delete(m.Run).where(m.Run.id == run_id))
            return keys

    # history and events ------------------------------------------------------------------
    def history_positions(self, run_id: int, *, min_step: int | None, max_step: int | None
                          ) -> list[tuple[int, int]]:
        with self._tx() as s:
            return history.positions(s, run_id, min_step=min_step, max_step=max_step)

    def read_lines(self, run_id: int, stream: Literal["history", "events"],
                   line_numbers: Sequence[int]) -> list[HistoryRecord]:
        if stream == "history":
            with self._tx() as s:
                out = history.read_lines(s, run_id, line_numbers)
        else:
            wanted = sorted(set(line_numbers))
            out = []
            with self._tx() as s:
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start:start + _CHUNK]
                    for e in s.scalars(select(m.EventRow).where(
                            m.EventRow.run_id == run_id, m.EventRow.line_no.in_(chunk))):
                        out.append(HistoryRecord(e.line_no, e.line_no, e.runtime, e.timestamp,
                                                 e.data))
        out.sort(key=lambda r: (r.step, r.line_no))
        return out

    # files ---------------------------------------------------------------------------------
    def find_files(self, run_id: int, *, names: Sequence[str] = (), pattern: str | None = None,
                   after: str | None = None, limit: int) -> list[FileRecord]:
        stmt = select(m.RunFile).where(m.RunFile.run_id == run_id, m.RunFile.uploaded.is_(True))
        if names:
            stmt = stmt.where(m.RunFile.name.in_(sorted(set(names))))
        elif pattern:
            stmt = stmt.where(m.RunFile.name.like(pattern))
        if after is not None:
            stmt = stmt.where(m.RunFile.name > after)
        with self._tx() as s:
            rows = s.scalars(stmt.order_by(m.RunFile.name).limit(max(0, limit))).all()
            return [FileRecord(f.id, f.run_id, f.name, f.storage_key, f.size, f.md5,
                               bool(f.uploaded), f.created_at, f.updated_at) for f in rows]

    def count_files(self, run_id: int) -> int:
        with self._tx() as s:
            return int(s.scalar(select(func.count()).select_from(m.RunFile).where(
                m.RunFile.run_id == run_id, m.RunFile.uploaded.is_(True))) or 0)


def index_values(s: Session, run_id: int, scope: str, text: str | None, *,
                 new_run: bool = False) -> None:
    """Rewrite the run_values rows of one scope of a run (call when config/summary change).

    For a run created in this transaction there is nothing to delete, and the delete would
    only take gap locks (InnoDB) that deadlock with runs created next to it."""
    if not new_run:
        s.execute(delete(m.RunValue).where(m.RunValue.run_id == run_id,
                                           m.RunValue.scope == scope))
    rows = value_rows(run_id, scope, text)
    for start in range(0, len(rows), _CHUNK):
        s.execute(insert(m.RunValue), rows[start:start + _CHUNK])


def _detach_references(s: Session, run_id: int) -> None:
    """Other tables that point at runs: a nullable reference is cleared (the artifact a
    deleted run logged stays), a required one means the row belongs to the run and goes
    (history chunks, lineage). Rows that others still need make the delete a Conflict."""
    runs_id = m.Run.__table__.c.id
    children = {model.__table__ for model in _RUN_CHILDREN}
    for table in reversed(m.Base.metadata.sorted_tables):
        if table in children or table.name == m.Run.__tablename__:
            continue
        for fk in table.foreign_keys:
            column = fk.parent
            if fk.column is not runs_id:
                continue
            if column.nullable:
                values: dict[str, Any] = {column.name: None}
                s.execute(update(table).where(column == run_id).values(values))
            else:
                s.execute(delete(table).where(column == run_id))
