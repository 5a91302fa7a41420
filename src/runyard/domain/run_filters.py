"""The public API's run filters and order, parsed into a store-level RunSearch.

``api.runs(path, filters=..., order=...)`` sends MongoDB-style JSON and an order string::

    {"config.lr": 0.1}                         equality (config values are unwrapped)
    {"summary_metrics.acc": {"$gt": 0.9}}      $eq $ne $gt $gte $lt $lte
    {"$and": [...]}, {"$or": [...]}, {"$nor": [...]}, {"field": {"$not": {...}}}
    {"state": {"$in": ["finished", "crashed"]}}, $nin, $exists
    {"display_name": {"$regex": "^foo", "$options": "i"}}
    {"tags": "a"}, {"tags": {"$in": ["a", "b"]}}, {"tags": {"$all": [...]}}, $nin, $ne
    {"createdAt": {"$gte": "2026-01-01T00:00:00Z"}}   ISO-8601 (UTC when no zone) or epoch

    "+created_at", "-summary_metrics.acc", "config.lr" ("config.lr.value")

Anything else is refused with a message naming what is supported, never ignored: a filter
that silently matched everything would be worse than an error. Cursors are opaque strings
carrying the last run's sort key and the order they belong to.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from runyard.errors import BadRequest
from runyard.stores.metadata.base import (
    AllOf,
    AnyOf,
    Compare,
    CompareOp,
    Exists,
    Matches,
    Negation,
    OneOf,
    RunField,
    RunFilter,
    RunOrder,
)

MAX_DEPTH = 16
MAX_CONDITIONS = 256
MAX_PATTERN = 1000
MAX_CURSOR = 4096

#: Client field names of run columns -> our column names.
COLUMNS = {
    "name": "name", "id": "name",
    "display_name": "display_name", "displayName": "display_name",
    "state": "state",
    "group": "group_name", "group_name": "group_name", "groupName": "group_name",
    "job_type": "job_type", "jobType": "job_type",
    "host": "host",
    "sweep": "sweep", "sweepName": "sweep",
    "notes": "notes", "description": "notes",
    "username": "username",
    "created_at": "created_at", "createdAt": "created_at",
    "updated_at": "updated_at", "updatedAt": "updated_at",
    "heartbeat_at": "heartbeat_at", "heartbeatAt": "heartbeat_at",
}
TIME_COLUMNS = frozenset({"created_at", "updated_at", "heartbeat_at"})
ORDER_COLUMNS = frozenset({"created_at", "updated_at", "heartbeat_at", "name", "display_name",
                           "state", "group_name", "job_type"})
CONFIG_PREFIXES = ("config.",)
SUMMARY_PREFIXES = ("summary_metrics.", "summaryMetrics.", "summary.")

_COMPARE_OPS: dict[str, CompareOp] = {
    "$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte",
}
_SUPPORTED = ("$and, $or, $nor, $not, $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $all, "
              "$exists, $regex")
DEFAULT_ORDER = RunOrder(RunField("column", "created_at"), descending=False)


# filters -------------------------------------------------------------------------------------
def parse_filters(text: str | Mapping[str, Any] | None) -> RunFilter | None:
    """Parse the ``filters`` argument (JSON text or an object); None matches every run."""
    if text is None:
        return None
    if isinstance(text, str):
        if not text.strip():
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise BadRequest("filters must be a JSON object") from None
    else:
        value = text
    if value is None:
        return None
    return _Parser().document(value)


class _Parser:
    def __init__(self) -> None:
        self.count = 0

    def document(self, value: Any, depth: int = 0) -> RunFilter | None:
        if not isinstance(value, Mapping):
            raise BadRequest("a filter must be a JSON object")
        if depth > MAX_DEPTH:
            raise BadRequest(f"filters nest deeper than {MAX_DEPTH} levels")
        items: list[RunFilter] = []
        for key, operand in value.items():
            if not isinstance(key, str):
                raise BadRequest("filter keys must be strings")
            if key in ("$and", "$or", "$nor"):
                parts = self._list_of_documents(key, operand, depth)
                if key == "$and":
                    items.extend(parts)
                elif key == "$or":
                    items.append(parts[0] if len(parts) == 1 else AnyOf(tuple(parts)))
                else:
                    items.append(Negation(parts[0] if len(parts) == 1 else AnyOf(tuple(parts))))
            elif key.startswith("$"):
                raise BadRequest(f"unknown filter operator {key!r} at the top level; "
                                 f"supported: {_SUPPORTED}")
            else:
                items.append(self.condition(parse_field(key), operand, depth + 1))
        if not items:
            return None
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def _list_of_documents(self, key: str, operand: Any, depth: int) -> list[RunFilter]:
        if not isinstance(operand, list) or not operand:
            raise BadRequest(f"{key} needs a non-empty list of filters")
        parts = []
        for item in operand:
            parsed = self.document(item, depth + 1)
            # An empty document ({}) matches every run.
            parts.append(parsed if parsed is not None else AllOf(()))
        return parts

    def _counted(self, item: RunFilter) -> RunFilter:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise BadRequest(f"filters have more than {MAX_CONDITIONS} conditions")
        return item

    def condition(self, field: RunField, operand: Any, depth: int) -> RunFilter:
        if depth > MAX_DEPTH:
            raise BadRequest(f"filters nest deeper than {MAX_DEPTH} levels")
        if isinstance(operand, Mapping) and any(str(k).startswith("$") for k in operand):
            return self._operators(field, operand, depth)
        return self._counted(_equals(field, operand))

    def _operators(self, field: RunField, operand: Mapping[str, Any], depth: int) -> RunFilter:
        items: list[RunFilter] = []
        options = operand.get("$options")
        if options is not None and "$regex" not in operand:
            raise BadRequest("$options goes with $regex")
        for op, value in operand.items():
            if op in _COMPARE_OPS:
                compare_op = _COMPARE_OPS[op]
                items.append(self._counted(
                    _equals(field, value) if compare_op == "eq" else
                    Negation(_equals(field, value)) if compare_op == "ne" else
                    _compare(field, compare_op, value)))
            elif op in ("$in", "$nin"):
                if not isinstance(value, list):
                    raise BadRequest(f"{op} needs a list")
                values = tuple(_value_for(field, v) for v in value)
                items.append(self._counted(OneOf(field, values, negate=op == "$nin")))
            elif op == "$all":
                if not isinstance(value, list) or not value:
                    raise BadRequest("$all needs a non-empty list")
                items.append(self._counted(AllOf(tuple(_equals(field, v) for v in value))))
            elif op == "$exists":
                if not isinstance(value, bool):
                    raise BadRequest("$exists needs true or false")
                items.append(self._counted(Exists(field, value)))
            elif op == "$regex":
                items.append(self._counted(_regex(field, value, options)))
            elif op == "$options":
                continue
            elif op == "$not":
                if not isinstance(value, Mapping):
                    raise BadRequest("$not needs an object of operators")
                items.append(Negation(self._operators(field, value, depth + 1)))
            else:
                raise BadRequest(f"unknown filter operator {op!r}; supported: {_SUPPORTED}")
        if not items:
            raise BadRequest("an operator object needs at least one operator")
        return items[0] if len(items) == 1 else AllOf(tuple(items))


def parse_field(key: str) -> RunField:
    """A client field name: a run column, ``tags``, ``config.<path>`` or
    ``summary_metrics.<path>``."""
    if key in COLUMNS:
        return RunField("column", COLUMNS[key])
    if key == "tags":
        return RunField("tags")
    for prefix in CONFIG_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            path = key[len(prefix):]
            # "config.lr.value" (the stored form, as the client documents it) means "config.lr".
            if path.endswith(".value") and len(path) > len(".value"):
                stripped = path[: -len(".value")]
                return RunField("config", stripped, (stripped, path))
            return RunField("config", path, (path,))
    for prefix in SUMMARY_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            path = key[len(prefix):]
            return RunField("summary", path, (path,))
    raise BadRequest(
        f"cannot filter or sort on {key!r}: use config.<key>, summary_metrics.<key>, tags or "
        f"one of {', '.join(sorted(COLUMNS))}")


def _value_for(field: RunField, value: Any) -> Any:
    """Check (and normalize) a comparison operand for this field."""
    if field.source == "column":
        if field.name in TIME_COLUMNS:
            return _timestamp(value)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{field.name} compares with strings")
        return value
    if field.source == "tags":
        if not isinstance(value, str):
            raise BadRequest("tags compare with strings")
        return value
    if isinstance(value, Mapping):
        raise BadRequest(f"cannot compare {field.source}.{field.name} with a whole object; "
                         "filter on its keys (e.g. config.optimizer.lr)")
    if isinstance(value, list):
        return [_json_leaf(v) for v in value]
    return _json_leaf(value)


def _json_leaf(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_leaf(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_leaf(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise BadRequest(f"unsupported filter value {value!r}")


def _equals(field: RunField, value: Any) -> RunFilter:
    if field.source == "tags" and isinstance(value, list):
        raise BadRequest("to match several tags use {\"tags\": {\"$in\": [...]}} or $all")
    return Compare(field, "eq", _value_for(field, value))


def _compare(field: RunField, op: CompareOp, value: Any) -> RunFilter:
    if field.source == "tags":
        raise BadRequest("tags support equality, $ne, $in, $nin, $all and $exists")
    normalized = _value_for(field, value)
    if normalized is None or isinstance(normalized, list):
        raise BadRequest(f"${op} needs a number or a string")
    return Compare(field, op, normalized)


def _regex(field: RunField, pattern: Any, options: Any) -> RunFilter:
    if field.source == "tags" or (field.source == "column" and field.name in TIME_COLUMNS):
        raise BadRequest(f"$regex applies to string fields, not {field.name or field.source}")
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN:
        raise BadRequest(f"$regex needs a pattern of 1 to {MAX_PATTERN} characters")
    if options is not None:
        if not isinstance(options, str) or set(options) - {"i"}:
            raise BadRequest("$options supports only \"i\" (case-insensitive)")
        if options:
            pattern = "(?i)" + pattern
    try:
        re.compile(pattern)
    except re.error as exc:
        raise BadRequest(f"invalid $regex: {exc}") from None
    return Matches(field, pattern)


def _timestamp(value: Any) -> float:
    """An ISO-8601 string (UTC when it has no zone) or epoch seconds."""
    if isinstance(value, bool):
        raise BadRequest("timestamps are ISO-8601 strings or epoch seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise BadRequest("timestamps must be finite")
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"not an ISO-8601 timestamp: {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise BadRequest("timestamps are ISO-8601 strings or epoch seconds")


# order ---------------------------------------------------------------------------------------
def parse_order(text: str | None) -> RunOrder:
    """``[+|-]field``; ascending without a sign; ``+created_at`` when empty."""
    if text is None or not text.strip():
        return DEFAULT_ORDER
    text = text.strip()
    descending = text.startswith("-")
    name = text[1:] if text[0] in "+-" else text
    field = parse_field(name)
    if field.source == "tags":
        raise BadRequest("cannot sort on tags")
    if field.source == "column" and field.name not in ORDER_COLUMNS:
        raise BadRequest(f"cannot sort on {name!r}; sort on config.<key>, summary_metrics.<key>"
                         " or one of created_at, updated_at, heartbeat_at, name, display_name,"
                         " state, group, job_type")
    if field.source != "column":
        field = RunField(field.source, field.name, (field.name,))
    return RunOrder(field, descending)


# cursors -------------------------------------------------------------------------------------
def _signature(order: RunOrder) -> str:
    return f"{order.field.source}:{order.field.name}:{'-' if order.descending else '+'}"


def encode_cursor(order: RunOrder, sort_key: tuple[Any, ...]) -> str:
    text = json.dumps([_signature(order), *sort_key], separators=(",", ":"), allow_nan=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(order: RunOrder, cursor: str | None) -> tuple[Any, ...] | None:
    """The sort key in a cursor from ``encode_cursor`` for the same order; None for none."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR:
        raise BadRequest("invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadRequest("invalid cursor") from None
    if (not isinstance(value, list) or len(value) < 2
            or not all(v is None or isinstance(v, int | float | str) for v in value)):
        raise BadRequest("invalid cursor")
    if value[0] != _signature(order):
        raise BadRequest("the cursor belongs to another order; start again without it")
    return tuple(value[1:])
