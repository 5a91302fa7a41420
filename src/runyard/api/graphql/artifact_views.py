"""GraphQL views of artifacts: versions, collections (sequences), memberships, aliases, types,
manifests and files, plus the mixins that give ``Project`` and ``Run`` their artifact fields.

As in views.py, graphql-core's default resolver reads the camelCase attributes and calls the
methods with ``(info, **arguments)``. views.py imports the mixins from here, so this module
imports views.py only inside functions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from runyard.domain import ids
from runyard.domain.artifacts import blob_key, hex_to_b64, split_name
from runyard.errors import BadRequest
from runyard.stores.metadata.base import (
    ArtifactFileRecord,
    ArtifactRecord,
    ArtifactTypeRecord,
    CollectionRecord,
    ProjectRecord,
    RunRecord,
)

if TYPE_CHECKING:
    from runyard.api.graphql.context import Context
    from runyard.api.graphql.views import ProjectView, RunView

Info = GraphQLResolveInfo

DEFAULT_PAGE = 50
MAX_PAGE = 10_000
ARTIFACT_STATES = ("PENDING", "COMMITTED")


def ctx(info: Info) -> Context:
    context: Context = info.context
    return context


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def page(after: str | None, first: int | None) -> tuple[int, int]:
    """(offset, limit) from a relay cursor (an offset as text) and a page size."""
    if after is not None and not after.isdigit():
        raise BadRequest("invalid cursor")
    limit = DEFAULT_PAGE if first is None else first
    if limit < 0:
        raise BadRequest("first must not be negative")
    return int(after or 0), min(limit, MAX_PAGE)


def connection(nodes: list[Any], offset: int, total: int, **extra: Any) -> dict[str, Any]:
    end = offset + len(nodes)
    return {
        "edges": [{"node": node, "cursor": str(offset + i + 1)} for i, node in enumerate(nodes)],
        "pageInfo": {"__typename": "PageInfo", "endCursor": str(end) if nodes else None,
                     "hasNextPage": end < total},
        "totalCount": total,
        **extra,
    }


def _collection(info: Info, collection_id: int) -> CollectionRecord | None:
    """A collection, looked up once per request."""
    cache = ctx(info).cache
    key = ("artifact-collection", collection_id)
    if key not in cache:
        cache[key] = ctx(info).runtime.store.get_collection_by_id(collection_id)
    record: CollectionRecord | None = cache[key]
    return record


def _project_view(info: Info, entity: str, project: str) -> ProjectView | None:
    from runyard.api.graphql.views import ProjectView

    cache = ctx(info).cache
    key = ("project", entity, project)
    if key not in cache:
        cache[key] = ctx(info).runtime.store.get_project(entity, project)
    record: ProjectRecord | None = cache[key]
    return ProjectView(record) if record else None


def _run_view(record: RunRecord) -> RunView:
    from runyard.api.graphql.views import RunView

    return RunView(record)


# types ---------------------------------------------------------------------------------------
class ArtifactTypeView:
    def __init__(self, record: ArtifactTypeRecord, entity: str, project: str) -> None:
        self._record = record
        self._entity, self._project = entity, project
        self.id = ids.encode("ArtifactType", record.id)
        self.name = record.name
        self.description = record.description
        self.createdAt = iso(record.created_at)

    def artifactCollection(self, info: Info, name: str) -> CollectionView | None:
        record = ctx(info).runtime.store.get_collection(self._entity, self._project, name)
        if record is None or record.type_name != self.name:
            return None
        return CollectionView(record)

    def artifactCollections(self, info: Info, after: str | None = None,
                            first: int | None = None, filters: str | None = None,
                            order: str | None = None) -> dict[str, Any]:
        return collections_page(info, self._entity, self._project, self.name, after, first,
                                filters, order)


def collections_page(info: Info, entity: str, project: str, type_name: str | None,
                     after: str | None, first: int | None, filters: str | None,
                     order: str | None) -> dict[str, Any]:
    if filters and json.loads(filters):
        raise BadRequest("filtering artifact collections is not supported")
    if order not in (None, "", "-createdAt", "-updatedAt"):
        raise BadRequest("ordering artifact collections is not supported")
    offset, limit = page(after, first)
    records, total = ctx(info).runtime.store.list_collections(
        entity, project, type_name=type_name, limit=limit, offset=offset)
    return connection([CollectionView(r) for r in records], offset, total)


# collections ---------------------------------------------------------------------------------
class CollectionView:
    """An artifact sequence: every version logged under one name in a project."""

    __typename = "ArtifactSequence"

    def __init__(self, record: CollectionRecord) -> None:
        self._record = record
        self.id = ids.encode("ArtifactCollection", record.id)
        self.name = record.name
        self.description = record.description
        self.createdAt = iso(record.created_at)
        self.updatedAt = iso(record.updated_at)
        self.defaultArtifactType = {"id": ids.encode_name("ArtifactType", record.type_name),
                                    "name": record.type_name}
        self.tags: dict[str, list[Any]] = {"edges": []}

    def project(self, info: Info) -> ProjectView | None:
        return _project_view(info, self._record.entity, self._record.project)

    def latestArtifact(self, info: Info) -> ArtifactView | None:
        records, _ = ctx(info).runtime.store.list_artifacts(
            self._record.id, states=("COMMITTED",), descending=True, limit=1, offset=0)
        return ArtifactView(records[0]) if records else None

    def artifactMembership(self, info: Info, aliasName: str) -> MembershipView | None:  # noqa: N803
        r = self._record
        record = ctx(info).runtime.store.find_artifact(r.entity, r.project, r.name, aliasName)
        return MembershipView(record, r) if record else None

    def artifacts(self, info: Info, after: str | None = None, first: int | None = None,
                  order: str | None = None, filters: str | None = None) -> dict[str, Any]:
        states = _states(filters)
        if order not in (None, "", "versionIndex", "+versionIndex", "-versionIndex",
                         "createdAt", "+createdAt", "-createdAt"):
            raise BadRequest(f"cannot order artifacts by {order!r}")
        descending = not order or order.startswith("-")
        offset, limit = page(after, first)
        records, total = ctx(info).runtime.store.list_artifacts(
            self._record.id, states=states, descending=descending, limit=limit, offset=offset)
        result = connection([ArtifactView(r) for r in records], offset, total)
        for edge, record in zip(result["edges"], records, strict=True):
            edge["version"] = f"v{record.version_index}"
        return result

    def aliases(self, info: Info, after: str | None = None,
                first: int | None = None) -> dict[str, Any]:
        offset, limit = page(after, first)
        pairs = ctx(info).runtime.store.list_collection_aliases(self._record.id)
        chosen = pairs[offset:offset + limit]
        return connection([AliasView(alias, self._record.id, self._record)
                           for alias, _ in chosen], offset, len(pairs))


def _states(filters: str | None) -> tuple[str, ...]:
    if filters is None:
        return ("COMMITTED",)
    try:
        wanted = json.loads(filters)
    except ValueError:
        raise BadRequest("filters must be JSON") from None
    if not isinstance(wanted, dict):
        raise BadRequest("filters must be a JSON object")
    unknown = set(wanted) - {"state"}
    if unknown:
        raise BadRequest(f"artifact filters support only 'state', not {sorted(unknown)}")
    state = wanted.get("state")
    if state is None:
        return ARTIFACT_STATES
    if state not in ARTIFACT_STATES:
        raise BadRequest(f"state must be one of {', '.join(ARTIFACT_STATES)}")
    return (str(state),)


class AliasView:
    def __init__(self, alias: str, collection_id: int,
                 collection: CollectionRecord | None = None) -> None:
        self.id = ids.encode_name("ArtifactAlias", f"{collection_id}:{alias}")
        self.alias = alias
        self._collection_id = collection_id
        self._collection = collection

    def artifactCollection(self, info: Info) -> CollectionView | None:
        record = self._collection or _collection(info, self._collection_id)
        return CollectionView(record) if record else None


class MembershipView:
    """A version as seen through its collection (``name:alias`` lookups)."""

    def __init__(self, artifact: ArtifactRecord, collection: CollectionRecord) -> None:
        self._artifact = artifact
        self._collection = collection
        self.id = ids.encode("ArtifactCollectionMembership", artifact.id)
        self.versionIndex = artifact.version_index
        self.createdAt = iso(artifact.created_at)
        self.aliases = [AliasView(a, collection.id, collection) for a in artifact.aliases]
        self.artifactCollection = CollectionView(collection)
        self.artifact = ArtifactView(artifact)

    def files(self, info: Info, names: list[str] | None = None, after: str | None = None,
              first: int | None = None) -> dict[str, Any]:
        return self.artifact.files_page(info, names, after, first)


# versions ------------------------------------------------------------------------------------
class ArtifactView:
    def __init__(self, record: ArtifactRecord) -> None:
        r = self._record = record
        self.id = ids.encode("Artifact", r.id)
        self.digest = r.digest
        self.digestAlgorithm = "MANIFEST_MD5"
        self.commitHash = r.digest
        self.description = r.description
        self.metadata = r.metadata
        self.state = r.state
        self.size = r.size
        self.fileCount = r.file_count
        self.versionIndex = r.version_index
        self.historyStep = r.history_step
        self.ttlDurationSeconds = -1
        self.ttlIsInherited = False
        self.createdAt = iso(r.created_at)
        self.updatedAt = iso(r.updated_at)
        self.artifactType = {"id": ids.encode_name("ArtifactType", r.type_name),
                             "name": r.type_name}
        self.tags = [{"id": ids.encode_name("Tag", t), "name": t} for t in r.tags]

    def artifactSequence(self, info: Info) -> CollectionView | None:
        record = _collection(info, self._record.collection_id)
        return CollectionView(record) if record else None

    def aliases(self, info: Info) -> list[AliasView]:
        return [AliasView(a, self._record.collection_id) for a in self._record.aliases]

    def currentManifest(self, info: Info) -> dict[str, Any] | None:
        key = self._record.manifest_key
        if key is None:
            return None
        context = ctx(info)
        url = context.runtime.blob_url("GET", key, context.base_url)
        return {
            "id": ids.encode("ArtifactManifest", self._record.id),
            "type": "FULL",
            "file": {"id": ids.encode_name("File", key), "name": key.rsplit("/", 1)[-1],
                     "directUrl": url, "sizeBytes": 0, "storagePath": key},
        }

    def createdBy(self, info: Info) -> RunView | None:
        if self._record.run_id is None:
            return None
        run = ctx(info).runtime.store.get_run_by_id(self._record.run_id)
        return _run_view(run) if run else None

    def usedBy(self, info: Info, after: str | None = None,
               first: int | None = None) -> dict[str, Any]:
        offset, limit = page(after, first)
        store = ctx(info).runtime.store
        run_ids = store.artifact_run_ids(self._record.id, "input")
        runs = [store.get_run_by_id(i) for i in run_ids[offset:offset + limit]]
        return connection([_run_view(r) for r in runs if r is not None], offset, len(run_ids))

    def files_page(self, info: Info, names: list[str] | None, after: str | None,
                   first: int | None) -> dict[str, Any]:
        offset, limit = page(after, first)
        records, total = ctx(info).runtime.store.list_artifact_files(
            self._record.id, names=names, limit=limit, offset=offset)
        return connection([ArtifactFileView(info, f) for f in records], offset, total)


class ArtifactFileView:
    """A file of a committed version. Stored files download from their blob with a signed
    URL; a reference's URL is the reference itself (the client reads it from there)."""

    def __init__(self, info: Info, record: ArtifactFileRecord) -> None:
        self.id = ids.encode("ArtifactFile", record.id)
        self.name = record.path
        self.displayName = record.path
        self.sizeBytes = record.size or 0
        self.digest = record.digest
        self.md5 = hex_to_b64(record.md5) if record.md5 else None
        self.mimetype = None
        self.updatedAt = iso(record.updated_at)
        if record.md5 is not None:
            context = ctx(info)
            self.storagePath: str | None = blob_key(record.md5)
            self.directUrl = context.runtime.blob_url("GET", self.storagePath,
                                                      context.base_url)
        else:
            self.storagePath = None
            self.directUrl = record.ref or ""

    def url(self, info: Info, upload: bool | None = None) -> str:
        return self.directUrl


