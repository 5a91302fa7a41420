"""``/api/v1/.../charts``: bucketed series for charts, many runs by many metrics per request.

Each (run, metric) series comes back as at most ``buckets`` buckets; each bucket is the
exact aggregate (min, max, mean, first, last, count, first wall time) of the points logged
between its ``step`` and ``last_step``. Results are cached per run and invalidated by new
history lines (the cache key holds the run's line count).

A cached answer must still be current, whichever replica took the last write:

- with a shared cache (Redis) the whole answer is also cached under the project's generation
  counter, which every history write bumps (``Runtime.project_changed``, called by
  ``file_stream`` once the lines are committed) on the cache all replicas read, so a hit
  needs no database query;
- otherwise (``memory://`` is per process: another replica's write bumps only its own
  counter) each request reads the runs' line counts, all in one small query
  (``MetadataStore.history_versions_async``: on SQLite and MySQL/MariaDB made on the event
  loop without blocking it, else from a worker thread), and the per-run entries are keyed
  by them.

Every answer carries an ``ETag`` made of those versions; a client that revalidates
(``If-None-Match``) gets ``304 Not Modified`` without the series being read or sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from runyard.api.http.common import (
    CurrentUser,
    check_entity_access,
    current_user,
    runtime_of,
)
from runyard.cache.base import key_part
from runyard.errors import BadRequest, NotFound
from runyard.history.query import DEFAULT_BUCKETS, SeriesQuery
from runyard.stores.metadata.base import UserRecord

router = APIRouter(prefix="/api/v1", tags=["charts"])

MAX_RUNS = 200
MAX_KEYS = 100
CHART_TTL = 600.0
#: Whole answers under a project generation (shared caches only). Shorter than the per-run
#: entries: it bounds how long a bump lost to a cache outage can leave an answer stale.
VIEW_TTL = 60.0
#: Answers are private to the caller and must be revalidated before each reuse.
CACHE_CONTROL = "private, no-cache"
MAX_BUCKETS = 10_000
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


PATH = "/api/v1/entities/{entity}/projects/{project}/charts"
_INT64 = (-(2**63), 2**63 - 1)


@router.get("/entities/{entity}/projects/{project}/charts", response_model=ChartOut)
async def chart_series(
    entity: str, project: str, request: Request, user: CurrentUser,
    runs: Annotated[list[str], Query(description="Run ids.")],
    keys: Annotated[list[str], Query(description="Metric keys (nested keys with '.').")],
    min_step: Step = None,
    max_step: Annotated[int | None, Query(ge=_INT64[0], le=_INT64[1],
                                          description="Exclusive.")] = None,
    buckets: Annotated[int, Query(ge=1, le=MAX_BUCKETS)] = DEFAULT_BUCKETS,
) -> Response:
    # The documented form of the route. Requests are served by ``fast_chart_series`` (same
    # path, matched first), which reads the same parameters without FastAPI's dependency
    # solving: a cached chart answer is otherwise mostly framework work.
    return await _chart(request, user, entity, project, runs, keys, min_step, max_step,
                        buckets)


async def fast_chart_series(request: Request) -> Response:
    entity, project = request.path_params["entity"], request.path_params["project"]
    query = request.query_params
    runs, keys = query.getlist("runs"), query.getlist("keys")
    missing = [name for name, got in (("runs", runs), ("keys", keys)) if not got]
    if missing:
        raise BadRequest(f"invalid request: {', '.join(missing)}: field required")
    min_step = _int_param(query.get("min_step"), "min_step", *_INT64)
    max_step = _int_param(query.get("max_step"), "max_step", *_INT64)
    buckets = _int_param(query.get("buckets"), "buckets", 1, MAX_BUCKETS)
    user = await current_user(request)
    return await _chart(request, user, entity, project, runs, keys, min_step, max_step,
                        DEFAULT_BUCKETS if buckets is None else buckets)


def _int_param(raw: str | None, name: str, low: int, high: int) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest(f"invalid request: {name}: not an integer: {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"invalid request: {name}: must be between {low} and {high}")
    return value


async def _chart(request: Request, user: UserRecord, entity: str, project: str,
                 runs: list[str], keys: list[str], min_step: int | None,
                 max_step: int | None, buckets: int) -> Response:
    check_entity_access(user, entity)
    if len(runs) > MAX_RUNS or len(keys) > MAX_KEYS:
        raise BadRequest(f"at most {MAX_RUNS} runs and {MAX_KEYS} keys per request")
    runtime = runtime_of(request)
    store, cache = runtime.store, runtime.cache
    names = tuple(dict.fromkeys(runs))
    query = SeriesQuery(keys=tuple(dict.fromkeys(keys)), min_step=min_step, max_step=max_step,
                        buckets=buckets)
    query_key = key_part(query)
    view_key = None
    if cache.shared:
        # Read before the database: a write committed after this read bumps the generation,
        # so whatever is cached under it below is never served after that write returned.
        generation = await runtime.project_generation(entity, project)
        view_key = f"chartview:{entity}/{project}:{generation}:{key_part((names, query_key))}"
        cached = await cache.get(view_key)
        if cached is not None:
            tag, _, cached_body = cached.partition(b"\n")
            return _answer(request, tag.decode("ascii"), cached_body)
    versions = await store.history_versions_async(entity, project, names)
    for run_name in names:
        if run_name not in versions:
            raise NotFound(f"run {entity}/{project}/{run_name} does not exist")
    part_keys = [f"chart:{versions[n][0]}:{versions[n][1]}:{query_key}" for n in names]
    etag = f'"{key_part((names, part_keys))}"'
    if _matches(request.headers.get("if-none-match"), etag):
        return _not_modified(etag)
    parts: list[bytes] = []
    for run_name, key in zip(names, part_keys, strict=True):

        async def compute(run_id: int = versions[run_name][0], name: str = run_name) -> bytes:
            series = await anyio.to_thread.run_sync(store.read_series, run_id, query)
            return b",".join(_series_json(name, k, v.to_json()) for k, v in series.items())

        part = await cache.get_or_compute(key, CHART_TTL, compute)
        if part:
            parts.append(part)
    body = b'{"series":[' + b",".join(parts) + b"]}"
    if view_key is not None:
        await cache.set(view_key, etag.encode("ascii") + b"\n" + body, VIEW_TTL)
    return _answer(request, etag, body)


def _answer(request: Request, etag: str, body: bytes) -> Response:
    if _matches(request.headers.get("if-none-match"), etag):
        return _not_modified(etag)
    return Response(body, media_type="application/json",
                    headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})


def _not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks)."""
    if not if_none_match:
        return False
    tags: Sequence[str] = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def _series_json(run: str, key: str, columns: dict[str, Any]) -> bytes:
    """One series object (orjson: ~8x faster than json for a 1,000-bucket series)."""
    return orjson.dumps({"run": run, "key": key, **columns})
