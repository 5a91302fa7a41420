"""``/api/v1``: artifacts for the web UI and scripts, read only.

A project's artifact types, the collections of a type (the names artifacts are logged under)
with their version counts, a collection's versions, one version (by ``vN`` or an alias) with
its metadata and lineage, its files with signed download links, and the artifacts a run
logged or used. Every route needs an API key and access to the entity.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from runyard.api.http.common import CurrentUser, base_url, check_entity_access, runtime_of
from runyard.api.v1.nan_json import NanJSONResponse
from runyard.api.v1.routes import RUN_PATH
from runyard.domain.artifacts import blob_key
from runyard.errors import NotFound
from runyard.runtime import Runtime
from runyard.stores.metadata.base import (
    ArtifactRecord,
    CollectionRecord,
    MetadataStore,
    RunRecord,
    UserRecord,
)

router = APIRouter(prefix="/api/v1", tags=["artifacts"], default_response_class=NanJSONResponse)

User = CurrentUser
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
PROJECT_PATH = "/entities/{entity}/projects/{project}"
COLLECTION_PATH = PROJECT_PATH + "/artifacts/{collection}"
VERSION_PATH = COLLECTION_PATH + "/versions/{version}"
#: Runs named in a version's lineage; the totals say how many there are in all.
MAX_LINEAGE_RUNS = 100
SHOWN_STATES = ("COMMITTED", "PENDING")


# response shapes -------------------------------------------------------------------------------
class ArtifactTypeOut(BaseModel):
    name: str
    description: str | None
    created_at: float
    collection_count: int = Field(description="Collections (artifact names) of this type.")


class ArtifactTypePage(BaseModel):
    items: list[ArtifactTypeOut]
    next_offset: int | None


class CollectionOut(BaseModel):
    entity: str
    project: str
    name: str = Field(description="The artifact's name; its versions are logged under it.")
    type: str
    description: str | None
    created_at: float
    updated_at: float
    version_count: int = Field(description="Committed versions (deleted ones not counted).")
    latest_version: str | None = Field(description="The newest committed version, e.g. v3.")


class CollectionPage(BaseModel):
    items: list[CollectionOut]
    total: int
    next_offset: int | None


class ArtifactVersionOut(BaseModel):
    entity: str
    project: str
    collection: str
    type: str
    version: str | None = Field(description="vN; null while the version is not committed.")
    version_index: int | None
    aliases: list[str] = Field(description="Custom aliases and latest (never vN).")
    state: str = Field(description="COMMITTED, or PENDING while the client uploads it.")
    digest: str
    description: str | None
    size: int = Field(description="Bytes of all its files.")
    file_count: int
    created_at: float
    updated_at: float


class ArtifactVersionPage(BaseModel):
    items: list[ArtifactVersionOut]
    total: int
    next_offset: int | None


class RunRefOut(BaseModel):
    entity: str
    project: str
    id: str = Field(description="The run id the client uses (wandb's run.id).")
    display_name: str
    state: str


class ArtifactVersionDetail(ArtifactVersionOut):
    metadata: dict[str, Any] = Field(description="As the client logged it.")
    tags: list[str]
    history_step: int | None
    created_by: RunRefOut | None = Field(description="The run that logged this version first.")
    logged_by: list[RunRefOut] = Field(
        description="Runs that logged it (a run logging identical contents joins them).")
    logged_by_total: int
    used_by: list[RunRefOut] = Field(description="Runs that used it as an input.")
    used_by_total: int


class ArtifactFileOut(BaseModel):
    path: str
    size: int | None
    digest: str = Field(description="The manifest's digest (base64 MD5 for stored files).")
    md5: str | None = Field(description="Hex MD5 of a stored file; null for a reference.")
    ref: str | None = Field(description="Where a reference points; null for a stored file.")
    url: str | None = Field(description="Signed, expiring download link of a stored file.")


class ArtifactFilePage(BaseModel):
    items: list[ArtifactFileOut]
    total: int
    next_offset: int | None


# routes ----------------------------------------------------------------------------------------
@router.get(PROJECT_PATH + "/artifact-types", response_model=ArtifactTypePage)
async def list_artifact_types(entity: str, project: str, request: Request, user: User,
                              limit: Limit = 100, offset: Offset = 0) -> ArtifactTypePage:
    check_entity_access(user, entity)
    store = runtime_of(request).store

    def read() -> ArtifactTypePage:
        _require_project(store, entity, project)
        types = store.list_artifact_types(entity, project, limit=limit + 1, offset=offset)
        items = []
        for t in types[:limit]:
            _, count = store.list_collections(entity, project, type_name=t.name, limit=0,
                                              offset=0)
            items.append(ArtifactTypeOut(name=t.name, description=t.description,
                                         created_at=t.created_at, collection_count=count))
        return ArtifactTypePage(items=items,
                                next_offset=offset + limit if len(types) > limit else None)

    return await anyio.to_thread.run_sync(read)


@router.get(PROJECT_PATH + "/artifact-types/{type_name}/collections",
            response_model=CollectionPage)
async def list_collections(entity: str, project: str, type_name: str, request: Request,
                           user: User, limit: Limit = 50, offset: Offset = 0) -> CollectionPage:
    """The collections of a type, the most recently updated first."""
    check_entity_access(user, entity)
    store = runtime_of(request).store

    def read() -> CollectionPage:
        if store.get_artifact_type(entity, project, type_name) is None:
            _require_project(store, entity, project)
            raise NotFound(f"artifact type {type_name!r} does not exist in "
                           f"{entity}/{project}")
        records, total = store.list_collections(entity, project, type_name=type_name,
                                                limit=limit, offset=offset)
        return CollectionPage(items=_collections_out(store, records), total=total,
                              next_offset=offset + limit if offset + limit < total else None)

    return await anyio.to_thread.run_sync(read)


@router.get(COLLECTION_PATH, response_model=CollectionOut)
async def get_collection(entity: str, project: str, collection: str, request: Request,
                         user: User) -> CollectionOut:
    check_entity_access(user, entity)
    store = runtime_of(request).store

    def read() -> CollectionOut:
        return _collections_out(store, [_collection(store, entity, project, collection)])[0]

    return await anyio.to_thread.run_sync(read)


@router.get(COLLECTION_PATH + "/versions", response_model=ArtifactVersionPage)
async def list_versions(entity: str, project: str, collection: str, request: Request,
                        user: User, limit: Limit = 100, offset: Offset = 0
                        ) -> ArtifactVersionPage:
    """Versions, newest first; a version the client is still uploading (PENDING) comes last."""
    check_entity_access(user, entity)
    store = runtime_of(request).store

    def read() -> ArtifactVersionPage:
        record = _collection(store, entity, project, collection)
        versions, total = store.list_artifacts(record.id, states=SHOWN_STATES, descending=True,
                                               limit=limit, offset=offset)
        return ArtifactVersionPage(
            items=[_version_out(v) for v in versions], total=total,
            next_offset=offset + limit if offset + limit < total else None)

    return await anyio.to_thread.run_sync(read)


@router.get(VERSION_PATH, response_model=ArtifactVersionDetail)
async def get_version(entity: str, project: str, collection: str, version: str,
                      request: Request, user: User) -> NanJSONResponse:
    """One committed version by ``vN`` or by an alias (``latest``, or one of yours)."""
    check_entity_access(user, entity)
    store = runtime_of(request).store

    def read() -> ArtifactVersionDetail:
        record = _version(store, entity, project, collection, version)
        created_by = store.get_run_by_id(record.run_id) if record.run_id is not None else None
        logged_ids = store.artifact_run_ids(record.id, "output")
        used_ids = store.artifact_run_ids(record.id, "input")
        return ArtifactVersionDetail(
            **_version_out(record).model_dump(),
            metadata=_loads(record.metadata), tags=record.tags,
            history_step=record.history_step,
            created_by=(_run_ref(created_by)
                        if created_by is not None and _visible(user, created_by) else None),
            logged_by=_runs(store, user, logged_ids), logged_by_total=len(logged_ids),
            used_by=_runs(store, user, used_ids), used_by_total=len(used_ids))

    detail = await anyio.to_thread.run_sync(read)
    return NanJSONResponse(detail.model_dump())


@router.get(VERSION_PATH + "/files", response_model=ArtifactFilePage)
async def list_version_files(entity: str, project: str, collection: str, version: str,
                             request: Request, user: User, limit: Limit = 1000,
                             offset: Offset = 0) -> ArtifactFilePage:
    """A version's files by path. A stored file downloads through its signed ``url`` (the
    exact bytes logged); a reference has no ``url``, only its ``ref``."""
    check_entity_access(user, entity)
    runtime = runtime_of(request)
    base = base_url(request)

    def read() -> ArtifactFilePage:
        record = _version(runtime.store, entity, project, collection, version)
        files, total = runtime.store.list_artifact_files(record.id, names=None, limit=limit,
                                                         offset=offset)
        return ArtifactFilePage(
            items=[ArtifactFileOut(path=f.path, size=f.size, digest=f.digest, md5=f.md5,
                                   ref=f.ref if f.md5 is None else None,
                                   url=_blob_url(runtime, f.md5, base))
                   for f in files],
            total=total, next_offset=offset + limit if offset + limit < total else None)

    return await anyio.to_thread.run_sync(read)


@router.get(RUN_PATH + "/artifacts", response_model=ArtifactVersionPage)
async def list_run_artifacts(
    entity: str, project: str, run: str, request: Request, user: User,
    kind: Annotated[Literal["output", "input"],
                    Query(description="output: logged by the run; input: used by it.")
                    ] = "output",
    limit: Limit = 100, offset: Offset = 0,
) -> ArtifactVersionPage:
    """Committed versions a run logged or used, in the order it first did."""
    check_entity_access(user, entity)
    store = runtime_of(request).store

    def read() -> ArtifactVersionPage:
        record = store.get_run(entity, project, run)
        if record is None:
            raise NotFound(f"run {entity}/{project}/{run} does not exist")
        versions, total = store.list_run_artifacts(record.id, kind, limit=limit, offset=offset)
        return ArtifactVersionPage(
            items=[_version_out(v) for v in versions], total=total,
            next_offset=offset + limit if offset + limit < total else None)

    return await anyio.to_thread.run_sync(read)


# helpers ---------------------------------------------------------------------------------------
def _require_project(store: MetadataStore, entity: str, project: str) -> None:
    if store.get_project(entity, project) is None:
        raise NotFound(f"project {entity}/{project} does not exist")


def _collection(store: MetadataStore, entity: str, project: str, name: str
                ) -> CollectionRecord:
    record = store.get_collection(entity, project, name)
    if record is None:
        raise NotFound(f"artifact {name!r} does not exist in {entity}/{project}")
    return record


def _version(store: MetadataStore, entity: str, project: str, collection: str, version: str
             ) -> ArtifactRecord:
    _collection(store, entity, project, collection)
    record = store.find_artifact(entity, project, collection, version)
    if record is None:
        raise NotFound(f"artifact {collection!r} has no version or alias {version!r}")
    return record


def _collections_out(store: MetadataStore, records: list[CollectionRecord]
                     ) -> list[CollectionOut]:
    stats = store.collection_stats([r.id for r in records])
    out = []
    for r in records:
        found = stats.get(r.id)
        out.append(CollectionOut(
            entity=r.entity, project=r.project, name=r.name, type=r.type_name,
            description=r.description, created_at=r.created_at, updated_at=r.updated_at,
            version_count=found.versions if found else 0,
            latest_version=_version_name(found.latest_index if found else None)))
    return out


def _version_name(index: int | None) -> str | None:
    return None if index is None else f"v{index}"


def _version_out(r: ArtifactRecord) -> ArtifactVersionOut:
    return ArtifactVersionOut(
        entity=r.entity, project=r.project, collection=r.collection, type=r.type_name,
        version=_version_name(r.version_index), version_index=r.version_index,
        aliases=r.aliases, state=r.state, digest=r.digest, description=r.description,
        size=r.size, file_count=r.file_count, created_at=r.created_at,
        updated_at=r.updated_at)


def _visible(user: UserRecord, run: RunRecord) -> bool:
    """Lineage names only runs the caller may open (an admin's run may use anyone's)."""
    return user.is_admin or run.entity == user.entity


def _run_ref(run: RunRecord) -> RunRefOut:
    return RunRefOut(entity=run.entity, project=run.project, id=run.name,
                     display_name=run.display_name, state=run.state)


def _runs(store: MetadataStore, user: UserRecord, run_ids: list[int]) -> list[RunRefOut]:
    runs = (store.get_run_by_id(i) for i in run_ids[:MAX_LINEAGE_RUNS])
    return [_run_ref(r) for r in runs if r is not None and _visible(user, r)]


def _blob_url(runtime: Runtime, md5: str | None, base: str) -> str | None:
    return runtime.blob_url("GET", blob_key(md5), base) if md5 is not None else None


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}
