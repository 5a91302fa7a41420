"""Contract of the metadata store port, run against every adapter (see conftest).

Every test uses real data on a real database; nothing is mocked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from runyard.domain.filestream import type_name
from runyard.errors import Conflict, NotFound
from runyard.stores.metadata.base import (
    MetadataStore,
    RunFields,
    RunQuery,
    RunRecord,
    StreamBatch,
    StreamLine,
    UserRecord,
)

ENTITY = "alice"
PROJECT = "proj"
T0 = 1_732_900_000.125  # a fixed "now" for stream writes


# helpers -------------------------------------------------------------------------------------
class DisplayNames:
    """A make_display_name that records the run counts it was called with."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, run_count: int) -> str:
        self.calls.append(run_count)
        return f"generated-{run_count}"


def user(store: MetadataStore, name: str = ENTITY) -> UserRecord:
    return store.create_user(name, email=f"{name}@example.com")


def run(
    store: MetadataStore,
    name: str = "run1",
    *,
    owner: UserRecord | None = None,
    project: str = PROJECT,
    names: DisplayNames | None = None,
    **fields: Any,
) -> RunRecord:
    owner = owner or store.get_user(ENTITY) or user(store)
    record, _ = store.upsert_run(owner.entity, project, name, user_id=owner.id,
                                 fields=RunFields(**fields),
                                 make_display_name=names or DisplayNames())
    return record


def line(line_no: int, text: str | None = None, **row: Any) -> StreamLine:
    """A history/events line as the file_stream parser produces it."""
    if text is None:
        text = json.dumps({"_step": line_no, **row}, separators=(",", ":"))
    parsed = json.loads(text)
    step = parsed.get("_step")
    runtime = parsed.get("_runtime")
    timestamp = parsed.get("_timestamp")
    return StreamLine(
        line_no=line_no, text=text,
        step=int(step) if isinstance(step, int | float) else None,
        runtime=float(runtime) if isinstance(runtime, int | float) else None,
        timestamp=float(timestamp) if isinstance(timestamp, int | float) else None,
        keys={k: type_name(v) for k, v in parsed.items()},
    )


def history(offset: int, texts: Sequence[str]) -> StreamBatch:
    return StreamBatch(history=[line(offset + i, t) for i, t in enumerate(texts)])


def rows(store: MetadataStore, run_id: int) -> list[tuple[int, str]]:
    return [(h.line_no, h.text) for h in store.read_history(
        run_id, min_step=None, max_step=None, limit=10_000)]


# users, keys, entities -------------------------------------------------------------------------
def test_create_user_creates_user_and_personal_entity(metadata_store: MetadataStore) -> None:
    assert metadata_store.count_users() == 0
    assert not metadata_store.entity_exists("alice")
    created = metadata_store.create_user("alice", email="a@example.com", is_admin=True)
    assert (created.username, created.email, created.is_admin, created.entity) == (
        "alice", "a@example.com", True, "alice")
    assert metadata_store.entity_exists("alice")
    assert metadata_store.get_user("alice") == created
    assert metadata_store.get_user("bob") is None
    assert metadata_store.count_users() == 1
    bob = metadata_store.create_user("bob")
    assert (bob.email, bob.is_admin) == ("", False)
    assert bob.id != created.id
    assert metadata_store.count_users() == 2


def test_create_user_rejects_a_taken_name(metadata_store: MetadataStore) -> None:
    first = user(metadata_store, "alice")
    with pytest.raises(Conflict):
        metadata_store.create_user("alice", email="other@example.com")
    assert metadata_store.count_users() == 1
    assert metadata_store.get_user("alice") == first


def test_user_for_key_finds_the_user_by_key_hash(metadata_store: MetadataStore) -> None:
    alice = user(metadata_store, "alice")
    bob = user(metadata_store, "bob")
    metadata_store.add_api_key(alice.id, "a" * 64, "aaaa")
    metadata_store.add_api_key(alice.id, "b" * 64, "bbbb")
    metadata_store.add_api_key(bob.id, "c" * 64, "cccc")
    assert metadata_store.user_for_key("a" * 64) == alice
    assert metadata_store.user_for_key("b" * 64) == alice
    assert metadata_store.user_for_key("c" * 64) == bob
    assert metadata_store.user_for_key("d" * 64) is None


