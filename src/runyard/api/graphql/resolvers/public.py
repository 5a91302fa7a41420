"""Root fields of the public API (``wandb.Api``) beyond project/run lookups: the projects of
an entity (GetProjects) and run deletion (DeleteRun). Runs, history and files are fields of
``ProjectView``/``RunView``."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

import anyio.from_thread

from runyard.api.graphql.views import Info, ProjectView, ctx_of, page_info
from runyard.domain import ids
from runyard.domain.artifacts import blob_key
from runyard.errors import BadRequest, NotFound

DEFAULT_PROJECTS = 50
MAX_PROJECTS = 1000
_ARTIFACT_PAGE = 100


def _project_cursor(created_at: float, project_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, project_id]).encode()).decode()


def _decode_project_cursor(cursor: str | None) -> tuple[float, int] | None:
    if not cursor:
        return None
    try:
        created_at, project_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, TypeError):
        raise BadRequest("invalid cursor") from None
    if not isinstance(created_at, int | float) or not isinstance(project_id, int):
        raise BadRequest("invalid cursor")
    return float(created_at), project_id


def models(_root: Any, info: Info, entityName: str | None = None,  # noqa: N803
           after: str | None = None, first: int | None = None) -> dict[str, Any]:
    """api.projects(entity): the entity's projects, newest first."""
    context = ctx_of(info)
    entity = entityName or context.user.entity
    context.check_access(entity)
    if first is not None and first < 0:
        raise BadRequest("first must not be negative")
    limit = min(DEFAULT_PROJECTS if first is None else first, MAX_PROJECTS)
    records = context.runtime.store.list_projects(
        entity, limit=limit + 1, after=_decode_project_cursor(after))
    edges = [{"node": ProjectView(r), "cursor": _project_cursor(r.created_at, r.id)}
             for r in records[:limit]]
    return {"edges": edges,
            "pageInfo": page_info(str(edges[-1]["cursor"]) if edges else after,
                                  len(records) > limit)}


def delete_run(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """run.delete(): by the run's opaque id; its file blobs go too. ``deleteArtifacts`` also
    deletes the artifact versions it logged (otherwise they stay, without a producer)."""
    context = ctx_of(info)
    store = context.runtime.store
    record = store.get_run_by_id(ids.decode("Run", str(input["id"])))
    if record is None:
        raise NotFound("run does not exist")
    context.check_access(record.entity)
    blobs = context.runtime.blobs
    if input.get("deleteArtifacts"):
        while True:
            logged, _ = store.list_run_artifacts(record.id, "output", limit=_ARTIFACT_PAGE,
                                                 offset=0)
            if not logged:
                break
            for artifact in logged:
                deleted = store.delete_artifact(artifact.id, delete_aliases=True,
                                                now=time.time())
                for md5 in deleted.freed_md5s:
                    anyio.from_thread.run(blobs.delete, blob_key(md5))
                if deleted.manifest_key:
                    anyio.from_thread.run(blobs.delete, deleted.manifest_key)
    for key in store.delete_run(record.id):
        anyio.from_thread.run(blobs.delete, key)
    context.after_write(record.entity, record.project)
    return {"clientMutationId": input.get("clientMutationId")}


RESOLVERS: dict[str, Callable[..., Any]] = {
    "Query.models": models,
    "Mutation.deleteRun": delete_run,
}
