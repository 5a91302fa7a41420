"""Artifacts logged, used, downloaded and managed by the unmodified client, checked by content.

Every download happens in a fresh HOME (its own wandb cache), so the bytes compared come
from the server, not from the client's cache. Blob files are read straight from the local
blob store: content-addressed (``artifacts/md5/<md5>``), uploaded once (same inode), freed
when the last version that references them is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import client_env, output_of, read_out, run_script, start_script
from tests.e2e.server import RunyardServer

pytestmark = pytest.mark.e2e

HELPERS = r'''
import hashlib, json, os

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

def tree(root):
    return {os.path.relpath(os.path.join(d, n), root): sha(os.path.join(d, n))
            for d, _, names in os.walk(root) for n in names}

def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

def blobs():
    root = os.path.join(os.environ["BLOBS"], "artifacts", "md5")
    if not os.path.isdir(root):
        return {}
    return {n: os.stat(os.path.join(root, n)).st_ino for n in os.listdir(root)}

def dump(out):
    with open(os.environ["OUT"], "w") as f:
        json.dump(out, f)
'''

PRODUCER = HELPERS + r'''
import random
import wandb

project = os.environ["PROJECT"]
rng = random.Random(5)
big = rng.randbytes(300_000)
write("data/a.bin", big)
write("data/sub/b.txt", b"version zero\n")
write("data/c.json", b'{"k": [1, 2, 3]}')
write("model.bin", big)  # the same bytes as data/a.bin, in another artifact
write("refdir/r1.txt", b"referenced one\n")
write("refdir/deep/r2.txt", b"referenced two\n")
out = {}

run = wandb.init(project=project, entity="admin", job_type="producer")
out["run"] = run.id

a0 = wandb.Artifact("dataset", type="dataset", description="first version",
                    metadata={"rows": 3, "source": {"kind": "synthetic", "seed": 5}})
a0.add_dir("data")
run.log_artifact(a0, aliases=["first", "best"])
a0.wait()
out["v0"] = {"id": a0.id, "version": a0.version, "aliases": sorted(a0.aliases),
             "files": tree("data"), "digest": a0.digest}
out["blobs_v0"] = blobs()

write("data/sub/b.txt", b"version one\n")
write("data/new.txt", b"added in v1\n")
a1 = wandb.Artifact("dataset", type="dataset", description="second version")
a1.add_dir("data")
run.log_artifact(a1, aliases=["best"])
a1.wait()
out["v1"] = {"id": a1.id, "version": a1.version, "aliases": sorted(a1.aliases),
             "files": tree("data")}

again = wandb.Artifact("dataset", type="dataset")
again.add_dir("data")
run.log_artifact(again, aliases=["again"])
again.wait()
out["again"] = {"id": again.id, "version": again.version}

model = wandb.Artifact("model", type="model")
model.add_file("model.bin")
run.log_artifact(model)
model.wait()
out["model"] = {"id": model.id, "version": model.version, "files": {"model.bin": sha("model.bin")}}

refs = wandb.Artifact("refs", type="references")
refs.add_reference("file://" + os.path.abspath("refdir"), name="local")
refs.add_reference("s3://runyard-no-such-bucket/some/remote.csv", name="remote.csv",
                   checksum=False)
run.log_artifact(refs)
refs.wait()
out["refs"] = {"id": refs.id, "files": tree("refdir"),
               "entries": {p: e.ref for p, e in refs.manifest.entries.items()}}
out["blobs_end"] = blobs()
dump(out)
run.finish()
'''

CONSUMER = HELPERS + r'''
import wandb
from types import SimpleNamespace
from wandb.apis.public.artifacts import RunArtifacts

project = os.environ["PROJECT"]
out = {}
run = wandb.init(project=project, entity="admin", job_type="consumer")
out["run"] = run.id
for name in ("dataset:best", "dataset:v0", "dataset:first", "dataset:latest", "model:latest"):
    art = run.use_artifact(name)
    root = art.download(root=os.path.join("dl", name.replace(":", "-")))
    art.verify(root=root)
    out[name] = {"id": art.id, "version": art.version, "files": tree(root)}
refs = run.use_artifact("refs:latest")
root = refs.download(root="dl/refs", path_prefix="local")
out["refs"] = {"files": tree(root), "entries": {p: e.ref for p, e in refs.manifest.entries.items()}}
for name in ("dataset:no-such-alias", "no-such-artifact:latest", "dataset:v99"):
    try:
        run.use_artifact(name)
        out[name] = "found"
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
run.finish()

api = wandb.Api()
v0 = api.artifact(f"admin/{project}/dataset:v0")
out["v0_meta"] = {"metadata": v0.metadata, "description": v0.description, "type": v0.type,
                  "aliases": sorted(v0.aliases), "files": sorted(f.name for f in v0.files())}
out["logged_by"] = v0.logged_by().id
out["used_by"] = sorted(r.id for r in v0.used_by())
for key, run_id, mode in (("producer_logged", os.environ["PRODUCER"], "logged"),
                          ("consumer_used", run.id, "used")):
    target = SimpleNamespace(entity="admin", project=project, id=run_id)
    out[key] = sorted(a.name for a in RunArtifacts(api._service_api, target, mode=mode))
dump(out)
'''

API_OPS = HELPERS + r'''
import wandb

project = os.environ["PROJECT"]
path = f"admin/{project}"
api = wandb.Api()
out = {}
out["types"] = sorted(t.name for t in api.artifact_types(path))
out["dataset_versions"] = sorted(a.name for a in api.artifacts("dataset", f"{path}/dataset"))
out["collections"] = sorted(c.name for c in api.artifact_collections(path, "dataset"))
out["model_collections"] = sorted(c.name for c in api.artifact_collections(path, "model"))
out["collection_aliases"] = sorted(api.artifact_collection("dataset", f"{path}/dataset").aliases)

v0 = api.artifact(f"{path}/dataset:v0")
v0.aliases.append("golden")
v0.aliases.remove("first")
v0.save()
out["golden"] = api.artifact(f"{path}/dataset:golden").version
out["v0_aliases"] = sorted(api.artifact(f"{path}/dataset:v0").aliases)
try:
    api.artifact(f"{path}/dataset:first")
    out["first"] = "found"
except Exception as exc:
    out["first"] = f"{type(exc).__name__}: {exc}"

out["blobs_before_delete"] = sorted(blobs())
try:
    v0.delete()
    out["delete_with_aliases"] = "deleted"
except Exception as exc:
    out["delete_with_aliases"] = f"{type(exc).__name__}: {exc}"
v0.delete(delete_aliases=True)
out["blobs_after_delete"] = sorted(blobs())
try:
    api.artifact(f"{path}/dataset:v0")
    out["v0_after_delete"] = "found"
except Exception as exc:
    out["v0_after_delete"] = f"{type(exc).__name__}: {exc}"
out["versions_after_delete"] = sorted(a.name for a in api.artifacts("dataset", f"{path}/dataset"))
for name in ("dataset:v1", "model:v0"):
    art = api.artifact(f"{path}/{name}")
    root = art.download(root=os.path.join("after-delete", name.replace(":", "-")))
    art.verify(root=root)
    out[name] = tree(root)
dump(out)
'''

CONCURRENT = HELPERS + r'''
import wandb

out = []
run = wandb.init(project=os.environ["PROJECT"], entity="admin")
for i in range(2):
    write(f"mine/{i}.txt", f"{run.id} {i}".encode())
    art = wandb.Artifact("contended", type="dataset")
    art.add_file(f"mine/{i}.txt", name="content.txt")
    run.log_artifact(art)
    art.wait()
    out.append({"id": art.id, "version": art.version, "sha": sha(f"mine/{i}.txt")})
dump(out)
run.finish()
'''

LARGE = HELPERS + r'''
import wandb

size = int(os.environ["SIZE"])
chunk = os.urandom(1 << 20)
h = hashlib.sha256()
with open("large.bin", "wb") as f:
    for i in range(size // len(chunk)):
        block = bytes([i % 251]) + chunk[1:]
        f.write(block)
        h.update(block)
run = wandb.init(project=os.environ["PROJECT"], entity="admin")
art = wandb.Artifact("large", type="dataset")
art.add_file("large.bin")
run.log_artifact(art)
art.wait()
dump({"sha": h.hexdigest(), "version": art.version})
run.finish()
'''

LARGE_DOWNLOAD = HELPERS + r'''
import wandb

api = wandb.Api()
art = api.artifact(f"admin/{os.environ['PROJECT']}/large:latest")
root = art.download(root="dl")
dump({"files": tree(root)})
'''


# helpers -------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run_ok(source: str, env: dict[str, str], cwd: Path) -> Any:
    result = run_script(source, env, cwd)
    assert result.returncode == 0, output_of(result)
    return read_out(cwd)


def blob_dir(server: RunyardServer) -> Path:
    return server.data_dir / "blobs"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324


def env_for(server: RunyardServer, home: Path, cwd: Path, **extra: str) -> dict[str, str]:
    return client_env(server, home, OUT=str(cwd / "out.json"), BLOBS=str(blob_dir(server)),
                      **extra)


# logging, dedup, use, download, lineage, API -------------------------------------------------
@pytest.fixture(scope="module")
def logged(server: RunyardServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One producer run logs versions, a deduplicated version, a model and references."""
    root = tmp_path_factory.mktemp("producer")
    project = unique("artifacts")
    out = run_ok(PRODUCER, env_for(server, root / "home", root / "work", PROJECT=project),
                 root / "work")
    return {"project": project, "work": root / "work", **out}


