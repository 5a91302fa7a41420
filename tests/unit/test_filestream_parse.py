from __future__ import annotations

import math

import pytest

from runyard.domain.filestream import parse_request, type_name
from runyard.errors import BadRequest


def test_parses_every_stream_and_extracts_step_runtime_timestamp() -> None:
    batch = parse_request({
        "files": {
            "wandb-history.jsonl": {"offset": 5, "content": [
                '{"_step": 5, "_runtime": 1.5, "_timestamp": 1700000000.25, "loss": NaN}',
                '{"_step": 6, "acc": [1, 2], "img": {"_type": "image-file"}}']},
            "wandb-events.jsonl": {"offset": 0, "content": ['{"system.cpu": 3, "_runtime": 2}']},
            "wandb-summary.json": {"offset": 0, "content": ['{"loss": 1}']},
            "output.log": {"offset": 2, "content": ["a", "b"]},
            "some-future-file": {"offset": 0, "content": ["ignored"]},
        },
        "uploaded": ["media/x.png"], "complete": True, "exitcode": 1,
    })
    first, second = batch.history
    assert (first.line_no, first.step, first.runtime, first.timestamp) == (5, 5, 1.5,
                                                                           1700000000.25)
    assert first.keys["loss"] == "number"
    assert (second.line_no, second.step, second.runtime) == (6, 6, None)
    assert second.keys["acc"] == "list"
    assert second.keys["img"] == "image-file"
    assert batch.events[0].runtime == 2
    assert batch.summary == '{"loss": 1}'
    assert batch.console == [(2, "a"), (3, "b")]
    assert batch.uploaded == ["media/x.png"]
    assert (batch.complete, batch.exit_code) == (True, 1)


def test_heartbeat_is_an_empty_batch() -> None:
    batch = parse_request({})
    assert not (batch.history)
    assert not (batch.events)
    assert not (batch.console)
    assert not (batch.complete)


@pytest.mark.parametrize("body", [
    [],
    {"files": []},
    {"files": {"wandb-history.jsonl": {"offset": -1, "content": []}}},
    {"files": {"wandb-history.jsonl": {"offset": "0", "content": []}}},
    {"files": {"wandb-history.jsonl": {"offset": 0, "content": "x"}}},
    {"files": {"wandb-history.jsonl": {"offset": 0, "content": ["not json"]}}},
    {"files": {"wandb-history.jsonl": {"offset": 0, "content": ["[1, 2]"]}}},
    {"files": {"wandb-summary.json": {"offset": 0, "content": ["3"]}}},
    {"uploaded": "a.txt"},
    {"uploaded": ["../../etc/passwd"]},
    {"uploaded": ["/abs"]},
    {"uploaded": ["nul\x00byte"]},
    {"exitcode": "0"},
    {"exitcode": True},
])
def test_malformed_bodies_are_rejected_whole(body: object) -> None:
    with pytest.raises(BadRequest):
        parse_request(body)


def test_non_finite_steps_are_not_steps() -> None:
    batch = parse_request({"files": {"wandb-history.jsonl": {"offset": 0, "content": [
        '{"_step": Infinity}', '{"_step": true}']}}})
    assert [line.step for line in batch.history] == [None, None]


def test_type_names() -> None:
    assert [type_name(v) for v in (None, True, 1, 1.5, math.nan, "s", [], {}, {"_type": "t"})] == [
        "nil", "bool", "number", "number", "number", "string", "list", "map", "t"]
