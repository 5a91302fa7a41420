"""Artifacts in the SQL metadata store: a mixin that ``SqlMetadataStore`` inherits.

Concurrency: a commit locks the version and its collection row, then takes the next
version index; the unique ``(collection_id, version_index)`` constraint is the backstop, and
a transaction that loses a race on any unique key is run again. SQLite takes its write lock
only at the first write, so there the artifact writes of one process are serialized by a
lock (SQLite serves a single process).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runyard.domain.artifacts import LATEST, hex_to_b64, version_index_of
from runyard.errors import Conflict, NotFound, Unavailable
from runyard.stores.metadata.base import (
    ARTIFACT_KINDS,
    ArtifactChanges,
    ArtifactFileRecord,
    ArtifactFileSpec,
    ArtifactRecord,
    ArtifactTypeRecord,
    BlobState,
    CollectionRecord,
    CollectionStats,
    CreatedArtifact,
    DeletedArtifact,
    NewArtifact,
)
from runyard.stores.metadata.sql import models as m
from runyard.stores.metadata.sql import races

if TYPE_CHECKING:
    from sqlalchemy import URL

T = TypeVar("T")

_ATTEMPTS = 6
_CHUNK = 500
_SQLITE_WRITES = threading.Lock()


class SqlArtifactsMixin:
    if TYPE_CHECKING:
        url: URL

        def _tx(self) -> AbstractContextManager[Session]: ...

    # writes ------------------------------------------------------------------------------
    def create_artifact(self, spec: NewArtifact, now: float) -> CreatedArtifact:
        return self._retrying(lambda: self._create_artifact(spec, now))

    def _create_artifact(self, spec: NewArtifact, now: float) -> CreatedArtifact:
        with self._write() as s:
            project_id = s.scalar(
                select(m.Project.id).join(m.Entity, m.Entity.id == m.Project.entity_id)
                .where(m.Entity.name == spec.entity, m.Project.name == spec.project))
            if project_id is None:
                raise NotFound(f"project {spec.entity}/{spec.project} does not exist")
            # Locking reads throughout: on MySQL they see rows other writers just committed
            # (a plain read would see this transaction's older snapshot).
            found = s.execute(
                select(m.ArtifactCollection, m.ArtifactType.name)
                .join(m.ArtifactType, m.ArtifactType.id == m.ArtifactCollection.type_id)
                .where(m.ArtifactCollection.project_id == project_id,
                       m.ArtifactCollection.name == spec.collection).with_for_update()).first()
            coll = found[0] if found else None
            if coll is None:
                type_id = _type_id(s, project_id, spec.type_name, now)
                coll = m.ArtifactCollection(project_id=project_id, type_id=type_id,
                                            name=spec.collection, description=None,
                                            created_at=now, updated_at=now)
                s.add(coll)
                s.flush()
            else:
                existing_type = found[1] if found else None
                if existing_type != spec.type_name:
                    raise Conflict(
                        f"artifact {spec.collection!r} already exists with type "
                        f"{existing_type!r}; it cannot be logged as type {spec.type_name!r}")
            latest = _newest_committed(s, coll.id)
            if spec.deduplicate:
                same = s.scalar(
                    select(m.Artifact).where(m.Artifact.collection_id == coll.id,
                                             m.Artifact.digest == spec.digest,
                                             m.Artifact.state == "COMMITTED")
                    .order_by(m.Artifact.version_index.desc()).limit(1).with_for_update())
                if same is not None:
                    _point_aliases(s, coll.id, same.id, [*spec.aliases, LATEST], now)
                    if spec.run_id is not None:
                        _add_lineage(s, same.id, spec.run_id, "output", now)
                    same.updated_at = now
                    s.flush()
                    return CreatedArtifact(_record(s, same.id), latest.id if latest else None,
                                           True)
            art = m.Artifact(
                collection_id=coll.id, version_index=None, state="PENDING", digest=spec.digest,
                description=spec.description, metadata_json=spec.metadata,
                tags=json.dumps(list(dict.fromkeys(spec.tags))),
                requested_aliases=json.dumps(list(dict.fromkeys(spec.aliases))),
                size=0, file_count=0, history_step=spec.history_step, run_id=spec.run_id,
                created_at=now, updated_at=now)
            s.add(art)
            s.flush()
            return CreatedArtifact(_record(s, art.id), latest.id if latest else None, False)

    def set_artifact_manifest(self, artifact_id: int, storage_key: str, digest: str) -> None:
        with self._write() as s:
            art = _pending(s, artifact_id)
            art.manifest_key, art.manifest_digest = storage_key, digest
            art.updated_at = time.time()

    def add_artifact_files(self, artifact_id: int, files: Sequence[tuple[str, str]],
                           now: float) -> dict[str, BlobState]:
        return self._retrying(lambda: self._add_artifact_files(artifact_id, files, now))

    def _add_artifact_files(self, artifact_id: int, files: Sequence[tuple[str, str]],
                            now: float) -> dict[str, BlobState]:
        with self._write() as s:
            _pending(s, artifact_id)
            md5s = sorted({md5 for _, md5 in files})
            blobs = _blobs(s, md5s, lock=True)
            for md5 in md5s:
                if md5 not in blobs:
                    blob = m.ArtifactBlob(md5=md5, size=None, stored=False, created_at=now)
                    s.add(blob)
                    blobs[md5] = blob
            latest_md5 = dict(files)
            rows: dict[str, m.ArtifactFile] = {}
            for part in _chunks(list(latest_md5)):
                for row in s.scalars(select(m.ArtifactFile).where(
                        m.ArtifactFile.artifact_id == artifact_id,
                        m.ArtifactFile.path.in_(part))):
                    rows[row.path] = row
            for path, md5 in latest_md5.items():
                existing = rows.get(path)
                if existing is None:
                    s.add(m.ArtifactFile(artifact_id=artifact_id, path=path,
                                         digest=hex_to_b64(md5), size=None, ref=None, md5=md5,
                                         updated_at=now))
                else:
                    existing.md5, existing.digest = md5, hex_to_b64(md5)
                    existing.updated_at = now
            s.flush()
            return {md5: BlobState(md5, bool(b.stored), b.size) for md5, b in blobs.items()}

    def artifact_blobs(self, md5s: Sequence[str]) -> dict[str, BlobState]:
        with self._tx() as s:
            return {md5: BlobState(md5, bool(b.stored), b.size)
                    for md5, b in _blobs(s, sorted(set(md5s)), lock=False).items()}

    def artifact_blob_stored(self, md5: str, size: int, now: float) -> bool:
        def mark() -> bool:
            with self._write() as s:
                blob = s.get(m.ArtifactBlob, md5, with_for_update=True)
                if blob is None:
                    s.add(m.ArtifactBlob(md5=md5, size=size, stored=True, created_at=now,
                                         stored_at=now))
                    return False
                blob.size, blob.stored, blob.stored_at = size, True, now
                return True

        return self._retrying(mark)

    def artifact_blob_rejected(self, md5: str) -> None:
        with self._write() as s:
            blob = s.get(m.ArtifactBlob, md5, with_for_update=True)
            if blob is not None:
                blob.stored, blob.size = False, None

    def commit_artifact(self, artifact_id: int, entries: Sequence[ArtifactFileSpec],
                        now: float) -> ArtifactRecord:
        return self._retrying(lambda: self._commit_artifact(artifact_id, entries, now))

    def _commit_artifact(self, artifact_id: int, entries: Sequence[ArtifactFileSpec],
                         now: float) -> ArtifactRecord:
        with self._write() as s:
            art = s.get(m.Artifact, artifact_id, with_for_update=True)
            if art is None:
                raise NotFound("artifact does not exist")
            if art.state == "COMMITTED":
                return _record(s, art.id)
            if art.state != "PENDING":
                raise Conflict("this artifact version was deleted; it cannot be committed")
            coll = s.get(m.ArtifactCollection, art.collection_id, with_for_update=True)
            if coll is None:
                raise NotFound("artifact collection does not exist")
            highest = s.scalar(
                select(m.Artifact.version_index)
                .where(m.Artifact.collection_id == coll.id, m.Artifact.version_index.is_not(None))
                .order_by(m.Artifact.version_index.desc()).limit(1).with_for_update())
            art.version_index = 0 if highest is None else int(highest) + 1
            s.execute(delete(m.ArtifactFile).where(m.ArtifactFile.artifact_id == artifact_id))
            rows = [{"artifact_id": artifact_id, "path": e.path, "digest": e.digest,
                     "size": e.size, "ref": e.ref, "md5": e.md5,
                     "birth_artifact_id": e.birth_artifact_id, "updated_at": now}
                    for e in entries]
            for part in _chunks(rows):
                s.execute(insert(m.ArtifactFile), part)
            art.size = sum(e.size or 0 for e in entries)
            art.file_count = len(entries)
            art.state, art.committed_at, art.updated_at = "COMMITTED", now, now
            requested = [str(a) for a in json.loads(art.requested_aliases or "[]")]
            _point_aliases(s, coll.id, art.id, [*requested, LATEST], now)
            if art.run_id is not None:
                _add_lineage(s, art.id, art.run_id, "output", now)
            coll.updated_at = now
            s.flush()
            return _record(s, art.id)

    def use_artifact(self, artifact_id: int, run_id: int, now: float) -> None:
        def use() -> None:
            with self._write() as s:
                _committed(s, artifact_id)
                _add_lineage(s, artifact_id, run_id, "input", now)

        self._retrying(use)

    def update_artifact(self, artifact_id: int, changes: ArtifactChanges, now: float
                        ) -> ArtifactRecord:
        def update() -> ArtifactRecord:
            with self._write() as s:
                art = _committed(s, artifact_id, lock=True)
                if changes.description is not None:
                    art.description = changes.description
                if changes.metadata is not None:
                    art.metadata_json = changes.metadata
                if changes.tags_to_add or changes.tags_to_remove:
                    tags = [t for t in json.loads(art.tags or "[]")
                            if t not in changes.tags_to_remove]
                    art.tags = json.dumps(list(dict.fromkeys([*tags, *changes.tags_to_add])))
                if changes.aliases is not None:
                    current = _aliases_of(s, artifact_id)
                    _drop_aliases(s, artifact_id, [a for a in current
                                                   if a not in changes.aliases])
                    _point_aliases(s, art.collection_id, artifact_id, changes.aliases, now)
                art.updated_at = now
                s.flush()
                return _record(s, artifact_id)

        return self._retrying(update)

    def add_artifact_aliases(self, artifact_id: int, aliases: Sequence[str], now: float
                             ) -> ArtifactRecord:
        def add() -> ArtifactRecord:
            with self._write() as s:
                art = _committed(s, artifact_id, lock=True)
                _point_aliases(s, art.collection_id, artifact_id, aliases, now)
                art.updated_at = now
                s.flush()
                return _record(s, artifact_id)

        return self._retrying(add)

    def remove_artifact_aliases(self, artifact_id: int, aliases: Sequence[str]
                                ) -> ArtifactRecord:
        with self._write() as s:
            _committed(s, artifact_id, lock=True)
            _drop_aliases(s, artifact_id, aliases)
            s.flush()
            return _record(s, artifact_id)

    def delete_artifact(self, artifact_id: int, *, delete_aliases: bool, now: float
                        ) -> DeletedArtifact:
        return self._retrying(lambda: self._delete_artifact(artifact_id, delete_aliases, now))

    def _delete_artifact(self, artifact_id: int, delete_aliases: bool, now: float
                         ) -> DeletedArtifact:
        with self._write() as s:
            art = s.get(m.Artifact, artifact_id, with_for_update=True)
            if art is None:
                raise NotFound("artifact does not exist")
            if art.state == "DELETED":
                return DeletedArtifact(_record(s, art.id), [], None)
            aliases = _aliases_of(s, artifact_id)
            if aliases and not delete_aliases:
                raise Conflict(
                    f"this artifact version has aliases ({', '.join(aliases)}): remove them "
                    "first, or delete it with delete_aliases=True")
            _drop_aliases(s, artifact_id, aliases)
            md5s = sorted({str(x) for x in s.scalars(
                select(m.ArtifactFile.md5).where(m.ArtifactFile.artifact_id == artifact_id,
                                                 m.ArtifactFile.md5.is_not(None)))})
            s.execute(delete(m.ArtifactFile).where(m.ArtifactFile.artifact_id == artifact_id))
            art.state, art.updated_at = "DELETED", now
            s.flush()
            if LATEST in aliases:
                newest = _newest_committed(s, art.collection_id)
                if newest is not None:
                    _point_aliases(s, art.collection_id, newest.id, [LATEST], now)
            # Lock the blobs first, then look for other references with locking reads, so a
            # concurrent CreateArtifactFiles either sees the blob gone or keeps it referenced.
            _blobs(s, md5s, lock=True)
            referenced: set[str] = set()
            for part in _chunks(md5s):
                referenced.update(str(x) for x in s.scalars(
                    select(m.ArtifactFile.md5).where(m.ArtifactFile.md5.in_(part))
                    .with_for_update()))
            freed = [x for x in md5s if x not in referenced]
            for part in _chunks(freed):
                s.execute(delete(m.ArtifactBlob).where(m.ArtifactBlob.md5.in_(part)))
            s.flush()
            return DeletedArtifact(_record(s, art.id), freed, art.manifest_key)

    # reads -------------------------------------------------------------------------------
    def get_artifact(self, artifact_id: int) -> ArtifactRecord | None:
        with self._tx() as s:
            records = _records(s, [m.Artifact.id == artifact_id])
            return records[0] if records else None

    def find_artifact(self, entity: str, project: str, collection: str, alias: str
                      ) -> ArtifactRecord | None:
        with self._tx() as s:
            coll_id = _collection_id(s, entity, project, collection)
            if coll_id is None:
                return None
            index = version_index_of(alias)
            if index is not None:
                where = [m.Artifact.collection_id == coll_id, m.Artifact.version_index == index]
            else:
                artifact_id = s.scalar(select(m.ArtifactAlias.artifact_id).where(
                    m.ArtifactAlias.collection_id == coll_id, m.ArtifactAlias.alias == alias))
                if artifact_id is None:
                    return None
                where = [m.Artifact.id == artifact_id]
            records = _records(s, [*where, m.Artifact.state == "COMMITTED"])
            return records[0] if records else None

    def list_artifact_types(self, entity: str, project: str, *, limit: int, offset: int
                            ) -> list[ArtifactTypeRecord]:
        with self._tx() as s:
            rows = s.scalars(
                select(m.ArtifactType).join(m.Project, m.Project.id == m.ArtifactType.project_id)
                .join(m.Entity, m.Entity.id == m.Project.entity_id)
                .where(m.Entity.name == entity, m.Project.name == project)
                .order_by(m.ArtifactType.id).limit(limit).offset(offset)).all()
            return [_type_record(r) for r in rows]

    def get_artifact_type(self, entity: str, project: str, name: str
                          ) -> ArtifactTypeRecord | None:
        with self._tx() as s:
            row = s.scalar(
                select(m.ArtifactType).join(m.Project, m.Project.id == m.ArtifactType.project_id)
                .join(m.Entity, m.Entity.id == m.Project.entity_id)
                .where(m.Entity.name == entity, m.Project.name == project,
                       m.ArtifactType.name == name))
            return _type_record(row) if row else None

    def get_collection(self, entity: str, project: str, name: str) -> CollectionRecord | None:
        with self._tx() as s:
            rows = _collections(s, [m.Entity.name == entity, m.Project.name == project,
                                    m.ArtifactCollection.name == name], limit=1, offset=0)
            return rows[0] if rows else None

    def get_collection_by_id(self, collection_id: int) -> CollectionRecord | None:
        with self._tx() as s:
            rows = _collections(s, [m.ArtifactCollection.id == collection_id], limit=1,
                                offset=0)
            return rows[0] if rows else None

    def list_collections(self, entity: str, project: str, *, type_name: str | None,
                         limit: int, offset: int) -> tuple[list[CollectionRecord], int]:
        where: list[Any] = [m.Entity.name == entity, m.Project.name == project]
        if type_name is not None:
            where.append(m.ArtifactType.name == type_name)
        with self._tx() as s:
            total = s.scalar(_collection_joins(select(func.count())).where(*where)) or 0
            return _collections(s, where, limit=limit, offset=offset), int(total)

    def collection_stats(self, collection_ids: Sequence[int]) -> dict[int, CollectionStats]:
        found: dict[int, CollectionStats] = {}
        with self._tx() as s:
            for part in _chunks(sorted(set(collection_ids))):
                for coll_id, count, highest in s.execute(
                        select(m.Artifact.collection_id, func.count(),
                               func.max(m.Artifact.version_index))
                        .where(m.Artifact.collection_id.in_(part),
                               m.Artifact.state == "COMMITTED")
                        .group_by(m.Artifact.collection_id)):
                    found[int(coll_id)] = CollectionStats(
                        int(count), int(highest) if highest is not None else None)
        return found

    def list_collection_aliases(self, collection_id: int) -> list[tuple[str, int]]:
        with self._tx() as s:
            rows = s.execute(
                select(m.ArtifactAlias.alias, m.ArtifactAlias.artifact_id)
                .where(m.ArtifactAlias.collection_id == collection_id)
                .order_by(m.ArtifactAlias.alias)).all()
            return [(str(a), int(i)) for a, i in rows]

    def list_artifacts(self, collection_id: int, *, states: Sequence[str], descending: bool,
                       limit: int, offset: int) -> tuple[list[ArtifactRecord], int]:
        where = [m.Artifact.collection_id == collection_id, m.Artifact.state.in_(list(states))]
        index = m.Artifact.version_index
        order = ([index.is_(None), index.desc(), m.Artifact.id.desc()] if descending
                 else [index.is_(None), index.asc(), m.Artifact.id.asc()])
        with self._tx() as s:
            total = s.scalar(select(func.count()).select_from(m.Artifact).where(*where)) or 0
            return _records(s, where, order=order, limit=limit, offset=offset), int(total)

    def list_run_artifacts(self, run_id: int, kind: str, *, limit: int, offset: int
                           ) -> tuple[list[ArtifactRecord], int]:
        if kind not in ARTIFACT_KINDS:
            raise ValueError(f"kind must be one of {ARTIFACT_KINDS}")
        linked = (select(m.ArtifactLineage.artifact_id)
                  .where(m.ArtifactLineage.run_id == run_id, m.ArtifactLineage.kind == kind))
        where = [m.Artifact.id.in_(linked), m.Artifact.state == "COMMITTED"]
        with self._tx() as s:
            total = s.scalar(select(func.count()).select_from(m.Artifact).where(*where)) or 0
            records = _records(s, where, order=[m.Artifact.id], limit=limit, offset=offset)
            return records, int(total)

    def artifact_run_ids(self, artifact_id: int, kind: str) -> list[int]:
        with self._tx() as s:
            return [int(r) for r in s.scalars(
                select(m.ArtifactLineage.run_id)
                .where(m.ArtifactLineage.artifact_id == artifact_id,
                       m.ArtifactLineage.kind == kind)
                .order_by(m.ArtifactLineage.created_at, m.ArtifactLineage.run_id))]

    def list_artifact_files(self, artifact_id: int, *, names: Sequence[str] | None,
                            limit: int, offset: int) -> tuple[list[ArtifactFileRecord], int]:
        where: list[Any] = [m.ArtifactFile.artifact_id == artifact_id]
        if names is not None:
            where.append(m.ArtifactFile.path.in_(list(names)))
        with self._tx() as s:
            total = s.scalar(select(func.count()).select_from(m.ArtifactFile).where(*where))
            rows = s.scalars(select(m.ArtifactFile).where(*where).order_by(m.ArtifactFile.path)
                             .limit(limit).offset(offset)).all()
            return ([ArtifactFileRecord(r.id, r.artifact_id, r.path, r.digest, r.size, r.ref,
                                        r.md5, r.updated_at) for r in rows], int(total or 0))

    # helpers -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        lock: AbstractContextManager[Any] = (
            _SQLITE_WRITES if self.url.get_backend_name() == "sqlite"
            else contextlib.nullcontext())
        # Every backend runs READ COMMITTED (MySQL's is set on its engine, see store.open):
        # reads in a write see what other writers committed, and no gap locks.
        with lock, self._tx() as s:
            yield s

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a write again when it lost a race on a unique key (another writer won)."""
        for number in range(1, _ATTEMPTS + 1):
            try:
                return attempt()
            except (Conflict, Unavailable) as exc:
                if not _lost_race(exc) or number == _ATTEMPTS:
                    raise
                time.sleep(0.005 * number)
        raise AssertionError("unreachable")


