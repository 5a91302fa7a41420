"""``POST /files/{entity}/{project}/{run}/file_stream``: history, events, summary, console.

A 4xx here makes the client stop streaming for the rest of the run, so it is returned only
for requests that are wrong (bad key, no such run, malformed body), never for load.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import APIRouter, Request

from runyard.api.http.common import (
    CurrentUser,
    check_entity_access,
    decode_json,
    read_body,
    runtime_of,
)
from runyard.domain.filestream import parse_request
from runyard.errors import NotFound
from runyard.stores.keys import run_file_key
from runyard.stores.metadata.base import RunRecord, StreamBatch

router = APIRouter(tags=["wandb-client"])


@router.post("/files/{entity}/{project}/{run}/file_stream", include_in_schema=False)
async def file_stream(entity: str, project: str, run: str, request: Request,
                      user: CurrentUser) -> dict[str, Any]:
    runtime = runtime_of(request)
    check_entity_access(user, entity)
    raw = await read_body(request, runtime.settings.max_request_bytes)
    store = runtime.store

    def apply() -> tuple[StreamBatch, RunRecord]:
        # Parsing a large batch is CPU work: keep it off the event loop, with the writes.
        batch = parse_request(decode_json(raw))
        path = (entity, project, run)
        for attempt in (1, 2):
            run_id = runtime.run_ids.get(path)
            if run_id is None:
                record = store.get_run(entity, project, run)
                if record is None:
                    raise NotFound(f"run {entity}/{project}/{run} does not exist")
                run_id = runtime.run_ids.put(path, record.id)
            try:
                return batch, store.apply_stream(run_id, batch, time.time())
            except NotFound:
                runtime.run_ids.forget(path)  # deleted (and perhaps created again)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    batch, updated = await anyio.to_thread.run_sync(apply)
    if batch.summary is not None or batch.complete or batch.preempting or batch.history:
        await runtime.project_changed(entity, project)
    if batch.uploaded:
        await runtime.uploads_reported([run_file_key(updated.id, n) for n in batch.uploaded])
    return {"exitcode": None, "limits": {}, "stopped": updated.stop_requested}
