"""Thin async HTTP clients for both servers, and latency bookkeeping.

Runyard is driven exactly as the wandb client drives it (GraphQL ``UpsertBucket`` creates a
run, ``POST /files/{entity}/{project}/{run}/file_stream`` appends history lines) and read
through its chart API and the public API's GraphQL ``Runs`` query. MLflow is driven through
its REST API, which is what its Python client sends (``runs/create``, ``runs/log-batch``,
``runs/search``, ``metrics/get-history``, and the UI's ``get-history-bulk-interval``).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.procs import ADMIN_KEY

ENTITY = "admin"
HISTORY = "wandb-history.jsonl"
TIMEOUT = httpx.Timeout(120.0, connect=10.0)

UPSERT_BUCKET = """
mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, \
$config: JSONString, $host: String, $state: String, $summaryMetrics: JSONString) {
  upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity, \
config: $config, host: $host, state: $state, summaryMetrics: $summaryMetrics}) {
    bucket { id name historyLineCount project { id name entity { id name } } }
    inserted
  }
}
"""

# The query wandb.Api().runs(path, filters=..., order=..., lazy=False) sends (wandb 0.31).
RUNS_QUERY = """
query Runs($project: String!, $entity: String!, $cursor: String, $perPage: Int = 50, \
$order: String, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    internalId
    runCount(filters: $filters)
    readOnly
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges { node { projectId ...RunFragment } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
fragment RunFragment on Run {
  id tags name displayName sweepName state config group jobType commit readOnly createdAt
  heartbeatAt description notes systemMetrics summaryMetrics historyLineCount
  user { name username }
  historyKeys
}
"""


def client(base_url: str, *, connections: int = 64, auth: bool = True) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, limits=limits,
                             auth=("api", ADMIN_KEY) if auth else None)


def sync_client(base_url: str, *, auth: bool = True) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=TIMEOUT,
                        auth=("api", ADMIN_KEY) if auth else None)


class BenchError(RuntimeError):
    pass


def check(response: httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise BenchError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


# --- latency bookkeeping --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


@dataclass
class Recorder:
    """Latencies of finished requests, errors, and points accepted in a time window."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    points: int = 0
    requests: int = 0
    first_start: float | None = None
    last_end: float | None = None

    def ok(self, start: float, end: float, points: int) -> None:
        self.latencies.append(end - start)
        self.points += points
        self.requests += 1
        self._span(start, end)

    def fail(self, start: float, end: float, why: str) -> None:
        self.errors += 1
        self.requests += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(why[:300])
        self._span(start, end)

    def _span(self, start: float, end: float) -> None:
        self.first_start = start if self.first_start is None else min(self.first_start, start)
        self.last_end = end if self.last_end is None else max(self.last_end, end)

    def summary(self) -> dict[str, Any]:
        span = (self.last_end - self.first_start) if self.first_start and self.last_end else 0
        return {
            "requests": self.requests, "errors": self.errors, "points": self.points,
            "seconds": round(span, 3),
            "points_per_s": round(self.points / span, 1) if span else None,
            "p50_ms": ms(percentile(self.latencies, 50)),
            "p99_ms": ms(percentile(self.latencies, 99)),
            "max_ms": ms(max(self.latencies) if self.latencies else None),
            "error_samples": self.error_samples,
        }


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# --- Runyard --------------------------------------------------------------------------------


def metric_values(rng: random.Random, keys: list[str]) -> str:
    """The ``"k":v,...`` part of a history line, with plausibly noisy values."""
    return ",".join(f'"{k}":{rng.uniform(-3, 3):.17g}' for k in keys)


def history_line(step: int, values: str, t0: float) -> str:
    return (f'{{"_step":{step},"_runtime":{step * 0.01:.3f},"_timestamp":{t0 + step * 0.01:.3f},'
            f"{values}}}")


def stream_body(offset: int, lines: list[str]) -> bytes:
    return json.dumps({"files": {HISTORY: {"offset": offset, "content": lines}}},
                      separators=(",", ":")).encode()


#: UpsertBucket answers that failed with a conflict and were retried (see create_run).
CONFLICTS: dict[str, int] = {"retried": 0}


async def create_run(api: httpx.AsyncClient, project: str, name: str, *,
                     config: dict[str, Any] | None = None,
                     summary: dict[str, Any] | None = None) -> None:
    """Create a run as wandb.init does. Concurrent first runs of a new project can collide
    on creating the project (409 conflict): counted in CONFLICTS and retried, at most 5x."""
    for attempt in range(6):
        try:
            await _upsert(api, project, name, config, summary)
            return
        except BenchError as exc:
            if "'conflict'" not in str(exc) or attempt == 5:
                raise
            CONFLICTS["retried"] += 1
            await asyncio.sleep(0.05 * (attempt + 1))


async def create_runs(api: httpx.AsyncClient, project: str, names: list[str],
                      concurrency: int = 8) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(name: str) -> None:
        async with sem:
            await create_run(api, project, name)

    await asyncio.gather(*(one(n) for n in names))


async def _upsert(api: httpx.AsyncClient, project: str, name: str,
                  config: dict[str, Any] | None, summary: dict[str, Any] | None) -> None:
    variables: dict[str, Any] = {"name": name, "project": project, "entity": ENTITY,
                                 "host": "bench", "state": "running"}
    if config is not None:
        variables["config"] = json.dumps({k: {"value": v} for k, v in config.items()})
    if summary is not None:
        variables["summaryMetrics"] = json.dumps(summary)
    response = await api.post("/graphql", json={"query": UPSERT_BUCKET, "variables": variables,
                                                "operationName": "UpsertBucket"})
    body = check(response, "UpsertBucket")
    if body.get("errors"):
        raise BenchError(f"UpsertBucket: {body['errors']}")


async def post_stream(api: httpx.AsyncClient, project: str, run: str, body: bytes
                      ) -> httpx.Response:
    return await api.post(f"/files/{ENTITY}/{project}/{run}/file_stream", content=body,
                          headers={"Content-Type": "application/json"})


def chart_params(run: str, key: str, low: int | None, high: int | None,
                 buckets: int = 1000) -> dict[str, Any]:
    params: dict[str, Any] = {"runs": run, "keys": key, "buckets": buckets}
    if low is not None:
        params["min_step"] = low
    if high is not None:
        params["max_step"] = high
    return params


# --- MLflow ---------------------------------------------------------------------------------

ML = "/api/2.0/mlflow"


async def ml_experiment(api: httpx.AsyncClient, name: str) -> str:
    body = check(await api.post(f"{ML}/experiments/create", json={"name": name}),
                 "experiments/create")
    return str(body["experiment_id"])


async def ml_run(api: httpx.AsyncClient, experiment_id: str, name: str) -> str:
    body = check(await api.post(f"{ML}/runs/create", json={
        "experiment_id": experiment_id, "run_name": name,
        "start_time": int(time.time() * 1000)}), "runs/create")
    return str(body["run"]["info"]["run_id"])


def ml_metrics(keys: list[str], steps: range, rng: random.Random, ts: int
               ) -> list[dict[str, Any]]:
    return [{"key": k, "value": rng.uniform(-3, 3), "timestamp": ts, "step": s}
            for s in steps for k in keys]
