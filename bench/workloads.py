"""The workloads of issue 4 (W1-W5 and storage), each run on Runyard and on MLflow.

Every loop is bounded by a count and a deadline, talks only to 127.0.0.1, and stops by
itself. Each workload gets fresh servers (and, on MariaDB, a fresh database), so one
workload's data never slows another's.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench import clients as c
from bench.context import Ctx
from bench.procs import ADMIN_KEY, RssSampler, Server

SCRIPTS = Path(__file__).parent / "scripts"


# --- W1 ------------------------------------------------------------------------------------


def _wandb_env(home: Path, url: str | None) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update({
        "HOME": str(home), "WANDB_DIR": str(home),
        "WANDB_CONFIG_DIR": str(home / ".config" / "wandb"),
        "WANDB_CACHE_DIR": str(home / ".cache" / "wandb"),
        "WANDB_DATA_DIR": str(home / ".local" / "wandb"),
        "WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true",
        "NETRC": str(home / ".netrc"), "PYTHONUNBUFFERED": "1",
    })
    if url is None:
        env.update({"WANDB_MODE": "offline", "WANDB_API_KEY": ADMIN_KEY})
    else:
        env.update({"WANDB_MODE": "online", "WANDB_BASE_URL": url, "WANDB_API_KEY": ADMIN_KEY})
    return env


def _run_client(args: list[str], env: dict[str, str] | None, cwd: Path, timeout: float
                ) -> dict[str, Any]:
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise c.BenchError(f"client {args[0]} timed out after {timeout}s") from None
    finally:
        try:
            os.killpg(proc.pid, 9)  # the client's own helpers (wandb-core), if any linger
        except ProcessLookupError:
            pass
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise c.BenchError(f"client {args[0]} failed ({proc.returncode}):\n{out[-2000:]}\n"
                           f"{err[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def w1(ctx: Ctx) -> dict[str, Any]:
    s = ctx.scale
    steps, metrics = s.w1_steps, s.w1_metrics
    res: dict[str, Any] = {"steps": steps, "metrics": metrics, "points": steps * metrics}
    script = str(SCRIPTS / "w1_wandb.py")

    offline: list[dict[str, Any]] = []
    online: list[dict[str, Any]] = []
    with ctx.runyard("W1") as server:
        for rep in range(1, s.w1_reps + 1):
            name = f"offline{rep}"
            ctx.log(f"W1 wandb offline baseline {rep}/{s.w1_reps}: {metrics} metrics x {steps} "
                    "steps")
            offline.append(_run_client([script, "w1", name, str(steps), str(metrics)],
                                       _wandb_env(ctx.workdir(f"w1-{name}"), None),
                                       ctx.workdir(f"w1-{name}"), s.w1_timeout))
            ctx.log(f"W1 wandb offline: {offline[-1]['total_s']:.2f} s")
            name = f"online{rep}"
            ctx.log(f"W1 wandb -> Runyard {rep}/{s.w1_reps}: {metrics} metrics x {steps} steps")
            result = _run_client([script, "w1", name, str(steps), str(metrics)],
                                 _wandb_env(ctx.workdir(f"w1-{name}"), server.url),
                                 ctx.workdir(f"w1-{name}"), s.w1_timeout)
            with c.sync_client(server.url) as api:
                run = c.check(api.get(f"/api/v1/entities/admin/projects/w1/runs/{name}"), "run")
            result["stored_lines"] = run.get("history_line_count")
            result["state"] = run.get("state")
            if run.get("history_line_count") != steps:
                result["error"] = (f"stored {run.get('history_line_count')} lines, "
                                   f"expected {steps}")
            online.append(result)
            ctx.log(f"W1 wandb -> Runyard: {result['total_s']:.2f} s "
                    f"({run.get('history_line_count')} lines stored, {run.get('state')})")
    res["wandb_offline"] = _median_run(offline)
    res["runyard"] = _median_run(online)
    res["wandb_offline_runs_s"] = [round(r["total_s"], 2) for r in offline]
    res["runyard_runs_s"] = [round(r["total_s"], 2) for r in online]
    errors = [r["error"] for r in online if r.get("error")]
    if errors:
        res["runyard"]["error"] = errors[0]

    with ctx.mlflow("W1") as server:
        ctx.log(f"W1 MLflow log_batch: {metrics} metrics x {steps} steps")
        res["mlflow"] = _run_client(
            [str(SCRIPTS / "w1_mlflow.py"), server.url, "w1", str(steps), str(metrics)],
            None, ctx.workdir("w1-mlflow"), s.w1_timeout)
        with c.sync_client(server.url, auth=False) as api:
            hist = c.check(api.get(f"{c.ML}/metrics/get-history", params={
                "run_id": res["mlflow"]["run_id"], "metric_key": "m0",
                "max_results": 25000}), "get-history")
        res["mlflow"]["stored_m0"] = len(hist.get("metrics", []))
        ctx.log(f"W1 MLflow: {res['mlflow']['total_s']:.2f} s")
    return res


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda r: float(r["total_s"]))
    return dict(ordered[(len(ordered) - 1) // 2])


# --- W2 ------------------------------------------------------------------------------------


async def _gather_limited(n: int, coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(n)

    async def one(coro: Any) -> Any:
        async with sem:
            return await coro

    return await asyncio.gather(*(one(x) for x in coros))


async def _post_recorded(conn: c.RawHttp, path: str, body: bytes, points: int,
                         rec: c.Recorder, timeout: float) -> bool:
    start = time.perf_counter()
    try:
        status, data = await conn.post(path, body, timeout)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:  # incl. TimeoutError
        rec.fail(start, time.perf_counter(), repr(exc))
        return False
    end = time.perf_counter()
    if status == 200:
        rec.ok(start, end, points)
        return True
    rec.fail(start, end, f"{status} {data[:200]!r}")
    return False


def _finish(rec: c.Recorder, cpu: float, own: float) -> dict[str, Any]:
    out = rec.summary()
    out["server_cpu_s"] = round(cpu, 2)
    out["loadgen_cpu_s"] = round(own, 2)
    out["points_per_cpu_s"] = round(rec.points / cpu, 1) if cpu else None
    return out


async def _w2_runyard(server: Server, s: Any) -> dict[str, Any]:
    keys = [f"m{j}" for j in range(s.w2_metrics)]
    rng = random.Random(2)
    pool = [c.escaped_values(c.metric_values(rng, keys)) for _ in range(37)]
    names = [f"w2-{i:03d}" for i in range(s.w2_runs)]
    rec = c.Recorder()
    t0 = time.time()
    async with c.client(server.url) as api:
        await c.create_runs(api, "w2", names)
    deadline = time.perf_counter() + s.w2_seconds

    async def stream(name: str) -> None:
        conn = c.RawHttp(server.url, auth=True)
        path = f"/files/{c.ENTITY}/w2/{name}/file_stream"
        offset = 0
        try:
            while time.perf_counter() < deadline:
                body = c.fast_stream_body(offset, offset, s.w2_rows, pool, t0)
                if await _post_recorded(conn, path, body, s.w2_rows * s.w2_metrics, rec,
                                        s.w2_timeout):
                    offset += s.w2_rows
                else:
                    await asyncio.sleep(0.5)
        finally:
            conn.close()

    cpu0, own0 = server.cpu(), time.process_time()
    await asyncio.gather(*(stream(n) for n in names))
    out = _finish(rec, server.cpu() - cpu0, time.process_time() - own0)
    out["points_per_request"] = s.w2_rows * s.w2_metrics
    return out


async def _w2_mlflow(server: Server, s: Any, streams: int) -> dict[str, Any]:
    keys = [f"m{j}" for j in range(s.w2_metrics)]
    steps_per_request = max(1, s.w2_mlflow_batch // s.w2_metrics)
    points = steps_per_request * s.w2_metrics
    rng = random.Random(2)
    rec = c.Recorder()
    async with c.client(server.url, auth=False) as api:
        exp = await c.ml_experiment(api, f"w2-{streams}")
        run_ids = await _gather_limited(8, [c.ml_run(api, exp, f"w2-{i:03d}")
                                            for i in range(streams)])
    deadline = time.perf_counter() + s.w2_seconds

    async def stream(run_id: str) -> None:
        conn = c.RawHttp(server.url, auth=False)
        step = 0
        try:
            while time.perf_counter() < deadline:
                metrics = c.ml_metrics(keys, range(step, step + steps_per_request), rng,
                                       int(time.time() * 1000))
                body = json.dumps({"run_id": run_id, "metrics": metrics}).encode()
                if await _post_recorded(conn, f"{c.ML}/runs/log-batch", body, points, rec,
                                        s.w2_timeout):
                    step += steps_per_request
                else:
                    await asyncio.sleep(0.5)
        finally:
            conn.close()

    cpu0, own0 = server.cpu(), time.process_time()
    await asyncio.gather(*(stream(r) for r in run_ids))
    out = _finish(rec, server.cpu() - cpu0, time.process_time() - own0)
    out["points_per_request"] = points
    return out


#: MLflow's SQLite store does best with few concurrent writers: W2 also runs it at this many
#: streams, and the targets compare with MLflow's better figure.
MLFLOW_BEST_STREAMS = 4


def w2(ctx: Ctx) -> dict[str, Any]:
    s = ctx.scale
    res: dict[str, Any] = {"runs": s.w2_runs, "seconds": s.w2_seconds}
    with ctx.runyard("W2") as server:
        ctx.log(f"W2 Runyard: {s.w2_runs} streams x {s.w2_rows} rows x {s.w2_metrics} metrics "
                f"per request for {s.w2_seconds:g} s")
        with ctx.profiled(server, "W2-runyard"):
            res["runyard"] = asyncio.run(_w2_runyard(server, s))
        res["runyard"]["rss_mb"] = round(server.rss() / 2**20, 1)
        ctx.log(f"W2 Runyard: {res['runyard']['points_per_s']} points/s, "
                f"p50 {res['runyard']['p50_ms']} ms, errors {res['runyard']['errors']}")
    for streams, key in ((s.w2_runs, "mlflow"), (MLFLOW_BEST_STREAMS, "mlflow_best")):
        with ctx.mlflow("W2") as server:
            ctx.log(f"W2 MLflow: {streams} streams x log-batch of {s.w2_mlflow_batch} metrics "
                    f"for {s.w2_seconds:g} s")
            res[key] = asyncio.run(_w2_mlflow(server, s, streams))
            res[key]["streams"] = streams
            res[key]["rss_mb"] = round(server.rss() / 2**20, 1)
            ctx.log(f"W2 MLflow ({streams} streams): {res[key]['points_per_s']} points/s, "
                    f"p50 {res[key]['p50_ms']} ms, errors {res[key]['errors']}")
    return res


# --- W3 ------------------------------------------------------------------------------------


def w3_windows(n: int) -> list[tuple[str, int | None, int | None]]:
    """Full range and three zoom windows (10%, 1%, 0.1% of the steps), [low, high)."""
    return [("full", None, None),
            ("zoom 10%", n // 2, n // 2 + n // 10),
            ("zoom 1%", n * 9 // 10, n * 9 // 10 + n // 100),
            ("zoom 0.1%", n // 10, n // 10 + max(1, n // 1000))]


def w3_value(step: int, rng: random.Random) -> float:
    return float(2.5 * (1 + step / 5000) ** -0.5 + rng.gauss(0, 0.05))


def at_rest_bytes(server: Any, every: float = 1.0, limit: float = 15.0) -> int:
    """Disk bytes once the data stops changing (two equal readings ``every`` s apart, at
    most ``limit`` s): what the points cost at rest, after any write-ahead log that the
    server cuts back when writes stop. The same wait for both tools."""
    last, deadline = server.disk_bytes(), time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(every)
        now = server.disk_bytes()
        if now == last:
            break
        last = now
    return int(last)


def _timed_get(api: httpx.Client, path: str, params: dict[str, Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    response = api.get(path, params=params)
    elapsed = time.perf_counter() - start
    return elapsed, c.check(response, path)


def _w3_runyard(ctx: Ctx, server: Any) -> dict[str, Any]:
    s = ctx.scale
    n, batch = s.w3_steps, s.w3_batch
    out: dict[str, Any] = {}
    charts = "/api/v1/entities/admin/projects/w3/charts"
    rng = random.Random(3)
    t0 = time.time()
    with c.sync_client(server.url) as api:
        asyncio.run(_create_one(server.url, "w3", "w3-run"))
        ctx.log(f"W3 Runyard: loading {n:,} steps in file_stream batches of {batch:,} rows")
        start = time.perf_counter()
        deadline = start + s.w3_load_timeout
        loaded = 0
        while loaded < n and time.perf_counter() < deadline:
            count = min(batch, n - loaded)
            lines = [f'{{"_step":{i},"_runtime":{i * 0.01:.3f},"_timestamp":{t0 + i * 0.01:.3f},'
                     f'"loss":{w3_value(i, rng):.17g}}}' for i in range(loaded, loaded + count)]
            response = api.post("/files/admin/w3/w3-run/file_stream",
                                content=c.stream_body(loaded, lines),
                                headers={"Content-Type": "application/json"})
            c.check(response, "file_stream")
            loaded += count
        out["load_s"] = round(time.perf_counter() - start, 2)
        out["loaded"] = loaded
        out["load_points_per_s"] = round(loaded / out["load_s"], 1)
        if loaded < n:
            out["error"] = f"load stopped at the {s.w3_load_timeout:.0f} s limit"
        ctx.log(f"W3 Runyard: loaded {loaded:,} points in {out['load_s']} s")
        out["disk_bytes_at_last_write"] = server.disk_bytes()
        out["disk_bytes"] = at_rest_bytes(server)
        out["disk_files"] = server.disk_files()

        warm: dict[str, Any] = {}
        for label, low, high in w3_windows(loaded):
            first, body = _timed_get(api, charts, c.chart_params("w3-run", "loss", low, high))
            series = body["series"][0] if body.get("series") else {}
            want = (high if high is not None else loaded) - (low or 0)
            got = sum(series.get("count", []))
            times = [_timed_get(api, charts, c.chart_params("w3-run", "loss", low, high))[0]
                     for _ in range(s.w3_warm_reps)]
            # A different bucket count per request: same work, but never a cache hit.
            uncached = [_timed_get(api, charts, c.chart_params("w3-run", "loss", low, high,
                                                               buckets=1000 - i))[0]
                        for i in range(1, s.w3_warm_reps + 1)]
            warm[label] = {"first_ms": c.ms(first), "warm_p50_ms": c.ms(statistics.median(times)),
                           "uncached_p50_ms": c.ms(statistics.median(uncached)),
                           "buckets": len(series.get("count", [])), "points": got,
                           "exact": got == want}
            ctx.log(f"W3 Runyard chart {label}: first {warm[label]['first_ms']} ms, warm p50 "
                    f"{warm[label]['warm_p50_ms']} ms, uncached p50 "
                    f"{warm[label]['uncached_p50_ms']} ms ({got:,} of {want:,} points)")
        out["windows"] = warm
    for label, low, high in w3_windows(loaded):
        server.restart()
        with c.sync_client(server.url) as api:
            elapsed, _ = _timed_get(api, charts, c.chart_params("w3-run", "loss", low, high))
        out["windows"][label]["cold_ms"] = c.ms(elapsed)
        ctx.log(f"W3 Runyard chart {label}: cold {c.ms(elapsed)} ms (after a server restart)")
    out["disk_bytes_after_restart"] = server.disk_bytes()
    out["disk_files_after_restart"] = server.disk_files()
    return out


async def _create_one(url: str, project: str, name: str) -> None:
    async with c.client(url) as api:
        await c.create_run(api, project, name)


def _w3_mlflow(ctx: Ctx, server: Any) -> dict[str, Any]:
    s = ctx.scale
    n, batch = s.w3_steps, s.w3_mlflow_batch
    out: dict[str, Any] = {}
    rng = random.Random(3)
    t0 = int(time.time() * 1000)
    bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
    with c.sync_client(server.url, auth=False) as api:
        exp = c.check(api.post(f"{c.ML}/experiments/create", json={"name": "w3"}), "exp")
        run_id = c.check(api.post(f"{c.ML}/runs/create", json={
            "experiment_id": exp["experiment_id"], "run_name": "w3-run",
            "start_time": t0}), "run")["run"]["info"]["run_id"]
        ctx.log(f"W3 MLflow: loading {n:,} steps with log-batch of {batch} (sequential)")
        start = time.perf_counter()
        deadline = start + s.w3_load_timeout
        loaded = 0
        while loaded < n and time.perf_counter() < deadline:
            count = min(batch, n - loaded)
            metrics = [{"key": "loss", "value": w3_value(i, rng), "timestamp": t0 + i * 10,
                        "step": i} for i in range(loaded, loaded + count)]
            c.check(api.post(f"{c.ML}/runs/log-batch", json={"run_id": run_id,
                                                             "metrics": metrics}), "log-batch")
            loaded += count
        out["load_s"] = round(time.perf_counter() - start, 2)
        out["loaded"] = loaded
        out["load_points_per_s"] = round(loaded / out["load_s"], 1)
        if loaded < n:
            out["error"] = f"load stopped at the {s.w3_load_timeout:.0f} s limit"
        ctx.log(f"W3 MLflow: loaded {loaded:,} points in {out['load_s']} s")
        out["disk_bytes_at_last_write"] = server.disk_bytes()
        out["disk_bytes"] = at_rest_bytes(server)

        def sampled(low: int | None, high: int | None) -> tuple[float, int]:
            params: dict[str, Any] = {"run_ids": run_id, "metric_key": "loss",
                                      "max_results": 1000}
            if low is not None and high is not None:
                params.update(start_step=low, end_step=high - 1)
            elapsed, body = _timed_get(api, bulk, params)
            return elapsed, len(body.get("metrics", []))

        windows: dict[str, Any] = {}
        for label, low, high in w3_windows(loaded):
            first, points = sampled(low, high)
            # Slow requests are repeated fewer times (at least 5) to bound the phase.
            reps = max(5, min(s.w3_warm_reps, int(s.w3_slow_budget / max(first, 1e-3))))
            times = [sampled(low, high)[0] for _ in range(reps)]
            windows[label] = {"first_ms": c.ms(first), "points": points, "warm_reps": reps,
                              "warm_p50_ms": c.ms(statistics.median(times))}
            ctx.log(f"W3 MLflow sampled {label}: first {windows[label]['first_ms']} ms, warm p50 "
                    f"{windows[label]['warm_p50_ms']} ms ({points} points)")
        out["windows"] = windows
        full = [_mlflow_full_history(api, run_id) for _ in range(s.w3_full_history_reps)]
        out["full_history_warm_s"] = round(statistics.median(t for t, _ in full), 3)
        out["full_history_points"] = full[0][1]
        ctx.log(f"W3 MLflow full get-history: {out['full_history_warm_s']} s "
                f"({full[0][1]:,} points)")
    for label, low, high in w3_windows(loaded):
        server.restart()
        with c.sync_client(server.url, auth=False) as api:
            elapsed, _ = sampled_cold(api, bulk, run_id, low, high)
        out["windows"][label]["cold_ms"] = c.ms(elapsed)
        ctx.log(f"W3 MLflow sampled {label}: cold {c.ms(elapsed)} ms (after a server restart)")
    server.restart()
    with c.sync_client(server.url, auth=False) as api:
        out["full_history_cold_s"] = round(_mlflow_full_history(api, run_id)[0], 3)
    return out


def sampled_cold(api: httpx.Client, bulk: str, run_id: str, low: int | None,
                 high: int | None) -> tuple[float, Any]:
    params: dict[str, Any] = {"run_ids": run_id, "metric_key": "loss", "max_results": 1000}
    if low is not None and high is not None:
        params.update(start_step=low, end_step=high - 1)
    return _timed_get(api, bulk, params)


def _mlflow_full_history(api: httpx.Client, run_id: str) -> tuple[float, int]:
    """Every point of the metric, page by page (25,000 per page, the server's maximum)."""
    start = time.perf_counter()
    points, token = 0, None
    for _ in range(10_000):
        params: dict[str, Any] = {"run_id": run_id, "metric_key": "loss", "max_results": 25000}
        if token:
            params["page_token"] = token
        body = c.check(api.get(f"{c.ML}/metrics/get-history", params=params), "get-history")
        points += len(body.get("metrics", []))
        token = body.get("next_page_token")
        if not token:
            break
    return time.perf_counter() - start, points


def w3(ctx: Ctx) -> dict[str, Any]:
    res: dict[str, Any] = {"steps": ctx.scale.w3_steps}
    with ctx.runyard("W3") as server:
        with ctx.profiled(server, "W3-runyard"):
            res["runyard"] = _w3_runyard(ctx, server)
    with ctx.mlflow("W3") as server:
        res["mlflow"] = _w3_mlflow(ctx, server)
    for tool in ("runyard", "mlflow"):
        r = res[tool]
        r["bytes_per_million_points"] = round(r["disk_bytes"] / max(1, r["loaded"]) * 1e6)
        r["bytes_per_million_points_at_last_write"] = round(
            r["disk_bytes_at_last_write"] / max(1, r["loaded"]) * 1e6)
    return res


# --- W4 ------------------------------------------------------------------------------------

OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop", "lion"]


def w4_data(n: int) -> list[tuple[str, dict[str, Any], dict[str, float]]]:
    rng = random.Random(4)
    runs = []
    for i in range(n):
        config: dict[str, Any] = {
            "lr": rng.choice([1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]),
            "optimizer": rng.choice(OPTIMIZERS),
            "batch_size": rng.choice([16, 32, 64, 128, 256]),
            "seed": i, "epochs": rng.randint(1, 100),
            "dropout": round(rng.uniform(0, 0.5), 3),
            "model": rng.choice(["resnet18", "resnet50", "vit-b16", "convnext-t"]),
            "dataset": rng.choice(["cifar10", "cifar100", "imagenet"]),
        }
        for j in range(len(config), 20):
            config[f"hp{j}"] = round(rng.uniform(0, 1), 6)
        summary = {"acc": round(rng.random(), 9), "loss": round(rng.uniform(0, 5), 9)}
        for j in range(len(summary), 20):
            summary[f"metric{j}"] = round(rng.gauss(0, 1), 9)
        runs.append((f"r{i:05d}", config, summary))
    return runs


def w4_expected(data: list[tuple[str, dict[str, Any], dict[str, float]]], optimizer: str,
                limit: int = 50) -> list[str]:
    hits = [(summary["acc"], name) for name, config, summary in data
            if config["optimizer"] == optimizer]
    return [name for _acc, name in sorted(hits, key=lambda x: -x[0])[:limit]]


async def _w4_load_runyard(url: str, data: list[Any], concurrency: int, timeout: float
                           ) -> dict[str, Any]:
    deadline = time.perf_counter() + timeout
    start = time.perf_counter()
    done = 0
    async with c.client(url, connections=concurrency + 2) as api:
        async def one(item: Any) -> None:
            nonlocal done
            if time.perf_counter() > deadline:
                return
            name, config, summary = item
            await c.create_run(api, "w4", name, config=config, summary=summary)
            done += 1

        await _gather_limited(concurrency, [one(x) for x in data])
    seconds = time.perf_counter() - start
    return {"created": done, "load_s": round(seconds, 2),
            "runs_per_s": round(done / seconds, 1)}


async def _w4_load_mlflow(url: str, data: list[Any], concurrency: int, timeout: float
                          ) -> dict[str, Any]:
    deadline = time.perf_counter() + timeout
    start = time.perf_counter()
    done = 0
    async with c.client(url, connections=concurrency + 2, auth=False) as api:
        exp = await c.ml_experiment(api, "w4")

        async def one(item: Any) -> None:
            nonlocal done
            if time.perf_counter() > deadline:
                return
            name, config, summary = item
            run_id = await c.ml_run(api, exp, name)
            ts = int(time.time() * 1000)
            c.check(await api.post(f"{c.ML}/runs/log-batch", json={
                "run_id": run_id,
                "params": [{"key": k, "value": str(v)} for k, v in config.items()],
                "metrics": [{"key": k, "value": v, "timestamp": ts, "step": 0}
                            for k, v in summary.items()]}), "log-batch")
            done += 1

        await _gather_limited(concurrency, [one(x) for x in data])
    seconds = time.perf_counter() - start
    return {"created": done, "load_s": round(seconds, 2), "runs_per_s": round(done / seconds, 1),
            "experiment_id": exp}


def _w4_query_runyard(api: httpx.Client, optimizer: str) -> tuple[float, list[str], Any]:
    variables = {"project": "w4", "entity": "admin", "perPage": 50,
                 "order": "-summary_metrics.acc",
                 "filters": json.dumps({"config.optimizer": optimizer})}
    start = time.perf_counter()
    response = api.post("/graphql", json={"query": c.RUNS_QUERY, "variables": variables,
                                          "operationName": "Runs"})
    elapsed = time.perf_counter() - start
    body = c.check(response, "Runs")
    if body.get("errors"):
        raise c.BenchError(json.dumps(body["errors"])[:500])
    project = (body.get("data") or {}).get("project") or {}
    edges = ((project.get("runs") or {}).get("edges")) or []
    return elapsed, [e["node"]["name"] for e in edges], project.get("runCount")


def _w4_query_mlflow(api: httpx.Client, exp: str, optimizer: str
                     ) -> tuple[float, list[str], Any]:
    start = time.perf_counter()
    response = api.post(f"{c.ML}/runs/search", json={
        "experiment_ids": [exp], "filter": f"params.optimizer = '{optimizer}'",
        "order_by": ["metrics.acc DESC"], "max_results": 50})
    elapsed = time.perf_counter() - start
    body = c.check(response, "runs/search")
    return elapsed, [r["info"]["run_name"] for r in body.get("runs", [])], None


def _w4_measure(ctx: Ctx, query: Any, data: list[Any]) -> dict[str, Any]:
    firsts, repeats, wrong = [], [], []
    for optimizer in OPTIMIZERS:  # each filter's first request, then repeats of one filter
        elapsed, names, count = query(optimizer)
        firsts.append(elapsed)
        if names != w4_expected(data, optimizer):
            wrong.append(optimizer)
    for _ in range(ctx.scale.w4_reps):
        repeats.append(query(OPTIMIZERS[0])[0])
    return {"first_p50_ms": c.ms(statistics.median(firsts)),
            "p50_ms": c.ms(statistics.median(repeats)),
            "p99_ms": c.ms(c.percentile(repeats, 99)),
            "correct": not wrong, "wrong_for": wrong}


def w4(ctx: Ctx) -> dict[str, Any]:
    s = ctx.scale
    data = w4_data(s.w4_runs)
    res: dict[str, Any] = {"runs": s.w4_runs, "query": {
        "runyard": 'GraphQL Runs, filters={"config.optimizer": "adam"}, '
                   'order="-summary_metrics.acc", perPage=50 (wandb.Api().runs, lazy=False)',
        "mlflow": "runs/search, filter \"params.optimizer = 'adam'\", "
                  "order_by [\"metrics.acc DESC\"], max_results=50"}}
    with ctx.runyard("W4") as server:
        with c.sync_client(server.url) as api:
            asyncio.run(_create_one(server.url, "w4", "probe"))
            try:
                _w4_query_runyard(api, "adam")
                supported: str | None = None
            except c.BenchError as exc:
                supported = str(exc)
        if supported is not None:
            res["runyard"] = {"supported": False, "error": supported}
            ctx.log(f"W4 Runyard: GraphQL Runs with filters/order not supported yet: "
                    f"{supported[:200]}")
        else:
            ctx.log(f"W4 Runyard: creating {s.w4_runs:,} runs (UpsertBucket with config + "
                    f"summaryMetrics, {s.w4_concurrency} concurrent)")
            res["runyard"] = asyncio.run(_w4_load_runyard(server.url, data, s.w4_concurrency,
                                                          s.w4_load_timeout))
            ctx.log(f"W4 Runyard: {res['runyard']['created']:,} runs in "
                    f"{res['runyard']['load_s']} s")
            with c.sync_client(server.url) as api:
                try:
                    res["runyard"].update(_w4_measure(
                        ctx, lambda o: _w4_query_runyard(api, o), data[:res["runyard"]["created"]]))
                    res["runyard"]["supported"] = True
                except c.BenchError as exc:
                    res["runyard"].update(supported=False, error=str(exc))
            ctx.log(f"W4 Runyard query: {res['runyard']}")
    with ctx.mlflow("W4") as server:
        ctx.log(f"W4 MLflow: creating {s.w4_runs:,} runs (runs/create + log-batch with 20 params "
                f"and 20 metrics, {s.w4_concurrency} concurrent)")
        res["mlflow"] = asyncio.run(_w4_load_mlflow(server.url, data, s.w4_concurrency,
                                                    s.w4_load_timeout))
        ctx.log(f"W4 MLflow: {res['mlflow']['created']:,} runs in {res['mlflow']['load_s']} s")
        exp = res["mlflow"]["experiment_id"]
        with c.sync_client(server.url, auth=False) as api:
            res["mlflow"].update(_w4_measure(ctx, lambda o: _w4_query_mlflow(api, exp, o),
                                             data[:res["mlflow"]["created"]]))
        ctx.log(f"W4 MLflow query: p50 {res['mlflow']['p50_ms']} ms, "
                f"correct={res['mlflow']['correct']}")
    return res


# --- W5 ------------------------------------------------------------------------------------


async def _w5(server: Server, s: Any, tool: str) -> dict[str, Any]:
    keys = [f"m{j}" for j in range(s.w5_metrics)]
    rng = random.Random(5)
    pool = [c.escaped_values(c.metric_values(rng, keys)) for _ in range(31)]
    rec = c.Recorder()
    t0 = time.time()
    async with c.client(server.url, auth=tool == "runyard") as api:
        if tool == "runyard":
            names = [f"w5-{i:03d}" for i in range(s.w5_runs)]
            await c.create_runs(api, "w5", names)
        else:
            exp = await c.ml_experiment(api, "w5")
            names = await _gather_limited(8, [c.ml_run(api, exp, f"w5-{i:03d}")
                                              for i in range(s.w5_runs)])
    begin = time.perf_counter() + 0.5
    end_at = begin + s.w5_seconds
    points = s.w5_rows * s.w5_metrics

    async def stream(i: int, name: str) -> None:
        conn = c.RawHttp(server.url, auth=tool == "runyard")
        offset = 0
        tick = begin + i / s.w5_runs  # spread the runs over the second
        try:
            while tick < end_at and time.perf_counter() < end_at:  # never past the window
                await asyncio.sleep(max(0.0, tick - time.perf_counter()))
                tick += 1.0
                if tool == "runyard":
                    body = c.fast_stream_body(offset, offset, s.w5_rows, pool, t0)
                    path = f"/files/{c.ENTITY}/w5/{name}/file_stream"
                else:
                    body = json.dumps({"run_id": name, "metrics": c.ml_metrics(
                        keys, range(offset, offset + s.w5_rows), rng,
                        int(time.time() * 1000))}).encode()
                    path = f"{c.ML}/runs/log-batch"
                if await _post_recorded(conn, path, body, points, rec, s.w5_timeout):
                    offset += s.w5_rows
        finally:
            conn.close()

    idle_rss = server.rss()
    cpu0, own0 = server.cpu(), time.process_time()
    with RssSampler(server.pid) as rss:
        await asyncio.gather(*(stream(i, n) for i, n in enumerate(names)))
    out = _finish(rec, server.cpu() - cpu0, time.process_time() - own0)
    out["target_requests"] = s.w5_runs * int(s.w5_seconds)
    out["idle_rss_mb"] = round(idle_rss / 2**20, 1)
    out["peak_rss_mb"] = round(rss.peak / 2**20, 1)
    out["late_requests"] = sum(1 for x in rec.all_latencies if x > 1.0)
    return out


def w5(ctx: Ctx) -> dict[str, Any]:
    s = ctx.scale
    res: dict[str, Any] = {"runs": s.w5_runs, "seconds": s.w5_seconds}
    with ctx.runyard("W5") as server:
        ctx.log(f"W5 Runyard: {s.w5_runs} runs x 1 request/s ({s.w5_rows} rows x "
                f"{s.w5_metrics} metrics) for {s.w5_seconds:g} s")
        with ctx.profiled(server, "W5-runyard"):
            res["runyard"] = asyncio.run(_w5(server, s, "runyard"))
        ctx.log(f"W5 Runyard: errors {res['runyard']['errors']}, p50 {res['runyard']['p50_ms']} "
                f"ms, p99 {res['runyard']['p99_ms']} ms, peak RSS "
                f"{res['runyard']['peak_rss_mb']} MB")
    with ctx.mlflow("W5") as server:
        ctx.log(f"W5 MLflow: {s.w5_runs} runs x 1 log-batch/s ({s.w5_rows * s.w5_metrics} "
                f"metrics) for {s.w5_seconds:g} s")
        res["mlflow"] = asyncio.run(_w5(server, s, "mlflow"))
        ctx.log(f"W5 MLflow: errors {res['mlflow']['errors']}, p50 {res['mlflow']['p50_ms']} ms, "
                f"p99 {res['mlflow']['p99_ms']} ms, peak RSS {res['mlflow']['peak_rss_mb']} MB")
    return res


RUNNERS = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5}
