"""Data written by the oldest schema survives every upgrade and reads back through the store."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from runyard import registry
from runyard.history.query import SeriesQuery
from runyard.stores.metadata.base import RunQuery
from runyard.stores.metadata.sql import schema

T = 1_700_000_000.0


def test_rows_of_the_first_schema_read_back_after_upgrading(empty_database: str) -> None:
    engine = create_engine(empty_database)
    try:
        schema.upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO entities (id, name, created_at) VALUES (1, 'old', :t)"),
                         {"t": T})
            conn.execute(text(
                "INSERT INTO users (id, username, email, is_admin, entity_id, created_at) "
                "VALUES (1, 'old', 'o@example.com', :yes, 1, :t)"), {"t": T, "yes": True})
            conn.execute(text(
                "INSERT INTO api_keys (id, user_id, key_hash, hint, created_at) "
                "VALUES (1, 1, :h, 'abcd', :t)"), {"h": "f" * 64, "t": T})
            conn.execute(text(
                "INSERT INTO projects (id, entity_id, name, created_at) VALUES (1, 1, 'p', :t)"),
                {"t": T})
            conn.execute(text(
                "INSERT INTO runs (id, project_id, user_id, name, display_name, state, tags, "
                "config, summary, history_keys, stop_requested, history_line_count, "
                "events_line_count, log_line_count, created_at, updated_at, heartbeat_at) "
                "VALUES (1, 1, 1, 'r1', 'old-run-1', 'finished', :tags, :config, :summary, "
                "'{}', :no, 3, 0, 1, :t, :t, :t)"),
                {"tags": json.dumps(["legacy"]), "no": False, "t": T,
                 "config": json.dumps({"lr": {"value": 0.5}}),
                 "summary": json.dumps({"acc": 0.75, "_step": 2})})
            for step in range(3):
                conn.execute(text(
                    "INSERT INTO history (run_id, line_no, step, runtime, timestamp, data) "
                    "VALUES (1, :n, :n, :n, :t, :d)"),
                    {"n": step, "t": T + step,
                     "d": json.dumps({"_step": step, "acc": step / 4, "_timestamp": T + step})})
        schema.upgrade(engine)
        assert schema.current_revision(engine) == schema.head_revision()
    finally:
        engine.dispose()

    store = registry.metadata_store(empty_database)
    store.open()
    try:
        user = store.user_for_key("f" * 64)
        assert user is not None
        assert user.username == "old"
        run = store.get_run("old", "p", "r1")
        assert run is not None
        assert (run.display_name, run.tags, run.state) == ("old-run-1", ["legacy"], "finished")
        assert json.loads(run.config) == {"lr": {"value": 0.5}}
        history = store.read_history(run.id, min_step=None, max_step=None, limit=10)
        assert [json.loads(h.text)["acc"] for h in history] == [0, 0.25, 0.5]
        series = store.read_series(run.id, SeriesQuery(keys=["acc"])).get("acc")
        assert series is not None
        assert series.to_json()["last"] == [0, 0.25, 0.5]
        runs, total = store.list_runs("old", "p", RunQuery(tags=["legacy"]))
        assert total == 1
        assert runs[0].name == "r1"
    finally:
        store.close()


def test_sealed_segments_read_back_after_a_downgrade_to_0007(empty_database: str) -> None:
    """0008's sealed segments need 0008's code: its downgrade turns them back into the
    plain digit form, which revision 0007 reads without the chunks."""
    from runyard.domain.filestream import parse_request
    from runyard.history import segments
    from runyard.stores.metadata.sql.series import SEAL_LINES

    engine = create_engine(empty_database)
    schema.upgrade(engine)
    store = registry.metadata_store(empty_database)
    store.open()
    try:
        from tests.stores.test_metadata_contract import run as new_run

        run = new_run(store)
        rows = [json.dumps({"_step": i, "loss": 1 / (i + 3)}) for i in range(3 * SEAL_LINES)]
        store.apply_stream(run.id, parse_request({"files": {"wandb-history.jsonl": {
            "offset": 0, "content": rows}}}), T)
    finally:
        store.close()

    def forms() -> list[bytes]:
        with engine.connect() as conn:
            return sorted(bytes(d[:4]) for d in conn.execute(
                text("SELECT data FROM history_segments")).scalars())

    try:
        assert segments.MAGIC_SEALED in forms()
        schema.downgrade(engine, "0007")
        assert segments.MAGIC_SEALED not in forms()
        with engine.connect() as conn:
            blobs = [bytes(d) for d in conn.execute(text(
                "SELECT data FROM history_segments ORDER BY start_line")).scalars()]
        assert [t for blob in blobs for t in segments.texts(blob)] == rows  # no chunks read
        schema.upgrade(engine)
    finally:
        engine.dispose()
