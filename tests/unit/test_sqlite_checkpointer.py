"""SQLite's background checkpointer: the log is copied into the database while writes go on,
and once they stop, the log file gives its disk space back (nothing written is lost)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from runyard.stores.metadata.sql import store


def _wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_an_idle_database_truncates_its_log(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store._Checkpointer, "INTERVAL", 0.05)
    path = tmp_path / "db.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", store._sqlite_pragmas)
    checkpointer = store._Checkpointer(engine)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)"))
            for i in range(200):
                conn.execute(text("INSERT INTO t VALUES (:i, :b)"), {"i": i, "b": b"x" * 4000})
        assert _wal_bytes(path) > 500_000  # autocheckpoint is off: it all sits in the log
        checkpointer.start()
        deadline = time.monotonic() + 20
        while _wal_bytes(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _wal_bytes(path) == 0
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*), sum(length(body)) FROM t")).one() == (
                200, 800_000)
    finally:
        checkpointer.stop()
        engine.dispose()
