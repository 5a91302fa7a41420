"""file_stream semantics against a real server: retries, overlaps, overwrites, exact values.

Every run is created the way the client creates it (GraphQL ``UpsertBucket``) and fed through
``POST /files/{entity}/{project}/{run}/file_stream`` with bodies shaped as in PROTOCOL.md §4.
What was stored is read back through ``/api/v1``.
"""

from __future__ import annotations

import gzip
import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.compare import same
from tests.e2e.operations import UPSERT_BUCKET
from tests.e2e.server import RunyardServer, get_json

pytestmark = pytest.mark.e2e

ENTITY = "admin"
HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
SUMMARY = "wandb-summary.json"
CONSOLE = "output.log"


CONFIG = json.dumps({
    "lr": {"value": 0.01},
    "_wandb": {"value": {"cli_version": "0.31.0", "t": {"5": "0.31.0"}, "m": []}},
})


@dataclass
class StreamRun:
    api: httpx.Client
    project: str
    name: str

    @property
    def path(self) -> str:
        return f"/api/v1/entities/{ENTITY}/projects/{self.project}/runs/{self.name}"

    def stream(self, body: dict[str, Any] | bytes, **headers: str) -> dict[str, Any]:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.api.post(
            f"/files/{ENTITY}/{self.project}/{self.name}/file_stream", content=content,
            headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 200, response.text
        result = response.json()
        assert isinstance(result, dict)
        return result

    def lines(self, fname: str, offset: int, rows: list[Any]) -> dict[str, Any]:
        content = [r if isinstance(r, str) else json.dumps(r) for r in rows]
        return self.stream({"files": {fname: {"offset": offset, "content": content}}})

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = get_json(self.api, self.path)
        return result

    def history(self, **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = get_json(self.api, self.path + "/history", **params)["rows"]
        return rows

    def events(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = get_json(self.api, self.path + "/system-metrics")["rows"]
        return rows

    def logs(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = get_json(self.api, self.path + "/logs")["lines"]
        return lines


def gql(api: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/graphql", json={"query": query, "variables": variables,
                                          "operationName": "UpsertBucket"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def create_run(api: httpx.Client) -> StreamRun:
    project = f"fs-{uuid.uuid4().hex[:10]}"
    name = uuid.uuid4().hex[:8]
    data = gql(api, UPSERT_BUCKET, {"name": name, "project": project, "entity": ENTITY,
                                    "config": CONFIG, "host": "e2e", "tags": ["fs"]})
    bucket = data["upsertBucket"]["bucket"]
    assert bucket["name"] == name
    assert bucket["project"]["name"] == project
    assert bucket["historyLineCount"] == 0
    return StreamRun(api, project, name)


@pytest.fixture
def run(server: RunyardServer) -> Iterator[StreamRun]:
    with server.api() as api:
        yield create_run(api)


def hist(step: int, **values: Any) -> dict[str, Any]:
    return {"_step": step, "_runtime": 1.5 + step, "_timestamp": 1_700_000_000.25 + step,
            **values}


def raw_rows(text: str) -> list[str]:
    """The exact text of each element of the response's ``rows`` array."""
    decoder = json.JSONDecoder()
    pos = text.index("[", text.index('"rows"')) + 1
    rows: list[str] = []
    while True:
        while text[pos] in " \t\r\n,":
            pos += 1
        if text[pos] == "]":
            return rows
        _value, end = decoder.raw_decode(text, pos)
        rows.append(text[pos:end])
        pos = end


# --- history ----------------------------------------------------------------------------


def test_history_resent_after_timeout_is_not_duplicated(run: StreamRun) -> None:
    first = [hist(0, loss=1.0), hist(1, loss=0.5), hist(2, loss=0.25)]
    run.lines(HISTORY, 0, first)
    # The client timed out waiting and sends the very same chunk again.
    run.lines(HISTORY, 0, first)
    run.lines(HISTORY, 0, first)
    assert [r["_step"] for r in run.history()] == [0, 1, 2]
    assert run.run()["history_line_count"] == 3

    second = [hist(3, loss=0.125), hist(4, loss=0.0625)]
    run.lines(HISTORY, 3, second)
    run.lines(HISTORY, 3, second)
    rows = run.history()
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["loss"] for r in rows] == [1.0, 0.5, 0.25, 0.125, 0.0625]
    record = run.run()
    assert record["history_line_count"] == 5
    assert record["last_step"] == 4
    # Key statistics count each line once, however often it was sent.
    assert record["history_keys"]["loss"] == {"number": 5}


def test_overlapping_history_offsets_later_content_wins(run: StreamRun) -> None:
    run.lines(HISTORY, 0, [hist(i, v=f"first-{i}") for i in range(5)])  # lines 0..4
    run.lines(HISTORY, 3, [hist(i, v=f"second-{i}") for i in range(3, 8)])  # lines 3..7
    rows = run.history()
    assert [r["_step"] for r in rows] == list(range(8))
    assert [r["v"] for r in rows] == [
        "first-0", "first-1", "first-2",
        "second-3", "second-4", "second-5", "second-6", "second-7",
    ]
    record = run.run()
    assert record["history_line_count"] == 8
    assert record["last_step"] == 7
    assert record["history_keys"]["v"] == {"string": 8}


# --- console, events, summary -----------------------------------------------------------


def test_console_line_resent_at_same_offset_overwrites(run: StreamRun) -> None:
    ts = "2026-01-01T00:00:00.000000"
    run.lines(CONSOLE, 0, [f"{ts} epoch 1", f"{ts} [          ] 0%"])
    # A progress bar rewrites line 1 three times, then output moves on.
    run.lines(CONSOLE, 1, [f"{ts} [###       ] 30%"])
    run.lines(CONSOLE, 1, [f"{ts} [######    ] 60%"])
    run.lines(CONSOLE, 1, [f"{ts} [##########] 100%", f"ERROR {ts} warning: done"])
    run.lines(CONSOLE, 1, [f"{ts} [##########] 100%", f"ERROR {ts} warning: done"])  # a retry
    lines = run.logs()
    assert lines == [
        {"line_no": 0, "content": f"{ts} epoch 1"},
        {"line_no": 1, "content": f"{ts} [##########] 100%"},
        {"line_no": 2, "content": f"ERROR {ts} warning: done"},
    ]
    assert run.run()["log_line_count"] == 3


def test_events_are_idempotent_like_history(run: StreamRun) -> None:
    def event(i: int, tag: str) -> dict[str, Any]:
        return {"system.cpu": float(i), "tag": tag, "_runtime": 15.0 * i,
                "_timestamp": 1_700_000_000.0 + 15 * i, "_wandb": True}

    batch = [event(i, "a") for i in range(3)]
    run.lines(EVENTS, 0, batch)
    run.lines(EVENTS, 0, batch)  # retry
    assert [e["system.cpu"] for e in run.events()] == [0.0, 1.0, 2.0]
    assert run.run()["events_line_count"] == 3

    run.lines(EVENTS, 1, [event(i, "b") for i in range(1, 5)])  # overlaps 1..2
    rows = run.events()
    assert [e["system.cpu"] for e in rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [e["tag"] for e in rows] == ["a", "b", "b", "b", "b"]
    assert run.run()["events_line_count"] == 5


def test_summary_is_replaced_not_merged(run: StreamRun) -> None:
    run.lines(SUMMARY, 0, [{"acc": 0.5, "loss": 2.0, "_step": 1}])
    assert run.run()["summary"] == {"acc": 0.5, "loss": 2.0, "_step": 1}
    run.lines(SUMMARY, 0, [{"acc": 0.9, "_step": 2, "_wandb": {"runtime": 3}}])
    assert run.run()["summary"] == {"acc": 0.9, "_step": 2, "_wandb": {"runtime": 3}}


# --- state ------------------------------------------------------------------------------


def test_complete_exitcode_zero_finishes(run: StreamRun) -> None:
    run.lines(HISTORY, 0, [hist(0, x=1)])
    result = run.stream({"complete": True, "exitcode": 0})
    assert result["stopped"] is False
    record = run.run()
    assert (record["state"], record["exit_code"]) == ("finished", 0)
    assert record["finished_at"] is not None


@pytest.mark.parametrize("exitcode", [1, 3, 255, -9])
def test_complete_nonzero_exitcode_fails(server: RunyardServer, exitcode: int) -> None:
    with server.api() as api:
        run = create_run(api)
        run.stream({"files": {HISTORY: {"offset": 0, "content": [json.dumps(hist(0))]}},
                    "complete": True, "exitcode": exitcode})
        record = run.run()
        assert (record["state"], record["exit_code"]) == ("failed", exitcode)
        assert [r["_step"] for r in run.history()] == [0]


def test_heartbeat_updates_heartbeat_and_keeps_state(run: StreamRun) -> None:
    run.lines(HISTORY, 0, [hist(0, x=1)])
    before = run.run()
    assert before["state"] == "running"
    time.sleep(0.05)
    result = run.stream({})
    assert result["stopped"] is False
    after = run.run()
    assert after["heartbeat_at"] > before["heartbeat_at"]
    assert after["state"] == "running"
    assert after["history_line_count"] == before["history_line_count"] == 1
    assert after["exit_code"] is None


def test_stop_request_is_reported_on_next_stream_response(run: StreamRun) -> None:
    assert run.stream({})["stopped"] is False
    response = run.api.post(run.path + "/stop")
    assert response.status_code == 202, response.text
    assert response.json() == {"stop_requested": True}
    assert run.stream({})["stopped"] is True
    assert run.lines(HISTORY, 0, [hist(0)])["stopped"] is True
    assert run.run()["state"] == "running"  # stopping is the client's job


# --- exact values -----------------------------------------------------------------------

EXOTIC: dict[str, Any] = {
    "_step": 0,
    "nan": float("nan"),
    "inf": float("inf"),
    "ninf": float("-inf"),
    "big": 1e308,
    "tiny": 5e-324,
    "maxint": 2**63 - 1,
    "minint": -(2**63),
    "ключ ü 🚀": "värde ✓ 日本語 \u2028 \"quoted\" \\ back",
    "nested": {"a": {"b": [1, 2.5, None, True, "x", {"c": float("nan")}]}, "empty": {}},
    "train/loss": 0.1,
    "a/b/c": -0.0,
    "media": {"_type": "image-file", "path": "media/images/x_0_abc.png", "sha256": "ab"},
}


def test_exact_values_round_trip(run: StreamRun) -> None:
    lines = [
        json.dumps(EXOTIC, ensure_ascii=False),
        json.dumps({**EXOTIC, "_step": 1}),  # ASCII-escaped unicode this time
        '{"_step": 2,   "x" : 1.0, "y":1E+2,"z" :-0.50}',  # odd spacing and number forms
    ]
    run.stream({"files": {HISTORY: {"offset": 0, "content": lines}}})

    response = run.api.get(run.path + "/history")
    assert response.status_code == 200, response.text
    # Without keys the stored text comes back byte for byte.
    raw = raw_rows(response.text)
    assert [r.encode() for r in raw] == [line.encode() for line in lines]

    rows = response.json()["rows"]
    assert same(rows[0], EXOTIC)
    assert same(rows[1], {**EXOTIC, "_step": 1})
    assert rows[2] == {"_step": 2, "x": 1.0, "y": 100.0, "z": -0.5}
    for row in rows[:2]:
        assert math.isnan(row["nan"])
        assert math.isnan(row["nested"]["a"]["b"][5]["c"])
        assert row["inf"] == math.inf
        assert row["ninf"] == -math.inf
        assert row["big"] == 1e308
        assert row["tiny"] == 5e-324
        assert type(row["maxint"]) is int
        assert row["maxint"] == 2**63 - 1
        assert type(row["minint"]) is int
        assert row["minint"] == -(2**63)
        assert math.copysign(1.0, row["a/b/c"]) == -1.0

    # With keys, the picked values are still exact.
    keys = ["nan", "inf", "ninf", "big", "tiny", "maxint", "ключ ü 🚀", "nested", "train/loss"]
    picked = run.history(keys=keys)
    assert len(picked) == 2
    for i, row in enumerate(picked):
        assert same(row, {k: EXOTIC[k] for k in keys} | {"_step": i})

    types = run.run()["history_keys"]
    assert types["nan"] == {"number": 2}
    assert types["media"] == {"image-file": 2}
    assert types["nested"] == {"map": 2}


def test_exact_values_in_summary(run: StreamRun) -> None:
    run.lines(SUMMARY, 0, [json.dumps(EXOTIC, ensure_ascii=False)])
    assert same(run.run()["summary"], EXOTIC)


def test_gzip_body_is_accepted(run: StreamRun) -> None:
    body = {"files": {
        HISTORY: {"offset": 0, "content": [json.dumps(hist(i, g="zip")) for i in range(3)]},
        CONSOLE: {"offset": 0, "content": ["2026-01-01T00:00:00 gzipped"]},
        SUMMARY: {"offset": 0, "content": [json.dumps({"g": "zip"})]},
    }}
    compressed = gzip.compress(json.dumps(body).encode())
    result = run.stream(compressed, **{"Content-Encoding": "gzip"})
    assert result["stopped"] is False
    assert [r["g"] for r in run.history()] == ["zip"] * 3
    assert run.logs() == [{"line_no": 0, "content": "2026-01-01T00:00:00 gzipped"}]
    record = run.run()
    assert record["summary"] == {"g": "zip"}
    assert record["history_line_count"] == 3
    # Re-sending the compressed chunk is as idempotent as the plain one.
    run.stream(compressed, **{"Content-Encoding": "gzip"})
    assert len(run.history()) == 3