def _lost_race(exc: Exception) -> bool:
    """A unique key another writer took first, or a deadlock the database broke."""
    return isinstance(exc.__cause__, IntegrityError) or races.deadlocked(exc)


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _type_id(s: Session, project_id: int, name: str, now: float) -> int:
    type_id = s.scalar(select(m.ArtifactType.id).where(m.ArtifactType.project_id == project_id,
                                                       m.ArtifactType.name == name))
    if type_id is None:
        row = m.ArtifactType(project_id=project_id, name=name, description=None, created_at=now)
        s.add(row)
        s.flush()
        type_id = row.id
    return int(type_id)


def _pending(s: Session, artifact_id: int) -> m.Artifact:
    art = s.get(m.Artifact, artifact_id, with_for_update=True)
    if art is None:
        raise NotFound("artifact does not exist")
    if art.state != "PENDING":
        raise Conflict(f"this artifact version is {art.state}, not PENDING: it cannot change")
    return art


def _committed(s: Session, artifact_id: int, *, lock: bool = False) -> m.Artifact:
    art = s.get(m.Artifact, artifact_id, with_for_update=lock)
    if art is None or art.state == "DELETED":
        raise NotFound("artifact does not exist")
    if art.state != "COMMITTED":
        raise Conflict("this artifact version is not committed yet")
    return art


