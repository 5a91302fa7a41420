"""Signed downloads honour byte ranges: the client fetches files of 2 GiB and more in
parallel ranges and trusts the bytes it gets."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.server import RunyardServer, get_json
from tests.e2e.test_filestream_idempotency import create_run

CREATE_RUN_FILES = """
mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) {
    runID uploadHeaders files { name uploadUrl }
  }
}
"""

pytestmark = pytest.mark.e2e

CONTENT = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture(scope="module")
def file_url(server: RunyardServer) -> str:
    with server.api() as api:
        run = create_run(api)
        response = api.post("/graphql", json={"query": CREATE_RUN_FILES, "variables": {
            "entity": "admin", "project": run.project, "run": run.name, "files": ["blob.bin"]}})
        upload = response.json()["data"]["createRunFiles"]["files"][0]["uploadUrl"]
        assert httpx.put(upload, content=CONTENT, timeout=30).status_code == 200
        files = get_json(api, run.path + "/files")["items"]
        url: str = next(f["url"] for f in files if f["name"] == "blob.bin")
        return url


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 100),
    ("bytes=100-", 100, len(CONTENT)),
    ("bytes=-50", len(CONTENT) - 50, len(CONTENT)),
    ("bytes=10000-999999", 10000, len(CONTENT)),
])
def test_single_ranges_get_206(file_url: str, header: str, start: int, end: int) -> None:
    response = httpx.get(file_url, headers={"Range": header}, timeout=30)
    assert response.status_code == 206
    assert response.content == CONTENT[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(CONTENT)}"


@pytest.mark.parametrize("header", [None, "bytes=0-1,5-6", "items=0-5", "bytes=abc"])
def test_no_or_unsupported_range_gets_everything(file_url: str, header: str | None) -> None:
    response = httpx.get(file_url, headers={"Range": header} if header else {}, timeout=30)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["accept-ranges"] == "bytes"


def test_unsatisfiable_range_is_416(file_url: str) -> None:
    response = httpx.get(file_url, headers={"Range": f"bytes={len(CONTENT)}-"}, timeout=30)
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert response.json()["errors"][0]["extensions"]["code"] == "range_not_satisfiable"