def test_versions_aliases_and_content_dedup(server: RunyardServer,
                                            logged: dict[str, Any]) -> None:
    v0, v1, again = logged["v0"], logged["v1"], logged["again"]
    assert (v0["version"], v1["version"]) == ("v0", "v1")
    assert v0["aliases"] == ["best", "first", "latest"]
    assert v1["aliases"] == ["best", "latest"]  # best and latest moved to v1
    # identical content again: no new version, the existing id comes back
    assert (again["id"], again["version"]) == (v1["id"], "v1")
    assert logged["model"]["version"] == "v0"

    # Every blob is stored under the md5 of its bytes; files already stored were not sent
    # again (a new upload would replace the file: a new inode), across versions and artifacts.
    stored = blob_dir(server) / "artifacts" / "md5"
    for name in logged["blobs_end"]:
        assert md5_hex((stored / name).read_bytes()) == name
    for name, inode in logged["blobs_v0"].items():
        assert logged["blobs_end"][name] == inode, name
    a_bin = md5_hex((logged["work"] / "model.bin").read_bytes())
    assert a_bin in logged["blobs_v0"]
    # v1 adds only its two new files; the model adds nothing (same bytes as data/a.bin);
    # references are recorded, never uploaded
    assert len(logged["blobs_end"]) == len(logged["blobs_v0"]) + 2
    assert md5_hex(b"referenced one\n") not in logged["blobs_end"]
    assert logged["refs"]["entries"]["remote.csv"] == "s3://runyard-no-such-bucket/some/remote.csv"
    assert logged["refs"]["entries"]["local/r1.txt"].startswith("file://")