def _newest_committed(s: Session, collection_id: int) -> m.Artifact | None:
    return s.scalar(select(m.Artifact).where(m.Artifact.collection_id == collection_id,
                                             m.Artifact.state == "COMMITTED")
                    .order_by(m.Artifact.version_index.desc()).limit(1).with_for_update())


def _blobs(s: Session, md5s: list[str], *, lock: bool) -> dict[str, m.ArtifactBlob]:
    found: dict[str, m.ArtifactBlob] = {}
    for part in _chunks(md5s):
        stmt = select(m.ArtifactBlob).where(m.ArtifactBlob.md5.in_(part))
        for blob in s.scalars(stmt.with_for_update() if lock else stmt):
            found[blob.md5] = blob
    return found


def _point_aliases(s: Session, collection_id: int, artifact_id: int, aliases: Sequence[str],
                   now: float) -> None:
    for alias in dict.fromkeys(aliases):
        row = s.scalar(select(m.ArtifactAlias).where(m.ArtifactAlias.collection_id == collection_id,
                                                     m.ArtifactAlias.alias == alias)
                       .with_for_update())
        if row is None:
            s.add(m.ArtifactAlias(collection_id=collection_id, artifact_id=artifact_id,
                                  alias=alias, created_at=now))
        else:
            row.artifact_id = artifact_id
    s.flush()