def test_a_key_hash_belongs_to_one_user(metadata_store: MetadataStore) -> None:
    alice = user(metadata_store, "alice")
    bob = user(metadata_store, "bob")
    metadata_store.add_api_key(alice.id, "a" * 64, "aaaa")
    with pytest.raises(Conflict):
        metadata_store.add_api_key(bob.id, "a" * 64, "aaaa")
    assert metadata_store.user_for_key("a" * 64) == alice


def test_ping(metadata_store: MetadataStore) -> None:
    assert metadata_store.ping() is True


# projects ------------------------------------------------------------------------------------
def test_upsert_run_creates_its_project(metadata_store: MetadataStore) -> None:
    alice = user(metadata_store)
    assert metadata_store.get_project(ENTITY, PROJECT) is None
    assert metadata_store.list_projects(ENTITY, limit=10, offset=0) == []
    run(metadata_store, "r1")
    project = metadata_store.get_project(ENTITY, PROJECT)
    assert project is not None
    assert (project.entity, project.name, project.run_count) == (ENTITY, PROJECT, 1)
    run(metadata_store, "r2", owner=alice)
    run(metadata_store, "r2", owner=alice)
    project_again = metadata_store.get_project(ENTITY, PROJECT)
    assert project_again is not None
    assert (project_again.id, project_again.run_count) == (project.id, 2)
    assert metadata_store.get_project("bob", PROJECT) is None


def test_upsert_run_in_an_unknown_entity_is_not_found(metadata_store: MetadataStore) -> None:
    alice = user(metadata_store)
    with pytest.raises(NotFound):
        metadata_store.upsert_run("nobody", PROJECT, "r1", user_id=alice.id,
                                  fields=RunFields(), make_display_name=DisplayNames())
    assert metadata_store.get_project("nobody", PROJECT) is None


def test_list_projects_newest_first_with_paging(metadata_store: MetadataStore) -> None:
    alice = user(metadata_store)
    bob = user(metadata_store, "bob")
    for i in range(4):
        run(metadata_store, "r", owner=alice, project=f"p{i}")
    run(metadata_store, "r", owner=bob, project="bobs")
    listed = metadata_store.list_projects(ENTITY, limit=10, offset=0)
    assert [p.name for p in listed] == ["p3", "p2", "p1", "p0"]
    assert all(p.entity == ENTITY and p.run_count == 1 for p in listed)
    assert [p.name for p in metadata_store.list_projects(ENTITY, limit=2, offset=1)] == [
        "p2", "p1"]
    assert [p.name for p in metadata_store.list_projects("bob", limit=10, offset=0)] == ["bobs"]


# runs ----------------------------------------------------------------------------------------
def test_upsert_run_inserts_then_updates(metadata_store: MetadataStore) -> None:
    alice = user(metadata_store)
    names = DisplayNames()
    first, inserted = metadata_store.upsert_run(ENTITY, PROJECT, "abc123", user_id=alice.id,
                                                fields=RunFields(), make_display_name=names)
    assert inserted is True
    assert (first.entity, first.project, first.name, first.user_id) == (
        ENTITY, PROJECT, "abc123", alice.id)
    assert first.state == "running"
    assert (first.tags, first.config, first.summary, first.exit_code) == ([], "{}", "{}", None)
    assert (first.history_line_count, first.events_line_count, first.log_line_count) == (0, 0, 0)
    assert first.stop_requested is False
    assert first.finished_at is None
    second, inserted = metadata_store.upsert_run(ENTITY, PROJECT, "abc123", user_id=alice.id,
                                                 fields=RunFields(notes="n"),
                                                 make_display_name=names)
    assert inserted is False
    assert second.id == first.id
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert second.notes == "n"


