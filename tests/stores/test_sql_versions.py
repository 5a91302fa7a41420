"""The SQL adapter's readers of history versions on the event loop (sql/versions.py): they
answer without a worker thread where the database allows it, step aside when busy, and
recover from a lost connection."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from runyard.stores.metadata.base import MetadataStore
from runyard.stores.metadata.sql import versions
from runyard.stores.metadata.sql.store import SqlMetadataStore
from tests import asyncrun
from tests.stores.test_metadata_contract import ENTITY, PROJECT, T0, history, run


def _dialect(store: MetadataStore) -> str:
    return str(store.engine.dialect.name)  # type: ignore[attr-defined]


def _no_threads(store: MetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking from a worker thread (the fallback) fails the test."""
    def refuse(*_args: Any) -> None:
        raise AssertionError("history versions were asked from a worker thread")

    monkeypatch.setattr(store, "history_versions", refuse)


def test_sqlite_and_mariadb_answer_on_the_loop(metadata_store: MetadataStore,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    first = run(metadata_store, "r1")
    metadata_store.apply_stream(first.id, history(0, ['{"_step": 0}']), T0)
    kind = _dialect(metadata_store)
    if kind == "postgresql":  # no async driver here: the worker threads answer
        assert metadata_store._loop_reader is None  # type: ignore[attr-defined]
        return
    _no_threads(metadata_store, monkeypatch)

    async def main() -> None:
        for count in (1, 2):
            assert await metadata_store.history_versions_async(
                ENTITY, PROJECT, ["r1", "missing"]) == {"r1": (first.id, count)}
            metadata_store.apply_stream(first.id, history(count, ['{"_step": 5}']), T0)

    asyncrun.run(main())


def test_a_busy_reader_steps_aside_and_the_threads_answer(
        metadata_store: MetadataStore) -> None:
    first = run(metadata_store, "r1")
    kind = _dialect(metadata_store)
    if kind == "postgresql":
        pytest.skip("no reader on the event loop for PostgreSQL")

    async def main() -> None:
        if kind == "sqlite":
            reader = metadata_store._sqlite_reader  # type: ignore[attr-defined]
            with reader._lock:  # another caller holds its connection: do not wait
                assert reader.read(ENTITY, PROJECT, ["r1"]) is None
                found = await metadata_store.history_versions_async(ENTITY, PROJECT, ["r1"])
        else:
            reader = metadata_store._loop_reader  # type: ignore[attr-defined]
            reader._busy = True  # a request on this loop is using its connection
            try:
                assert await reader.read(ENTITY, PROJECT, ["r1"]) is None
                found = await metadata_store.history_versions_async(ENTITY, PROJECT, ["r1"])
            finally:
                reader._busy = False
        assert found == {"r1": (first.id, 0)}

    asyncrun.run(main())


def test_mariadb_reader_recovers_from_a_killed_connection(
        metadata_store: MetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    if _dialect(metadata_store) not in ("mysql", "mariadb"):
        pytest.skip("the async driver's reader is MySQL/MariaDB's")
    first = run(metadata_store, "r1")
    reader = metadata_store._loop_reader  # type: ignore[attr-defined]
    engine = metadata_store.engine  # type: ignore[attr-defined]

    async def main() -> None:
        assert await reader.read(ENTITY, PROJECT, ["r1"]) == {"r1": (first.id, 0)}
        with engine.begin() as conn:  # the server drops it (a failover, an idle timeout)
            conn.execute(text(f"KILL {int(reader._conn.thread_id())}"))
        assert await reader.read(ENTITY, PROJECT, ["r1"]) is None
        assert reader._conn is None
        # Meanwhile the threads answer, and the reader waits before it tries again.
        metadata_store.apply_stream(first.id, history(0, ['{"_step": 0}']), T0)
        assert await metadata_store.history_versions_async(
            ENTITY, PROJECT, ["r1"]) == {"r1": (first.id, 1)}
        assert await reader.read(ENTITY, PROJECT, ["r1"]) is None
        reader._retry_at = 0.0
        assert await reader.read(ENTITY, PROJECT, ["r1"]) == {"r1": (first.id, 1)}

    asyncrun.run(main())
    # A connection belongs to its event loop: on another loop the reader opens another.
    _no_threads(metadata_store, monkeypatch)
    assert asyncrun.run(metadata_store.history_versions_async(ENTITY, PROJECT, ["r1"])) == {
        "r1": (first.id, 1)}


def test_the_loop_reader_is_made_only_where_the_async_driver_can_connect() -> None:
    assert versions.LoopReader.for_engine(create_engine("sqlite://"), None) is None
    plain = create_engine("mysql+pymysql://u:p@db.example:3306/runyard?charset=utf8mb4")
    assert isinstance(versions.LoopReader.for_engine(plain, None), versions.LoopReader)
    # TLS files are not passed on: the worker threads answer, over TLS.
    tls = create_engine("mysql+pymysql://u:p@db.example/runyard?ssl_ca=/etc/ca.pem")
    assert versions.LoopReader.for_engine(tls, None) is None


def test_mariadb_reader_connects_with_the_password_from_the_provider(
        metadata_store: MetadataStore, migrated_database: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A password kept in Secrets Manager (the URL has none): the reader's own connection
    takes it from the same provider the pool uses."""
    if _dialect(metadata_store) not in ("mysql", "mariadb"):
        pytest.skip("the async driver's reader is MySQL/MariaDB's")
    first = run(metadata_store, "r1")
    user, secret = f"ry_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    url = make_url(migrated_database.url)
    with migrated_database.engine.begin() as conn:
        conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'"))
        conn.execute(text(f"GRANT SELECT ON `{url.database}`.* TO '{user}'@'%'"))
    asked: list[bool] = []

    class Provider:
        def get(self, *, refresh: bool = False) -> str:
            asked.append(refresh)
            return secret

    store = SqlMetadataStore(url.set(username=user, password=None).render_as_string(False),
                             password=Provider())
    store.open()
    try:
        _no_threads(store, monkeypatch)
        assert asyncrun.run(store.history_versions_async(ENTITY, PROJECT, ["r1"])) == {
            "r1": (first.id, 0)}
        assert asked  # the reader asked the provider, off the event loop
    finally:
        store.close()
        with migrated_database.engine.begin() as conn:
            conn.execute(text(f"DROP USER '{user}'@'%'"))


def test_mariadb_reader_drops_a_connection_cancelled_mid_query(
        metadata_store: MetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request cancelled while its query runs (the client went away) leaves an answer
    unread on the connection: reused, it would hand that answer to the next caller."""
    if _dialect(metadata_store) not in ("mysql", "mariadb"):
        pytest.skip("the async driver's reader is MySQL/MariaDB's")
    first = run(metadata_store, "r1")
    reader = metadata_store._loop_reader  # type: ignore[attr-defined]
    statement = reader._statement

    def slow(count: int) -> tuple[str, list[str]]:
        _sql, names = statement(count)
        return "SELECT %(project)s, SLEEP(0.5), 7", names

    async def main() -> None:
        assert await reader.read(ENTITY, PROJECT, ["r1"]) == {"r1": (first.id, 0)}
        monkeypatch.setattr(reader, "_statement", slow)
        task = asyncio.ensure_future(reader.read(ENTITY, PROJECT, ["r1"]))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert reader._conn is None
        assert not reader._busy
        monkeypatch.setattr(reader, "_statement", statement)
        assert await reader.read(ENTITY, PROJECT, ["r1"]) == {"r1": (first.id, 0)}

    asyncrun.run(main())
