"""Insert rows, replacing any row with the same primary key, in each database's own words.

Replacing a row in place spares the DELETE that would come first. A DELETE by part of a key
scans a range, and InnoDB locks the record just past it (another run's first row): two
file_stream writers of different runs then wait on each other, and deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

_STATEMENTS: dict[tuple[str, str], Any] = {}


def statement(dialect: str, table: Table) -> Any:
    """``INSERT INTO table ...`` that replaces the non-key columns of a row already there."""
    found = _STATEMENTS.get((dialect, table.name))
    if found is not None:
        return found
    columns = [c.name for c in table.columns if not c.primary_key]
    stmt: Any
    if dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(table)
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns})
    elif dialect in ("postgresql", "sqlite"):
        stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=list(table.primary_key.columns),
                                          set_={c: stmt.excluded[c] for c in columns})
    else:
        raise NotImplementedError(f"no upsert for {dialect}")
    _STATEMENTS[(dialect, table.name)] = stmt
    return stmt


def replace(s: Session | Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``; a row whose primary key exists replaces it."""
    if rows:
        bind = s.get_bind() if isinstance(s, Session) else s
        s.execute(statement(bind.dialect.name, table), rows)