def _drop_aliases(s: Session, artifact_id: int, aliases: Sequence[str]) -> None:
    if aliases:
        s.execute(delete(m.ArtifactAlias).where(m.ArtifactAlias.artifact_id == artifact_id,
                                                m.ArtifactAlias.alias.in_(list(aliases))))


def _aliases_of(s: Session, artifact_id: int) -> list[str]:
    return [str(a) for a in s.scalars(select(m.ArtifactAlias.alias)
                                      .where(m.ArtifactAlias.artifact_id == artifact_id)
                                      .order_by(m.ArtifactAlias.alias))]


def _add_lineage(s: Session, artifact_id: int, run_id: int, kind: str, now: float) -> None:
    if s.get(m.ArtifactLineage, (artifact_id, run_id, kind)) is None:
        s.add(m.ArtifactLineage(artifact_id=artifact_id, run_id=run_id, kind=kind,
                                created_at=now))
        s.flush()


def _collection_id(s: Session, entity: str, project: str, name: str) -> int | None:
    value = s.scalar(
        select(m.ArtifactCollection.id)
        .join(m.Project, m.Project.id == m.ArtifactCollection.project_id)
        .join(m.Entity, m.Entity.id == m.Project.entity_id)
        .where(m.Entity.name == entity, m.Project.name == project,
               m.ArtifactCollection.name == name))
    return int(value) if value is not None else None


