"""Artifacts: log (create, manifest, files, commit), use, look up, update, alias, delete.

Logging, as wandb-core does it: CreateArtifact (a PENDING version, or the committed one with
the same digest) -> CreateArtifactManifest -> CreateArtifactFiles (signed PUT URLs; none for
content already stored) -> PUTs -> CreateArtifactManifest with the manifest's digest -> PUT
of the manifest -> CommitArtifact, which reads the manifest back, checks it against both
digests and refuses files that were never uploaded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anyio.from_thread

from runyard.api.graphql.artifact_views import ArtifactView, CollectionView, ctx
from runyard.api.graphql.context import Context
from runyard.domain import ids
from runyard.domain.artifacts import (
    MAX_DIGEST_LENGTH,
    MAX_MANIFEST_BYTES,
    ManifestEntry,
    b64_md5_of,
    b64_md5_to_hex,
    blob_key,
    check_alias,
    check_artifact_name,
    is_hex_md5,
    manifest_digest,
    manifest_key,
    parse_manifest,
)
from runyard.domain.names import check_name
from runyard.errors import BadRequest, Conflict, NotFound
from runyard.stores.blobs.base import BlobStore
from runyard.stores.keys import check_file_name
from runyard.stores.metadata.base import (
    ArtifactChanges,
    ArtifactFileSpec,
    ArtifactRecord,
    NewArtifact,
)

Info = Any
MAX_FILES_PER_CALL = 10_000
MAX_TAG_LENGTH = 128


# lookups -------------------------------------------------------------------------------------
def _artifact(context: Context, artifact_id: str) -> ArtifactRecord:
    """A version the caller may change; NotFound when absent or not the caller's."""
    record = context.runtime.store.get_artifact(ids.decode("Artifact", artifact_id))
    if record is None or not context.can_access(record.entity):
        raise NotFound("artifact does not exist")
    return record


def _pending(context: Context, artifact_id: str) -> ArtifactRecord:
    record = _artifact(context, artifact_id)
    if record.state != "PENDING":
        raise Conflict(f"artifact version is {record.state}, not PENDING: it cannot change")
    return record


def artifact_by_id(_root: Any, info: Info, id: str) -> ArtifactView | None:  # noqa: A002
    context = ctx(info)
    record = context.runtime.store.get_artifact(ids.decode("Artifact", id))
    if record is None or record.state == "DELETED" or not context.can_access(record.entity):
        return None
    return ArtifactView(record)


def collection_by_id(_root: Any, info: Info, id: str) -> CollectionView | None:  # noqa: A002
    context = ctx(info)
    record = context.runtime.store.get_collection_by_id(ids.decode("ArtifactCollection", id))
    if record is None or not context.can_access(record.entity):
        return None
    return CollectionView(record)


