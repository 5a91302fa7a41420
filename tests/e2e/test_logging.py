"""A run logged by the unmodified client arrives complete, and reads back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import client_env, output_of, read_out, run_script
from tests.e2e.compare import same, user_keys
from tests.e2e.server import RunyardServer, get_json

pytestmark = pytest.mark.e2e

BASIC = r'''
import json, math, os, sys
import numpy as np
import wandb

run = wandb.init(
    project="e2e", entity="admin", name="basic run", group="grp", job_type="train",
    tags=["a", "b"], notes="first notes",
    config={"lr": 0.01, "nested": {"a": 1, "b": [1, 2]}, "name": "x"},
)
run.define_metric("val/loss", summary="min")
logged = []
for i in range(12):
    row = {"loss": 1.0 / (i + 1), "val/loss": 2.0 / (i + 1) + (0.5 if i == 7 else 0),
           "nested": {"x": i, "y": {"z": i * 2}}, "text": f"s{i}", "flag": i % 2 == 0,
           "big": 2**53 + i, "tiny": 1e-300 * (i + 1)}
    if i == 3:
        row["special"] = float("nan")
    if i == 4:
        row["special"] = float("inf")
    run.log(row)
    logged.append(dict(row, _step=i))
run.log({"explicit": 1.5}, step=20)
logged.append({"explicit": 1.5, "_step": 20})
run.log({"part": 1}, step=21, commit=False)
run.log({"other": 2}, step=21)
logged.append({"part": 1, "other": 2, "_step": 21})
# An explicit step stays open until a later step is logged: this one closes step 21.
run.log({"img": wandb.Image(np.full((8, 8, 3), 127, dtype=np.uint8), caption="grey")}, step=22)
run.summary["manual"] = 42
run.summary.update({"extra": {"deep": [1, 2, 3]}})
run.config.update({"added_later": True})
print("hello stdout")
print("oops stderr", file=sys.stderr)
in_run_dir = os.path.join(run.dir, "written.txt")
with open(in_run_dir, "w") as f:
    f.write("written in the run dir")
wandb.save(in_run_dir, base_path=run.dir, policy="end")
with open("saved.txt", "w") as f:
    f.write("saved with wandb.save")
wandb.save("saved.txt", policy="now")
with open(os.environ["OUT"], "w") as f:
    json.dump({"id": run.id, "logged": logged}, f)
run.finish()
'''


@pytest.fixture(scope="module")
def basic_run(server: RunyardServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    cwd = tmp_path_factory.mktemp("basic")
    env = client_env(server, cwd / "home", OUT=str(cwd / "out.json"))
    result = run_script(BASIC, env, cwd)
    assert result.returncode == 0, output_of(result)
    out = read_out(cwd)
    with server.api() as api:
        base = f"/api/v1/entities/admin/projects/e2e/runs/{out['id']}"
        return {
            "out": out,
            "stdout": result.stdout + result.stderr,
            "run": get_json(api, base),
            "history": get_json(api, base + "/history", limit=10000)["rows"],
            "logs": get_json(api, base + "/logs")["lines"],
            "files": get_json(api, base + "/files")["items"],
            "events": get_json(api, base + "/system-metrics")["rows"],
        }


def test_run_metadata(basic_run: dict) -> None:
    run = basic_run["run"]
    assert run["state"] == "finished"
    assert run["exit_code"] == 0
    assert run["display_name"] == "basic run"
    assert run["group"] == "grp"
    assert run["job_type"] == "train"
    assert run["tags"] == ["a", "b"]
    assert run["notes"] == "first notes"
    assert run["program"].endswith("script.py")
    assert run["metadata"]["cli_version"] == "0.31.0"


def test_config_with_update_after_init(basic_run: dict) -> None:
    assert basic_run["run"]["config"] == {
        "lr": 0.01, "nested": {"a": 1, "b": [1, 2]}, "name": "x", "added_later": True}


def test_history_reads_back_row_by_row(basic_run: dict) -> None:
    logged = basic_run["out"]["logged"]
    stored = [row for row in basic_run["history"] if "img" not in row]
    assert [r["_step"] for r in stored] == [r["_step"] for r in logged]
    for want, got in zip(logged, stored, strict=True):
        assert same(user_keys(want), user_keys(got)), (want, got)
        assert isinstance(got["_runtime"], int | float)
        assert got["_timestamp"] > 1.7e9


def test_define_metric_and_summary_updates(basic_run: dict) -> None:
    summary = basic_run["run"]["summary"]
    assert summary["manual"] == 42
    assert summary["extra"] == {"deep": [1, 2, 3]}
    assert summary["val/loss"] == {"min": min(r["val/loss"] for r in basic_run["out"]["logged"]
                                              if "val/loss" in r)}
    assert summary["explicit"] == 1.5
    assert summary["img"]["_type"] == "image-file"
    definitions = basic_run["run"]["metadata"]["m"]
    assert any("val/loss" in json.dumps(d) for d in definitions)


def test_history_keys_and_types(basic_run: dict) -> None:
    keys = basic_run["run"]["history_keys"]
    assert keys["loss"] == {"number": 12}
    assert keys["text"] == {"string": 12}
    assert keys["flag"] == {"bool": 12}
    assert keys["img"] == {"image-file": 1}


def test_history_range_and_key_selection(basic_run: dict, server: RunyardServer) -> None:
    run_id = basic_run["out"]["id"]
    with server.api() as api:
        page = get_json(api, f"/api/v1/entities/admin/projects/e2e/runs/{run_id}/history",
                        keys=["loss"], min_step=2, max_step=6)
    assert [r["_step"] for r in page["rows"]] == [2, 3, 4, 5]
    assert all(set(r) == {"_step", "loss"} for r in page["rows"])
    assert page["rows"][0]["loss"] == pytest.approx(1 / 3, abs=0)


def test_media_image_is_stored_as_file(basic_run: dict, server: RunyardServer) -> None:
    image_row = next(r for r in basic_run["history"] if "img" in r)
    path = image_row["img"]["path"]
    files = {f["name"]: f for f in basic_run["files"]}
    assert path in files
    content = httpx.get(files[path]["url"], timeout=30).content
    assert content.startswith(b"\x89PNG")
    assert len(content) == image_row["img"]["size"] == files[path]["size"]


def test_saved_and_run_dir_files(basic_run: dict) -> None:
    files = {f["name"]: f for f in basic_run["files"]}
    for name in ("saved.txt", "written.txt", "wandb-metadata.json", "config.yaml",
                 "output.log", "wandb-summary.json", "requirements.txt"):
        assert name in files, sorted(files)
        assert files[name]["uploaded"], name
    assert httpx.get(files["saved.txt"]["url"], timeout=30).text == "saved with wandb.save"
    assert httpx.get(files["written.txt"]["url"], timeout=30).text == "written in the run dir"
    summary_file = json.loads(httpx.get(files["wandb-summary.json"]["url"], timeout=30).text)
    assert summary_file["manual"] == 42


def test_console_output(basic_run: dict) -> None:
    lines = [line["content"] for line in basic_run["logs"]]
    assert [n["line_no"] for n in basic_run["logs"]] == list(range(len(lines)))
    assert any(line.endswith(" hello stdout") and not line.startswith("ERROR")
               for line in lines), lines
    assert any(line.startswith("ERROR ") and line.endswith(" oops stderr") for line in lines)


def test_system_metrics(basic_run: dict) -> None:
    assert basic_run["events"], "no system metrics row"
    first = basic_run["events"][0]
    assert any(k.startswith("system.") for k in first)
    assert first["_wandb"] is True


def test_run_listed_in_project(basic_run: dict, server: RunyardServer) -> None:
    with server.api() as api:
        page = get_json(api, "/api/v1/entities/admin/projects/e2e/runs", tag="a",
                        state="finished")
        projects = get_json(api, "/api/v1/entities/admin/projects")
    assert basic_run["out"]["id"] in [r["id"] for r in page["items"]]
    assert "e2e" in [p["name"] for p in projects["items"]]


def test_printed_run_url_uses_server(basic_run: dict, server: RunyardServer) -> None:
    assert f"{server.url}/admin/e2e/runs/{basic_run['out']['id']}" in basic_run["stdout"]


def test_no_leftover_partial_uploads(server: RunyardServer, basic_run: dict) -> None:
    leftovers = [p for p in Path(server.data_dir, "blobs").rglob(".upload-*")]
    assert leftovers == []
