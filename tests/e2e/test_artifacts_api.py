"""The JSON API of artifacts (``/api/v1/.../artifact-types``, ``.../artifacts/...``, a run's
``/artifacts``), on artifacts logged and used by the unmodified wandb client.

One producer run logs two versions of a dataset (metadata, description, aliases), a model and
a reference artifact; one consumer run uses the dataset by alias and the model. The tests
read them back: types, collections with version counts, versions with aliases, a version's
metadata and lineage by ``vN`` and by alias, its files (a download through the returned
signed URL gives the bytes logged), a run's inputs and outputs, pagination, and the errors
(404, 400, 401, 403) in the one JSON error shape.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import client_env, output_of, read_out, run_script
from tests.e2e.server import RunyardServer, get_json

pytestmark = pytest.mark.e2e

ENTITY = "admin"
METADATA = {"rows": 3, "split": {"train": 0.8, "test": 0.2}, "source": {"kind": "synthetic",
                                                                           "seed": 5},
            "columns": ["x", "y"]}

LOG = r'''
import json, os, random, wandb

project = os.environ["PROJECT"]
salt = project.encode()  # blobs are shared by content across projects: these are ours alone

def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

out = {}
rng = random.Random(11)
run = wandb.init(project=project, entity="admin", job_type="producer", name="producer")
out["producer"] = run.id
write("data/a.bin", rng.randbytes(70_000) + b"\x00\xff end" + salt)
write("data/sub/b.txt", b"version zero " + salt + b"\n")
v0 = wandb.Artifact("dataset", type="dataset", description="first version",
                    metadata=json.loads(os.environ["METADATA"]))
v0.add_dir("data")
run.log_artifact(v0, aliases=["first"])
v0.wait()
os.makedirs("v0", exist_ok=True)
for name in ("a.bin", "sub/b.txt"):
    write(os.path.join("v0", name), open(os.path.join("data", name), "rb").read())
write("data/sub/b.txt", b"version one, longer " + salt + b"\n")
v1 = wandb.Artifact("dataset", type="dataset", description="second version")
v1.add_dir("data")
run.log_artifact(v1, aliases=["best"])
v1.wait()
write("model.bin", rng.randbytes(1234) + salt)
model = wandb.Artifact("model", type="model")
model.add_file("model.bin")
run.log_artifact(model)
model.wait()
write("refdir/r.txt", b"referenced\n")
refs = wandb.Artifact("refs", type="references")
refs.add_reference("file://" + os.path.abspath("refdir"), name="local")
run.log_artifact(refs)
refs.wait()
run.finish()

run = wandb.init(project=project, entity="admin", job_type="consumer", name="consumer")
out["consumer"] = run.id
run.use_artifact("dataset:first")
run.use_artifact("model:latest")
run.finish()
json.dump(out, open("out.json", "w"))
'''


@dataclass
class Logged:
    server: RunyardServer
    api: httpx.Client
    project: str
    producer: str
    consumer: str
    client_dir: Path

    @property
    def base(self) -> str:
        return f"/api/v1/entities/{ENTITY}/projects/{self.project}"


@pytest.fixture(scope="module")
def logged(server: RunyardServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Logged]:
    project = f"arts-{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("artifacts-api")
    env = client_env(server, root / "home", PROJECT=project, METADATA=json.dumps(METADATA))
    result = run_script(LOG, env, root / "client")
    assert result.returncode == 0, output_of(result)
    out = read_out(root / "client")
    with server.api() as api:
        yield Logged(server, api, project, out["producer"], out["consumer"], root / "client")


@pytest.fixture(scope="module")
def other_key(server: RunyardServer) -> str:
    """A second, non-admin user made with the real CLI; its key is stdout's last line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    command = [sys.executable, "-m", "runyard", "admin", "create-user", "artie",
               "--data-dir", str(server.data_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    if result.returncode != 0 and "taken" in result.stderr:
        command[3] = "create-key"
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                                check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    """The one JSON error shape; returns its message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors"}, body
    error = body["errors"][0]
    assert error["extensions"] == {"code": code, "status": status}, body
    assert "Traceback" not in response.text
    return str(error["message"])


def md5_hex(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324


def by_path(files: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in files}


# listings ------------------------------------------------------------------------------------
def test_types_and_their_collections(logged: Logged) -> None:
    types = get_json(logged.api, f"{logged.base}/artifact-types")
    assert [(t["name"], t["collection_count"]) for t in types["items"]] == [
        ("dataset", 1), ("model", 1), ("references", 1)]
    assert types["next_offset"] is None

    page = get_json(logged.api, f"{logged.base}/artifact-types/dataset/collections")
    assert page["total"] == 1
    assert page["next_offset"] is None
    (dataset,) = page["items"]
    assert dataset["name"] == "dataset"
    assert dataset["type"] == "dataset"
    assert (dataset["entity"], dataset["project"]) == (ENTITY, logged.project)
    assert dataset["version_count"] == 2
    assert dataset["latest_version"] == "v1"
    assert dataset["updated_at"] >= dataset["created_at"] > 0

    models = get_json(logged.api, f"{logged.base}/artifact-types/model/collections")
    assert [(c["name"], c["version_count"], c["latest_version"]) for c in models["items"]] == [
        ("model", 1, "v0")]
    assert get_json(logged.api, f"{logged.base}/artifacts/dataset") == dataset


def test_types_page(logged: Logged) -> None:
    first = get_json(logged.api, f"{logged.base}/artifact-types", limit=2)
    assert [t["name"] for t in first["items"]] == ["dataset", "model"]
    assert first["next_offset"] == 2
    rest = get_json(logged.api, f"{logged.base}/artifact-types", limit=2, offset=2)
    assert [t["name"] for t in rest["items"]] == ["references"]
    assert rest["next_offset"] is None


def test_versions_newest_first_with_aliases(logged: Logged) -> None:
    page = get_json(logged.api, f"{logged.base}/artifacts/dataset/versions")
    assert page["total"] == 2
    assert page["next_offset"] is None
    v1, v0 = page["items"]
    assert (v1["version"], v1["version_index"], v0["version"], v0["version_index"]) == (
        "v1", 1, "v0", 0)
    assert sorted(v1["aliases"]) == ["best", "latest"]
    assert v0["aliases"] == ["first"]
    assert {v0["state"], v1["state"]} == {"COMMITTED"}
    assert (v0["description"], v1["description"]) == ("first version", "second version")
    v0_files = logged.client_dir / "v0"
    assert v0["size"] == sum(p.stat().st_size for p in v0_files.rglob("*") if p.is_file())
    assert v0["file_count"] == v1["file_count"] == 2
    assert v1["size"] == v0["size"] + len("version one, longer ") - len("version zero ")
    assert v0["digest"] != v1["digest"]

    first = get_json(logged.api, f"{logged.base}/artifacts/dataset/versions", limit=1)
    assert [v["version"] for v in first["items"]] == ["v1"]
    assert first["next_offset"] == 1
    second = get_json(logged.api, f"{logged.base}/artifacts/dataset/versions", limit=1,
                      offset=1)
    assert [v["version"] for v in second["items"]] == ["v0"]
    assert second["next_offset"] is None


def test_version_detail_by_index_and_by_alias(logged: Logged) -> None:
    v0 = get_json(logged.api, f"{logged.base}/artifacts/dataset/versions/v0")
    assert get_json(logged.api, f"{logged.base}/artifacts/dataset/versions/first") == v0
    assert v0["version"] == "v0"
    assert v0["metadata"] == METADATA
    assert v0["description"] == "first version"
    assert v0["type"] == "dataset"
    assert v0["collection"] == "dataset"
    assert v0["created_by"]["id"] == logged.producer
    assert v0["created_by"]["display_name"] == "producer"
    assert [r["id"] for r in v0["logged_by"]] == [logged.producer]
    assert v0["logged_by_total"] == 1
    assert [(r["id"], r["display_name"], r["entity"], r["project"]) for r in v0["used_by"]] == [
        (logged.consumer, "consumer", ENTITY, logged.project)]
    assert v0["used_by_total"] == 1
    assert v0["used_by"][0]["state"] == "finished"

    latest = get_json(logged.api, f"{logged.base}/artifacts/dataset/versions/latest")
    assert latest["version"] == "v1"
    assert latest["metadata"] == {}
    assert latest["used_by"] == []
    assert latest["used_by_total"] == 0
    assert get_json(logged.api, f"{logged.base}/artifacts/dataset/versions/best") == latest


def test_files_download_the_exact_bytes(logged: Logged) -> None:
    page = get_json(logged.api, f"{logged.base}/artifacts/dataset/versions/v0/files")
    assert page["total"] == 2
    files = by_path(page["items"])
    assert sorted(files) == ["a.bin", "sub/b.txt"]
    for path, entry in files.items():
        local = logged.client_dir / "v0" / path
        assert entry["size"] == local.stat().st_size
        assert entry["md5"] == md5_hex(local)
        assert entry["ref"] is None
        with httpx.Client(timeout=30) as anonymous:  # the signed URL is the authorization
            downloaded = anonymous.get(entry["url"])
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.content == local.read_bytes()

    v1 = by_path(get_json(logged.api,
                          f"{logged.base}/artifacts/dataset/versions/v1/files")["items"])
    assert v1["a.bin"]["md5"] == files["a.bin"]["md5"]  # the same bytes, one blob
    b_v1 = f"version one, longer {logged.project}\n".encode()
    assert v1["sub/b.txt"]["md5"] == hashlib.md5(b_v1).hexdigest()  # noqa: S324
    with httpx.Client(timeout=30) as anonymous:
        assert anonymous.get(v1["sub/b.txt"]["url"]).content == b_v1

    first = get_json(logged.api, f"{logged.base}/artifacts/dataset/versions/v0/files", limit=1)
    assert [f["path"] for f in first["items"]] == ["a.bin"]
    assert first["next_offset"] == 1


def test_a_reference_has_no_download_link(logged: Logged) -> None:
    page = get_json(logged.api, f"{logged.base}/artifacts/refs/versions/latest/files")
    (entry,) = page["items"]
    assert entry["path"] == "local/r.txt"
    assert entry["url"] is None
    assert entry["md5"] is None
    assert entry["ref"] == "file://" + str(logged.client_dir / "refdir" / "r.txt")


def test_a_runs_outputs_and_inputs(logged: Logged) -> None:
    def names(run: str, kind: str) -> list[str]:
        page = get_json(logged.api, f"{logged.base}/runs/{run}/artifacts", kind=kind)
        assert page["total"] == len(page["items"])
        return [f"{v['collection']}:{v['version']}" for v in page["items"]]

    assert names(logged.producer, "output") == ["dataset:v0", "dataset:v1", "model:v0",
                                                "refs:v0"]
    assert names(logged.producer, "input") == []
    assert names(logged.consumer, "input") == ["dataset:v0", "model:v0"]
    assert names(logged.consumer, "output") == []
    default = get_json(logged.api, f"{logged.base}/runs/{logged.producer}/artifacts")
    assert len(default["items"]) == 4  # outputs unless asked
    item = get_json(logged.api, f"{logged.base}/runs/{logged.consumer}/artifacts",
                    kind="input")["items"][1]
    assert (item["type"], item["entity"], item["project"], item["aliases"]) == (
        "model", ENTITY, logged.project, ["latest"])
    page = get_json(logged.api, f"{logged.base}/runs/{logged.producer}/artifacts", limit=3)
    assert page["next_offset"] == 3


# errors --------------------------------------------------------------------------------------
def test_unknown_things_are_404(logged: Logged) -> None:
    base = logged.base
    for path in (f"/api/v1/entities/{ENTITY}/projects/no-such-project/artifact-types",
                 f"{base}/artifact-types/no-such-type/collections",
                 f"{base}/artifacts/no-such-artifact",
                 f"{base}/artifacts/no-such-artifact/versions",
                 f"{base}/artifacts/no-such-artifact/versions/v0",
                 f"{base}/artifacts/dataset/versions/v9",
                 f"{base}/artifacts/dataset/versions/no-such-alias",
                 f"{base}/artifacts/dataset/versions/v9/files",
                 f"{base}/runs/no-such-run/artifacts"):
        message = assert_error(logged.api.get(path), 404, "not_found")
        assert "does not exist" in message or "has no version" in message, (path, message)
    message = assert_error(logged.api.get(f"{base}/artifacts/dataset/versions/v9"), 404,
                           "not_found")
    assert "v9" in message


def test_bad_parameters_are_400(logged: Logged) -> None:
    base = logged.base
    assert_error(logged.api.get(f"{base}/runs/{logged.producer}/artifacts",
                                params={"kind": "sideways"}), 400, "bad_request")
    assert_error(logged.api.get(f"{base}/artifacts/dataset/versions", params={"limit": 0}),
                 400, "bad_request")
    assert_error(logged.api.get(f"{base}/artifact-types", params={"offset": -1}), 400,
                 "bad_request")


def _every_path(logged: Logged) -> list[str]:
    base = logged.base
    return [f"{base}/artifact-types", f"{base}/artifact-types/dataset/collections",
            f"{base}/artifacts/dataset", f"{base}/artifacts/dataset/versions",
            f"{base}/artifacts/dataset/versions/v0",
            f"{base}/artifacts/dataset/versions/v0/files",
            f"{base}/runs/{logged.producer}/artifacts"]


def test_no_key_is_401(logged: Logged) -> None:
    with httpx.Client(base_url=logged.server.url, timeout=30) as anonymous:
        for path in _every_path(logged):
            assert_error(anonymous.get(path), 401, "unauthorized")
    with logged.server.api("local-" + "Wr0ng" * 9) as wrong:
        for path in _every_path(logged):
            assert_error(wrong.get(path), 401, "unauthorized")


def test_another_users_entity_is_403(logged: Logged, other_key: str) -> None:
    with logged.server.api(other_key) as other:
        assert get_json(other, "/api/v1/viewer")["entity"] == "artie"
        for path in _every_path(logged):
            assert_error(other.get(path), 403, "forbidden")
        # Its own entity has no such project: a 404, not someone else's data.
        assert_error(other.get(f"/api/v1/entities/artie/projects/{logged.project}"
                               "/artifact-types"), 404, "not_found")