def test_use_download_verify_lineage(server: RunyardServer, logged: dict[str, Any],
                                     tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    out = run_ok(CONSUMER, env_for(server, tmp_path / "home", cwd, PROJECT=logged["project"],
                                   PRODUCER=logged["run"]), cwd)
    v0, v1 = logged["v0"], logged["v1"]
    assert out["dataset:best"] == {"id": v1["id"], "version": "v1", "files": v1["files"]}
    assert out["dataset:latest"] == out["dataset:best"]
    assert out["dataset:v0"] == {"id": v0["id"], "version": "v0", "files": v0["files"]}
    assert out["dataset:first"] == out["dataset:v0"]
    assert out["model:latest"]["files"] == logged["model"]["files"]
    assert out["refs"]["files"] == {f"local/{k}": v for k, v in logged["refs"]["files"].items()}
    assert out["refs"]["entries"] == logged["refs"]["entries"]
    for name in ("dataset:no-such-alias", "no-such-artifact:latest", "dataset:v99"):
        assert "not found" in out[name], out[name]

    assert out["v0_meta"] == {
        "metadata": {"rows": 3, "source": {"kind": "synthetic", "seed": 5}},
        "description": "first version", "type": "dataset",
        "aliases": ["first"], "files": sorted(v0["files"]),
    }
    assert out["logged_by"] == logged["run"]
    assert out["used_by"] == [out["run"]]
    assert out["producer_logged"] == ["dataset:v0", "dataset:v1", "model:v0", "refs:v0"]
    assert out["consumer_used"] == ["dataset:v0", "dataset:v1", "model:v0", "refs:v0"]


def test_api_listing_aliases_and_delete(server: RunyardServer, logged: dict[str, Any],
                                        tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    out = run_ok(API_OPS, env_for(server, tmp_path / "home", cwd, PROJECT=logged["project"]),
                 cwd)
    assert out["types"] == ["dataset", "model", "references"]
    assert out["dataset_versions"] == ["dataset:v0", "dataset:v1"]
    assert out["collections"] == ["dataset"]
    assert out["model_collections"] == ["model"]
    assert out["collection_aliases"] == ["again", "best", "first", "latest"]
    assert out["golden"] == "v0"
    assert out["v0_aliases"] == ["golden"]
    assert "not found" in out["first"]

    assert "aliases" in out["delete_with_aliases"], out["delete_with_aliases"]
    assert "not found" in out["v0_after_delete"]
    assert out["versions_after_delete"] == ["dataset:v1"]
    # Only the file that no other version holds ("version zero") is gone from storage.
    freed = set(out["blobs_before_delete"]) - set(out["blobs_after_delete"])
    assert freed == {md5_hex(b"version zero\n")}
    assert out["dataset:v1"] == logged["v1"]["files"]
    assert out["model:v0"] == logged["model"]["files"]


def test_concurrent_log_artifact_gets_distinct_versions(server: RunyardServer,
                                                        tmp_path: Path) -> None:
    project = unique("contended")
    procs: list[tuple[subprocess.Popen[str], Path]] = []
    for i in range(2):
        cwd = tmp_path / f"w{i}"
        env = env_for(server, tmp_path / f"h{i}", cwd, PROJECT=project)
        procs.append((start_script(CONCURRENT, env, cwd), cwd))
    results = []
    for proc, cwd in procs:
        output, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, output
        results.extend(read_out(cwd))
    assert sorted(r["version"] for r in results) == ["v0", "v1", "v2", "v3"]
    assert len({r["id"] for r in results}) == 4

    # each version holds what its run logged
    check = HELPERS + r'''
import wandb
api = wandb.Api()
out = {}
for v in range(4):
    art = api.artifact(f"admin/{os.environ['PROJECT']}/contended:v{v}")
    out[art.id] = sha(os.path.join(art.download(root=f"dl/v{v}"), "content.txt"))
dump(out)
'''
    cwd = tmp_path / "check"
    out = run_ok(check, env_for(server, tmp_path / "hc", cwd, PROJECT=project), cwd)
    assert out == {r["id"]: r["sha"] for r in results}


# bad input through the protocol itself --------------------------------------------------------
def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


CREATE = """mutation($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state versionIndex } } }"""
MANIFEST = """mutation($id: ID!, $digest: String!) {
  createArtifactManifest(input: {artifactID: $id, name: "wandb_manifest.json", digest: $digest,
    entityName: "admin", projectName: "%s", runName: "raw", type: FULL}) {
    artifactManifest { id file { uploadUrl } } } }"""
FILES = """mutation($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) { files { edges { node { storagePath uploadUrl } } } } }"""
UPSERT_RUN = """mutation($project: String) {
  upsertBucket(input: {name: "raw", modelName: $project, entityName: "admin"}) {
    bucket { id } } }"""
COMMIT = """mutation($id: ID!) { commitArtifact(input: {artifactID: $id}) {
  artifact { id versionIndex state } } }"""


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324


def log_raw(client: httpx.Client, project: str, name: str, contents: dict[str, bytes],
            upload: set[str]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """Drive the logging protocol by hand, uploading only the files named in ``upload``."""
    entries = {p: {"digest": b64md5(c), "size": len(c)} for p, c in contents.items()}
    hasher = hashlib.md5(b"wandb-artifact-manifest-v1\n")  # noqa: S324
    for path in sorted(entries):
        hasher.update(f"{path}:{entries[path]['digest']}\n".encode())
    created = gql(client, CREATE, input={
        "entityName": "admin", "projectName": project, "runName": "raw",
        "artifactTypeName": "dataset", "artifactCollectionName": name,
        "digest": hasher.hexdigest(), "digestAlgorithm": "MANIFEST_MD5",
        "aliases": [{"alias": "latest", "artifactCollectionName": name}]})
    artifact_id = created["data"]["createArtifact"]["artifact"]["id"]
    gql(client, MANIFEST % project, id=artifact_id, digest="")
    files = gql(client, FILES, input={"storageLayout": "V2", "artifactFiles": [
        {"artifactID": artifact_id, "name": p, "md5": entries[p]["digest"]} for p in contents]})
    nodes = [e["node"] for e in files["data"]["createArtifactFiles"]["files"]["edges"]]
    for path, node in zip(contents, nodes, strict=True):
        if path in upload:
            assert node["uploadUrl"], node
            assert httpx.put(node["uploadUrl"], content=contents[path]).status_code == 200
    manifest = json.dumps({"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                           "storagePolicyConfig": {"storageLayout": "V2"},
                           "contents": entries}).encode()
    answer = gql(client, MANIFEST % project, id=artifact_id, digest=b64md5(manifest))
    url = answer["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    assert httpx.put(url, content=manifest).status_code == 200
    return artifact_id, gql(client, COMMIT, id=artifact_id), nodes


def test_commit_refuses_files_never_uploaded(server: RunyardServer) -> None:
    project = unique("raw")
    tag = uuid.uuid4().hex.encode()
    contents = {"kept.txt": b"kept " + tag, "missing.txt": b"never uploaded " + tag}
    with server.api() as client:
        gql(client, UPSERT_RUN, project=project)
        artifact_id, refused, _ = log_raw(client, project, "partial", contents,
                                          upload={"kept.txt"})
        assert refused["data"] is None or refused["data"]["commitArtifact"] is None
        message = refused["errors"][0]["message"]
        assert "never uploaded" in message, message
        assert "missing.txt" in message, message
        assert "kept.txt" not in message

        # once the missing file is there, the same version commits as v0
        again, _, nodes = log_raw(client, project, "partial", contents,
                                  upload={"missing.txt"})
        # "kept.txt" was stored by the refused attempt: no upload URL for it now
        assert [n["uploadUrl"] is None for n in nodes] == [True, False]
        assert again != artifact_id
        committed = gql(client, COMMIT, id=again)["data"]["commitArtifact"]["artifact"]
        assert (committed["versionIndex"], committed["state"]) == (0, "COMMITTED")

        # unknown ids are refused clearly
        unknown = gql(client, COMMIT, id=base64.b64encode(b"Artifact:999999").decode())
        assert unknown["errors"][0]["message"] == "artifact does not exist"


def test_upload_with_wrong_bytes_is_discarded(server: RunyardServer) -> None:
    project = unique("raw")
    contents = {"claimed.txt": b"what the manifest says " + uuid.uuid4().hex.encode()}
    key = blob_dir(server) / "artifacts" / "md5" / md5_hex(contents["claimed.txt"])
    with server.api() as client:
        gql(client, UPSERT_RUN, project=project)
        created = gql(client, CREATE, input={
            "entityName": "admin", "projectName": project, "runName": "raw",
            "artifactTypeName": "dataset", "artifactCollectionName": "liar", "digest": "x"})
        artifact_id = created["data"]["createArtifact"]["artifact"]["id"]
        gql(client, MANIFEST % project, id=artifact_id, digest="")
        files = gql(client, FILES, input={"storageLayout": "V2", "artifactFiles": [
            {"artifactID": artifact_id, "name": "claimed.txt",
             "md5": b64md5(contents["claimed.txt"])}]})
        url = files["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
        assert httpx.put(url, content=b"something else entirely").status_code == 200
        deadline = time.monotonic() + 15
        while key.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not key.exists(), "bytes that do not match their md5 were kept"


# large files ---------------------------------------------------------------------------------
def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def stream_large_file(tmp_path: Path, size: int) -> None:
    srv = RunyardServer(tmp_path / "data").start()
    try:
        assert srv.process is not None
        before = peak_rss_kib(srv.process.pid)
        project = unique("large")
        up = tmp_path / "up"
        logged = run_ok(LARGE, env_for(srv, tmp_path / "h1", up, PROJECT=project,
                                       SIZE=str(size)), up)
        down = tmp_path / "down"
        got = run_ok(LARGE_DOWNLOAD, env_for(srv, tmp_path / "h2", down, PROJECT=project), down)
        assert got["files"] == {"large.bin": logged["sha"]}
        grown_mib = (peak_rss_kib(srv.process.pid) - before) / 1024
        # the file went through the server in chunks: its peak memory grew far less than it
        assert grown_mib < min(64, size / (1 << 20) / 2), f"server peak grew {grown_mib:.0f} MiB"
    finally:
        srv.stop()


def test_100mb_file_streams_up_and_down(tmp_path: Path) -> None:
    stream_large_file(tmp_path, 100 * (1 << 20))


@pytest.mark.skipif(os.environ.get("RUNYARD_SLOW_TESTS") != "1",
                    reason="slow: set RUNYARD_SLOW_TESTS=1")
def test_1gb_file_streams_up_and_down(tmp_path: Path) -> None:
    stream_large_file(tmp_path, 1 << 30)
