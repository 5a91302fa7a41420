"""``POST /files/{entity}/{project}/{run}/file_stream``: history, events, summary, console.

A 4xx here makes the client stop streaming for the rest of the run, so it is returned only
for requests that are wrong (bad key, no such run, malformed body), never for load.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runyard.api.http.common import (
    CurrentUser,
    check_entity_access,
    read_body,
    runtime_of,
)
from runyard.stores.keys import run_file_key

router = APIRouter(tags=["wandb-client"])


@router.post("/files/{entity}/{project}/{run}/file_stream", include_in_schema=False)
async def file_stream(entity: str, project: str, run: str, request: Request,
                      user: CurrentUser) -> dict[str, Any]:
    runtime = runtime_of(request)
    check_entity_access(user, entity)
    raw = await read_body(request, runtime.settings.max_request_bytes)
    batch, updated = await runtime.stream_writer.submit((entity, project, run), raw)
    if batch.summary is not None or batch.complete or batch.preempting or batch.history:
        await runtime.project_changed(entity, project)
    if batch.uploaded:
        await runtime.uploads_reported([run_file_key(updated.id, n) for n in batch.uploaded])
    return {"exitcode": None, "limits": {}, "stopped": updated.stop_requested}