def test_none_fields_leave_values_unchanged(metadata_store: MetadataStore) -> None:
    full = dict(display_name="shown", notes="notes", group_name="g", job_type="train",
                tags=["a", "b"], config='{"lr":0.1}', summary='{"acc":1}', host="h1",
                program="train.py", commit="deadbeef", repo="https://example.com/r.git",
                sweep="sw1", state="running")
    created = run(metadata_store, "r1", **full)
    for key, value in full.items():
        assert getattr(created, key) == value, key
    unchanged = run(metadata_store, "r1")
    for key, value in full.items():
        assert getattr(unchanged, key) == value, key
    changed = run(metadata_store, "r1", notes="new notes", host="h2")
    assert (changed.notes, changed.host) == ("new notes", "h2")
    for key in full.keys() - {"notes", "host"}:
        assert getattr(changed, key) == full[key], key
    assert metadata_store.get_run(ENTITY, PROJECT, "r1") == changed


def test_empty_tags_clear_tags(metadata_store: MetadataStore) -> None:
    run(metadata_store, "r1", tags=["a"])
    assert run(metadata_store, "r1", tags=[]).tags == []


def test_config_is_replaced_not_merged(metadata_store: MetadataStore) -> None:
    run(metadata_store, "r1", config='{"a":1,"nested":{"x":1}}')
    updated = run(metadata_store, "r1", config='{"b":2}')
    assert updated.config == '{"b":2}'
    stored = metadata_store.get_run(ENTITY, PROJECT, "r1")
    assert stored is not None
    assert stored.config == '{"b":2}'


def test_display_name_is_generated_only_for_new_runs_without_one(
    metadata_store: MetadataStore,
) -> None:
    names = DisplayNames()
    first = run(metadata_store, "r1", names=names)
    assert first.display_name == "generated-0"
    assert names.calls == [0]
    assert run(metadata_store, "r1", names=names).display_name == "generated-0"
    assert names.calls == [0]
    assert run(metadata_store, "r2", names=names, display_name="chosen").display_name == "chosen"
    assert names.calls == [0]
    assert run(metadata_store, "r3", names=names).display_name == "generated-2"
    assert names.calls == [0, 2]  # the project's run count before this run
    other = DisplayNames()
    run(metadata_store, "r1", project="other", names=other)
    assert other.calls == [0]
    assert run(metadata_store, "r1", names=names, display_name="renamed").display_name == (
        "renamed")


def test_update_run(metadata_store: MetadataStore) -> None:
    created = run(metadata_store, "r1", notes="a", tags=["x"])
    updated = metadata_store.update_run(created.id, RunFields(notes="b", state="finished"))
    assert (updated.notes, updated.state, updated.tags) == ("b", "finished", ["x"])
    assert metadata_store.get_run_by_id(created.id) == updated
    with pytest.raises(NotFound):
        metadata_store.update_run(created.id + 1000, RunFields(notes="c"))


def test_get_run_and_get_run_by_id(metadata_store: MetadataStore) -> None:
    alice = user(metadata_store)
    bob = user(metadata_store, "bob")
    mine = run(metadata_store, "same", owner=alice)
    theirs = run(metadata_store, "same", owner=bob)
    other_project = run(metadata_store, "same", owner=alice, project="p2")
    assert len({mine.id, theirs.id, other_project.id}) == 3
    assert metadata_store.get_run(ENTITY, PROJECT, "same") == mine
    assert metadata_store.get_run("bob", PROJECT, "same") == theirs
    assert metadata_store.get_run(ENTITY, "p2", "same") == other_project
    assert metadata_store.get_run(ENTITY, PROJECT, "missing") is None
    assert metadata_store.get_run(ENTITY, "missing", "same") is None
    assert metadata_store.get_run("missing", PROJECT, "same") is None
    assert metadata_store.get_run_by_id(theirs.id) == theirs
    assert metadata_store.get_run_by_id(max(mine.id, theirs.id, other_project.id) + 1) is None


def test_request_stop(metadata_store: MetadataStore) -> None:
    created = run(metadata_store, "r1")
    metadata_store.request_stop(created.id)
    stopped = metadata_store.get_run_by_id(created.id)
    assert stopped is not None
    assert stopped.stop_requested is True
    assert stopped.state == "running"
    with pytest.raises(NotFound):
        metadata_store.request_stop(created.id + 1000)