# mixins for Project and Run ------------------------------------------------------------------
class ProjectArtifactsMixin:
    """The artifact fields of ``Project`` (ProjectView inherits this)."""

    _record: ProjectRecord

    def artifact(self, info: Info, name: str) -> ArtifactView | None:
        collection, alias = split_name(name)
        record = ctx(info).runtime.store.find_artifact(self._record.entity, self._record.name,
                                                       collection, alias)
        return ArtifactView(record) if record else None

    def artifactCollectionMembership(self, info: Info, name: str) -> MembershipView | None:
        collection_name, alias = split_name(name)
        store = ctx(info).runtime.store
        collection = store.get_collection(self._record.entity, self._record.name,
                                          collection_name)
        if collection is None:
            return None
        record = store.find_artifact(self._record.entity, self._record.name, collection_name,
                                     alias)
        return MembershipView(record, collection) if record else None

    def artifactCollection(self, info: Info, name: str) -> CollectionView | None:
        record = ctx(info).runtime.store.get_collection(self._record.entity, self._record.name,
                                                        name)
        return CollectionView(record) if record else None

    def artifactType(self, info: Info, name: str) -> ArtifactTypeView | None:
        record = ctx(info).runtime.store.get_artifact_type(self._record.entity,
                                                           self._record.name, name)
        return ArtifactTypeView(record, self._record.entity, self._record.name) if record else None

    def artifactTypes(self, info: Info, after: str | None = None,
                      first: int | None = None) -> dict[str, Any]:
        offset, limit = page(after, first)
        records = ctx(info).runtime.store.list_artifact_types(
            self._record.entity, self._record.name, limit=limit + 1, offset=offset)
        views = [ArtifactTypeView(r, self._record.entity, self._record.name)
                 for r in records[:limit]]
        return connection(views, offset, offset + len(records))

    def artifactCollections(self, info: Info, after: str | None = None,
                            first: int | None = None, filters: str | None = None,
                            order: str | None = None) -> dict[str, Any]:
        return collections_page(info, self._record.entity, self._record.name, None, after,
                                first, filters, order)


class RunArtifactsMixin:
    """The artifact fields of ``Run`` (RunView inherits this)."""

    _record: RunRecord

    def outputArtifacts(self, info: Info, after: str | None = None,
                        first: int | None = None) -> dict[str, Any]:
        return self._run_artifacts(info, "output", after, first)

    def inputArtifacts(self, info: Info, after: str | None = None,
                       first: int | None = None) -> dict[str, Any]:
        return self._run_artifacts(info, "input", after, first)

    def _run_artifacts(self, info: Info, kind: str, after: str | None,
                       first: int | None) -> dict[str, Any]:
        offset, limit = page(after, first)
        records, total = ctx(info).runtime.store.list_run_artifacts(
            self._record.id, kind, limit=limit, offset=offset)
        return connection([ArtifactView(r) for r in records], offset, total)