def _collection_joins(stmt: Any) -> Any:
    return (stmt.select_from(m.ArtifactCollection)
            .join(m.Project, m.Project.id == m.ArtifactCollection.project_id)
            .join(m.Entity, m.Entity.id == m.Project.entity_id)
            .join(m.ArtifactType, m.ArtifactType.id == m.ArtifactCollection.type_id))


def _collections(s: Session, where: list[Any], *, limit: int, offset: int
                 ) -> list[CollectionRecord]:
    rows = s.execute(
        _collection_joins(select(m.ArtifactCollection, m.Entity.name, m.Project.name,
                                 m.ArtifactType.name))
        .where(*where)
        .order_by(m.ArtifactCollection.updated_at.desc(), m.ArtifactCollection.id.desc())
        .limit(limit).offset(offset)).all()
    return [CollectionRecord(c.id, c.project_id, str(e), str(p), str(t), c.name, c.description,
                             c.created_at, c.updated_at) for c, e, p, t in rows]


def _type_record(r: m.ArtifactType) -> ArtifactTypeRecord:
    return ArtifactTypeRecord(r.id, r.project_id, r.name, r.description, r.created_at)


def _record(s: Session, artifact_id: int) -> ArtifactRecord:
    return _records(s, [m.Artifact.id == artifact_id])[0]


