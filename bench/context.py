"""Benchmark scale, shared context (servers, logging, profiling)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs


@dataclass(frozen=True)
class Scale:
    name: str
    # W1: one run, METRICS metrics x STEPS steps through the tools' own clients
    w1_steps: int = 10_000
    w1_metrics: int = 100
    w1_timeout: float = 1200
    # alternating offline and online runs of the loop; the table gives the medians (the
    # loop's own time varies by a second or more between runs on a small VM)
    w1_reps: int = 3
    # W2: ingest capacity, RUNS concurrent streams of ROWS x METRICS per request, SECONDS long
    w2_runs: int = 64
    w2_rows: int = 100
    w2_metrics: int = 100
    w2_seconds: float = 30
    w2_mlflow_batch: int = 1000  # MLflow log-batch maximum
    w2_timeout: float = 60  # per request; bounds the drain after the window
    # W3: one metric of STEPS steps; chart fetches
    w3_steps: int = 1_000_000
    w3_batch: int = 10_000
    w3_mlflow_batch: int = 1000
    w3_warm_reps: int = 20
    w3_full_history_reps: int = 1  # warm fetches of MLflow's full history (plus one cold)
    w3_slow_budget: float = 15  # seconds of warm repeats for a slow (MLflow) request
    w3_load_timeout: float = 900
    # W4: a project of RUNS runs with 20 config keys and 20 summary metrics
    w4_runs: int = 10_000
    w4_reps: int = 20
    w4_concurrency: int = 8
    w4_load_timeout: float = 900
    # W5: RUNS runs streaming 1 request/s of ROWS x METRICS for SECONDS
    w5_runs: int = 200
    w5_seconds: float = 60
    w5_rows: int = 10
    w5_metrics: int = 50
    w5_timeout: float = 30  # per request


FULL = Scale("full")
QUICK = Scale("quick", w1_steps=500, w1_timeout=300, w1_reps=1, w2_seconds=5, w2_timeout=15,
              w3_steps=50_000, w3_full_history_reps=3, w3_load_timeout=300, w4_runs=500,
              w4_load_timeout=300, w5_seconds=20, w5_timeout=10)

WORKLOADS = ("W1", "W2", "W3", "W4", "W5")


@dataclass
class Ctx:
    scale: Scale
    root: Path  # scratch directory for this benchmark run (deleted at the end)
    results_dir: Path
    database: str = "sqlite"
    mlflow_workers: int = 1
    profile: bool = False
    started: float = field(default_factory=time.monotonic)
    results: dict[str, Any] = field(default_factory=dict)

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[bench {int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}] {message}", flush=True)

    def workdir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def runyard(self, name: str) -> Iterator[procs.RunyardServer]:
        server = procs.RunyardServer(f"runyard-{name}", self.workdir(f"runyard-{name}"),
                                     database=self.database)
        try:
            started = time.perf_counter()
            server.start()
            self.log(f"{name}: Runyard up on {server.url} ({self.database}, "
                     f"{time.perf_counter() - started:.1f} s to ready)")
            yield server
        finally:
            server.cleanup()

    @contextmanager
    def mlflow(self, name: str) -> Iterator[procs.MlflowServer]:
        server = procs.MlflowServer(f"mlflow-{name}", self.workdir(f"mlflow-{name}"),
                                    workers=self.mlflow_workers)
        try:
            started = time.perf_counter()
            server.start()
            self.log(f"{name}: MLflow up on {server.url} (SQLite, {self.mlflow_workers} "
                     f"worker(s), {time.perf_counter() - started:.1f} s to ready)")
            yield server
        finally:
            server.cleanup()

    @contextmanager
    def profiled(self, server: procs.Server, label: str) -> Iterator[None]:
        """py-spy record on the server while the block runs (only with --profile)."""
        pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if not self.profile or pyspy is None:
            yield
            return
        out = self.results_dir / f"profile-{label}.txt"
        out.unlink(missing_ok=True)
        proc = procs.spawn([pyspy, "record", "--pid", str(server.worker_pid()), "--rate", "97",
                            "--format", "raw", "--nonblocking", "--output", str(out)],
                           log=self.workdir("profiles") / f"{label}.log")
        try:
            yield
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
            procs.stop(proc)
            summary = summarize_profile(out)
            if summary:
                self.results.setdefault("profiles", {})[label] = summary
                self.log(f"profile {label}: {summary['samples']} samples -> {out.name}")


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any] | None:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        if not frames:
            continue
        if frames[-1].split(" (")[0].rsplit(".", 1)[-1] in IDLE:
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return None

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    ours = Counter({k: v for k, v in inclusive.items() if "(runyard/" in k})
    return {"samples": total, "idle_samples": idle, "file": path.name, "self_pct": share(own),
            "inclusive_pct": share(inclusive), "runyard_inclusive_pct": share(ours)}


#: Leaf functions of threads that wait (py-spy still samples some of them as active).
IDLE = frozenset({"select", "poll", "epoll", "wait", "acquire", "sleep", "accept", "_worker",
                  "get"})


def _frame(raw: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (module.py)``, with the package path kept
    short: ``runyard/stores/metadata/sql/store.py`` -> ``runyard/.../store.py``."""
    name, _, where = raw.strip().partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = file.split(os.sep)
    for anchor in ("runyard", "sqlalchemy", "starlette", "fastapi", "uvicorn", "anyio",
                   "graphql", "pydantic", "mlflow", "flask", "numpy"):
        if anchor in parts:
            i = parts.index(anchor)
            file = "/".join(parts[i:])
            break
    else:
        file = parts[-1] if parts else file
    if name.startswith("<") and not file:
        return ""
    return f"{name} ({file})"
