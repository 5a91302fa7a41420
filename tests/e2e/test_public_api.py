"""The public API (``wandb.Api``) of the unmodified client reads back what the client logged.

Runs are logged by the real client first (and, for the 1,000+ runs of the paging tests,
created quickly through the GraphQL endpoint); every read goes through ``wandb.Api`` in a
subprocess, exactly as a user's notebook would.
"""

from __future__ import annotations

import hashlib
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import client_env, output_of, read_out, run_script
from tests.e2e.compare import same
from tests.e2e.server import ADMIN_KEY, RunyardServer

pytestmark = pytest.mark.e2e

PROJECT = "public-api"
MUTATIONS = "public-api-mut"
MANY = "public-api-many"
MANY_RUNS = 1050

LOG = r'''
import json, math, os, time
import wandb

specs = [
    dict(id="alpha", project="public-api", name="fast-alpha", steps=30, acc=0.95, sleep=3,
         config={"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "layers": [64, 64],
                 "arch": "Res-Net"},
         tags=["base", "a"], group="g1", job_type="train", notes="first notes"),
    dict(id="beta", project="public-api", name="slow-beta", steps=12, acc=0.5, sleep=0,
         config={"lr": 0.01, "opt": {"name": "sgd", "beta": 0.5}, "layers": [32], "arch": "vit"},
         tags=["b"], group="g2", job_type="eval", notes=None),
    dict(id="gamma", project="public-api", name="fast-gamma", steps=5, acc=0.7, sleep=0,
         config={"lr": 0.1, "opt": {"name": "sgd", "beta": 0.9}, "arch": "res-net"},
         tags=["a", "b"], group=None, job_type="train", notes=None),
    dict(id="delta", project="public-api-mut", name="to-update", steps=6, acc=0.3, sleep=0,
         config={"lr": 0.1, "keep": "me"}, tags=["t1"], group="g", job_type="train",
         notes="n"),
    dict(id="epsilon", project="public-api-mut", name="to-delete", steps=6, acc=0.2, sleep=0,
         config={"lr": 0.5}, tags=[], group=None, job_type=None, notes=None),
]
out = {}
for spec in specs:
    run = wandb.init(project=spec["project"], entity="admin", id=spec["id"], name=spec["name"],
                     config=spec["config"], tags=spec["tags"], group=spec["group"],
                     job_type=spec["job_type"], notes=spec["notes"],
                     settings=wandb.Settings(x_stats_sampling_interval=1.0))
    logged = []
    steps = spec["steps"]
    for i in range(steps):
        row = {"loss": 1.0 / (i + 1), "acc": spec["acc"] * i / max(1, steps - 1), "epoch": i,
               "nested": {"x": i}}
        if i == 3:
            row["special"] = float("nan")
        if i == 4:
            row["special"] = float("inf")
        if i == 5:
            row["special"] = float("-inf")
        if i % 3 == 0:
            row["sparse"] = i * 10
        run.log(row)
        logged.append(dict(row, _step=i))
    run.summary["best"] = spec["acc"]
    payload = os.urandom(20000) + bytes(range(256))
    fname = spec["id"] + ".bin"
    with open(fname, "wb") as f:
        f.write(payload)
    wandb.save(fname, policy="now")
    time.sleep(spec["sleep"])
    out[spec["id"]] = {"logged": logged, "file": fname,
                       "md5": __import__("hashlib").md5(payload).hexdigest(),
                       "config": spec["config"]}
    run.finish()
with open(os.environ["OUT"], "w") as f:
    json.dump(out, f)
'''

UPSERT = """
mutation UpsertBucket($name: String, $project: String, $entity: String, $config: JSONString,
                      $summaryMetrics: JSONString, $tags: [String!]) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, config: $config,
                       summaryMetrics: $summaryMetrics, tags: $tags}) {
    bucket { id name }
    inserted
  }
}
"""


def many_acc(i: int) -> float:
    return (i * 7919 % 1000) / 1000  # repeats: ties in the order must page stably


