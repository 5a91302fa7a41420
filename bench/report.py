"""The results table (terminal and Markdown), JSON files and the optional plot."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.workloads import w3_windows


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _ratio(better: float | None, worse: float | None) -> str:
    """How many times Runyard is better: ``worse/better`` for costs."""
    if not better or not worse:
        return "n/a"
    r = worse / better
    return f"{r:,.1f}x" if r < 100 else f"{r:,.0f}x"


def _at_most(value: float | None, limit: float, unit: str) -> str:
    if value is None:
        return "n/a"
    if value <= limit:
        return "met"
    over = value / limit
    by = f"{100 * (over - 1):.0f}% over" if over < 2 else f"{over:.1f}x over"
    return f"MISSED: {_num(value, 2)} vs <= {_num(limit)} {unit} ({by})"


def _at_least(value: float | None, limit: float, unit: str) -> str:
    if value is None:
        return "n/a"
    if value >= limit:
        return "met"
    share = f"{100 * value / limit:.0f}% of target"
    return f"MISSED: {_num(value, 2)} vs >= {_num(limit)} {unit} ({share})"


def _both(*verdicts: str) -> str:
    missed = [v for v in verdicts if v != "met"]
    return "met" if not missed else "; ".join(missed)


Row = dict[str, str]


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []

    def add(what: str, runyard: str, other: str, ratio: str, target: str = "",
            verdict: str = "") -> None:
        out.append({"what": what, "runyard": runyard, "other": other, "ratio": ratio,
                    "target": target, "verdict": verdict})

    w = results.get("workloads", {})
    if "W1" in w and "error" not in w["W1"]:
        r = w["W1"]
        ry, off, ml = r["runyard"], r["wandb_offline"], r["mlflow"]
        pts = r["points"]
        add(f"W1 {r['metrics']} metrics x {r['steps']:,} steps, s until durable",
            _num(ry["total_s"], 2), _num(ml["total_s"], 2),
            _ratio(ry["total_s"], ml["total_s"]))
        rel = ry["total_s"] / off["total_s"]
        runs = len(r.get("runyard_runs_s", [])) or 1
        add("W1 wandb online vs offline, same loop, s"
            + (f" (medians of {runs} runs each)" if runs > 1 else ""),
            _num(ry["total_s"], 2), f"offline {_num(off['total_s'], 2)}",
            f"{rel:.2f}x of offline", "<= 1.2x offline",
            _at_most(rel, 1.2, "x"))
        if runs > 1:
            add("W1 each run, s (online / offline, in the order run)",
                " ".join(_num(v, 2) for v in r["runyard_runs_s"]),
                " ".join(_num(v, 2) for v in r["wandb_offline_runs_s"]), "")
        add("W1 points/s through the client", _num(pts / ry["total_s"]),
            _num(pts / ml["total_s"]), _ratio(pts / ml["total_s"], pts / ry["total_s"]))
        if ry.get("error"):
            add("W1 Runyard check", ry["error"], "", "", "", "FAILED")
    if "W2" in w and "error" not in w["W2"]:
        ry, ml = w["W2"]["runyard"], w["W2"]["mlflow"]
        best = w["W2"].get("mlflow_best") or ml
        rate, mrate = ry["points_per_s"], ml["points_per_s"]
        mbest = max(mrate or 0, best["points_per_s"] or 0) or None
        ratio = (rate / mbest) if rate and mbest else None
        add(f"W2 ingest, points/s ({w['W2']['runs']} streams each)", _num(rate), _num(mrate),
            _ratio(mrate, rate), ">= 1,000,000/s and >= 50x MLflow's best",
            _both(_at_least(rate, 1_000_000, "points/s"),
                  _at_least(ratio, 50, "x") if ratio else "n/a"))
        if best is not ml:
            add(f"W2 ingest, points/s: MLflow at {best['streams']} streams (its best)", _num(rate),
                _num(best["points_per_s"]), _ratio(best["points_per_s"], rate))
        add("W2 points per server CPU-second", _num(ry["points_per_cpu_s"]),
            _num(ml["points_per_cpu_s"]),
            _ratio(ml["points_per_cpu_s"], ry["points_per_cpu_s"]))
        add(f"W2 latency p50 / p99 ms ({ry['points_per_request']:,} vs "
            f"{ml['points_per_request']:,} points/request)",
            f"{_num(ry['p50_ms'])} / {_num(ry['p99_ms'])}",
            f"{_num(ml['p50_ms'])} / {_num(ml['p99_ms'])}", "")
        add("W2 errors (non-200 or timeout)", str(ry["errors"]), str(ml["errors"]), "")
    if "W3" in w and "error" not in w["W3"]:
        ry, ml = w["W3"]["runyard"], w["W3"]["mlflow"]
        n = w["W3"]["steps"]
        add(f"W3 load {n:,} points of one metric, s",
            _num(ry["load_s"], 2), _num(ml["load_s"], 2), _ratio(ry["load_s"], ml["load_s"]))
        for label, _lo, _hi in w3_windows(n):
            a, b = ry["windows"][label], ml["windows"][label]
            exact = "" if a.get("exact") else " (INEXACT)"
            add(f"W3 {label}, warm p50 ms{exact}",
                _num(a["warm_p50_ms"], 2), _num(b["warm_p50_ms"], 2),
                _ratio(a["warm_p50_ms"], b["warm_p50_ms"]), "<= 20 ms and >= 20x",
                _both(_at_most(a["warm_p50_ms"], 20, "ms"),
                      _at_least(b["warm_p50_ms"] / a["warm_p50_ms"], 20, "x")))
            add(f"W3 {label}, uncached p50 ms",
                _num(a["uncached_p50_ms"], 2), _num(b["warm_p50_ms"], 2),
                _ratio(a["uncached_p50_ms"], b["warm_p50_ms"]))
            add(f"W3 {label}, cold ms",
                _num(a["cold_ms"], 2), _num(b["cold_ms"], 2), _ratio(a["cold_ms"], b["cold_ms"]),
                "<= 150 ms", _at_most(a["cold_ms"], 150, "ms"))
        full = ry["windows"]["full"]
        add(f"W3 whole metric: Runyard uncached 1,000-bucket chart vs MLflow get-history of "
            f"all {ml['full_history_points']:,} points (warm / cold), s",
            _num(full["uncached_p50_ms"] / 1000, 3),
            f"{_num(ml['full_history_warm_s'], 2)} / {_num(ml['full_history_cold_s'], 2)}",
            _ratio(full["uncached_p50_ms"] / 1000, ml["full_history_warm_s"]))
        add("Storage at rest, MB per million points (W3)",
            _num(ry["bytes_per_million_points"] / 1e6, 1),
            _num(ml["bytes_per_million_points"] / 1e6, 1),
            _ratio(ry["bytes_per_million_points"], ml["bytes_per_million_points"]),
            "<= 16 MB", _at_most(ry["bytes_per_million_points"] / 1e6, 16, "MB"))
        if ry.get("bytes_per_million_points_at_last_write"):
            add("Storage right after the last write (incl. write-ahead log), MB per million "
                "points",
                _num(ry["bytes_per_million_points_at_last_write"] / 1e6, 1),
                _num(ml["bytes_per_million_points_at_last_write"] / 1e6, 1),
                _ratio(ry["bytes_per_million_points_at_last_write"],
                       ml["bytes_per_million_points_at_last_write"]))
        if ry.get("disk_bytes_after_restart"):
            add("Storage, MB per million points, Runyard after restarts (WAL checkpointed)",
                _num(ry["disk_bytes_after_restart"] / ry["loaded"], 1),
                _num(ml["bytes_per_million_points"] / 1e6, 1),
                _ratio(ry["disk_bytes_after_restart"] / ry["loaded"] * 1e6,
                       ml["bytes_per_million_points"]))
    if "W4" in w and "error" not in w["W4"]:
        ry, ml = w["W4"]["runyard"], w["W4"]["mlflow"]
        label = f"W4 top 50 of {w['W4']['runs']:,} runs, filter + sort, p50 ms"
        if not ry.get("supported"):
            add(label, "not supported yet", _num(ml["p50_ms"], 2), "n/a", "<= 50 ms and >= 10x",
                "not supported yet")
        else:
            bad = "" if ry.get("correct") else " (WRONG RESULT)"
            add(label, _num(ry["p50_ms"], 2) + bad, _num(ml["p50_ms"], 2),
                _ratio(ry["p50_ms"], ml["p50_ms"]), "<= 50 ms and >= 10x",
                _both(_at_most(ry["p50_ms"], 50, "ms"),
                      _at_least(ml["p50_ms"] / ry["p50_ms"], 10, "x")))
            add("W4 first request per filter value, p50 ms", _num(ry["first_p50_ms"], 2),
                _num(ml["first_p50_ms"], 2), _ratio(ry["first_p50_ms"], ml["first_p50_ms"]))
            add("W4 create runs, runs/s", _num(ry["runs_per_s"]),
                _num(ml["runs_per_s"]), _ratio(ml["runs_per_s"], ry["runs_per_s"]))
    if "W5" in w and "error" not in w["W5"]:
        ry, ml = w["W5"]["runyard"], w["W5"]["mlflow"]
        head = f"W5 {w['W5']['runs']} runs x 1 req/s for {w['W5']['seconds']:g} s"
        add(f"{head}: errors", str(ry["errors"]), str(ml["errors"]), "", "0",
            "met" if ry["errors"] == 0 else f"MISSED: {ry['errors']} errors")
        add(f"{head}: p50 / p99 ms", f"{_num(ry['p50_ms'])} / {_num(ry['p99_ms'])}",
            f"{_num(ml['p50_ms'])} / {_num(ml['p99_ms'])}", _ratio(ry["p99_ms"], ml["p99_ms"]),
            "p99 <= 100 ms", _at_most(ry["p99_ms"], 100, "ms"))
        add(f"{head}: requests done / scheduled",
            f"{ry['requests']:,} / {ry.get('target_requests', 0):,}",
            f"{ml['requests']:,} / {ml.get('target_requests', 0):,}", "")
        add(f"{head}: server peak RSS MB", _num(ry["peak_rss_mb"]), _num(ml["peak_rss_mb"]),
            _ratio(ry["peak_rss_mb"], ml["peak_rss_mb"]), "<= 500 MB",
            _at_most(ry["peak_rss_mb"], 500, "MB"))
    for name, body in w.items():
        if "error" in body:
            add(f"{name} FAILED", body["error"][:160], "", "", "", "FAILED")
    return out


NOTES = """\
- W1: the same loop (`run.log` of 100 metrics per step) through `wandb` online to Runyard, through
  `wandb` with `WANDB_MODE=offline` (the baseline), and through `MlflowClient.log_batch` with
  1,000 metrics per call; seconds from `init`/`create_run` until `finish()`/`set_terminated`
  returns. Offline and online runs alternate, three of each (the loop alone varies by a
  second or more between runs on this VM); the table compares their medians.
