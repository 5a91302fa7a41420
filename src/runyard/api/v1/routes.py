"""``/api/v1``: the JSON read API for the web UI and scripts. Every route needs an API key.

Values logged by the client are returned exactly, NaN and Infinity included (as the
JSON extensions ``NaN``/``Infinity`` that Python's and wandb's parsers accept).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from runyard.api.http.common import CurrentUser, base_url, check_entity_access, runtime_of
from runyard.api.v1 import models as out
from runyard.api.v1.nan_json import NanJSONResponse
from runyard.cache.base import key_part
from runyard.errors import BadRequest, NotFound
from runyard.stores.metadata.base import (
    SORTABLE_RUN_COLUMNS,
    MetadataStore,
    RunQuery,
    RunRecord,
    UserRecord,
)

router = APIRouter(prefix="/api/v1", tags=["api-v1"], default_response_class=NanJSONResponse)

User = CurrentUser
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Step = Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)]
MAX_HISTORY_PAGE = 10_000
HISTORY_TTL = 600.0
RUNS_TTL = 60.0


@router.get("/viewer", response_model=out.UserOut)
async def viewer(user: User) -> out.UserOut:
    return out.UserOut(username=user.username, entity=user.entity, email=user.email,
                       admin=user.is_admin)


@router.get("/entities/{entity}/projects", response_model=out.ProjectPage)
async def list_projects(entity: str, request: Request, user: User, limit: Limit = 100,
                        offset: Offset = 0) -> out.ProjectPage:
    check_entity_access(user, entity)
    store = runtime_of(request).store
    if not await anyio.to_thread.run_sync(store.entity_exists, entity):
        raise NotFound(f"entity {entity!r} does not exist")
    rows = await anyio.to_thread.run_sync(
        lambda: store.list_projects(entity, limit=limit + 1, offset=offset))
    return out.ProjectPage(
        items=[out.ProjectOut(entity=p.entity, name=p.name, created_at=p.created_at,
                              run_count=p.run_count) for p in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None)


@router.get("/entities/{entity}/projects/{project}/runs", response_model=out.RunPage)
async def list_runs(
    entity: str, project: str, request: Request, user: User,
    state: str | None = None,
    tag: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads, never mutates
    group: str | None = None,
    job_type: str | None = None,
    search: str | None = None,
    sort: Annotated[str, Query(description="Column, '-' prefix for descending: "
                                           + ", ".join(SORTABLE_RUN_COLUMNS))] = "-created_at",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    check_entity_access(user, entity)
    if sort.lstrip("+-") not in SORTABLE_RUN_COLUMNS:
        raise BadRequest(f"sort must be one of {', '.join(SORTABLE_RUN_COLUMNS)}")
    query = RunQuery(state=state, tags=tuple(tag), group=group, job_type=job_type,
                     search=search, sort=sort, limit=limit, offset=offset)
    runtime = runtime_of(request)
    generation = await runtime.project_generation(entity, project)
    key = f"runs:{entity}/{project}:{generation}:{key_part(query)}"

    async def compute() -> bytes:
        runs, total = await anyio.to_thread.run_sync(runtime.store.list_runs, entity, project,
                                                     query)
        page = out.RunPage(items=[run_out(r, detail=False) for r in runs], total=total,
                           next_offset=offset + limit if offset + limit < total else None)
        return page.model_dump_json().encode()

    body = await runtime.cache.get_or_compute(key, RUNS_TTL, compute)
    return Response(body, media_type="application/json")


async def _run(request: Request, user: UserRecord, entity: str, project: str,
               run: str) -> RunRecord:
    check_entity_access(user, entity)
    record = await anyio.to_thread.run_sync(runtime_of(request).store.get_run, entity, project,
                                            run)
    if record is None:
        raise NotFound(f"run {entity}/{project}/{run} does not exist")
    return record


RUN_PATH = "/entities/{entity}/projects/{project}/runs/{run}"


@router.get(RUN_PATH, response_model=out.RunOut)
async def get_run(entity: str, project: str, run: str, request: Request,
                  user: User) -> NanJSONResponse:
    record = await _run(request, user, entity, project, run)
    return NanJSONResponse(run_out(record, detail=True).model_dump())


@router.get(RUN_PATH + "/history", response_model=out.HistoryPage)
async def get_history(
    entity: str, project: str, run: str, request: Request, user: User,
    keys: Annotated[list[str], Query(description="Keys to return; all when absent.")] = [],  # noqa: B006
    min_step: Step = None,
    max_step: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1,
                                          description="Exclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_PAGE)] = 1000,
) -> Response:
    record = await _run(request, user, entity, project, run)
    runtime = runtime_of(request)
    # New rows change history_line_count, so a cached page is never served stale.
    key = (f"history:{record.id}:{record.history_line_count}:"
           f"{key_part((keys, min_step, max_step, limit))}")

    async def compute() -> bytes:
        return await anyio.to_thread.run_sync(
            _history_page, runtime.store, record.id, keys, min_step, max_step, limit)

    body = await runtime.cache.get_or_compute(key, HISTORY_TTL, compute)
    return Response(body, media_type="application/json")


def _history_page(store: MetadataStore, run_id: int, keys: list[str], min_step: int | None,
                  max_step: int | None, limit: int) -> bytes:
    rows = store.read_history(run_id, min_step=min_step, max_step=max_step, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if keys:
        wanted = set(keys) | {"_step"}
        texts = []
        for row in rows:
            values = json.loads(row.text)
            picked = {k: v for k, v in values.items() if k in wanted}
            if len(picked) > 1 or "_step" in keys:
                texts.append(json.dumps(picked, allow_nan=True))
    else:
        texts = [row.text for row in rows]  # stored text, byte for byte
    next_step = json.dumps(rows[-1].step + 1) if more and rows else "null"
    return ('{"rows":[' + ",".join(texts) + '],"next_min_step":' + next_step + "}").encode()


@router.get(RUN_PATH + "/system-metrics", response_model=out.HistoryPage)
async def get_system_metrics(entity: str, project: str, run: str, request: Request,
                             user: User, offset: Offset = 0,
                             limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_PAGE)] = 1000
                             ) -> Response:
    record = await _run(request, user, entity, project, run)
    store = runtime_of(request).store
    rows = await anyio.to_thread.run_sync(
        lambda: store.read_events(record.id, offset=offset, limit=limit + 1))
    more = len(rows) > limit
    body = ('{"rows":[' + ",".join(r.text for r in rows[:limit]) + '],"next_offset":'
            + (str(offset + limit) if more else "null") + "}")
    return Response(body, media_type="application/json")


@router.get(RUN_PATH + "/logs", response_model=out.ConsolePage)
async def get_logs(entity: str, project: str, run: str, request: Request, user: User,
                   offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
                   ) -> out.ConsolePage:
    record = await _run(request, user, entity, project, run)
    store = runtime_of(request).store
    lines = await anyio.to_thread.run_sync(
        lambda: store.read_console(record.id, offset=offset, limit=limit + 1))
    return out.ConsolePage(
        lines=[out.ConsoleLineOut(line_no=n, content=c) for n, c in lines[:limit]],
        next_offset=offset + limit if len(lines) > limit else None)


@router.get(RUN_PATH + "/files", response_model=out.FilePage)
async def get_files(entity: str, project: str, run: str, request: Request, user: User,
                    limit: Limit = 1000, offset: Offset = 0) -> out.FilePage:
    record = await _run(request, user, entity, project, run)
    runtime = runtime_of(request)
    files = await anyio.to_thread.run_sync(
        lambda: runtime.store.list_files(record.id, limit=limit + 1, offset=offset))
    base = base_url(request)
    return out.FilePage(
        items=[out.FileOut(name=f.name, size=f.size, md5=f.md5, uploaded=f.uploaded,
                           updated_at=f.updated_at,
                           url=runtime.blob_url("GET", f.storage_key, base))
               for f in files[:limit]],
        next_offset=offset + limit if len(files) > limit else None)


@router.get(RUN_PATH + "/alerts", response_model=list[out.AlertOut])
async def get_alerts(entity: str, project: str, run: str, request: Request,
                     user: User) -> list[out.AlertOut]:
    record = await _run(request, user, entity, project, run)
    alerts = await anyio.to_thread.run_sync(runtime_of(request).store.list_alerts, record.id)
    return [out.AlertOut(title=a.title, text=a.text, severity=a.severity,
                         created_at=a.created_at) for a in alerts]


@router.post(RUN_PATH + "/stop", response_model=out.StopOut, status_code=202)
async def stop_run(entity: str, project: str, run: str, request: Request,
                   user: User) -> out.StopOut:
    """Ask the run's client to stop: its next file_stream response says ``stopped``."""
    record = await _run(request, user, entity, project, run)
    await anyio.to_thread.run_sync(runtime_of(request).store.request_stop, record.id)
    return out.StopOut(stop_requested=True)


def run_out(record: RunRecord, *, detail: bool) -> out.RunOut:
    result = out.RunOut(
        entity=record.entity, project=record.project, id=record.name,
        display_name=record.display_name, state=record.state, exit_code=record.exit_code,
        notes=record.notes, group=record.group_name, job_type=record.job_type,
        tags=record.tags, host=record.host, program=record.program, commit=record.commit,
        created_at=record.created_at, updated_at=record.updated_at,
        heartbeat_at=record.heartbeat_at, finished_at=record.finished_at,
        stop_requested=record.stop_requested, history_line_count=record.history_line_count,
        events_line_count=record.events_line_count, log_line_count=record.log_line_count,
        last_step=record.last_step,
    )
    if detail:
        config = _loads(record.config)
        wandb_block = config.pop("_wandb", None)
        result.config = {k: v.get("value") if isinstance(v, dict) and "value" in v else v
                         for k, v in config.items()}
        result.metadata = wandb_block.get("value") if isinstance(wandb_block, dict) else None
        result.summary = _loads(record.summary)
        result.history_keys = _loads(record.history_keys)
    return result


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
