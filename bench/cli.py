"""``python -m bench``: run the workloads on Runyard and MLflow, print and write the table."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.clients import CONFLICTS
from bench.context import FULL, QUICK, WORKLOADS, Ctx
from bench.workloads import RUNNERS

ROOT = Path(__file__).resolve().parent.parent


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="every size ~20x smaller: a 2-3 minute smoke run")
    p.add_argument("--only", default=",".join(WORKLOADS),
                   help="comma-separated workloads to run, e.g. W2,W3 (default: all)")
    p.add_argument("--database", choices=("sqlite", "mariadb"), default="sqlite",
                   help="Runyard's metadata store: SQLite in a temp dir, or a fresh database "
                        "on the local MariaDB (127.0.0.1:3306, root, no password)")
    p.add_argument("--mlflow-workers", type=int, default=1,
                   help="uvicorn workers of the MLflow server (mlflow's own default is 4; "
                        "1 compares one server process with one)")
    p.add_argument("--profile", action="store_true",
                   help="py-spy record Runyard's server during W2 and W3 "
                        "(bench/results/profile-*.txt, summarised in latest.json)")
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results",
                   help="where latest.json, latest.md and latest.png go")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--rerender", action="store_true",
                   help="run nothing: print the table and rewrite latest.md/latest.png from "
                        "the results directory's latest.json")
    p.add_argument("--scale-w3-steps", type=int, default=None,
                   help="override W3's step count (e.g. when a full run does not fit)")
    p.add_argument("--scale-w4-runs", type=int, default=None, help="override W4's run count")
    return p.parse_args(argv)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty src" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.rerender:
        saved = json.loads((args.results / "latest.json").read_text())
        report.write(saved, args.results, rerender=True)
        print(report.terminal(saved))
        return 0
    only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in only if w not in WORKLOADS]
    if unknown:
        print(f"unknown workload(s): {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}",
              file=sys.stderr)
        return 2
    scale = QUICK if args.quick else FULL
    overrides = {}
    if args.scale_w3_steps:
        overrides["w3_steps"] = args.scale_w3_steps
    if args.scale_w4_runs:
        overrides["w4_runs"] = args.scale_w4_runs
    if overrides:
        from dataclasses import replace
        scale = replace(scale, name=scale.name + "*", **overrides)
    signal.signal(signal.SIGTERM, _on_signal)
    scratch = Path(tempfile.mkdtemp(prefix="runyard-bench-"))
    ctx = Ctx(scale=scale, root=scratch, results_dir=args.results, database=args.database,
              mlflow_workers=args.mlflow_workers, profile=args.profile)
    meta = {"scale": scale.name, "scale_values": scale.__dict__, "database": args.database,
            "mlflow": _version("mlflow"), "wandb": _version("wandb"),
            "mlflow_workers": args.mlflow_workers, "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "commit": _commit(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "workloads": only}
    results: dict[str, Any] = {"meta": meta, "workloads": {}}
    ctx.results = results
    ctx.log(f"scale {scale.name}, workloads {','.join(only)}, Runyard on {args.database}, "
            f"MLflow {meta['mlflow']} ({args.mlflow_workers} worker), scratch {scratch}")
    status = 0
    try:
        for name in only:
            started = time.monotonic()
            ctx.log(f"--- {name} ---")
            try:
                results["workloads"][name] = RUNNERS[name](ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one workload failing must not lose the others
                traceback.print_exc()
                results["workloads"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                status = 1
            results["workloads"][name]["wall_s"] = round(time.monotonic() - started, 1)
            ctx.log(f"{name} done in {time.monotonic() - started:.0f} s")
    except KeyboardInterrupt:
        ctx.log("interrupted: stopping servers")
        status = 130
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M")
    meta["upsert_conflicts_retried"] = CONFLICTS["retried"]
    meta["upsert_retries"] = dict(CONFLICTS)
    meta["wall_s"] = round(time.monotonic() - ctx.started, 1)
    if not results["workloads"]:
        return status
    written = report.write(results, args.results)
    print()
    print(report.terminal(results))
    print()
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    profiles = results.get("profiles") or {}
    for label, prof in profiles.items():
        print(f"\nprofile {label} ({prof['samples']} samples), top self time:")
        for name, pct in prof["self_pct"][:12]:
            print(f"  {pct:5.1f}%  {name}")
    if os.environ.get("BENCH_PRINT_JSON"):
        print(json.dumps(results, indent=2))
    return status
