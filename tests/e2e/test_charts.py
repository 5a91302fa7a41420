"""The chart API against real servers: cached answers stay current, ETags revalidate.

A chart answer is cached; the guarantee is that a history line written through *any*
replica shows in the next chart request. Replicas here are two server processes on one
SQLite database, with per-process ``memory://`` caches (each request checks the runs' line
counts) or one shared Redis (a hit is validated by the project's generation counter).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.e2e.operations import UPSERT_BUCKET
from tests.e2e.server import RunyardServer

pytestmark = pytest.mark.e2e

ENTITY = "admin"
#: The test Redis, database 15: the servers here use the default key prefix and fresh
#: databases whose run ids repeat, so their keys are cleared before and after.
REDIS_URL = os.environ.get("RUNYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHART_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/15"


def create_run(api: httpx.Client, project: str, name: str) -> None:
    response = api.post("/graphql", json={
        "query": UPSERT_BUCKET, "operationName": "UpsertBucket",
        "variables": {"name": name, "project": project, "entity": ENTITY}})
    assert response.status_code == 200, response.text
    assert not response.json().get("errors"), response.text


def log_steps(api: httpx.Client, project: str, run: str, start: int, stop: int) -> None:
    lines = [json.dumps({"_step": i, "_runtime": i, "_timestamp": 1.7e9 + i, "loss": i * 0.5})
             for i in range(start, stop)]
    body = {"files": {"wandb-history.jsonl": {"offset": start, "content": lines}}}
    response = api.post(f"/files/{ENTITY}/{project}/{run}/file_stream", json=body)
    assert response.status_code == 200, response.text


def chart(api: httpx.Client, project: str, runs: list[str], *,
          headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    return api.get(f"/api/v1/entities/{ENTITY}/projects/{project}/charts", headers=headers,
                   params={"runs": runs, "keys": ["loss"], "buckets": 10, **params})


def points(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    return {s["run"]: sum(s["count"]) for s in response.json()["series"]}


def test_cached_chart_follows_new_lines_and_revalidates(server: RunyardServer) -> None:
    project = f"charts-{uuid.uuid4().hex[:8]}"
    with server.api() as api:
        create_run(api, project, "a")
        create_run(api, project, "b")
        log_steps(api, project, "a", 0, 50)
        log_steps(api, project, "b", 0, 20)
        first = chart(api, project, ["a", "b"])
        assert points(first) == {"a": 50, "b": 20}
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, no-cache"
        again = chart(api, project, ["a", "b"])
        assert again.content == first.content
        assert again.headers["etag"] == etag

        unchanged = chart(api, project, ["a", "b"], headers={"If-None-Match": f'"x", W/{etag}'})
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag

        log_steps(api, project, "b", 20, 25)
        changed = chart(api, project, ["a", "b"], headers={"If-None-Match": etag})
        assert points(changed) == {"a": 50, "b": 25}
        assert changed.headers["etag"] != etag
        # Another query is another representation.
        assert chart(api, project, ["a", "b"], max_step=10).headers["etag"] != \
            changed.headers["etag"]


def test_chart_errors_keep_the_error_shape(server: RunyardServer) -> None:
    project = f"charts-{uuid.uuid4().hex[:8]}"
    with server.api() as api:
        create_run(api, project, "a")
        missing = chart(api, project, ["a", "nope"], headers={"If-None-Match": "*"})
        assert missing.status_code == 404
        assert "nope" in missing.json()["errors"][0]["message"]
    with httpx.Client(base_url=server.url) as anonymous:
        refused = chart(anonymous, project, ["a"])
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["status"] == 401
    wrong = "local-" + "Z" * 40
    with server.api(wrong) as stranger:
        assert chart(stranger, project, ["a"]).status_code == 401


@pytest.mark.parametrize(("params", "needle"), [
    ({"buckets": 0}, "buckets"),
    ({"buckets": 10_001}, "buckets"),
    ({"buckets": "ten"}, "buckets"),
    ({"min_step": "1.5"}, "min_step"),
    ({"max_step": str(2**63)}, "max_step"),
    ({"runs": []}, "runs"),
    ({"keys": []}, "keys"),
    ({"runs": [f"r{i}" for i in range(201)]}, "at most 200 runs"),
])
def test_bad_chart_parameters_are_400_in_the_error_shape(
        server: RunyardServer, params: dict[str, Any], needle: str) -> None:
    runs = params.pop("runs", ["a"])
    with server.api() as api:
        response = chart(api, "charts-params", runs, **params)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["status"] == 400
    assert needle in error["message"]


def test_the_chart_route_is_documented_and_served_by_the_fast_route(
        server: RunyardServer) -> None:
    """Requests go to the plain route matched first; the OpenAPI schema still documents
    the API with its parameters."""
    with httpx.Client(base_url=server.url) as client:
        schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/entities/{entity}/projects/{project}/charts"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"runs", "keys", "min_step", "max_step", "buckets"} <= names
    project = f"charts-{uuid.uuid4().hex[:8]}"
    with server.api() as api:
        create_run(api, project, "a")
        log_steps(api, project, "a", 0, 30)
        answer = chart(api, project, ["a"], min_step=" 5", max_step=25, buckets=4)
        assert answer.status_code == 200, answer.text
        (series,) = answer.json()["series"]
        assert sum(series["count"]) == 20
        assert len(series["step"]) <= 4
        assert series["step"][0] == 5


@pytest.fixture
def chart_redis() -> Iterator[str]:
    """CHART_REDIS_URL with no Runyard keys in it (skipped when there is no Redis)."""
    client = redis.Redis.from_url(CHART_REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at {CHART_REDIS_URL}")

    def clear() -> None:
        keys = list(client.scan_iter(match="runyard:*"))
        if keys:
            client.delete(*keys)

    clear()
    yield CHART_REDIS_URL
    clear()
    client.close()


def _replicas(root: Path, env: dict[str, str]) -> list[RunyardServer]:
    data = root / "data"
    first = RunyardServer(data, env=env).start()
    try:
        return [first, RunyardServer(data, env=env).start()]
    except BaseException:
        first.stop()
        raise


@pytest.mark.parametrize("cache", ["memory", "redis"])
def test_a_write_through_one_replica_shows_on_the_other(
        cache: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = {}
    if cache == "redis":
        env = {"RUNYARD_CACHE_URL": request.getfixturevalue("chart_redis")}
    replicas = _replicas(tmp_path, env)
    try:
        with replicas[0].api() as one, replicas[1].api() as two:
            create_run(one, "shared", "r")
            log_steps(one, "shared", "r", 0, 30)
            for _ in range(2):  # cached on both replicas
                assert points(chart(one, "shared", ["r"])) == {"r": 30}
                assert points(chart(two, "shared", ["r"])) == {"r": 30}
            tag = chart(one, "shared", ["r"]).headers["etag"]
            log_steps(two, "shared", "r", 30, 31)
            assert points(chart(one, "shared", ["r"])) == {"r": 31}
            assert chart(one, "shared", ["r"]).headers["etag"] != tag
            log_steps(one, "shared", "r", 31, 40)
            assert points(chart(two, "shared", ["r"])) == {"r": 40}
    finally:
        for replica in replicas:
            replica.stop()
        for replica in replicas:
            assert "Traceback" not in replica.log(), replica.log()
