"""The public API's MongoDB-style run filters and order strings, parsed into a RunSearch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from runyard.domain.run_filters import (
    DEFAULT_ORDER,
    MAX_CONDITIONS,
    decode_cursor,
    encode_cursor,
    parse_field,
    parse_filters,
    parse_order,
)
from runyard.errors import BadRequest
from runyard.stores.metadata.base import (
    AllOf,
    AnyOf,
    Compare,
    Exists,
    Matches,
    Negation,
    OneOf,
    RunField,
    RunOrder,
)

LR = RunField("config", "lr", ("lr",))
ACC = RunField("summary", "acc", ("acc",))
STATE = RunField("column", "state")
TAGS = RunField("tags")


def parse(value: Any) -> Any:
    return parse_filters(json.dumps(value))


# fields ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "field"), [
    ("config.lr", LR),
    ("config.lr.value", RunField("config", "lr", ("lr", "lr.value"))),
    ("config.opt.name", RunField("config", "opt.name", ("opt.name",))),
    ("summary_metrics.acc", ACC),
    ("summaryMetrics.acc", ACC),
    ("summary.val/loss.min", RunField("summary", "val/loss.min", ("val/loss.min",))),
    ("state", STATE),
    ("display_name", RunField("column", "display_name")),
    ("displayName", RunField("column", "display_name")),
    ("group", RunField("column", "group_name")),
    ("jobType", RunField("column", "job_type")),
    ("createdAt", RunField("column", "created_at")),
    ("username", RunField("column", "username")),
    ("tags", TAGS),
])
def test_field_names(key: str, field: RunField) -> None:
    assert parse_field(key) == field


@pytest.mark.parametrize("key", ["bogus", "config.", "summary_metrics.", "", "Config.lr"])
def test_unknown_fields_are_refused(key: str) -> None:
    with pytest.raises(BadRequest, match="cannot filter or sort"):
        parse_field(key)


# filters --------------------------------------------------------------------------------------
def test_empty_filters_match_everything() -> None:
    assert parse_filters(None) is None
    assert parse_filters("") is None
    assert parse_filters("{}") is None
    assert parse_filters("null") is None


def test_equality_and_implicit_and() -> None:
    assert parse({"config.lr": 0.1}) == Compare(LR, "eq", 0.1)
    assert parse({"config.lr": 0.1, "state": "finished"}) == AllOf((
        Compare(LR, "eq", 0.1), Compare(STATE, "eq", "finished")))
    assert parse({"config.layers": [64, 64]}) == Compare(
        RunField("config", "layers", ("layers",)), "eq", [64, 64])
    assert parse({"config.flag": True}) == Compare(
        RunField("config", "flag", ("flag",)), "eq", True)
    assert parse({"config.name": None}) == Compare(RunField("config", "name", ("name",)),
                                                   "eq", None)


def test_comparison_operators() -> None:
    assert parse({"summary_metrics.acc": {"$gt": 0.9}}) == Compare(ACC, "gt", 0.9)
    assert parse({"summary_metrics.acc": {"$gte": 0.5, "$lt": 1}}) == AllOf((
        Compare(ACC, "gte", 0.5), Compare(ACC, "lt", 1)))
    assert parse({"summary_metrics.acc": {"$lte": 2}}) == Compare(ACC, "lte", 2)
    assert parse({"summary_metrics.acc": {"$eq": 1}}) == Compare(ACC, "eq", 1)
    assert parse({"summary_metrics.acc": {"$ne": 1}}) == Negation(Compare(ACC, "eq", 1))
    assert parse({"summary_metrics.acc": {"$not": {"$gt": 1}}}) == Negation(
        Compare(ACC, "gt", 1))


def test_in_nin_exists_all() -> None:
    assert parse({"state": {"$in": ["finished", "crashed"]}}) == OneOf(
        STATE, ("finished", "crashed"))
    assert parse({"config.lr": {"$nin": [0.1, None]}}) == OneOf(LR, (0.1, None), negate=True)
    assert parse({"config.lr": {"$exists": False}}) == Exists(LR, False)
    assert parse({"tags": {"$all": ["a", "b"]}}) == AllOf((
        Compare(TAGS, "eq", "a"), Compare(TAGS, "eq", "b")))
    assert parse({"tags": {"$in": ["a"]}}) == OneOf(TAGS, ("a",))
    assert parse({"tags": "a"}) == Compare(TAGS, "eq", "a")
    assert parse({"tags": {"$ne": "a"}}) == Negation(Compare(TAGS, "eq", "a"))


def test_boolean_operators() -> None:
    a, b = {"config.lr": 0.1}, {"state": "finished"}
    ca, cb = Compare(LR, "eq", 0.1), Compare(STATE, "eq", "finished")
    assert parse({"$and": [a, b]}) == AllOf((ca, cb))
    assert parse({"$or": [a, b]}) == AnyOf((ca, cb))
    assert parse({"$or": [a]}) == ca
    assert parse({"$nor": [a, b]}) == Negation(AnyOf((ca, cb)))
    assert parse({"$or": [{}, a]}) == AnyOf((AllOf(()), ca))
    assert parse({"$and": [{"$or": [a, b]}, {"summary_metrics.acc": {"$gt": 1}}]}) == AllOf((
        AnyOf((ca, cb)), Compare(ACC, "gt", 1)))


def test_regex_with_options() -> None:
    name = RunField("column", "display_name")
    assert parse({"display_name": {"$regex": "^foo"}}) == Matches(name, "^foo")
    assert parse({"display_name": {"$regex": "^foo", "$options": "i"}}) == Matches(
        name, "(?i)^foo")
    assert parse({"config.arch": {"$regex": "res"}}) == Matches(
        RunField("config", "arch", ("arch",)), "res")


def test_timestamps_accept_iso_and_epoch() -> None:
    created = RunField("column", "created_at")
    expected = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    assert parse({"createdAt": {"$gte": "2026-01-02T03:04:05Z"}}) == Compare(
        created, "gte", expected)
    assert parse({"createdAt": {"$gte": "2026-01-02T03:04:05"}}) == Compare(
        created, "gte", expected)  # no zone: UTC, as the API returns them
    assert parse({"created_at": {"$lt": 1700000000}}) == Compare(created, "lt", 1.7e9)


@pytest.mark.parametrize(("value", "message"), [
    ("not json", "JSON object"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"config.lr": {"$bogus": 1}}), "unknown filter operator"),
    (json.dumps({"$where": "1"}), "unknown filter operator"),
    (json.dumps({"$or": []}), "non-empty list"),
    (json.dumps({"$and": {"a": 1}}), "non-empty list"),
    (json.dumps({"config.lr": {"$in": 1}}), "needs a list"),
    (json.dumps({"config.lr": {"$exists": 1}}), "true or false"),
    (json.dumps({"config.opt": {"name": "adam"}}), "whole object"),
    (json.dumps({"display_name": {"$regex": "("}}), "invalid \\$regex"),
    (json.dumps({"display_name": {"$regex": "a", "$options": "x"}}), "\\$options"),
    (json.dumps({"state": 3}), "compares with strings"),
    (json.dumps({"createdAt": {"$gt": "yesterday"}}), "ISO-8601"),
    (json.dumps({"createdAt": True}), "timestamps"),
    (json.dumps({"tags": ["a", "b"]}), "\\$in"),
    (json.dumps({"tags": {"$gt": "a"}}), "tags support"),
    (json.dumps({"tags": {"$regex": "a"}}), "string fields"),
    (json.dumps({"config.lr": {"$gt": None}}), "number or a string"),
    (json.dumps({"config.lr": {}}), "whole object"),
    (json.dumps({"display_name": {"$options": "i"}}), "goes with"),
])
def test_bad_filters_are_refused_clearly(value: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_filters(value)


def test_filters_are_bounded() -> None:
    deep: dict[str, Any] = {"config.lr": 1}
    for _ in range(40):
        deep = {"$and": [deep]}
    with pytest.raises(BadRequest, match="deeper"):
        parse(deep)
    wide = {"$or": [{"config.lr": i} for i in range(MAX_CONDITIONS + 1)]}
    with pytest.raises(BadRequest, match="more than"):
        parse(wide)


# order ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "order"), [
    (None, DEFAULT_ORDER),
    ("", DEFAULT_ORDER),
    ("+created_at", RunOrder(RunField("column", "created_at"), False)),
    ("-created_at", RunOrder(RunField("column", "created_at"), True)),
    ("createdAt", RunOrder(RunField("column", "created_at"), False)),
    ("-heartbeat_at", RunOrder(RunField("column", "heartbeat_at"), True)),
    ("-summary_metrics.acc", RunOrder(ACC, True)),
    ("config.lr", RunOrder(LR, False)),
    ("+config.lr.value", RunOrder(LR, False)),
    ("display_name", RunOrder(RunField("column", "display_name"), False)),
    ("-group", RunOrder(RunField("column", "group_name"), True)),
])
def test_orders(text: str | None, order: RunOrder) -> None:
    assert parse_order(text) == order


@pytest.mark.parametrize("text", ["-tags", "bogus", "+notes", "username"])
def test_bad_orders_are_refused(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_order(text)


# cursors --------------------------------------------------------------------------------------
def test_cursors_round_trip_and_belong_to_their_order() -> None:
    order = parse_order("-summary_metrics.acc")
    key = (0, 1, 0.1 + 0.2, "", 12345)
    cursor = encode_cursor(order, key)
    assert decode_cursor(order, cursor) == key  # floats survive exactly
    assert decode_cursor(order, None) is None
    with pytest.raises(BadRequest, match="another order"):
        decode_cursor(parse_order("+summary_metrics.acc"), cursor)
    for bad in ("!!!", "e30", encode_cursor(order, ())[:-2] + "x", "A" * 5000):
        with pytest.raises(BadRequest):
            decode_cursor(order, bad)
