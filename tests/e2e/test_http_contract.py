"""The HTTP contract for bad input, against a real server process.

Every error is JSON of one shape, ``{"errors":[{"message", "extensions":{"code","status"}}]}``,
with ``status`` equal to the HTTP status, and no body leaks internals (tracebacks, driver
names). Covered: authentication (401), unknown things (404), other users' runs (403),
malformed bodies (400), body and upload limits (413), signed storage URLs (403) and path
traversal, UpsertBucket validation and id-only updates, and the telemetry 404.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from runyard.auth.signing import UrlSigner
from tests.e2e.operations import UPSERT_BUCKET
from tests.e2e.server import ADMIN_KEY, RunyardServer, get_json

pytestmark = pytest.mark.e2e

ENTITY = "admin"
LEAKS = ("Traceback", 'File "', "sqlalchemy", "pymysql", "psycopg")
WRONG_KEY = "local-" + "Zz9" * 14


CREATE_RUN_FILES = """
mutation CreateRunFiles ($entity: String!, $project: String!, $run: String!, \
$files: [String!]!) {
\tcreateRunFiles(input: {entityName:$entity,projectName:$project,runName:$run,\
files:$files}) {
\t\trunID
\t\tuploadHeaders
\t\tfiles {
\t\t\tname
\t\t\tuploadUrl
\t\t}
\t}
}
"""

CONFIG = json.dumps({"lr": {"value": 0.01},
                     "_wandb": {"value": {"cli_version": "0.31.0", "t": {"5": "0.31.0"}}}})


# --- helpers ----------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_no_leaks(text: str) -> None:
    for marker in LEAKS:
        assert marker not in text, (marker, text)


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The one error shape, with the given status; returns errors[0]."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("content-type", "").startswith("application/json"), \
        response.headers
    assert_no_leaks(response.text)
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"errors"}, body
    errors = body["errors"]
    assert isinstance(errors, list), body
    assert errors, body
    for error in errors:
        assert set(error) == {"message", "extensions"}, error
        assert isinstance(error["message"], str), error
        assert error["message"], error
        extensions = error["extensions"]
        assert set(extensions) == {"code", "status"}, error
        assert isinstance(extensions["code"], str), error
        assert extensions["code"], error
        assert extensions["status"] == status, error
    first: dict[str, Any] = errors[0]
    return first


def assert_graphql_error(response: httpx.Response) -> dict[str, Any]:
    """A GraphQL-level failure: HTTP 200 with errors[0].message, or a 4xx of the one shape."""
    if response.status_code != 200:
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
        return assert_error(response, response.status_code)
    assert_no_leaks(response.text)
    body = response.json()
    errors = body.get("errors")
    assert isinstance(errors, list), body
    assert errors, body
    first: dict[str, Any] = errors[0]
    assert isinstance(first.get("message"), str), body
    assert first["message"], body
    extensions = first.get("extensions")
    if extensions is not None:
        assert isinstance(extensions.get("code"), str), body
        assert isinstance(extensions.get("status"), int), body
        assert 400 <= extensions["status"] < 500, body
    return first


def gql_post(api: httpx.Client, query: str, variables: dict[str, Any],
             operation: str) -> httpx.Response:
    return api.post("/graphql", json={"query": query, "variables": variables,
                                      "operationName": operation})


def gql_ok(api: httpx.Client, query: str, variables: dict[str, Any],
           operation: str) -> dict[str, Any]:
    response = gql_post(api, query, variables, operation)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def upsert(api: httpx.Client, **variables: Any) -> httpx.Response:
    return gql_post(api, UPSERT_BUCKET, variables, "UpsertBucket")


def create_run(api: httpx.Client, project: str, name: str | None = None) -> dict[str, Any]:
    name = name or uuid.uuid4().hex[:8]
    data = gql_ok(api, UPSERT_BUCKET, {"name": name, "project": project, "entity": ENTITY,
                                       "config": CONFIG}, "UpsertBucket")
    bucket: dict[str, Any] = data["upsertBucket"]["bucket"]
    assert bucket["name"] == name
    return bucket


def create_run_files(api: httpx.Client, project: str, run: str,
                     files: list[str]) -> httpx.Response:
    return gql_post(api, CREATE_RUN_FILES,
                    {"entity": ENTITY, "project": project, "run": run, "files": files},
                    "CreateRunFiles")


def upload_urls(api: httpx.Client, project: str, run: str, files: list[str]) -> dict[str, str]:
    response = create_run_files(api, project, run, files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return {f["name"]: f["uploadUrl"] for f in body["data"]["createRunFiles"]["files"]}


def run_path(project: str, run: str) -> str:
    return f"/api/v1/entities/{ENTITY}/projects/{project}/runs/{run}"


def stream_path(project: str, run: str, entity: str = ENTITY) -> str:
    return f"/files/{entity}/{project}/{run}/file_stream"


def run_count(api: httpx.Client, project: str) -> int:
    response = api.get(f"/api/v1/entities/{ENTITY}/projects/{project}/runs")
    if response.status_code == 404:
        return 0
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def history_line(step: int, **values: Any) -> str:
    return json.dumps({"_step": step, "_runtime": 0.5 * step, "_timestamp": 1.7e9 + step,
                       **values})


def with_query(url: str, **changes: str | None) -> str:
    """``url`` with its query parameters changed (a ``None`` value drops the parameter)."""
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return parts._replace(query=query).geturl()


def blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def raw_request(server: RunyardServer, method: str, target: str,
                body: bytes | None = None) -> tuple[int, bytes]:
    """Send ``target`` exactly as written (httpx would normalise dot segments away)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or b"")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _streamed(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.fixture(scope="module")
def api(server: RunyardServer) -> Iterator[httpx.Client]:
    with server.api() as client:
        yield client


@pytest.fixture(scope="module")
def bob_key(server: RunyardServer) -> str:
    """A second, non-admin user made with the real CLI; its key is stdout's last line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    command = [sys.executable, "-m", "runyard", "admin", "create-user", "bob2",
               "--data-dir", str(server.data_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    if result.returncode != 0 and "taken" in result.stderr:  # made by an earlier module
        command[3] = "create-key"
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                                check=False)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("local-")
    assert len(key) >= 46
    return key


# --- health and 401 ---------------------------------------------------------------------


def test_health_endpoints_need_no_key(server: RunyardServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anon:
        healthz = anon.get("/healthz")
        assert healthz.status_code == 200
        assert healthz.json() == {"status": "ok"}
        ready = anon.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


AUTH_CASES = {
    "no-header": None,
    "wrong-key": _basic(f"api:{WRONG_KEY}"),
    "wrong-bearer": f"Bearer {WRONG_KEY}",
    "basic-not-base64": "Basic !!!not-base64!!!",
    "basic-no-colon": _basic(ADMIN_KEY),
    "basic-empty-key": _basic("api:"),
    "basic-no-value": "Basic",
    "unknown-scheme": f"Token {ADMIN_KEY}",
    "empty": "",
}


@pytest.mark.parametrize("authorization", AUTH_CASES.values(), ids=AUTH_CASES.keys())
def test_unauthenticated_requests_get_401_json(server: RunyardServer,
                                               authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    requests: list[tuple[str, str, bytes | None]] = [
        ("POST", "/graphql", json.dumps({"query": "{ viewer { id } }"}).encode()),
        ("POST", "/graphql", b"this is not json"),  # auth is checked before the body
        ("POST", stream_path("p", "r"), b"{}"),
        ("POST", stream_path("p", "r"), b"not json"),
        ("GET", "/api/v1/viewer", None),
        ("GET", f"/api/v1/entities/{ENTITY}/projects", None),
        ("GET", f"/api/v1/entities/{ENTITY}/projects/p/runs", None),
        ("GET", run_path("p", "r") + "/history", None),
        ("POST", run_path("p", "r") + "/stop", None),
    ]
    with httpx.Client(base_url=server.url, timeout=10) as anon:
        for method, path, body in requests:
            response = anon.request(method, path, content=body,
                                    headers={**headers, "Content-Type": "application/json"})
            error = assert_error(response, 401)
            assert error["extensions"]["code"] == "unauthorized", (method, path)


# --- 404 and 403 ------------------------------------------------------------------------


def test_unknown_entity_project_run_get_404(api: httpx.Client) -> None:
    project = unique("c404")
    run = create_run(api, project)["name"]
    missing = [
        "/api/v1/entities/nobody-here/projects",
        "/api/v1/entities/nobody-here/projects/p/runs",
        "/api/v1/entities/nobody-here/projects/p/runs/r",
        f"/api/v1/entities/{ENTITY}/projects/{unique('nope')}/runs",
        run_path(unique("nope"), run),
        run_path(project, "nosuchrun"),
        run_path(project, "nosuchrun") + "/history",
        run_path(project, "nosuchrun") + "/system-metrics",
        run_path(project, "nosuchrun") + "/logs",
        run_path(project, "nosuchrun") + "/files",
        run_path(project, "nosuchrun") + "/alerts",
        "/api/v1/no-such-route",
    ]
    for path in missing:
        error = assert_error(api.get(path), 404)
        assert error["extensions"]["code"] == "not_found", path
    assert_error(api.post(run_path(project, "nosuchrun") + "/stop"), 404)

    for path in (stream_path(project, "nosuchrun"), stream_path(unique("nope"), run),
                 stream_path(project, run, entity="nobody-here")):
        assert_error(api.post(path, json={}), 404)
    # The run that does exist answers 200, so the 404s above are about the names.
    assert api.post(stream_path(project, run), json={}).status_code == 200


def test_other_user_gets_403_on_admins_runs(server: RunyardServer, api: httpx.Client,
                                            bob_key: str) -> None:
    project = unique("c403")
    run = create_run(api, project)["name"]
    api.post(stream_path(project, run),
             json={"files": {"wandb-history.jsonl": {"offset": 0,
                                                     "content": [history_line(0)]}}})
    with server.api(bob_key) as bob:
        assert get_json(bob, "/api/v1/viewer")["entity"] == "bob2"
        for path in (f"/api/v1/entities/{ENTITY}/projects",
                     f"/api/v1/entities/{ENTITY}/projects/{project}/runs",
                     run_path(project, run), run_path(project, run) + "/history",
                     run_path(project, run) + "/logs", run_path(project, run) + "/files",
                     run_path(project, run) + "/system-metrics"):
            error = assert_error(bob.get(path), 403)
            assert error["extensions"]["code"] == "forbidden", path
        assert_error(bob.post(run_path(project, run) + "/stop"), 403)
        assert_error(bob.post(stream_path(project, run),
                              json={"complete": True, "exitcode": 1}), 403)

        error = assert_graphql_error(upsert(bob, name=run, project=project, entity=ENTITY,
                                            notes="hijacked"))
        assert "bob2" in error["message"] or "access" in error["message"]
        error = assert_graphql_error(upsert(bob, id=create_run(api, project, run)["id"],
                                            notes="hijacked"))
        assert_graphql_error(create_run_files(bob, project, run, ["x.txt"]))
        # bob's own entity works.
        own = gql_ok(bob, UPSERT_BUCKET, {"name": "bobrun1", "project": project},
                     "UpsertBucket")["upsertBucket"]["bucket"]
        assert own["project"]["entity"]["name"] == "bob2"

    record = get_json(api, run_path(project, run))
    assert record["state"] == "running"
    assert record["notes"] is None
    assert record["stop_requested"] is False
    assert get_json(api, run_path(project, run) + "/files")["items"] == []


# --- 400 --------------------------------------------------------------------------------

H = "wandb-history.jsonl"


def _fs(**chunk: Any) -> dict[str, Any]:
    return {"files": {H: chunk}}


BAD_STREAM_BODIES: dict[str, bytes | dict[str, Any] | list[Any]] = {
    "not-json": b"this is not json",
    "truncated-json": b'{"files": {',
    "empty-body": b"",
    "invalid-utf8": b'{"files": "\xff\xfe"}',
    "json-array": [1, 2, 3],
    "json-string": b'"files"',
    "files-array": {"files": []},
    "chunk-not-object": {"files": {H: ["line"]}},
    "offset-string": _fs(offset="0", content=[history_line(0)]),
    "offset-float": _fs(offset=1.5, content=[history_line(0)]),
    "offset-bool": _fs(offset=True, content=[history_line(0)]),
    "offset-negative": _fs(offset=-1, content=[history_line(0)]),
    "offset-null": _fs(offset=None, content=[history_line(0)]),
    "content-string": _fs(offset=0, content=history_line(0)),
    "content-numbers": _fs(offset=0, content=[1, 2]),
    "content-object": _fs(offset=0, content={"0": history_line(0)}),
    "history-line-array": _fs(offset=0, content=["[1, 2]"]),
    "history-line-number": _fs(offset=0, content=["42"]),
    "history-line-not-json": _fs(offset=0, content=["{not json"]),
    "history-good-then-bad": _fs(offset=0, content=[history_line(0), "[]"]),
    "events-line-array": {"files": {"wandb-events.jsonl": {"offset": 0, "content": ["[]"]}}},
    "summary-not-object": {"files": {"wandb-summary.json": {"offset": 0, "content": ["[1]"]}}},
    "console-content-numbers": {"files": {"output.log": {"offset": 0, "content": [1]}}},
    "uploaded-string": {"uploaded": "config.yaml"},
    "uploaded-numbers": {"uploaded": [1, 2]},
    "uploaded-traversal": {"uploaded": ["../../etc/passwd"]},
    "exitcode-string": {"complete": True, "exitcode": "0"},
    "exitcode-float": {"complete": True, "exitcode": 1.5},
    "exitcode-bool": {"complete": True, "exitcode": False},
}


@pytest.fixture(scope="module")
def bad_input_run(api: httpx.Client) -> tuple[str, str]:
    project = unique("c400")
    return project, create_run(api, project)["name"]


@pytest.mark.parametrize("body", BAD_STREAM_BODIES.values(), ids=BAD_STREAM_BODIES.keys())
def test_malformed_file_stream_bodies_get_400(api: httpx.Client, bad_input_run: tuple[str, str],
                                              body: bytes | dict[str, Any] | list[Any]) -> None:
    project, run = bad_input_run
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = api.post(stream_path(project, run), content=content,
                        headers={"Content-Type": "application/json"})
    error = assert_error(response, 400)
    assert error["extensions"]["code"] == "bad_request"
    # Nothing of a rejected request is applied, and the run is untouched.
    record = get_json(api, run_path(project, run))
    assert record["history_line_count"] == record["events_line_count"] == 0
    assert record["log_line_count"] == 0
    assert (record["state"], record["exit_code"], record["summary"]) == ("running", None, {})
    assert get_json(api, run_path(project, run) + "/history")["rows"] == []


def test_invalid_gzip_file_stream_gets_400(api: httpx.Client,
                                           bad_input_run: tuple[str, str]) -> None:
    project, run = bad_input_run
    response = api.post(stream_path(project, run), content=b"\x1f\x8b not really gzip",
                        headers={"Content-Type": "application/json",
                                 "Content-Encoding": "gzip"})
    assert_error(response, 400)
    # gzip of something that is not JSON
    response = api.post(stream_path(project, run), content=gzip.compress(b"[not json"),
                        headers={"Content-Type": "application/json",
                                 "Content-Encoding": "gzip"})
    assert_error(response, 400)


BAD_GRAPHQL_BODIES: dict[str, bytes | dict[str, Any] | list[Any]] = {
    "not-json": b"query { viewer { id } }",
    "empty-body": b"",
    "json-array": [{"query": "{ viewer { id } }"}],
    "no-query": {"variables": {}},
    "empty-query": {"query": "   "},
    "query-not-string": {"query": 42},
    "variables-not-object": {"query": "{ viewer { id } }", "variables": [1]},
    "operation-name-not-string": {"query": "{ viewer { id } }", "operationName": 7},
    "syntax-error": {"query": "mutation UpsertBucket { upsertBucket(input: {"},
    "not-graphql": {"query": "SELECT * FROM runs"},
}


@pytest.mark.parametrize("body", BAD_GRAPHQL_BODIES.values(), ids=BAD_GRAPHQL_BODIES.keys())
def test_malformed_graphql_bodies_get_400(api: httpx.Client,
                                          body: bytes | dict[str, Any] | list[Any]) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = api.post("/graphql", content=content, headers={"Content-Type": "application/json"})
    error = assert_error(response, 400)
    assert error["extensions"]["code"] == "bad_request"


def test_graphql_validation_errors_get_400_with_message(api: httpx.Client) -> None:
    error = assert_error(api.post("/graphql", json={"query": "{ viewer { id nope } }"}), 400)
    assert "Cannot query field 'nope'" in error["message"]

    error = assert_error(api.post("/graphql", json={"query": "{ noSuchRoot }"}), 400)
    assert "Cannot query field 'noSuchRoot'" in error["message"]

    mutation = "mutation { upsertBucket(input: {name: \"x\", noSuchInput: 1}) { inserted } }"
    error = assert_error(api.post("/graphql", json={"query": mutation}), 400)
    assert "noSuchInput" in error["message"]


def test_v1_query_parameter_errors_get_400(api: httpx.Client,
                                           bad_input_run: tuple[str, str]) -> None:
    project, run = bad_input_run
    runs = f"/api/v1/entities/{ENTITY}/projects/{project}/runs"
    for path, params in ((runs, {"limit": 0}), (runs, {"limit": "many"}),
                         (runs, {"sort": "password"}), (runs, {"offset": -1}),
                         (run_path(project, run) + "/history", {"limit": 10**6}),
                         (run_path(project, run) + "/history", {"min_step": "x"})):
        assert_error(api.get(path, params=params), 400)


UNSAFE_NAMES = {
    "dotdot": "../escape.txt",
    "dotdot-deep": "media/../../../escape.txt",
    "dotdot-alone": "..",
    "dot-segment": "./config.yaml",
    "absolute": "/etc/passwd",
    "backslash-absolute": "\\windows\\system32",
    "backslash-dotdot": "media\\..\\..\\escape.txt",
    "drive": "C:\\escape.txt",
    "nul": "evil\x00.txt",
    "empty-part": "media//x.png",
    "empty": "",
}


@pytest.mark.parametrize("bad_name", UNSAFE_NAMES.values(), ids=UNSAFE_NAMES.keys())
def test_create_run_files_rejects_unsafe_names_atomically(server: RunyardServer,
                                                          api: httpx.Client,
                                                          bad_name: str) -> None:
    project = unique("cfiles")
    bucket = create_run(api, project)
    run = bucket["name"]
    assert upload_urls(api, project, run, ["good.txt"]).keys() == {"good.txt"}
    blobs_before = blob_files(server.data_dir)

    batch = ["first-ok.txt", bad_name, "media/last-ok.png"]
    error = assert_graphql_error(create_run_files(api, project, run, batch))
    assert "name" in error["message"]

    files = get_json(api, run_path(project, run) + "/files")["items"]
    assert [f["name"] for f in files] == ["good.txt"]  # nothing of the failed batch
    assert blob_files(server.data_dir) == blobs_before


def test_non_boolean_complete_or_preempting_is_rejected_not_obeyed(api: httpx.Client) -> None:
    project = unique("cbool")
    run = create_run(api, project)["name"]
    for body in ({"complete": "false", "exitcode": 0}, {"preempting": "no"},
                 {"complete": 1, "exitcode": 0}):
        response = api.post(stream_path(project, run), json=body)
        record = get_json(api, run_path(project, run))
        assert (record["state"], record["finished_at"]) == ("running", None), (body, record)
        assert_error(response, 400)


def test_graphql_request_errors_carry_code_and_status(api: httpx.Client) -> None:
    """Errors raised before any resolver runs have the same shape as resolver errors."""
    project = unique("creq")
    cases = [
        # a required variable is missing
        (CREATE_RUN_FILES, {"entity": ENTITY, "project": project, "run": "r"}, "CreateRunFiles"),
        # the named operation is not in the document
        (UPSERT_BUCKET, {"name": "r", "project": project}, "NoSuchOperation"),
        # two operations and no operationName
        ("query A { viewer { id } } query B { viewer { id } }", {}, None),
    ]
    for query, variables, operation in cases:
        error = assert_graphql_error(gql_post(api, query, variables, operation))
        extensions = error.get("extensions") or {}
        assert isinstance(extensions.get("code"), str), (operation, error)
        assert extensions.get("status") == 400, (operation, error)


@pytest.fixture(scope="module")
def scratch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunyardServer]:
    """A private server for inputs that currently make the server fail (and log tracebacks),
    so that the shared server's log stays clean."""
    srv = RunyardServer(tmp_path_factory.mktemp("runyard-scratch") / "data")
    try:
        yield srv.start()
    finally:
        srv.stop()


def _each_on_fresh_connection(server: RunyardServer, method: str, path: str,
                              **kwargs: Any) -> httpx.Response:
    # A 500 makes uvicorn drop the keep-alive connection; don't let it spoil the next case.
    with server.api() as client:
        return client.request(method, path, **kwargs)


def test_graphql_variables_of_wrong_type_are_client_errors(
        scratch_server: RunyardServer) -> None:
    with scratch_server.api() as api:
        project = unique("cvar")
        run = create_run(api, project)["name"]
    log_start = len(scratch_server.log())
    cases = [
        (CREATE_RUN_FILES, {"entity": ENTITY, "project": project, "run": run,
                            "files": [None]}, "CreateRunFiles"),
        (CREATE_RUN_FILES, {"entity": ENTITY, "project": project, "run": run,
                            "files": [{"name": "x"}]}, "CreateRunFiles"),
        (UPSERT_BUCKET, {"name": run, "project": project, "debug": "yes"}, "UpsertBucket"),
        (UPSERT_BUCKET, {"name": 12345, "project": project}, "UpsertBucket"),
        (UPSERT_BUCKET, {"name": run, "project": project, "tags": [1, 2]}, "UpsertBucket"),
    ]
    failures = []
    for query, variables, operation in cases:
        response = _each_on_fresh_connection(
            scratch_server, "POST", "/graphql",
            json={"query": query, "variables": variables, "operationName": operation})
        error = assert_graphql_error(response)
        if "internal server error" in error["message"] or \
                (error.get("extensions") or {}).get("status", 400) >= 500:
            failures.append((variables, error))
    assert failures == []
    assert "Traceback" not in scratch_server.log()[log_start:]


OUT_OF_RANGE_STREAMS = [
    {"files": {H: {"offset": 2**63, "content": ["{}"]}}},
    {"files": {H: {"offset": 2**63 - 1, "content": ["{}", "{}"]}}},
    {"files": {"output.log": {"offset": 2**70, "content": ["line"]}}},
    {"files": {"wandb-events.jsonl": {"offset": 2**64, "content": ["{}"]}}},
    {"files": {H: {"offset": 0, "content": ['{"_step": 18446744073709551616}']}}},
    {"files": {H: {"offset": 0, "content": ['{"_step": 1e308}']}}},
    {"complete": True, "exitcode": 2**70},
]


def test_out_of_range_integers_in_file_stream_get_400(scratch_server: RunyardServer) -> None:
    with scratch_server.api() as api:
        project = unique("crange")
        run = create_run(api, project)["name"]
    log_start = len(scratch_server.log())
    statuses = [_each_on_fresh_connection(scratch_server, "POST", stream_path(project, run),
                                          json=body).status_code
                for body in OUT_OF_RANGE_STREAMS]
    # A 400 (or, for _step, accepting the line with a fallback step) -- never a 5xx.
    assert set(statuses) <= {200, 400}, statuses
    assert statuses[:4] == [400] * 4, statuses  # line numbers that cannot be stored
    assert "Traceback" not in scratch_server.log()[log_start:]
    with scratch_server.api() as api:
        assert api.get(run_path(project, run)).status_code == 200


def test_out_of_range_integers_in_v1_queries_get_400(scratch_server: RunyardServer) -> None:
    with scratch_server.api() as api:
        project = unique("crange")
        run = create_run(api, project)["name"]
    log_start = len(scratch_server.log())
    huge = str(10**30)
    paths = [
        (run_path(project, run) + "/history", {"min_step": huge}),
        (run_path(project, run) + "/history", {"max_step": huge}),
        (run_path(project, run) + "/system-metrics", {"offset": huge}),
        (run_path(project, run) + "/logs", {"offset": huge}),
        (run_path(project, run) + "/files", {"offset": huge}),
        (f"/api/v1/entities/{ENTITY}/projects/{project}/runs", {"offset": huge}),
        (f"/api/v1/entities/{ENTITY}/projects", {"offset": huge}),
    ]
    statuses = {path.rsplit("/", 1)[-1] + "?" + next(iter(params)):
                _each_on_fresh_connection(scratch_server, "GET", path, params=params).status_code
                for path, params in paths}
    assert set(statuses.values()) <= {200, 400}, statuses  # an empty page or a 400, never 500
    assert "Traceback" not in scratch_server.log()[log_start:]


# --- 413 --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunyardServer]:
    """A second server with small body and upload limits."""
    root = tmp_path_factory.mktemp("runyard-small")
    srv = RunyardServer(root / "data", env={"RUNYARD_MAX_REQUEST_BYTES": "20000",
                                            "RUNYARD_MAX_UPLOAD_BYTES": "50000"})
    try:
        yield srv.start()
    finally:
        srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def test_oversized_bodies_get_413_and_change_nothing(small_server: RunyardServer) -> None:
    with small_server.api() as api:
        project = unique("c413")
        run = create_run(api, project)["name"]
        kept = [history_line(0, v="kept"), history_line(1, v="kept")]
        response = api.post(stream_path(project, run),
                            json={"files": {H: {"offset": 0, "content": kept}}})
        assert response.status_code == 200, response.text

        big = json.dumps({"files": {H: {"offset": 0, "content": [
            history_line(i, v="x" * 200) for i in range(150)]}}}).encode()
        assert len(big) > 20000
        bomb = gzip.compress(json.dumps({"files": {H: {"offset": 0, "content": [
            history_line(0, v="A" * 5_000_000)]}}}).encode())
        assert len(bomb) < 20000
        json_headers = {"Content-Type": "application/json"}
        gzip_headers = {**json_headers, "Content-Encoding": "gzip"}
        attempts: list[tuple[str, bytes | Iterator[bytes], dict[str, str]]] = [
            ("with-length", big, json_headers),
            ("chunked", _streamed(big), json_headers),
            ("gzip-bomb", bomb, gzip_headers),
            ("gzip-bomb-chunked", _streamed(bomb, 1024), gzip_headers),
            ("gzip-big-compressed", gzip.compress(os.urandom(30000)), gzip_headers),
        ]
        for label, content, headers in attempts:
            response = api.post(stream_path(project, run), content=content, headers=headers)
            error = assert_error(response, 413)
            assert error["extensions"]["code"] == "payload_too_large", label

        graphql_big = json.dumps({"query": UPSERT_BUCKET, "operationName": "UpsertBucket",
                                  "variables": {"name": run, "project": project,
                                                "entity": ENTITY, "notes": "n" * 30000}})
        assert_error(api.post("/graphql", content=graphql_big.encode(), headers=json_headers),
                     413)
        assert_error(api.post("/graphql", content=_streamed(graphql_big.encode()),
                              headers=json_headers), 413)

        record = get_json(api, run_path(project, run))
        assert record["history_line_count"] == 2
        assert record["notes"] is None
        rows = get_json(api, run_path(project, run) + "/history")["rows"]
        assert [r["v"] for r in rows] == ["kept", "kept"]
        # Under the limit still works, on the same server.
        response = api.post(stream_path(project, run), json={})
        assert response.status_code == 200, response.text


def test_oversized_upload_gets_413_and_leaves_no_partial_blob(
        small_server: RunyardServer) -> None:
    with small_server.api() as api:
        project = unique("c413u")
        run = create_run(api, project)["name"]
        urls = upload_urls(api, project, run, ["model.bin", "fresh.bin", "chunked.bin"])
        original = b"original bytes" * 100
        with httpx.Client(timeout=30) as anon:
            assert anon.put(urls["model.bin"], content=original).status_code == 200

            too_big = os.urandom(60000)
            assert_error(anon.put(urls["model.bin"], content=too_big), 413)
            assert_error(anon.put(urls["fresh.bin"], content=too_big), 413)
            assert_error(anon.put(urls["chunked.bin"], content=_streamed(too_big)), 413)

            files = {f["name"]: f for f in
                     get_json(api, run_path(project, run) + "/files")["items"]}
            kept = anon.get(files["model.bin"]["url"])
            assert kept.status_code == 200
            assert kept.content == original
            for name in ("fresh.bin", "chunked.bin"):
                assert_error(anon.get(files[name]["url"]), 404)

    blobs = blob_files(small_server.data_dir)
    assert [p.name for p in blobs] == ["model.bin"], blobs
    assert blobs[0].read_bytes() == original
    leftovers = [p for p in (small_server.data_dir / "blobs").rglob("*")
                 if p.name.startswith(".") or "upload" in p.name or "tmp" in p.name]
    assert leftovers == []


# --- signed storage URLs ----------------------------------------------------------------


def test_signed_upload_and_download_urls(server: RunyardServer, api: httpx.Client) -> None:
    project = unique("csign")
    run = create_run(api, project)["name"]
    urls = upload_urls(api, project, run, ["media/data.bin", "other.txt"])
    put_url = urls["media/data.bin"]
    payload = os.urandom(3000) + "ünïcode".encode()

    with httpx.Client(timeout=30) as anon:  # the client sends no auth to storage
        response = anon.put(put_url, content=payload)
        assert response.status_code == 200, response.text
        assert response.headers.get("etag")

        files = {f["name"]: f for f in get_json(api, run_path(project, run) + "/files")["items"]}
        get_url = files["media/data.bin"]["url"]
        download = anon.get(get_url)
        assert download.status_code == 200
        assert download.content == payload

        sig = parse_qs(urlsplit(put_url).query)["sig"][0]
        tampered_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
        forbidden_puts = {
            "tampered-sig": with_query(put_url, sig=tampered_sig),
            "truncated-sig": with_query(put_url, sig=sig[:-2]),
            "missing-sig": with_query(put_url, sig=None),
            "missing-exp": with_query(put_url, exp=None),
            "no-query": put_url.split("?")[0],
            "later-exp": with_query(put_url, exp=str(int(time.time()) + 10**6)),
            "other-key": put_url.replace("media/data.bin", "media/evil.bin"),
            "other-run-key": put_url.replace("/files/media/data.bin", "/files/other.txt"),
            "get-signature-for-put": get_url,
        }
        for label, url in forbidden_puts.items():
            error = assert_error(anon.put(url, content=b"evil"), 403)
            assert error["extensions"]["code"] == "forbidden", label

        forbidden_gets = {
            "put-signature-for-get": put_url,
            "tampered-sig": with_query(get_url, sig=tampered_sig),
            "missing-sig": with_query(get_url, sig=None),
            "other-key": get_url.replace("media/data.bin", "other.txt"),
        }
        for label, url in forbidden_gets.items():
            error = assert_error(anon.get(url), 403)
            assert error["extensions"]["code"] == "forbidden", label

        # None of the refused PUTs wrote anything.
        assert anon.get(get_url).content == payload
    names = {p.name for p in blob_files(server.data_dir)}
    assert "evil.bin" not in names
    assert "other.txt" not in names


def test_expired_signed_urls_get_403(tmp_path: Path) -> None:
    srv = RunyardServer(tmp_path / "data", env={"RUNYARD_SIGNED_URL_TTL": "1"})
    try:
        srv.start()
        with srv.api() as api, httpx.Client(timeout=30) as anon:
            project = unique("cexp")
            run = create_run(api, project)["name"]
            put_url = upload_urls(api, project, run, ["late.txt"])["late.txt"]
            get_url = get_json(api, run_path(project, run) + "/files")["items"][0]["url"]
            time.sleep(2.5)
            error = assert_error(anon.put(put_url, content=b"too late"), 403)
            assert "expired" in error["message"]
            assert "expired" in assert_error(anon.get(get_url), 403)["message"]
        assert blob_files(srv.data_dir) == []
    finally:
        srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def test_storage_path_traversal_is_refused(server: RunyardServer) -> None:
    """Even with a valid signature (made here with the server's own secret)."""
    secret = (server.data_dir / "secret.key").read_text().strip().encode()
    signer = UrlSigner(secret, 3600)
    marker = unique("escape") + ".txt"

    def signed(method: str, key: str, raw_key: str) -> str:
        query = urlsplit(signer.sign(method, key, server.url)).query
        return f"/storage/{raw_key}?{query}"

    # Control: the signature made here is accepted for an ordinary key, so the refusals
    # below come from the key checks, not from the signature.
    control = f"runs/0/files/{marker}"
    status, body = raw_request(server, "PUT", signed("PUT", control, control), b"control")
    assert status == 200, body
    assert (server.data_dir / "blobs" / control).read_bytes() == b"control"
    (server.data_dir / "blobs" / control).unlink()

    cases = [
        (f"../../{marker}", f"../../{marker}"),
        (f"../../../../../../tmp/{marker}", f"../../../../../../tmp/{marker}"),
        (f"runs/1/files/../../../../{marker}", f"runs/1/files/../../../../{marker}"),
        (f"../../{marker}", f"%2e%2e/%2e%2e/{marker}"),
        (f"../../{marker}", f"%2E%2E%2F%2E%2E%2F{marker}"),
        (f"../../{marker}", f"..%2f..%2f{marker}"),
        (f"runs/1/files/../../../{marker}", f"runs/1/files/%2e%2e/%2e%2e/%2e%2e/{marker}"),
        (f"/tmp/{marker}", f"%2Ftmp%2F{marker}"),
        (f"runs\\..\\..\\{marker}", f"runs%5C..%5C..%5C{marker}"),
    ]
    for key, raw_key in cases:
        status, body = raw_request(server, "PUT", signed("PUT", key, raw_key), b"escaped!")
        assert 400 <= status < 500, (raw_key, status, body)
        assert_no_leaks(body.decode(errors="replace"))

    for key, raw_key in (("../secret.key", "../secret.key"),
                         ("../secret.key", "%2e%2e/secret.key"),
                         ("../runyard.db", "..%2frunyard.db")):
        status, body = raw_request(server, "GET", signed("GET", key, raw_key))
        assert 400 <= status < 500, (raw_key, status, body)
        assert secret not in body
        assert b"SQLite" not in body

    blobs_root = server.data_dir / "blobs"
    candidates = {(blobs_root / key.replace("\\", "/")).resolve() for key, _ in cases}
    candidates |= {Path("/tmp") / marker, Path.cwd() / marker}
    assert [p for p in candidates if p.exists()] == []
    assert list(server.data_dir.parent.rglob(marker)) == []


# --- UpsertBucket -----------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("config", "{not json"),
    ("config", "[1, 2, 3]"),
    ("config", '"just a string"'),
    ("summaryMetrics", "{not json"),
])
def test_upsert_with_invalid_json_creates_nothing(api: httpx.Client, field: str,
                                                  value: str) -> None:
    project = unique("cjson")
    response = upsert(api, name="badcfg01", project=project, entity=ENTITY, **{field: value})
    error = assert_graphql_error(response)
    assert field in error["message"]
    assert_error(api.get(f"/api/v1/entities/{ENTITY}/projects/{project}/runs"), 404)
    projects = get_json(api, f"/api/v1/entities/{ENTITY}/projects", limit=1000)["items"]
    assert project not in {p["name"] for p in projects}


