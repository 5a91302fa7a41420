"""``POST /files/{entity}/{project}/{run}/file_stream``: history, events, summary, console.

A 4xx here makes the client stop streaming for the rest of the run, so it is returned only
for requests that are wrong (bad key, no such run, malformed body), never for load.

Every run posts here about once a second, so the route is a plain Starlette endpoint: FastAPI's
dependency solving and response encoding cost about as much CPU as the rest of the HTTP
handling of a small request, and this endpoint has nothing for them to do (it is not in the
OpenAPI schema; the caller is found by ``current_user`` as in every other route).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from runyard.api.http.common import (
    check_entity_access,
    current_user,
    read_body,
    runtime_of,
)
from runyard.stores.keys import run_file_key

router = APIRouter(tags=["wandb-client"])

#: The two possible answers, encoded once.
_ANSWERS = {stopped: b'{"exitcode":null,"limits":{},"stopped":%s}' % (b"true" if stopped
                                                                         else b"false")
            for stopped in (False, True)}


async def file_stream(request: Request) -> Response:
    params = request.path_params
    entity, project, run = params["entity"], params["project"], params["run"]
    runtime = runtime_of(request)
    user = await current_user(request)
    check_entity_access(user, entity)
    raw = await read_body(request, runtime.settings.max_request_bytes)
    batch, updated = await runtime.stream_writer.submit((entity, project, run), raw)
    if batch.summary is not None or batch.complete or batch.preempting or batch.history:
        await runtime.project_changed(entity, project)
    if batch.uploaded:
        await runtime.uploads_reported([run_file_key(updated.id, n) for n in batch.uploaded])
    return Response(_ANSWERS[updated.stop_requested], media_type="application/json")


router.add_route("/files/{entity}/{project}/{run}/file_stream", file_stream, methods=["POST"],
                 include_in_schema=False)