# list_runs -----------------------------------------------------------------------------------
def _filter_fixture(store: MetadataStore) -> None:
    run(store, "r1", display_name="alpha one", state="running", tags=["a", "b"], group_name="g1",
        job_type="train")
    run(store, "r2", display_name="beta two", state="finished", tags=["a"], group_name="g1",
        job_type="eval")
    run(store, "r3", display_name="gamma three", state="failed", tags=["b", "ab"],
        group_name="g2", job_type="train")
    run(store, "r4", display_name="alphabet", state="finished", tags=[], job_type="train")
    run(store, "other", project="elsewhere", display_name="alpha elsewhere", tags=["a"])


def _names(store: MetadataStore, **query: Any) -> tuple[list[str], int]:
    runs, total = store.list_runs(ENTITY, PROJECT, RunQuery(sort="name", **query))
    return [r.name for r in runs], total


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["r1", "r2", "r3", "r4"]),
        ({"state": "finished"}, ["r2", "r4"]),
        ({"state": "crashed"}, []),
        ({"tags": ["a"]}, ["r1", "r2"]),
        ({"tags": ["b"]}, ["r1", "r3"]),
        ({"tags": ["a", "b"]}, ["r1"]),
        ({"tags": ["ab"]}, ["r3"]),
        ({"tags": ["missing"]}, []),
        ({"group": "g1"}, ["r1", "r2"]),
        ({"job_type": "train"}, ["r1", "r3", "r4"]),
        ({"job_type": "train", "group": "g2"}, ["r3"]),
        ({"search": "alpha"}, ["r1", "r4"]),
        ({"search": "r2"}, ["r2"]),  # matches the run name too
        ({"search": "three"}, ["r3"]),
        ({"search": "zzz"}, []),
        ({"state": "finished", "tags": ["a"], "job_type": "eval", "search": "beta"}, ["r2"]),
    ],
    ids=lambda v: json.dumps(v, sort_keys=True) if isinstance(v, dict) else None,
)
def test_list_runs_filters(
    metadata_store: MetadataStore, query: dict[str, Any], expected: list[str]
) -> None:
    _filter_fixture(metadata_store)
    assert _names(metadata_store, **query) == (expected, len(expected))


def test_list_runs_of_an_unknown_project_is_not_found(metadata_store: MetadataStore) -> None:
    user(metadata_store)
    with pytest.raises(NotFound):
        metadata_store.list_runs(ENTITY, "missing", RunQuery())


@pytest.mark.parametrize(("tag", "lookalike"), [
    ("plain", "plainer"),
    ("a_c", "abc"),
    ("50%", "500"),
    ("größe", "grosse"),
    ("实验", "test"),
    ("🚀", "rocket"),
    ("C:\\data", "C:data"),
    ('say "hi"', "say hi"),
], ids=["plain", "underscore", "percent", "non-ascii", "cjk", "emoji", "backslash", "quote"])
def test_tag_filter_matches_exactly_that_tag(
    metadata_store: MetadataStore, tag: str, lookalike: str,
) -> None:
    run(metadata_store, "r1", tags=[lookalike])
    run(metadata_store, "r2", tags=["other", tag])
    run(metadata_store, "r3", tags=[f"{tag}-suffix"])
    assert _names(metadata_store, tags=[tag]) == (["r2"], 1)


@pytest.mark.parametrize(("needle", "lookalike"), [
    ("a_c", "abc"),
    ("0%", "00"),
    ("C:\\data", "C:data"),
], ids=["underscore", "percent", "backslash"])
def test_search_matches_the_text_literally(
    metadata_store: MetadataStore, needle: str, lookalike: str,
) -> None:
    run(metadata_store, "r1", display_name=f"x {lookalike} y")
    run(metadata_store, "r2", display_name=f"x {needle} y")
    assert _names(metadata_store, search=needle) == (["r2"], 1)


def test_search_ignores_case(metadata_store: MetadataStore) -> None:
    run(metadata_store, "r1", display_name="Alpha One")
    run(metadata_store, "r2", display_name="beta")
    assert _names(metadata_store, search="alpha") == (["r1"], 1)
    assert _names(metadata_store, search="ALPHA") == (["r1"], 1)