@pytest.fixture(scope="module")
def logged(server: RunyardServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cwd = tmp_path_factory.mktemp("public-log")
    env = client_env(server, cwd / "home", OUT=str(cwd / "out.json"))
    result = run_script(LOG, env, cwd)
    assert result.returncode == 0, output_of(result)
    out: dict[str, Any] = read_out(cwd)
    for spec in out.values():
        spec["path"] = str(cwd / spec["file"])
    return out


@pytest.fixture(scope="module")
def many(server: RunyardServer) -> dict[str, dict[str, Any]]:
    """1,050 runs created straight through GraphQL UpsertBucket (as fast as the server can)."""
    def create(i: int) -> None:
        variables = {
            "name": f"m{i:04d}", "project": MANY, "entity": "admin",
            "config": json.dumps({"i": {"value": i}, "parity": {"value": i % 2}}),
            "summaryMetrics": json.dumps({"acc": many_acc(i)}),
            "tags": ["even" if i % 2 == 0 else "odd"],
        }
        with httpx.Client(base_url=server.url, auth=("api", ADMIN_KEY), timeout=60) as client:
            response = client.post("/graphql", json={"query": UPSERT, "variables": variables})
            assert response.status_code == 200, response.text
            assert response.json()["data"]["upsertBucket"]["inserted"] is True

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(MANY_RUNS)))
    return {f"m{i:04d}": {"i": i, "acc": many_acc(i)} for i in range(MANY_RUNS)}


def api_script(server: RunyardServer, tmp_path: Path, body: str, **extra: str) -> Any:
    """Run ``body`` with ``api = wandb.Api()`` and ``out`` (dumped to $OUT as JSON)."""
    source = ("import json, math, os, sys\nimport wandb\napi = wandb.Api(timeout=60)\nout = {}\n"
              + body + "\nwith open(os.environ['OUT'], 'w') as f:\n    json.dump(out, f)\n")
    env = client_env(server, tmp_path / "home", OUT=str(tmp_path / "out.json"), **extra)
    result = run_script(source, env, tmp_path)
    assert result.returncode == 0, output_of(result)
    return read_out(tmp_path) | {"_stderr": result.stderr}


def user_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in ("_step",) or not k.startswith("_")}


def nonfinite_as_text(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


# runs: filters, order, paging ----------------------------------------------------------------
FILTER_QUERIES: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "config_eq": ({"config.lr": 0.1}, "+created_at", ["alpha", "gamma"]),
    "config_value_suffix": ({"config.lr.value": 0.01}, "+created_at", ["beta"]),
    "nested_config": ({"config.opt.name": "sgd"}, "+created_at", ["beta", "gamma"]),
    "summary_gt": ({"summary_metrics.best": {"$gt": 0.9}}, "+created_at", ["alpha"]),
    "and": ({"$and": [{"config.lr": 0.1}, {"summary_metrics.best": {"$lt": 0.9}}]},
            "+created_at", ["gamma"]),
    "or": ({"$or": [{"config.opt.name": "adam"}, {"tags": "b"}]}, "-created_at",
           ["gamma", "beta", "alpha"]),
    "in": ({"config.lr": {"$in": [0.01, 5]}}, "+created_at", ["beta"]),
    "nin": ({"config.lr": {"$nin": [0.01]}}, "+created_at", ["alpha", "gamma"]),
    "ne": ({"group": {"$ne": "g1"}}, "+created_at", ["beta", "gamma"]),
    "state": ({"state": "finished"}, "+created_at", ["alpha", "beta", "gamma"]),
    "state_in": ({"state": {"$in": ["crashed", "running"]}}, "+created_at", []),
    "tags_in": ({"tags": {"$in": ["base"]}}, "+created_at", ["alpha"]),
    "tags_nin": ({"tags": {"$nin": ["a"]}}, "+created_at", ["beta"]),
    "regex_name": ({"display_name": {"$regex": "^fast"}}, "+created_at", ["alpha", "gamma"]),
    "regex_config": ({"config.arch": {"$regex": "(?i)^res"}}, "+created_at",
                     ["alpha", "gamma"]),
    "job_type": ({"jobType": "train"}, "+created_at", ["alpha", "gamma"]),
    "order_summary": ({}, "-summary_metrics.best", ["alpha", "gamma", "beta"]),
    "order_config": ({}, "config.lr", ["beta", "alpha", "gamma"]),
    "order_summary_asc": ({}, "+summary_metrics.best", ["beta", "gamma", "alpha"]),
    "order_nested_loss": ({}, "-summary_metrics.loss", ["gamma", "beta", "alpha"]),
}