def _records(s: Session, where: list[Any], *, order: list[Any] | None = None,
             limit: int | None = None, offset: int = 0) -> list[ArtifactRecord]:
    stmt = (select(m.Artifact, m.ArtifactCollection.name, m.ArtifactCollection.project_id,
                   m.Entity.name, m.Project.name, m.ArtifactType.name)
            .join(m.ArtifactCollection, m.ArtifactCollection.id == m.Artifact.collection_id)
            .join(m.Project, m.Project.id == m.ArtifactCollection.project_id)
            .join(m.Entity, m.Entity.id == m.Project.entity_id)
            .join(m.ArtifactType, m.ArtifactType.id == m.ArtifactCollection.type_id)
            .where(*where).order_by(*(order or [m.Artifact.id])).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = s.execute(stmt).all()
    aliases: dict[int, list[str]] = {}
    ids = [a.id for a, *_ in rows]
    for part in _chunks(ids):
        for alias, artifact_id in s.execute(
                select(m.ArtifactAlias.alias, m.ArtifactAlias.artifact_id)
                .where(m.ArtifactAlias.artifact_id.in_(part)).order_by(m.ArtifactAlias.alias)):
            aliases.setdefault(int(artifact_id), []).append(str(alias))
    out = []
    for a, coll, project_id, entity, project, type_name in rows:
        tags = json.loads(a.tags or "[]")
        out.append(ArtifactRecord(
            id=a.id, collection_id=a.collection_id, collection=str(coll),
            project_id=int(project_id), entity=str(entity), project=str(project),
            type_name=str(type_name), version_index=a.version_index, state=a.state,
            digest=a.digest, description=a.description, metadata=a.metadata_json or "{}",
            tags=[str(t) for t in tags] if isinstance(tags, list) else [],
            aliases=aliases.get(a.id, []), size=int(a.size or 0),
            file_count=int(a.file_count or 0), history_step=a.history_step, run_id=a.run_id,
            manifest_key=a.manifest_key, manifest_digest=a.manifest_digest,
            created_at=a.created_at, updated_at=a.updated_at))
    return out