# logging -------------------------------------------------------------------------------------
def create_artifact(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    entity = check_name("entity", input["entityName"])
    project = check_name("project", input["projectName"])
    context.check_access(entity)
    run_id = context.run(entity, project, input["runName"]).id if input.get("runName") else None
    names = input.get("artifactCollectionNames") or []
    if len(names) > 1:
        raise BadRequest("an artifact version belongs to exactly one collection")
    collection = check_artifact_name("name", input.get("artifactCollectionName") or
                                     (names[0] if names else None))
    type_name = check_artifact_name("type", input["artifactTypeName"])
    digest = input["digest"]
    if not digest or len(digest) > MAX_DIGEST_LENGTH:
        raise BadRequest(f"digest must be 1 to {MAX_DIGEST_LENGTH} characters")
    if input.get("digestAlgorithm") not in (None, "MANIFEST_MD5"):
        raise BadRequest("only MANIFEST_MD5 artifact digests are supported")
    spec = NewArtifact(
        entity=entity, project=project, run_id=run_id, type_name=type_name,
        collection=collection, digest=digest, description=input.get("description"),
        metadata=_json_object("metadata", input.get("metadata")) or "{}",
        aliases=tuple(_aliases_for(collection, input.get("aliases"))),
        tags=tuple(_tags(input.get("tags"))), history_step=input.get("historyStep"),
        deduplicate=input.get("enableDigestDeduplication") is not False,
    )
    created = context.runtime.store.create_artifact(spec, time.time())
    return {"artifact": ArtifactView(created.artifact)}


def create_artifact_manifest(_root: Any, info: Info,
                             input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    record = _pending(context, input["artifactID"])
    if input["type"] != "FULL":
        raise BadRequest("incremental and patch artifact manifests are not supported")
    name = check_file_name(input["name"])
    file: dict[str, Any] = {"id": ids.encode_name("File", f"manifest:{record.id}/{name}"),
                            "name": name, "uploadUrl": None, "uploadHeaders": []}
    if input["digest"]:
        b64_md5_to_hex(input["digest"])  # a real base64 md5
        key = manifest_key(record.id, name)
        context.runtime.store.set_artifact_manifest(record.id, key, input["digest"])
        runtime = context.runtime
        file.update(uploadUrl=runtime.blob_url("PUT", key, context.base_url),
                    uploadHeaders=runtime.blobs.upload_headers(), storagePath=key)
    return {"artifactManifest": {"id": ids.encode("ArtifactManifest", record.id),
                                 "type": "FULL", "file": file}}


def create_artifact_files(_root: Any, info: Info,
                          input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    specs = input["artifactFiles"]
    if len(specs) > MAX_FILES_PER_CALL:
        raise BadRequest(f"at most {MAX_FILES_PER_CALL} files per call")
    wanted: list[tuple[str, str, str]] = []  # (artifact id, path, hex md5) in input order
    for spec in specs:
        wanted.append((spec["artifactID"], check_file_name(spec["name"]),
                       b64_md5_to_hex(spec["md5"])))
    store, runtime = context.runtime.store, context.runtime
    stored: dict[str, bool] = {}
    for artifact_id in dict.fromkeys(a for a, _, _ in wanted):
        record = _pending(context, artifact_id)
        files = [(path, md5) for a, path, md5 in wanted if a == artifact_id]
        known = store.artifact_blobs([md5 for _, md5 in files])
        states = store.add_artifact_files(record.id, files, time.time())
        for md5, state in states.items():
            present = state.stored
            if not present and md5 in known:  # asked for before: maybe landed, not yet noted
                present = _landed(runtime.blobs, md5, None)
                if present:
                    _note_stored(context, md5)
            stored[md5] = stored.get(md5, False) or present
    headers = runtime.blobs.upload_headers()
    edges: list[dict[str, Any]] = []
    for artifact_id, _path, md5 in wanted:
        key = blob_key(md5)
        edges.append({"node": {
            "storagePath": key,
            "uploadUrl": None if stored[md5] else runtime.blob_url("PUT", key, context.base_url),
            "uploadHeaders": headers,
            "uploadMultipartUrls": None,  # the client then sends the file in one PUT
            "artifact": {"id": artifact_id},
        }, "cursor": str(len(edges) + 1)})
    return {"files": {"edges": edges, "pageInfo": {"endCursor": None, "hasNextPage": False}}}


def commit_artifact(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    record = _artifact(context, input["artifactID"])
    if record.state == "COMMITTED":
        return {"artifact": ArtifactView(record)}
    if record.state != "PENDING":
        raise Conflict("this artifact version was deleted; it cannot be committed")
    if record.manifest_key is None or record.manifest_digest is None:
        raise BadRequest("cannot commit the artifact: no manifest was created for it")
    data = anyio.from_thread.run(_read_blob, context.runtime.blobs, record.manifest_key,
                                 MAX_MANIFEST_BYTES)
    if data is None:
        raise BadRequest("cannot commit the artifact: its manifest was never uploaded")
    if b64_md5_of(data) != record.manifest_digest:
        raise BadRequest("cannot commit the artifact: the uploaded manifest does not match "
                         "the digest it was announced with")
    entries = parse_manifest(data)
    if manifest_digest(entries) != record.digest:
        raise BadRequest("cannot commit the artifact: its manifest does not match the "
                         "artifact digest")
    missing = _not_uploaded(context, entries)
    if missing:
        shown = ", ".join(repr(p) for p in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise BadRequest(f"cannot commit the artifact: {len(missing)} file(s) named in its "
                         f"manifest were never uploaded: {shown}{more}")
    files = [ArtifactFileSpec(e.path, e.digest, e.size, e.ref, e.md5_hex,
                              _birth_id(e.birth_artifact_id)) for e in entries]
    committed = context.runtime.store.commit_artifact(record.id, files, time.time())
    return {"artifact": ArtifactView(committed)}


def _not_uploaded(context: Context, entries: list[ManifestEntry]) -> list[str]:
    """Paths of stored entries whose bytes are not in the blob store with the right size."""
    sizes = {e.md5_hex: e.size for e in entries if e.md5_hex is not None}
    states = context.runtime.store.artifact_blobs(list(sizes))
    bad: set[str] = set()
    for md5, size in sizes.items():
        state = states.get(md5)
        if state is not None and state.stored:
            if state.size is not None and state.size != size:
                bad.add(md5)
        elif _landed(context.runtime.blobs, md5, size):
            _note_stored(context, md5, size)
        else:
            bad.add(md5)
    return [e.path for e in entries if e.md5_hex in bad]


def _landed(blobs: BlobStore, md5: str, size: int | None) -> bool:
    """The blob is in the store (its notification may not be handled yet), with the right
    size, and the right md5 where the backend reports one."""
    info = anyio.from_thread.run(blobs.stat, blob_key(md5))
    if info is None or (size is not None and info.size != size):
        return False
    return not (is_hex_md5(info.md5) and info.md5 != md5)


def _note_stored(context: Context, md5: str, size: int | None = None) -> None:
    if size is None:
        info = anyio.from_thread.run(context.runtime.blobs.stat, blob_key(md5))
        if info is None:
            return
        size = info.size
    context.runtime.store.artifact_blob_stored(md5, size, time.time())


async def _read_blob(blobs: BlobStore, key: str, limit: int) -> bytes | None:
    if await blobs.stat(key) is None:
        return None
    buffer = bytearray()
    async for chunk in await blobs.get(key):
        buffer += chunk
        if len(buffer) > limit:
            raise BadRequest(f"the artifact manifest is larger than {limit} bytes")
    return bytes(buffer)


def _birth_id(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return ids.decode("Artifact", value)
    except BadRequest:
        return None


# use, update, aliases, delete ---------------------------------------------------------------
def use_artifact(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    run = context.run(input["entityName"], input["projectName"], input["runName"])
    record = _artifact(context, input["artifactID"])
    if record.state != "COMMITTED":
        raise NotFound("artifact does not exist or is not committed yet")
    context.runtime.store.use_artifact(record.id, run.id, time.time())
    return {"artifact": ArtifactView(record)}


def update_artifact(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    record = _artifact(context, input["artifactID"])
    aliases = input.get("aliases")
    changes = ArtifactChanges(
        description=input.get("description"),
        metadata=_json_object("metadata", input.get("metadata")),
        tags_to_add=tuple(_tags(input.get("tagsToAdd"))),
        tags_to_remove=tuple(_tags(input.get("tagsToDelete"))),
        aliases=None if aliases is None else tuple(_aliases_for(record.collection, aliases)),
    )
    updated = context.runtime.store.update_artifact(record.id, changes, time.time())
    return {"artifact": ArtifactView(updated)}


def add_aliases(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    record = _artifact(context, input["artifactID"])
    names = _own_aliases(record, input["aliases"])
    context.runtime.store.add_artifact_aliases(record.id, names, time.time())
    return {"success": True}


def delete_aliases(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    record = _artifact(context, input["artifactID"])
    names = _own_aliases(record, input["aliases"])
    context.runtime.store.remove_artifact_aliases(record.id, names)
    return {"success": True}


def delete_artifact(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    record = _artifact(context, input["artifactID"])
    deleted = context.runtime.store.delete_artifact(
        record.id, delete_aliases=bool(input.get("deleteAliases")), now=time.time())
    blobs = context.runtime.blobs
    for md5 in deleted.freed_md5s:
        anyio.from_thread.run(blobs.delete, blob_key(md5))
    if deleted.manifest_key:
        anyio.from_thread.run(blobs.delete, deleted.manifest_key)
    return {"artifact": ArtifactView(deleted.artifact)}


def link_artifact(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    raise BadRequest("linking artifacts to other collections (portfolios, registries) is not "
                     "supported by this server")


# input checks --------------------------------------------------------------------------------
def _json_object(field: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise BadRequest(f"{field} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{field} must be a JSON object")
    return text


def _aliases_for(collection: str, aliases: list[dict[str, Any]] | None) -> list[str]:
    out = []
    for item in aliases or []:
        if item["artifactCollectionName"] != collection:
            raise BadRequest(f"alias {item['alias']!r} names collection "
                             f"{item['artifactCollectionName']!r}, not {collection!r}")
        out.append(check_alias(item["alias"]))
    return out


def _own_aliases(record: ArtifactRecord, aliases: list[dict[str, Any]]) -> list[str]:
    out = []
    for item in aliases:
        where = (item["entityName"], item["projectName"], item["artifactCollectionName"])
        if where != (record.entity, record.project, record.collection):
            raise BadRequest("aliases can only be set in the version's own collection "
                             f"{record.entity}/{record.project}/{record.collection}")
        out.append(check_alias(item["alias"]))
    return out


def _tags(tags: list[dict[str, Any]] | None) -> list[str]:
    out = []
    for tag in tags or []:
        name = tag["tagName"]
        if not name or len(name) > MAX_TAG_LENGTH:
            raise BadRequest(f"tags must be 1 to {MAX_TAG_LENGTH} characters")
        out.append(name)
    return out


RESOLVERS: dict[str, Callable[..., Any]] = {
    "Query.artifact": artifact_by_id,
    "Query.artifactCollection": collection_by_id,
    "Mutation.createArtifact": create_artifact,
    "Mutation.createArtifactManifest": create_artifact_manifest,
    "Mutation.createArtifactFiles": create_artifact_files,
    "Mutation.commitArtifact": commit_artifact,
    "Mutation.useArtifact": use_artifact,
    "Mutation.updateArtifact": update_artifact,
    "Mutation.addAliases": add_aliases,
    "Mutation.deleteAliases": delete_aliases,
    "Mutation.deleteArtifact": delete_artifact,
    "Mutation.linkArtifact": link_artifact,
}
