"""Thin async HTTP clients for both servers, and latency bookkeeping.

Runyard is driven exactly as the wandb client drives it (GraphQL ``UpsertBucket`` creates a
run, ``POST /files/{entity}/{project}/{run}/file_stream`` appends history lines) and read
through its chart API and the public API's GraphQL ``Runs`` query. MLflow is driven through
its REST API, which is what its Python client sends (``runs/create``, ``runs/log-batch``,
``runs/search``, ``metrics/get-history``, and the UI's ``get-history-bulk-interval``).
"""

from __future__ import annotations

import asyncio
import base64
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


def client(base_url: str, *, connections: int = 64, auth: bool = True,
           timeout: float | None = None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, limits=limits,
                             timeout=httpx.Timeout(timeout, connect=10.0) if timeout else TIMEOUT,
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

    latencies: list[float] = field(default_factory=list)  # accepted requests
    all_latencies: list[float] = field(default_factory=list)  # accepted or failed
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    points: int = 0
    requests: int = 0
    first_start: float | None = None
    last_end: float | None = None

    def ok(self, start: float, end: float, points: int) -> None:
        self.latencies.append(end - start)
        self.all_latencies.append(end - start)
        self.points += points
        self.requests += 1
        self._span(start, end)

    def fail(self, start: float, end: float, why: str) -> None:
        self.errors += 1
        self.requests += 1
        self.all_latencies.append(end - start)
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
            # over every request, a failed one taking as long as it took to fail
            "p50_ms": ms(percentile(self.all_latencies, 50)),
            "p99_ms": ms(percentile(self.all_latencies, 99)),
            "max_ms": ms(max(self.all_latencies) if self.all_latencies else None),
            "ok_p50_ms": ms(percentile(self.latencies, 50)),
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
    on creating the project (409 conflict on SQLite, 503 on MariaDB): counted in CONFLICTS
    and retried like the wandb client retries, at most 5 times."""
    for attempt in range(6):
        try:
            await _upsert(api, project, name, config, summary)
            return
        except BenchError as exc:
            text = str(exc)
            kind = "conflict" if "'conflict'" in text else (
                "unavailable" if "HTTP 503" in text else None)
            if kind is None or attempt == 5:
                raise
            CONFLICTS["retried"] += 1
            CONFLICTS[kind] = CONFLICTS.get(kind, 0) + 1
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


# --- a minimal HTTP/1.1 keep-alive client for the load loops --------------------------------


class RawHttp:
    """One keep-alive connection speaking just enough HTTP/1.1 for POST + a JSON answer.

    The load loops (W2, W5) use one per simulated client instead of httpx: with hundreds of
    connections httpx spends ~10 ms of CPU per request, so on 2 cores the load generator,
    not the server, became the bottleneck. This costs a small fraction of that.
    """

    def __init__(self, base_url: str, *, auth: bool) -> None:
        hostport = base_url.split("://", 1)[1].rstrip("/")
        host, _, port = hostport.partition(":")
        self.host, self.port = host, int(port or 80)
        extra = f"Host: {hostport}\r\nContent-Type: application/json\r\n"
        if auth:
            token = base64.b64encode(f"api:{ADMIN_KEY}".encode()).decode()
            extra += f"Authorization: Basic {token}\r\n"
        self._extra = extra
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def post(self, path: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._post(path, body), timeout)
        except BaseException:
            self.close()  # state unknown after a timeout or an error: start afresh
            raise

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (f"POST {path} HTTP/1.1\r\n{self._extra}Content-Length: {len(body)}\r\n\r\n"
                ).encode()
        for attempt in (0, 1):
            fresh = self._writer is None
            if fresh:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None
            assert self._writer is not None
            try:
                self._writer.writelines((head, body))
                await self._writer.drain()
                status_line = await self._reader.readline()
                if not status_line:
                    raise ConnectionResetError("connection closed before an answer")
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if fresh or attempt:
                    raise
                continue  # a keep-alive connection the server had closed: once more, anew
            return await self._answer(status_line)
        raise ConnectionResetError("unreachable")

    async def _answer(self, status_line: bytes) -> tuple[int, bytes]:
        reader = self._reader
        assert reader is not None
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            data = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(await reader.readexactly(size))
                await reader.readline()
            data = b"".join(parts)
        else:
            data = await reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, data


def escaped_values(values: str) -> str:
    """``"k":v,...`` as it appears inside a JSON string (quotes escaped)."""
    return values.replace('"', '\\"')


def fast_stream_body(offset: int, first_step: int, rows: int, escaped: list[str],
                     t0: float) -> bytes:
    """The same body as ``stream_body(offset, [history_line(...)...])``, built without
    json.dumps (the values parts are escaped once, up front)."""
    n = len(escaped)
    lines = ",".join(
        f'"{{\\"_step\\":{s},\\"_runtime\\":{s * 0.01:.3f},\\"_timestamp\\":'
        f'{t0 + s * 0.01:.3f},{escaped[s % n]}}}"'
        for s in range(first_step, first_step + rows))
    return (f'{{"files":{{"{HISTORY}":{{"offset":{offset},"content":[{lines}]}}}}}}'
            ).encode()
