"""Contract of the run search (filters, order, keyset pages) and the other public-API reads
of the metadata store, on every adapter (SQLite, MariaDB, PostgreSQL; see conftest)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import column, create_engine, insert, table

from runyard import registry
from runyard.domain.run_filters import parse_filters, parse_order
from runyard.errors import NotFound
from runyard.stores.metadata.base import (
    MetadataStore,
    RunFields,
    RunRecord,
    RunSearch,
    StreamBatch,
    StreamLine,
    UserRecord,
)
from runyard.stores.metadata.sql import models as m
from runyard.stores.metadata.sql import schema

ENTITY = "alice"
PROJECT = "search"
T0 = 1_732_900_000.0


def _names(_count: int) -> str:
    return "generated"


def _config(**values: Any) -> str:
    body: dict[str, Any] = {k: {"value": v, "desc": None} for k, v in values.items()}
    body["_wandb"] = {"value": {"t": {"1": [1]}, "cli_version": "0.31.0"}}
    return json.dumps(body)


class World:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.user = store.get_user(ENTITY) or store.create_user(ENTITY, email="a@example.com")

    def run(self, name: str, *, config: dict[str, Any] | None = None,
            summary: str | dict[str, Any] | None = None, **fields: Any) -> RunRecord:
        summary_text = summary if isinstance(summary, str) or summary is None else json.dumps(
            summary)
        record, _ = self.store.upsert_run(
            ENTITY, PROJECT, name, user_id=self.user.id,
            fields=RunFields(config=_config(**config) if config is not None else None,
                             summary=summary_text, **fields),
            make_display_name=_names)
        return record

    def find(self, filters: Any = None, order: str | None = None, limit: int = 1000
             ) -> list[str]:
        where = parse_filters(json.dumps(filters) if filters is not None else None)
        hits = self.store.search_runs(ENTITY, PROJECT, RunSearch(
            where=where, order=parse_order(order), limit=limit))
        return [h.run.name for h in hits]

    def count(self, filters: Any) -> int:
        return self.store.count_runs(ENTITY, PROJECT, parse_filters(json.dumps(filters)))


@pytest.fixture
def world(metadata_store: MetadataStore) -> World:
    w = World(metadata_store)
    w.run("r1", config={"lr": 0.1, "opt": {"name": "Adam", "beta": 0.9}, "layers": [64, 64],
                        "flag": True, "name": "Alpha"},
          summary='{"acc": 0.95, "loss": NaN, "val/loss": {"min": 0.1}, "_step": 9}',
          display_name="fast-fox-1", tags=["a", "base"], group_name="g1", job_type="train",
          state="finished")
    w.run("r2", config={"lr": 0.01, "opt": {"name": "SGD", "beta": 0.5}, "layers": [32],
                        "flag": False, "name": "alpha"},
          summary='{"acc": 0.5, "loss": 0.7, "val/loss": {"min": 0.3}}',
          display_name="Slow-fox-2", tags=["b"], job_type="eval", state="crashed")
    w.run("r3", config={"lr": 0.1, "name": None},
          summary='{"acc": Infinity, "loss": -Infinity}',
          display_name="fast-cat-3", tags=["a", "b"], group_name="g2", state="running")
    w.run("r4", config={"lr": "0.1"}, summary={"other": 1},
          display_name="calm-owl-4", tags=[], state="failed")
    return w


# filters -------------------------------------------------------------------------------------
def test_equality_on_config_values_unwraps_value_and_keeps_types(world: World) -> None:
    assert world.find({"config.lr": 0.1}) == ["r1", "r3"]  # not the string "0.1"
    assert world.find({"config.lr.value": 0.1}) == ["r1", "r3"]
    assert world.find({"config.lr": "0.1"}) == ["r4"]
    assert world.find({"config.opt.name": "Adam"}) == ["r1"]
    assert world.find({"config.name": "alpha"}) == ["r2"]  # case-sensitive everywhere
    assert world.find({"config.flag": True}) == ["r1"]
    assert world.find({"config.flag": False}) == ["r2"]
    assert world.find({"config.layers": [64, 64]}) == ["r1"]
    assert world.find({"config._wandb.cli_version": "0.31.0"}) == []  # the client's block


def test_equal_python_values_of_other_types_are_different_searches(world: World) -> None:
    """Built statements are reused per search: True == 1 == 1.0 in Python, but a boolean
    filter is not a number filter (and a list value is fine as a key too)."""
    world.run("r-one", config={"flag": 1, "layers": 1.0})
    for _ in range(2):
        assert world.find({"config.flag": True}) == ["r1"]
        assert world.find({"config.flag": 1}) == ["r-one"]
        assert world.find({"config.flag": 1.0}) == ["r-one"]
        assert world.find({"config.layers": [64, 64]}) == ["r1"]
        assert world.find({"config.layers": 1}) == ["r-one"]


def test_null_matches_null_or_missing_and_ne_includes_missing(world: World) -> None:
    assert world.find({"config.name": None}) == ["r3", "r4"]
    assert world.find({"config.name": {"$ne": None}}) == ["r1", "r2"]
    assert world.find({"config.opt.name": {"$ne": "Adam"}}) == ["r2", "r3", "r4"]
    assert world.find({"config.opt": {"$exists": True}}) == ["r1", "r2"]
    assert world.find({"config.opt": {"$exists": False}}) == ["r3", "r4"]


def test_numeric_comparisons_know_infinities_and_nan(world: World) -> None:
    assert world.find({"summary_metrics.acc": {"$gt": 0.9}}) == ["r1", "r3"]
    assert world.find({"summary_metrics.acc": {"$gte": 0.5, "$lt": 0.96}}) == ["r1", "r2"]
    assert world.find({"summary_metrics.loss": {"$lt": 1}}) == ["r2", "r3"]  # NaN is no number
    assert world.find({"summary_metrics.loss": float("nan")}) == ["r1"]
    assert world.find({"summary_metrics.acc": float("inf")}) == ["r3"]
    assert world.find({"summary_metrics.val/loss.min": {"$lte": 0.1}}) == ["r1"]
    assert world.find({"summary.acc": {"$lt": 0.6}}) == ["r2"]
    assert world.find({"summary_metrics.acc": {"$gt": "a"}}) == []  # strings only vs strings


def test_in_nin_and_boolean_logic(world: World) -> None:
    assert world.find({"state": {"$in": ["finished", "crashed"]}}) == ["r1", "r2"]
    assert world.find({"state": {"$nin": ["finished", "crashed"]}}) == ["r3", "r4"]
    assert world.find({"config.lr": {"$in": [0.01, "0.1"]}}) == ["r2", "r4"]
    assert world.find({"config.lr": {"$nin": [0.1]}}) == ["r2", "r4"]
    assert world.find({"$or": [{"config.lr": 0.01}, {"state": "failed"}]}) == ["r2", "r4"]
    assert world.find({"$and": [{"config.lr": 0.1}, {"summary_metrics.acc": {"$gt": 0.99}}]}
                      ) == ["r3"]
    assert world.find({"$nor": [{"config.lr": 0.1}, {"state": "failed"}]}) == ["r2"]
    assert world.find({"config.lr": 0.1, "state": "running"}) == ["r3"]
    assert world.find({"summary_metrics.acc": {"$not": {"$gt": 0.9}}}) == ["r2", "r4"]
    assert world.count({"config.lr": 0.1}) == 2
    assert world.count({}) == 4


def test_regex_on_display_name_and_values(world: World) -> None:
    assert world.find({"display_name": {"$regex": "^fast"}}) == ["r1", "r3"]
    assert world.find({"display_name": {"$regex": "fox"}}) == ["r1", "r2"]
    assert world.find({"display_name": {"$regex": "^slow"}}) == []  # case-sensitive
    assert world.find({"display_name": {"$regex": "^slow", "$options": "i"}}) == ["r2"]
    assert world.find({"config.opt.name": {"$regex": "^(Adam|SGD)$"}}) == ["r1", "r2"]
    assert world.find({"displayName": "fast-cat-3"}) == ["r3"]


def test_tags(world: World) -> None:
    assert world.find({"tags": "a"}) == ["r1", "r3"]
    assert world.find({"tags": {"$in": ["base", "b"]}}) == ["r1", "r2", "r3"]
    assert world.find({"tags": {"$nin": ["a"]}}) == ["r2", "r4"]
    assert world.find({"tags": {"$all": ["a", "b"]}}) == ["r3"]
    assert world.find({"tags": {"$ne": "b"}}) == ["r1", "r4"]
    assert world.find({"tags": {"$exists": True}}) == ["r1", "r2", "r3"]
    assert world.find({"tags": "A"}) == []


def test_columns_group_job_type_and_time_ranges(world: World) -> None:
    assert world.find({"group": "g1"}) == ["r1"]
    assert world.find({"group": None}) == ["r2", "r4"]
    assert world.find({"jobType": {"$ne": "train"}}) == ["r2", "r3", "r4"]
    assert world.find({"name": {"$in": ["r2", "r4"]}}) == ["r2", "r4"]
    assert world.find({"username": ENTITY}) == ["r1", "r2", "r3", "r4"]
    every = world.find({"createdAt": {"$gte": "2000-01-01T00:00:00Z"}})
    assert every == ["r1", "r2", "r3", "r4"]
    assert world.find({"created_at": {"$lt": "2000-01-01T00:00:00"}}) == []


# order ---------------------------------------------------------------------------------------
def test_order_by_summary_puts_missing_last_both_ways(world: World) -> None:
    assert world.find(order="-summary_metrics.acc") == ["r3", "r1", "r2", "r4"]
    assert world.find(order="+summary_metrics.acc") == ["r2", "r1", "r3", "r4"]
    # NaN and null sort after numbers, before missing values.
    assert world.find(order="summary_metrics.loss") == ["r3", "r2", "r1", "r4"]


def test_order_by_columns_and_config(world: World) -> None:
    assert world.find(order="+created_at") == ["r1", "r2", "r3", "r4"]
    assert world.find(order="-created_at") == ["r4", "r3", "r2", "r1"]
    assert world.find(order="state") == ["r2", "r4", "r1", "r3"]
    # Types sort as in MongoDB (numbers before strings); ties by id in the same direction.
    assert world.find(order="-config.lr.value") == ["r4", "r3", "r1", "r2"]
    assert world.find(order="config.lr") == ["r2", "r1", "r3", "r4"]
    assert world.find(order="group") == ["r1", "r3", "r2", "r4"]
    assert world.find(order="-group") == ["r3", "r1", "r4", "r2"]


# pages ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["+created_at", "-created_at", "-summary_metrics.acc",
                                   "config.parity", "+display_name", "-group"])
def test_keyset_pages_cover_every_run_once(metadata_store: MetadataStore, order: str) -> None:
    world = World(metadata_store)
    for i in range(57):
        summary = {"acc": (i * 37 % 11) / 10} if i % 5 else {}
        world.run(f"p{i:03d}", config={"parity": i % 3}, summary=summary,
                  display_name=f"name-{i % 7}", group_name=None if i % 4 else f"g{i % 3}")
    parsed = parse_order(order)
    expected = [h.run.name for h in metadata_store.search_runs(
        ENTITY, PROJECT, RunSearch(order=parsed, limit=1000))]
    assert sorted(expected) == sorted(f"p{i:03d}" for i in range(57))
    seen: list[str] = []
    after = None
    while True:
        page = metadata_store.search_runs(ENTITY, PROJECT, RunSearch(
            order=parsed, limit=8, after=after))
        if not page:
            break
        seen += [h.run.name for h in page]
        after = page[-1].sort_key
        if len(seen) == 16:  # a run added mid-way at the end of the order never disturbs
            world.run("zzz-late", config={"parity": 9}, summary={"acc": -5.0},
                      display_name="zzzz", group_name=None)
    # Every run exactly once, in order, though a run was added between pages.
    assert [n for n in seen if n != "zzz-late"] == expected
    assert len(seen) == len(set(seen))


def test_filtered_pages_and_counts(metadata_store: MetadataStore) -> None:
    world = World(metadata_store)
    for i in range(40):
        world.run(f"q{i:02d}", config={"i": i}, summary={"acc": i / 40})
    where = parse_filters(json.dumps({"summary_metrics.acc": {"$gte": 0.5}}))
    order = parse_order("-config.i")
    names: list[str] = []
    after = None
    while True:
        page = metadata_store.search_runs(ENTITY, PROJECT, RunSearch(
            where=where, order=order, limit=6, after=after))
        if not page:
            break
        names += [h.run.name for h in page]
        after = page[-1].sort_key
    assert names == [f"q{i:02d}" for i in range(39, 19, -1)]
    assert metadata_store.count_runs(ENTITY, PROJECT, where) == 20


@pytest.mark.parametrize("filters", [None, {"summary_metrics.acc": {"$gte": 0.5}},
                                     {"config.i": {"$gt": 99}}])
def test_counted_search_is_the_page_and_the_count(metadata_store: MetadataStore,
                                                  filters: Any) -> None:
    """search_runs_counted = search_runs + count_runs, on every page (the first page counts
    in its own query, later ones with a cursor count apart) and with an empty page."""
    world = World(metadata_store)
    for i in range(30):
        world.run(f"c{i:02d}", config={"i": i}, summary={"acc": i / 30} if i % 4 else {})
    counted = getattr(metadata_store, "search_runs_counted", None)
    if counted is None:
        pytest.skip("this store has no counted search")
    where = parse_filters(json.dumps(filters) if filters is not None else None)
    order = parse_order("-summary_metrics.acc")
    expected_total = metadata_store.count_runs(ENTITY, PROJECT, where)
    after = None
    for limit in (7, 7, 7, 7, 7, 0):
        search = RunSearch(where=where, order=order, limit=limit, after=after)
        hits, total = counted(ENTITY, PROJECT, search)
        assert total == expected_total
        assert hits == metadata_store.search_runs(ENTITY, PROJECT, search)
        after = hits[-1].sort_key if hits else after


def test_search_of_a_missing_project_is_not_found(metadata_store: MetadataStore) -> None:
    World(metadata_store)
    with pytest.raises(NotFound):
        metadata_store.search_runs(ENTITY, "nope", RunSearch())
    with pytest.raises(NotFound):
        metadata_store.count_runs(ENTITY, "nope", None)


# the index follows writes ----------------------------------------------------------------------
def test_summary_and_config_changes_are_searchable(world: World) -> None:
    store = world.store
    r2 = store.get_run(ENTITY, PROJECT, "r2")
    assert r2 is not None
    store.apply_stream(r2.id, StreamBatch(summary='{"acc": 0.99}'), T0)
    assert world.find({"summary_metrics.acc": {"$gt": 0.9}}) == ["r1", "r2", "r3"]
    assert world.find({"summary_metrics.val/loss.min": 0.3}) == []
    store.update_run(r2.id, RunFields(config=_config(lr=0.5)))
    assert world.find({"config.lr": 0.5}) == ["r2"]
    store.update_run(r2.id, RunFields(summary='{"acc": 0.1}', tags=["new"]))
    assert world.find({"summary_metrics.acc": {"$lt": 0.2}}) == ["r2"]
    assert world.find({"tags": "new"}) == ["r2"]


# deletion ------------------------------------------------------------------------------------
def test_delete_run_removes_it_and_everything_it_owns(world: World) -> None:
    store = world.store
    r1 = store.get_run(ENTITY, PROJECT, "r1")
    assert r1 is not None
    store.apply_stream(r1.id, StreamBatch(
        history=[StreamLine(i, json.dumps({"_step": i, "x": i}), i, None, None, {"x": "int"})
                 for i in range(3)],
        events=[StreamLine(0, '{"cpu": 1}', None, None, None, {})],
        console=[(0, "hello")]), T0)
    store.register_files(r1.id, ["a.txt", "b.txt"], lambda n: f"runs/{r1.id}/{n}")
    store.add_alert(r1.id, "t", "x", "INFO")
    keys = store.delete_run(r1.id)
    assert sorted(keys) == [f"runs/{r1.id}/a.txt", f"runs/{r1.id}/b.txt"]
    assert store.get_run(ENTITY, PROJECT, "r1") is None
    assert world.find({"config.lr": 0.1}) == ["r3"]
    assert world.count({}) == 3
    with pytest.raises(NotFound):
        store.delete_run(r1.id)
    again = world.run("r1", config={"lr": 3})  # the name is free again
    assert again.history_line_count == 0
    assert world.find({"config.lr": 3}) == ["r1"]


# history, files, users, projects -------------------------------------------------------------
def test_history_positions_lines_and_contains(world: World) -> None:
    store = world.store
    r = world.run("h")
    lines = [StreamLine(i, json.dumps({"_step": i * 2, "loss": i} if i % 2 else
                                      {"_step": i * 2, "acc": i}), i * 2, None, None, {})
             for i in range(10)]
    store.apply_stream(r.id, StreamBatch(history=lines,
                                         events=[StreamLine(i, f'{{"e": {i}}}', None, None,
                                                            None, {}) for i in range(4)]), T0)
    assert store.history_positions(r.id, min_step=None, max_step=None) == [
        (i, i * 2) for i in range(10)]
    assert store.history_positions(r.id, min_step=4, max_step=9) == [(2, 4), (3, 6), (4, 8)]
    picked = store.read_lines(r.id, "history", [9, 0, 5, 42])
    assert [p.step for p in picked] == [0, 10, 18]
    assert [p.text for p in store.read_lines(r.id, "events", [3, 1])] == ['{"e": 1}',
                                                                          '{"e": 3}']
    with_loss = store.read_history(r.id, min_step=None, max_step=None, limit=100,
                                   contains=['"loss"'])
    assert [row.step for row in with_loss] == [2, 6, 10, 14, 18]
    assert store.read_history(r.id, min_step=None, max_step=None, limit=100,
                              contains=['"LOSS"']) == []


def test_files_pages_by_name_with_names_and_pattern(world: World) -> None:
    store = world.store
    r = world.run("f")
    names = ["b.json", "a.txt", "media/x.png", "c.json", "Z.json", "pending.bin"]
    records = store.register_files(r.id, names, lambda n: f"runs/{r.id}/{n}")
    for rec in records:
        if rec.name != "pending.bin":
            store.file_stored(rec.storage_key, 3, "md5", T0)
    assert store.count_files(r.id) == 5
    first = store.find_files(r.id, limit=2)
    rest = store.find_files(r.id, limit=10, after=first[-1].name)
    assert [f.name for f in first + rest] == sorted(n for n in names if n != "pending.bin")
    assert [f.name for f in store.find_files(r.id, pattern="%.json", limit=10)] == sorted(
        ["b.json", "c.json", "Z.json"])
    assert [f.name for f in store.find_files(r.id, names=["c.json", "nope", "a.txt"],
                                             limit=10)] == ["a.txt", "c.json"]
    assert store.find_files(r.id, names=["pending.bin"], limit=10) == []


def test_user_by_id_and_project_pages(metadata_store: MetadataStore) -> None:
    owner: UserRecord = metadata_store.create_user("bob", email="b@example.com")
    assert metadata_store.get_user_by_id(owner.id) == owner
    assert metadata_store.get_user_by_id(owner.id + 1000) is None
    for i in range(7):
        metadata_store.upsert_run("bob", f"p{i}", "r", user_id=owner.id, fields=RunFields(),
                                  make_display_name=_names)
    every = metadata_store.list_projects("bob", limit=100)
    pages: list[str] = []
    after = None
    while True:
        page = metadata_store.list_projects("bob", limit=3, after=after)
        if not page:
            break
        pages += [p.name for p in page]
        after = (page[-1].created_at, page[-1].id)
    assert pages == [p.name for p in every]
    assert len(pages) == 7


# migration -----------------------------------------------------------------------------------
def test_upgrade_indexes_the_runs_that_exist_already(empty_database: str) -> None:
    """0005 creates run_values and fills it from the config and summary of existing runs."""
    engine = create_engine(empty_database)
    try:
        schema.upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(insert(m.Entity.__table__).values(id=1, name=ENTITY, created_at=T0))
            conn.execute(insert(m.User.__table__).values(
                id=1, username=ENTITY, email="", is_admin=False, entity_id=1, created_at=T0))
            conn.execute(insert(m.Project.__table__).values(
                id=1, entity_id=1, name=PROJECT, created_at=T0))
            # The runs table as 0004 has it (the model's newer columns are not there yet).
            runs_0004 = table("runs", *(column(c) for c in (
                "id", "project_id", "user_id", "name", "display_name", "state", "tags",
                "config", "summary", "history_keys", "stop_requested", "history_line_count",
                "events_line_count", "log_line_count", "created_at", "updated_at",
                "heartbeat_at")))
            for i in range(3):
                conn.execute(insert(runs_0004).values(
                    id=i + 1, project_id=1, user_id=1, name=f"old{i}", display_name=f"d{i}",
                    state="finished", tags="[]",
                    config=_config(lr=i / 10, opt=["adam", "sgd", "adam"][i], dims=[i, 2]),
                    summary=json.dumps({"acc": i}), history_keys="{}", stop_requested=False,
                    history_line_count=0, events_line_count=0, log_line_count=0,
                    created_at=T0 + i, updated_at=T0 + i, heartbeat_at=T0 + i))
        schema.upgrade(engine)
    finally:
        engine.dispose()
    store = registry.metadata_store(empty_database)
    store.open()
    try:
        world = World(store)
        assert world.find({"config.lr": 0.1}) == ["old1"]
        # Strings and lists indexed before 0007 are found through the hash 0007 gives them.
        assert world.find({"config.opt": "adam"}, "+config.lr") == ["old0", "old2"]
        assert world.find({"config.dims": [2, 2]}) == ["old2"]
        assert world.find({"summary_metrics.acc": {"$gte": 1}}, "-summary_metrics.acc") == [
            "old2", "old1"]
    finally:
        store.close()


def test_runs_started_at_once_in_a_new_project_all_get_created(
    metadata_store: MetadataStore,
) -> None:
    """Concurrent first runs of a project race to insert it; every upsert still succeeds."""
    owner = metadata_store.create_user("carol", email="c@example.com")
    barrier = threading.Barrier(6)

    def start(i: int) -> bool:
        barrier.wait()
        _, inserted = metadata_store.upsert_run(
            "carol", "fresh", f"run{i % 5}", user_id=owner.id,
            fields=RunFields(config=_config(i=i)), make_display_name=_names)
        return inserted

    with ThreadPoolExecutor(6) as pool:
        inserted = list(pool.map(start, range(6)))
    assert sum(inserted) == 5  # run0 twice: one insert, one update
    hits = metadata_store.search_runs("carol", "fresh", RunSearch(limit=10))
    assert sorted(h.run.name for h in hits) == [f"run{i}" for i in range(5)]