- W2: sustained points/s over the window, counting only accepted (200) requests; Runyard
  requests carry 100 rows x 100 metrics, MLflow requests 1,000 metrics (its maximum).
- W3: Runyard chart API with 1,000 buckets; MLflow `get-history-bulk-interval` with
  `max_results=1000` (its sampled history). warm = p50 of 20 repeats (Runyard answers from its
  chart cache); uncached = p50 of 20 requests with a different bucket count each (999..980),
  so never a cache hit; cold = first request after restarting the server process.
  Zoom windows: 10%, 1% and 0.1% of the steps.
- W4: Runyard GraphQL `Runs` as `wandb.Api().runs(filters=..., order=..., lazy=False)` sends it;
  MLflow `runs/search` as `search_runs(filter_string=..., order_by=...)` sends it. Both results
  are checked against the expected top 50.
- W5: RSS is the server's whole process tree, peak of samples every 0.25 s.
"""


HEAD = ("Workload", "Runyard", "MLflow", "Runyard advantage", "Target", "Verdict")


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Scale `{meta['scale']}`, Runyard on {meta['database']}, MLflow {meta['mlflow']} "
        f"(SQLite, {meta['mlflow_workers']} worker), wandb {meta['wandb']}; "
        f"{meta['cpus']} cores; {meta['finished']}; commit {meta['commit']}. "
        "\"Runyard advantage\" = how many times better Runyard is (>1 is better).",
        "",
        "| " + " | ".join(HEAD) + " |",
        "|" + "---|" * len(HEAD),
    ]
    for r in rows(results):
        cells = [r["what"], r["runyard"], r["other"], r["ratio"], r["target"], r["verdict"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    conflicts = meta.get("upsert_conflicts_retried")
    notes = NOTES
    if conflicts:
        kinds = ", ".join(f"{n} x {k}" for k, n in (meta.get("upsert_retries") or {}).items()
                          if k != "retried")
        notes += (f"- {conflicts} concurrent `UpsertBucket` calls failed and were retried "
                  f"({kinds or 'conflict'}; 409 conflict: two requests insert the same new "
                  "project on SQLite; 503 unavailable: MariaDB deadlocks, error 1213, not "
                  "retried by the server).\n")
    return "\n".join(lines) + "\n\n" + notes


def terminal(results: dict[str, Any]) -> str:
    table = [list(HEAD)] + [[r["what"], r["runyard"], r["other"], r["ratio"], r["target"],
                             r["verdict"]] for r in rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEAD))]
    text = []
    for n, row in enumerate(table):
        text.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            text.append("  ".join("-" * wd for wd in widths))
    return "\n".join(text)


def write(results: dict[str, Any], out_dir: Path, *, rerender: bool = False) -> list[Path]:
    """latest.json + a timestamped copy, latest.md, latest.png; with ``rerender`` only the
    last two, from the results given (read from latest.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if not rerender:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        latest = out_dir / "latest.json"
        latest.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
        stamped = out_dir / f"results-{stamp}-{results['meta']['scale']}.json"
        shutil.copyfile(latest, stamped)
        written += [latest, stamped]
    md = out_dir / "latest.md"
    md.write_text(markdown(results))
    written.append(md)
    png = plot(results, out_dir / "latest.png")
    if png:
        written.append(png)
    return written


def plot(results: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    w = results.get("workloads", {})
    have3 = "W3" in w and "error" not in w["W3"]
    have2 = "W2" in w and "error" not in w["W2"]
    if not (have3 or have2):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    if have3:
        ax = axes[0]
        ry, ml = w["W3"]["runyard"]["windows"], w["W3"]["mlflow"]["windows"]
        labels = list(ry)
        x = range(len(labels))
        series = [("Runyard warm", [ry[k]["warm_p50_ms"] for k in labels]),
                  ("Runyard uncached", [ry[k]["uncached_p50_ms"] for k in labels]),
                  ("Runyard cold", [ry[k]["cold_ms"] for k in labels]),
                  ("MLflow sampled warm", [ml[k]["warm_p50_ms"] for k in labels]),
                  ("MLflow sampled cold", [ml[k]["cold_ms"] for k in labels])]
        width = 0.16
        for i, (name, values) in enumerate(series):
            ax.bar([p + (i - 2) * width for p in x], values, width, label=name)
        ax.axhline(20, color="green", linestyle="--", linewidth=0.8, label="target warm 20 ms")
        ax.axhline(150, color="orange", linestyle="--", linewidth=0.8,
                   label="target cold 150 ms")
        ax.set_yscale("log")
        ax.set_xticks(list(x), labels)
        ax.set_ylabel("ms (log)")
        ax.set_title(f"W3: chart of one {w['W3']['steps']:,}-step metric")
        ax.legend(fontsize=7)
    else:
        axes[0].set_visible(False)
    if have2:
        ax = axes[1]
        names = ["Runyard", f"MLflow ({w['W2']['runs']} streams)"]
        vals = [w["W2"]["runyard"]["points_per_s"] or 0, w["W2"]["mlflow"]["points_per_s"] or 0]
        best = w["W2"].get("mlflow_best")
        if best:
            names.append(f"MLflow ({best['streams']} streams)")
            vals.append(best["points_per_s"] or 0)
        ax.bar(names, vals, color=["tab:blue", "tab:red", "tab:orange"][:len(vals)])
        ax.axhline(1_000_000, color="green", linestyle="--", linewidth=0.8,
                   label="target 1M points/s")
        ax.set_yscale("log")
        ax.set_ylabel("points/s (log)")
        ax.set_title(f"W2: ingest, {w['W2']['runs']} concurrent streams")
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
        ax.legend(fontsize=7)
    else:
        axes[1].set_visible(False)
    meta = results["meta"]
    fig.suptitle(f"Runyard vs MLflow {meta['mlflow']} ({meta['scale']} scale, "
                 f"{meta['database']}, {meta['finished']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
