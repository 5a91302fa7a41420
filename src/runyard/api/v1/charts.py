"""``/api/v1/.../charts``: bucketed series for charts, many runs by many metrics per request.

Each (run, metric) series comes back as at most ``buckets`` buckets; each bucket is the
exact aggregate (min, max, mean, first, last, count, first wall time) of the points logged
between its ``step`` and ``last_step``. Results are cached per run and invalidated by new
history lines (the cache key holds the run's line count).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from runyard.api.http.common import CurrentUser, check_entity_access, runtime_of
from runyard.cache.base import key_part
from runyard.errors import BadRequest, NotFound
from runyard.history.query import DEFAULT_BUCKETS, SeriesQuery

router = APIRouter(prefix="/api/v1", tags=["charts"])

MAX_RUNS = 200
MAX_KEYS = 100
CHART_TTL = 600.0
Step = Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)]


class SeriesOut(BaseModel):
    run: str
    key: str
    step: list[int] = Field(description="First step of each bucket.")
    last_step: list[int]
    time: list[float] = Field(description="Wall time (epoch s) of each bucket's first point.")
    min: list[float | None] = Field(description="Smallest finite value; null when none.")
    max: list[float | None]
    mean: list[float | None]
    first: list[float | str] = Field(description="As logged; NaN/Infinity as strings.")
    last: list[float | str]
    count: list[int]


class ChartOut(BaseModel):
    series: list[SeriesOut]


@router.get("/entities/{entity}/projects/{project}/charts", response_model=ChartOut)
async def chart_series(
    entity: str, project: str, request: Request, user: CurrentUser,
    runs: Annotated[list[str], Query(description="Run ids.")],
    keys: Annotated[list[str], Query(description="Metric keys (nested keys with '.').")],
    min_step: Step = None,
    max_step: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1,
                                          description="Exclusive.")] = None,
    buckets: Annotated[int, Query(ge=1, le=10_000)] = DEFAULT_BUCKETS,
) -> Response:
    check_entity_access(user, entity)
    if len(runs) > MAX_RUNS or len(keys) > MAX_KEYS:
        raise BadRequest(f"at most {MAX_RUNS} runs and {MAX_KEYS} keys per request")
    runtime = runtime_of(request)
    store = runtime.store
    query = SeriesQuery(keys=tuple(dict.fromkeys(keys)), min_step=min_step, max_step=max_step,
                        buckets=buckets)
    query_key = key_part(query)
    parts: list[bytes] = []
    for run_name in dict.fromkeys(runs):
        record = await anyio.to_thread.run_sync(store.get_run, entity, project, run_name)
        if record is None:
            raise NotFound(f"run {entity}/{project}/{run_name} does not exist")
        key = f"chart:{record.id}:{record.history_line_count}:{query_key}"

        async def compute(run_id: int = record.id, name: str = run_name) -> bytes:
            series = await anyio.to_thread.run_sync(store.read_series, run_id, query)
            return ",".join(_series_json(name, k, v.to_json())
                            for k, v in series.items()).encode()

        part = await runtime.cache.get_or_compute(key, CHART_TTL, compute)
        if part:
            parts.append(part)
    return Response(b'{"series":[' + b",".join(parts) + b"]}", media_type="application/json")


def _series_json(run: str, key: str, columns: dict[str, Any]) -> str:
    return json.dumps({"run": run, "key": key, **columns}, separators=(",", ":"))
