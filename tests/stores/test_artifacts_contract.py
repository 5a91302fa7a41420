"""Contract of the metadata store's artifact part, run against every adapter (see conftest):
versions, aliases, digest dedup, content-addressed blobs, lineage, deletion, concurrency."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pytest

from runyard.errors import Conflict, NotFound
from runyard.stores.metadata.base import (
    ArtifactChanges,
    ArtifactFileSpec,
    ArtifactRecord,
    CollectionStats,
    MetadataStore,
    NewArtifact,
    RunFields,
    RunRecord,
)

ENTITY = "alice"
PROJECT = "proj"
T0 = 1_732_900_000.0


def make_run(store: MetadataStore, name: str = "run1") -> RunRecord:
    user = store.get_user(ENTITY) or store.create_user(ENTITY)
    record, _ = store.upsert_run(ENTITY, PROJECT, name, user_id=user.id, fields=RunFields(),
                                 make_display_name=lambda n: f"run-{n}")
    return record


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324


def spec(run: RunRecord | None, digest: str, *, name: str = "data", type_name: str = "dataset",
         aliases: tuple[str, ...] = (), **extra: Any) -> NewArtifact:
    return NewArtifact(entity=ENTITY, project=PROJECT, run_id=run.id if run else None,
                       type_name=type_name, collection=name, digest=digest, aliases=aliases,
                       **extra)


def files(*contents: str) -> list[ArtifactFileSpec]:
    return [ArtifactFileSpec(f"f{i}.txt", f"b64-{i}", len(c), None, md5(c))
            for i, c in enumerate(contents)]


def log(store: MetadataStore, run: RunRecord | None, digest: str, *contents: str,
        **kwargs: Any) -> ArtifactRecord:
    """Create, register files, mark blobs stored and commit: what a client's log does."""
    created = store.create_artifact(spec(run, digest, **kwargs), T0)
    if created.deduplicated:
        return created.artifact
    entries = files(*contents)
    store.add_artifact_files(created.artifact.id, [(e.path, e.md5 or "") for e in entries], T0)
    for e in entries:
        store.artifact_blob_stored(e.md5 or "", e.size or 0, T0)
    return store.commit_artifact(created.artifact.id, entries, T0 + 1)