RUNS_BODY = r'''
queries = json.loads(os.environ["QUERIES"])
for key, (filters, order, _) in queries.items():
    runs = api.runs("admin/public-api", filters=filters, order=order, per_page=2)
    out[key] = {"ids": [r.id for r in runs], "len": len(runs)}
alpha = api.run("admin/public-api/alpha")
beta = api.run("admin/public-api/beta")
since = api.runs("admin/public-api", filters={"createdAt": {"$gte": beta.created_at}})
out["since_beta"] = [r.id for r in since]
until = api.runs("admin/public-api", filters={"created_at": {"$lt": beta.created_at}})
out["before_beta"] = [r.id for r in until]
try:
    list(api.runs("admin/public-api", filters={"config.lr": {"$bogus": 1}}))
except Exception as exc:
    out["bad_filter"] = str(exc)
'''


def test_runs_filters_and_order(server: RunyardServer, logged: dict[str, Any],
                                tmp_path: Path) -> None:
    out = api_script(server, tmp_path, RUNS_BODY, QUERIES=json.dumps(FILTER_QUERIES))
    for key, (_, _, expected) in FILTER_QUERIES.items():
        assert out[key]["ids"] == expected, (key, out[key])
        assert out[key]["len"] == len(expected), key
    assert out["since_beta"] == ["beta", "gamma"]
    assert out["before_beta"] == ["alpha"]
    assert "$bogus" in out["bad_filter"]


MANY_BODY = r'''
every = api.runs("admin/public-api-many", per_page=100)
out["count"] = len(every)
out["created"] = [(r.id, r.created_at) for r in every]
by_acc = api.runs("admin/public-api-many", order="-summary_metrics.acc", per_page=97)
out["by_acc"] = [r.id for r in by_acc]
chosen = api.runs("admin/public-api-many", per_page=50, order="config.i",
                  filters={"config.parity": 0, "summary_metrics.acc": {"$gte": 0.5}})
out["chosen"] = [r.id for r in chosen]
out["chosen_len"] = len(chosen)
odd = api.runs("admin/public-api-many", filters={"tags": {"$in": ["odd"]}}, per_page=1000)
out["odd"] = len(odd)
out["odd_ids"] = len({r.id for r in odd})
desc = api.runs("admin/public-api-many", order="-created_at", per_page=333)
out["desc"] = [r.id for r in desc]
'''