def test_upsert_with_invalid_json_leaves_existing_run_unchanged(api: httpx.Client) -> None:
    project = unique("cjson")
    run = create_run(api, project)["name"]
    assert_graphql_error(upsert(api, name=run, project=project, entity=ENTITY,
                                config="{broken", notes="should not stick"))
    record = get_json(api, run_path(project, run))
    assert record["config"] == {"lr": 0.01}
    assert record["notes"] is None
    assert run_count(api, project) == 1


def test_upsert_by_id_alone_updates_that_run_only(api: httpx.Client) -> None:
    project = unique("cid")
    first = create_run(api, project)
    second = create_run(api, project)
    before = run_count(api, project)
    default_before = run_count(api, "uncategorized")
    assert before == 2

    data = gql_ok(api, UPSERT_BUCKET, {"id": first["id"], "notes": "updated by id",
                                       "summaryMetrics": json.dumps({"acc": 0.75})},
                  "UpsertBucket")["upsertBucket"]
    assert data["inserted"] is False
    assert data["bucket"]["id"] == first["id"]
    assert data["bucket"]["name"] == first["name"]
    assert data["bucket"]["project"]["name"] == project

    # Null means "leave unchanged": a second id-only call with other fields keeps notes.
    gql_ok(api, UPSERT_BUCKET, {"id": first["id"], "tags": ["t1"]}, "UpsertBucket")

    record = get_json(api, run_path(project, first["name"]))
    assert record["notes"] == "updated by id"
    assert record["summary"] == {"acc": 0.75}
    assert record["tags"] == ["t1"]
    assert record["config"] == {"lr": 0.01}
    untouched = get_json(api, run_path(project, second["name"]))
    assert untouched["notes"] is None
    assert untouched["summary"] == {}

    for bad_id in (base64.b64encode(b"Run:987654321").decode(), "not-an-id!",
                   base64.b64encode(b"Project:1").decode()):
        assert_graphql_error(upsert(api, id=bad_id, notes="stray"))

    assert run_count(api, project) == before
    assert run_count(api, "uncategorized") == default_before


# --- telemetry --------------------------------------------------------------------------


def test_sdk_telemetry_endpoints_answer_404(server: RunyardServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anon:
        for path in ("/sdk/otel/v1/metrics", "/sdk/otel/v1/logs"):
            response = anon.post(path, content=b"",
                                 headers={"Content-Type": "application/x-protobuf"})
            assert response.status_code == 404, (path, response.text)
            assert_no_leaks(response.text)