# versions and aliases ------------------------------------------------------------------------
def test_versions_count_up_and_latest_moves(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    created = metadata_store.create_artifact(spec(run, "d0", description="first",
                                                  metadata='{"rows": 3}'), T0)
    assert not created.deduplicated
    assert created.latest_id is None
    pending = created.artifact
    assert (pending.state, pending.version_index, pending.aliases) == ("PENDING", None, [])
    assert metadata_store.find_artifact(ENTITY, PROJECT, "data", "latest") is None

    v0 = metadata_store.commit_artifact(pending.id, files("a", "bb"), T0 + 1)
    assert (v0.state, v0.version_index, v0.aliases) == ("COMMITTED", 0, ["latest"])
    assert (v0.size, v0.file_count, v0.description, v0.metadata) == (3, 2, "first", '{"rows": 3}')
    assert (v0.collection, v0.type_name, v0.entity, v0.project) == ("data", "dataset", ENTITY,
                                                                    PROJECT)
    # committing again is idempotent
    assert metadata_store.commit_artifact(pending.id, files("x"), T0 + 2) == v0

    created1 = metadata_store.create_artifact(spec(run, "d1"), T0)
    assert created1.latest_id == v0.id
    v1 = metadata_store.commit_artifact(created1.artifact.id, files("c"), T0 + 3)
    assert v1.version_index == 1
    assert v1.aliases == ["latest"]
    assert metadata_store.get_artifact(v0.id).aliases == []  # type: ignore[union-attr]
    find = metadata_store.find_artifact
    assert find(ENTITY, PROJECT, "data", "latest").id == v1.id  # type: ignore[union-attr]
    assert find(ENTITY, PROJECT, "data", "v0").id == v0.id  # type: ignore[union-attr]
    assert find(ENTITY, PROJECT, "data", "v1").id == v1.id  # type: ignore[union-attr]
    assert find(ENTITY, PROJECT, "data", "v2") is None
    assert find(ENTITY, PROJECT, "data", "nope") is None
    assert find(ENTITY, PROJECT, "other", "latest") is None
    assert find(ENTITY, "no-project", "data", "latest") is None


def test_custom_aliases_move_between_versions(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    v0 = log(metadata_store, run, "d0", "a", aliases=("best", "first"))
    assert v0.aliases == ["best", "first", "latest"]
    v1 = log(metadata_store, run, "d1", "b", aliases=("best",))
    assert v1.aliases == ["best", "latest"]
    assert metadata_store.get_artifact(v0.id).aliases == ["first"]  # type: ignore[union-attr]

    moved = metadata_store.add_artifact_aliases(v0.id, ["best", "prod"], T0)
    assert moved.aliases == ["best", "first", "prod"]
    assert metadata_store.get_artifact(v1.id).aliases == ["latest"]  # type: ignore[union-attr]
    kept = metadata_store.remove_artifact_aliases(v0.id, ["prod", "latest"])  # latest: not v0's
    assert kept.aliases == ["best", "first"]
    assert metadata_store.get_artifact(v1.id).aliases == ["latest"]  # type: ignore[union-attr]
    assert metadata_store.list_collection_aliases(v0.collection_id) == [
        ("best", v0.id), ("first", v0.id), ("latest", v1.id)]


def test_same_digest_is_deduplicated_and_aliases_merged(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    v0 = log(metadata_store, run, "same", "a")
    v1 = log(metadata_store, run, "other", "b")
    second = make_run(metadata_store, "run2")
    again = metadata_store.create_artifact(spec(second, "same", aliases=("again",)), T0 + 10)
    assert again.deduplicated
    assert again.latest_id == v1.id
    assert again.artifact.id == v0.id
    assert again.artifact.state == "COMMITTED"
    assert again.artifact.aliases == ["again", "latest"]
    versions, total = metadata_store.list_artifacts(v0.collection_id, states=("COMMITTED",),
                                                    descending=False, limit=10, offset=0)
    assert total == 2
    assert [v.version_index for v in versions] == [0, 1]
    assert metadata_store.artifact_run_ids(v0.id, "output") == [run.id, second.id]
    # without deduplication a new version is made
    fresh = metadata_store.create_artifact(spec(run, "same", deduplicate=False), T0)
    assert not fresh.deduplicated
    assert fresh.artifact.state == "PENDING"


def test_a_name_keeps_its_type(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    log(metadata_store, run, "d0", "a")
    with pytest.raises(Conflict, match="type"):
        metadata_store.create_artifact(spec(run, "d1", type_name="model"), T0)
    with pytest.raises(NotFound):
        metadata_store.create_artifact(
            NewArtifact(entity=ENTITY, project="missing", run_id=None, type_name="dataset",
                        collection="data", digest="d"), T0)


def test_names_and_aliases_are_case_sensitive(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    lower = log(metadata_store, run, "d0", "a", name="data", aliases=("best",))
    upper = log(metadata_store, run, "d1", "b", name="Data", aliases=("Best",))
    assert lower.collection_id != upper.collection_id
    assert upper.aliases == ["Best", "latest"]
    entries = [ArtifactFileSpec("A.txt", "x", 1, None, md5("1")),
               ArtifactFileSpec("a.txt", "y", 1, None, md5("2"))]
    created = metadata_store.create_artifact(spec(run, "d2"), T0)
    committed = metadata_store.commit_artifact(created.artifact.id, entries, T0)
    listed, _ = metadata_store.list_artifact_files(committed.id, names=None, limit=10, offset=0)
    assert [f.path for f in listed] == ["A.txt", "a.txt"]


# files and blobs -----------------------------------------------------------------------------
def test_blobs_are_shared_across_artifacts(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    pending = metadata_store.create_artifact(spec(run, "d0"), T0).artifact
    states = metadata_store.add_artifact_files(pending.id, [("a.txt", md5("a")),
                                                            ("b.txt", md5("b"))], T0)
    assert {k: v.stored for k, v in states.items()} == {md5("a"): False, md5("b"): False}
    assert metadata_store.artifact_blob_stored(md5("a"), 1, T0) is True
    assert metadata_store.artifact_blobs([md5("a"), md5("b"), md5("zzz")]) == {
        md5("a"): states[md5("a")].__class__(md5("a"), True, 1),
        md5("b"): states[md5("b")].__class__(md5("b"), False, None),
    }
    other = metadata_store.create_artifact(spec(run, "e0", name="other"), T0).artifact
    again = metadata_store.add_artifact_files(other.id, [("copy.txt", md5("a"))], T0)
    assert again[md5("a")].stored
    assert again[md5("a")].size == 1
    metadata_store.artifact_blob_rejected(md5("a"))
    assert not metadata_store.artifact_blobs([md5("a")])[md5("a")].stored
    # a blob nobody asked for is recorded, and says so
    assert metadata_store.artifact_blob_stored(md5("new"), 3, T0) is False
    assert metadata_store.artifact_blobs([md5("new")])[md5("new")].stored
    # files may only be added while pending
    v0 = metadata_store.commit_artifact(pending.id, files("a"), T0)
    with pytest.raises(Conflict):
        metadata_store.add_artifact_files(v0.id, [("late.txt", md5("late"))], T0)
    with pytest.raises(Conflict):
        metadata_store.set_artifact_manifest(v0.id, "k", "d")


def test_commit_records_the_manifest_entries(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    pending = metadata_store.create_artifact(spec(run, "d0"), T0).artifact
    metadata_store.set_artifact_manifest(pending.id, "artifacts/manifests/1/m.json", "xyz==")
    entries = [ArtifactFileSpec(f"dir/{i:03d}.bin", f"d{i}", i, None, md5(str(i)), pending.id)
               for i in range(120)]
    entries.append(ArtifactFileSpec("ref.csv", "etag", 7, "s3://bucket/ref.csv", None))
    v0 = metadata_store.commit_artifact(pending.id, entries, T0)
    assert (v0.file_count, v0.size) == (121, sum(range(120)) + 7)
    assert (v0.manifest_key, v0.manifest_digest) == ("artifacts/manifests/1/m.json", "xyz==")
    page1, total = metadata_store.list_artifact_files(v0.id, names=None, limit=100, offset=0)
    page2, _ = metadata_store.list_artifact_files(v0.id, names=None, limit=100, offset=100)
    assert total == 121
    assert len(page1) == 100
    assert len(page2) == 21
    assert [f.path for f in page1 + page2] == sorted(e.path for e in entries)
    ref = page2[-1]
    assert (ref.path, ref.ref, ref.md5, ref.digest, ref.size) == (
        "ref.csv", "s3://bucket/ref.csv", None, "etag", 7)
    named, count = metadata_store.list_artifact_files(v0.id, names=["dir/005.bin", "missing"],
                                                      limit=10, offset=0)
    assert count == 1
    assert named[0].md5 == md5("5")
    assert named[0].digest == "d5"


# lineage, listing, updates --------------------------------------------------------------------
def test_lineage_and_listings(metadata_store: MetadataStore) -> None:
    producer = make_run(metadata_store, "producer")
    consumer = make_run(metadata_store, "consumer")
    v0 = log(metadata_store, producer, "d0", "a")
    model = log(metadata_store, producer, "m0", "w", name="model", type_name="model")
    pending = metadata_store.create_artifact(spec(producer, "d1"), T0).artifact
    metadata_store.use_artifact(v0.id, consumer.id, T0)
    metadata_store.use_artifact(v0.id, consumer.id, T0)  # twice: recorded once
    with pytest.raises(Conflict):
        metadata_store.use_artifact(pending.id, consumer.id, T0)

    logged, total = metadata_store.list_run_artifacts(producer.id, "output", limit=10, offset=0)
    assert total == 2
    assert [a.id for a in logged] == [v0.id, model.id]
    used, total = metadata_store.list_run_artifacts(consumer.id, "input", limit=10, offset=0)
    assert total == 1
    assert used[0].id == v0.id
    assert metadata_store.artifact_run_ids(v0.id, "output") == [producer.id]
    assert metadata_store.artifact_run_ids(v0.id, "input") == [consumer.id]
    assert v0.run_id == producer.id

    types = metadata_store.list_artifact_types(ENTITY, PROJECT, limit=10, offset=0)
    assert [t.name for t in types] == ["dataset", "model"]
    assert metadata_store.get_artifact_type(ENTITY, PROJECT, "model").name == "model"  # type: ignore[union-attr]
    assert metadata_store.get_artifact_type(ENTITY, PROJECT, "nope") is None
    all_collections, count = metadata_store.list_collections(ENTITY, PROJECT, type_name=None,
                                                             limit=10, offset=0)
    assert count == 2
    assert {c.name for c in all_collections} == {"data", "model"}
    models, count = metadata_store.list_collections(ENTITY, PROJECT, type_name="model",
                                                    limit=10, offset=0)
    assert count == 1
    assert models[0].name == "model"
    assert models[0].type_name == "model"
    data = metadata_store.get_collection(ENTITY, PROJECT, "data")
    assert data is not None
    assert metadata_store.get_collection_by_id(data.id) == data
    assert metadata_store.get_collection(ENTITY, PROJECT, "nope") is None

    everything, count = metadata_store.list_artifacts(
        data.id, states=("PENDING", "COMMITTED"), descending=True, limit=10, offset=0)
    assert count == 2
    assert [a.state for a in everything] == ["COMMITTED", "PENDING"]


def test_collection_stats_count_committed_versions(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    log(metadata_store, run, "d0", "a")
    v1 = log(metadata_store, run, "d1", "b")
    log(metadata_store, run, "d2", "c")
    metadata_store.create_artifact(spec(run, "d3"), T0)  # pending: not counted
    log(metadata_store, run, "m0", "w", name="model", type_name="model")
    metadata_store.create_artifact(spec(run, "p0", name="unborn"), T0)
    data = metadata_store.get_collection(ENTITY, PROJECT, "data")
    model = metadata_store.get_collection(ENTITY, PROJECT, "model")
    unborn = metadata_store.get_collection(ENTITY, PROJECT, "unborn")
    assert data is not None
    assert model is not None
    assert unborn is not None

    stats = metadata_store.collection_stats([data.id, model.id, unborn.id, 10_000_000])
    assert stats == {data.id: CollectionStats(3, 2), model.id: CollectionStats(1, 0)}
    assert metadata_store.collection_stats([]) == {}

    metadata_store.delete_artifact(v1.id, delete_aliases=True, now=T0)
    assert metadata_store.collection_stats([data.id]) == {data.id: CollectionStats(2, 2)}
    newest = metadata_store.find_artifact(ENTITY, PROJECT, "data", "latest")
    assert newest is not None
    metadata_store.delete_artifact(newest.id, delete_aliases=True, now=T0)
    assert metadata_store.collection_stats([data.id]) == {data.id: CollectionStats(1, 0)}


def test_update_artifact(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    v0 = log(metadata_store, run, "d0", "a", tags=("raw",), aliases=("old",))
    updated = metadata_store.update_artifact(v0.id, ArtifactChanges(
        description="new words", metadata='{"k": 1}', tags_to_add=("clean", "raw"),
        tags_to_remove=("raw",), aliases=("latest", "fresh")), T0 + 5)
    assert (updated.description, updated.metadata) == ("new words", '{"k": 1}')
    assert updated.tags == ["clean", "raw"] or updated.tags == ["clean"]
    assert updated.aliases == ["fresh", "latest"]
    unchanged = metadata_store.update_artifact(v0.id, ArtifactChanges(), T0 + 6)
    assert (unchanged.description, unchanged.aliases) == ("new words", ["fresh", "latest"])


# deletion ------------------------------------------------------------------------------------
def test_delete_frees_only_unreferenced_blobs(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    v0 = log(metadata_store, run, "d0", "shared", "only-v0", aliases=("best",))
    v1 = log(metadata_store, run, "d1", "shared", "only-v1")
    other = log(metadata_store, run, "o0", "only-v0", name="other")
    with pytest.raises(Conflict, match="aliases"):
        metadata_store.delete_artifact(v0.id, delete_aliases=False, now=T0)

    metadata_store.remove_artifact_aliases(v0.id, ["best"])
    deleted = metadata_store.delete_artifact(v0.id, delete_aliases=False, now=T0)
    assert deleted.artifact.state == "DELETED"
    assert deleted.freed_md5s == []  # "shared" is in v1, "only-v0" in other
    assert metadata_store.find_artifact(ENTITY, PROJECT, "data", "v0") is None

    deleted = metadata_store.delete_artifact(v1.id, delete_aliases=True, now=T0)
    assert sorted(deleted.freed_md5s) == sorted([md5("shared"), md5("only-v1")])
    assert metadata_store.artifact_blobs([md5("shared"), md5("only-v1"), md5("only-v0")]
                                         ).keys() == {md5("only-v0")}
    assert metadata_store.find_artifact(ENTITY, PROJECT, "data", "latest") is None
    again = metadata_store.delete_artifact(v1.id, delete_aliases=True, now=T0)
    assert again.freed_md5s == []
    assert again.manifest_key is None

    # a deleted version's index is never reused
    v2 = log(metadata_store, run, "d2", "new")
    assert v2.version_index == 2
    deleted = metadata_store.delete_artifact(other.id, delete_aliases=True, now=T0)
    assert deleted.freed_md5s == [md5("only-v0")]
    with pytest.raises(NotFound):
        metadata_store.delete_artifact(10_000_000, delete_aliases=True, now=T0)


def test_deleting_latest_moves_it_back(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    v0 = log(metadata_store, run, "d0", "a")
    v1 = log(metadata_store, run, "d1", "b")
    metadata_store.delete_artifact(v1.id, delete_aliases=True, now=T0)
    assert metadata_store.find_artifact(ENTITY, PROJECT, "data", "latest").id == v0.id  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        metadata_store.add_artifact_aliases(v1.id, ["x"], T0)


# concurrency ---------------------------------------------------------------------------------
def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_concurrent_logs_of_one_new_name_get_distinct_versions(
    metadata_store: MetadataStore,
) -> None:
    runs = [make_run(metadata_store, f"run{i}") for i in range(6)]
    done = in_threads(6, lambda i: log(metadata_store, runs[i], f"digest-{i}", f"content-{i}",
                                       name="contended"))
    assert sorted(a.version_index for a in done) == list(range(6))
    assert len({a.collection_id for a in done}) == 1
    latest = metadata_store.find_artifact(ENTITY, PROJECT, "contended", "latest")
    assert latest is not None
    assert latest.version_index == 5