def test_runs_paginate_over_more_than_1000_runs(
    server: RunyardServer, many: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = api_script(server, tmp_path, MANY_BODY)
    names = sorted(many)
    assert out["count"] == MANY_RUNS
    created_ids = [rid for rid, _ in out["created"]]
    assert sorted(created_ids) == names  # every run once
    stamps = [at for _, at in out["created"]]
    assert stamps == sorted(stamps)  # +created_at
    assert out["desc"] == created_ids[::-1]  # ties on created_at broken the same way
    assert sorted(out["by_acc"]) == names
    accs = [many[rid]["acc"] for rid in out["by_acc"]]
    assert accs == sorted(accs, reverse=True)
    expected = [f"m{i:04d}" for i in range(0, MANY_RUNS, 2) if many_acc(i) >= 0.5]
    assert out["chosen"] == expected
    assert out["chosen_len"] == len(expected) > 200
    assert out["odd"] == out["odd_ids"] == MANY_RUNS // 2


# one run: fields, history, files ---------------------------------------------------------------
RUN_BODY = r'''
run = api.run("admin/public-api/alpha")
out["fields"] = {
    "id": run.id, "name": run.name, "state": run.state, "tags": run.tags, "group": run.group,
    "job_type": run.job_type, "notes": run.notes, "created_at": run.created_at,
    "heartbeat_at": run.heartbeat_at, "config": run.config, "project": run.project,
    "entity": run.entity, "user": run.user.username, "storage_id": run.storage_id,
    "project_internal_id": run._project_internal_id,
    "summary": {k: run.summary[k] for k in ("best", "loss", "_step")},
    "metadata": sorted(run.metadata or {}), "system_metrics": len(run.system_metrics),
    "history_keys": sorted(run.history_keys["keys"]), "last_step": run.lastHistoryStep,
}
out["history_default"] = run.history()
out["history"] = run.history(pandas=False)
out["history_10"] = run.history(samples=10, pandas=False)
out["history_loss"] = run.history(keys=["loss"], pandas=False)
out["history_sparse"] = run.history(keys=["sparse"], x_axis="epoch", pandas=False)
out["history_special"] = run.history(keys=["special"], pandas=False)
out["history_system"] = run.history(stream="system", pandas=False)
out["scan"] = list(run.scan_history())
out["scan_7"] = list(run.scan_history(page_size=7))
out["scan_range"] = list(run.scan_history(min_step=5, max_step=17, page_size=4))
out["scan_keys"] = list(run.scan_history(keys=["loss", "acc"], page_size=8))
out["scan_sparse"] = list(run.scan_history(keys=["sparse"], page_size=4))
out["scan_special"] = list(run.scan_history(keys=["special"]))
files = run.files()
out["files"] = sorted(f.name for f in files)
out["files_len"] = len(files)
out["files_paged"] = sorted(f.name for f in run.files(per_page=2))
out["files_json"] = sorted(f.name for f in run.files(pattern="%.json"))
one = run.file("alpha.bin")
out["file_size"] = one.size
path = one.download(root=os.environ["DL"], replace=True).name
out["file_md5"] = __import__("hashlib").md5(open(path, "rb").read()).hexdigest()
'''


@pytest.fixture(scope="module")
def alpha(server: RunyardServer, logged: dict[str, Any],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cwd = tmp_path_factory.mktemp("public-run")
    out: dict[str, Any] = api_script(server, cwd, RUN_BODY, DL=str(cwd / "dl"))
    return out


def test_run_fields_and_metadata(alpha: dict[str, Any], logged: dict[str, Any]) -> None:
    fields = alpha["fields"]
    assert fields["id"] == "alpha"
    assert fields["name"] == "fast-alpha"
    assert fields["state"] == "finished"
    assert fields["tags"] == ["base", "a"]
    assert (fields["group"], fields["job_type"], fields["notes"]) == ("g1", "train",
                                                                      "first notes")
    assert fields["config"] == logged["alpha"]["config"]
    assert (fields["project"], fields["entity"], fields["user"]) == (PROJECT, "admin", "admin")
    assert fields["storage_id"]
    assert isinstance(fields["project_internal_id"], int)
    assert fields["created_at"] <= fields["heartbeat_at"]
    assert fields["summary"]["best"] == 0.95
    assert fields["summary"]["_step"] == 29
    assert fields["summary"]["loss"] == logged["alpha"]["logged"][-1]["loss"]
    assert {"os", "python", "host"} <= set(fields["metadata"])  # wandb-metadata.json
    assert fields["system_metrics"] > 0
    assert {"loss", "acc", "epoch", "special", "sparse"} <= set(fields["history_keys"])
    assert fields["last_step"] == 29


def test_history_samples_keys_and_x_axis(alpha: dict[str, Any],
                                         logged: dict[str, Any]) -> None:
    rows = logged["alpha"]["logged"]
    history = alpha["history"]
    assert len(history) == len(rows)
    for got, want in zip(history, rows, strict=True):
        assert same(user_row(got), want), (got, want)
        assert "_runtime" in got
        assert "_timestamp" in got
    # Without pandas installed, pandas=True (the default) warns and returns the same rows.
    assert same(alpha["history_default"], history)
    assert "pandas" in alpha["_stderr"]
    sampled = [r["_step"] for r in alpha["history_10"]]
    assert len(sampled) == 10
    assert sampled[0] == 0
    assert sampled[-1] == 29
    assert sampled == sorted(set(sampled))
    assert alpha["history_loss"] == [{"_step": r["_step"], "loss": r["loss"]} for r in rows]
    assert alpha["history_sparse"] == [{"epoch": r["epoch"], "sparse": r["sparse"]}
                                       for r in rows if "sparse" in r]
    # Keyed reads are JSON values: non-finite numbers arrive as their names.
    assert alpha["history_special"] == [
        {"_step": r["_step"], "special": nonfinite_as_text(r["special"])}
        for r in rows if "special" in r]
    assert alpha["history_system"]
    assert all("_timestamp" in r for r in alpha["history_system"])


def test_scan_history_returns_every_row_exactly(alpha: dict[str, Any],
                                                logged: dict[str, Any]) -> None:
    rows = logged["alpha"]["logged"]
    for key in ("scan", "scan_7"):
        scanned = alpha[key]
        assert len(scanned) == len(rows), key
        for got, want in zip(scanned, rows, strict=True):
            assert same(user_row(got), want), (key, got, want)  # NaN and +-inf included
    assert [r["_step"] for r in alpha["scan_range"]] == list(range(5, 17))
    assert same([user_row(r) for r in alpha["scan_range"]], rows[5:17])
    assert alpha["scan_keys"] == [{"_step": r["_step"], "loss": r["loss"], "acc": r["acc"]}
                                  for r in rows]
    assert alpha["scan_sparse"] == [{"_step": r["_step"], "sparse": r["sparse"]}
                                    for r in rows if "sparse" in r]
    assert alpha["scan_special"] == [
        {"_step": r["_step"], "special": nonfinite_as_text(r["special"])}
        for r in rows if "special" in r]


def test_files_list_and_download_byte_identical(alpha: dict[str, Any],
                                                logged: dict[str, Any]) -> None:
    names = alpha["files"]
    assert {"alpha.bin", "wandb-metadata.json", "config.yaml", "wandb-summary.json",
            "output.log"} <= set(names)
    assert alpha["files_len"] == len(names)
    assert alpha["files_paged"] == names
    assert alpha["files_json"] == [n for n in names if n.endswith(".json")]
    original = Path(logged["alpha"]["path"]).read_bytes()
    assert alpha["file_size"] == len(original)
    digest = hashlib.md5(original, usedforsecurity=False).hexdigest()
    assert alpha["file_md5"] == digest == logged["alpha"]["md5"]


# writes: summary, config, tags, name, delete ---------------------------------------------------
UPDATE_BODY = r'''
run = api.run("admin/public-api-mut/delta")
run.summary.update({"extra": 5, "best": 0.99})
run.config["lr"] = 0.2
run.config["added"] = {"deep": [1, 2]}
run.tags.append("updated")
run.name = "renamed-delta"
run.group = "g-new"
run.job_type = "tune"
run.notes = "new notes"
run.update()
again = wandb.Api(timeout=60).run("admin/public-api-mut/delta")
out["config"] = again.config
out["summary"] = again.summary_metrics
out["tags"] = again.tags
out["name"] = again.name
out["group"] = again.group
out["job_type"] = again.job_type
out["notes"] = again.notes
out["history_rows"] = len(again.history(pandas=False))
fresh = wandb.Api(timeout=60)
out["run_ids"] = sorted(r.id for r in fresh.runs("admin/public-api-mut"))
out["by_extra"] = [r.id for r in fresh.runs("admin/public-api-mut",
                                            filters={"summary_metrics.extra": 5})]
out["by_lr"] = [r.id for r in fresh.runs("admin/public-api-mut", filters={"config.lr": 0.2})]
out["by_tag"] = [r.id for r in fresh.runs("admin/public-api-mut", filters={"tags": "updated"})]
'''


def test_summary_config_tags_name_updates_by_id(
    server: RunyardServer, logged: dict[str, Any], tmp_path: Path
) -> None:
    out = api_script(server, tmp_path, UPDATE_BODY)
    assert out["config"] == {"lr": 0.2, "keep": "me", "added": {"deep": [1, 2]}}
    assert out["summary"]["extra"] == 5
    assert out["summary"]["best"] == 0.99
    assert out["summary"]["loss"] == logged["delta"]["logged"][-1]["loss"]  # the rest stays
    assert out["tags"] == ["t1", "updated"]
    assert (out["name"], out["group"], out["job_type"], out["notes"]) == (
        "renamed-delta", "g-new", "tune", "new notes")
    assert out["history_rows"] == len(logged["delta"]["logged"])
    assert "delta" in out["run_ids"]
    assert len(out["run_ids"]) == len(set(out["run_ids"]))
    assert set(out["run_ids"]) <= {"delta", "epsilon"}  # no stray run
    assert out["by_extra"] == out["by_lr"] == out["by_tag"] == ["delta"]


DELETE_BODY = r'''
run = api.run("admin/public-api-mut/epsilon")
out["files_before"] = len(run.files())
run.delete()
fresh = wandb.Api(timeout=60)
try:
    fresh.run("admin/public-api-mut/epsilon")
    out["after"] = "found"
except Exception as exc:
    out["after"] = type(exc).__name__
out["remaining"] = sorted(r.id for r in fresh.runs("admin/public-api-mut"))
zeta = fresh.run("admin/public-api-many/m0001")
zeta.delete(delete_artifacts=True)
out["many_left"] = len(wandb.Api(timeout=60).runs("admin/public-api-many"))
'''


def test_run_delete(server: RunyardServer, logged: dict[str, Any],
                    many: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    with server.api() as api:
        files = api.get(f"/api/v1/entities/admin/projects/{MUTATIONS}/runs/epsilon/files")
        assert files.status_code == 200
        urls = [f["url"] for f in files.json()["items"] if f["uploaded"]]
    assert urls
    out = api_script(server, tmp_path, DELETE_BODY)
    assert out["files_before"] >= 1
    assert out["after"] in ("RunNotFoundError", "ValueError", "CommError")
    assert "epsilon" not in out["remaining"]
    assert out["many_left"] == MANY_RUNS - 1
    with server.api() as api:
        gone = api.get(f"/api/v1/entities/admin/projects/{MUTATIONS}/runs/epsilon")
        assert gone.status_code == 404
        for url in urls:  # the file bytes went with the run
            assert httpx.get(url, timeout=30).status_code == 404


# projects and viewer -------------------------------------------------------------------------
PROJECTS_BODY = r'''
viewer = api.viewer
out["viewer"] = [viewer.username, viewer.entity]
projects = list(api.projects("admin"))
out["projects"] = [p.name for p in projects]
out["created"] = [p.created_at for p in projects]
out["paged"] = [p.name for p in api.projects("admin", per_page=2)]
project = api.project("public-api", entity="admin")
out["project"] = [project.id, project.name, project.entity, project.created_at]
out["owner"] = project.owner.username
'''


def test_projects_project_and_viewer(server: RunyardServer, logged: dict[str, Any],
                                     tmp_path: Path) -> None:
    out = api_script(server, tmp_path, PROJECTS_BODY)
    assert out["viewer"] == ["admin", "admin"]
    assert {PROJECT, MUTATIONS} <= set(out["projects"])
    assert out["paged"] == out["projects"]  # pages of 2 give the same list
    assert len(out["projects"]) == len(set(out["projects"]))
    assert out["created"] == sorted(out["created"], reverse=True)  # newest first
    project_id, name, entity, created = out["project"]
    assert project_id
    assert (name, entity) == (PROJECT, "admin")
    assert created
    assert out["owner"] == "admin"
