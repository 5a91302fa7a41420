"""Parse a file_stream request body into a checked StreamBatch (nothing is written here)."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from runyard.errors import BadRequest
from runyard.stores.keys import check_file_name
from runyard.stores.metadata.base import StreamBatch, StreamLine

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
SUMMARY = "wandb-summary.json"
CONSOLE = "output.log"

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MAX = 2**63 - 1
#: Line numbers are 32-bit in the database; no stream comes near this many lines.
MAX_LINES = INT32_MAX


def parse_request(body: Any) -> StreamBatch:
    if not isinstance(body, dict):
        raise BadRequest("file_stream body must be a JSON object")
    batch = StreamBatch()
    files = body.get("files")
    files = {} if files is None else files
    if not isinstance(files, dict):
        raise BadRequest("'files' must be an object")
    for fname, chunk in files.items():
        offset, content = _chunk(fname, chunk)
        if fname in (HISTORY, EVENTS):
            lines = _stream_lines(fname, offset, content)
            if fname == HISTORY:
                batch.history = lines
            else:
                batch.events = lines
        elif fname == SUMMARY:
            if content:
                _json_object(fname, content[-1])
                batch.summary = content[-1]
        elif fname == CONSOLE:
            batch.console = [(offset + i, text) for i, text in enumerate(content)]
        # Other names (e.g. future streams) are accepted and ignored, never a 4xx:
        # a 4xx on file_stream stops the client streaming for the rest of the run.
    uploaded = body.get("uploaded") or []
    if not isinstance(uploaded, list) or not all(isinstance(u, str) for u in uploaded):
        raise BadRequest("'uploaded' must be a list of file names")
    batch.uploaded = [check_file_name(u) for u in uploaded]
    batch.complete = _flag(body, "complete")
    batch.preempting = _flag(body, "preempting")
    exit_code = body.get("exitcode")
    if exit_code is not None and not (_is_int(exit_code) and INT32_MIN <= exit_code <= INT32_MAX):
        raise BadRequest("'exitcode' must be a 32-bit integer")
    batch.exit_code = exit_code
    return batch


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be true or false")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _chunk(fname: str, chunk: Any) -> tuple[int, list[str]]:
    if not isinstance(chunk, dict):
        raise BadRequest(f"files[{fname!r}] must be an object with offset and content")
    offset = chunk.get("offset", 0)
    content = chunk.get("content", [])
    if not _is_int(offset) or offset < 0:
        raise BadRequest(f"files[{fname!r}].offset must be a non-negative integer")
    if not isinstance(content, list) or not all(isinstance(c, str) for c in content):
        raise BadRequest(f"files[{fname!r}].content must be a list of strings")
    if offset + len(content) > MAX_LINES:
        raise BadRequest(f"files[{fname!r}] goes past line {MAX_LINES}")
    return offset, content


def _json_object(fname: str, text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:  # NaN and Infinity tokens, and integers beyond 64 bits
            value = json.loads(text)
        except ValueError:
            raise BadRequest(f"{fname}: a line is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{fname}: a line is not a JSON object")
    return value


def _stream_lines(fname: str, offset: int, content: list[str]) -> list[StreamLine]:
    """The lines of one request. Consecutive lines usually have the same keys: a line of
    plain numbers whose keys (in any order) are the previous line's reuses its key types,
    which spares key_types' cache lookup."""
    lines: list[StreamLine] = []
    last_keys: Any = None  # the keys view of the previous line of plain numbers
    last: tuple[dict[str, str], bool] = ({}, True)
    for i, text in enumerate(content):
        row = _json_object(fname, text)
        step = _finite(row.get("_step"))
        if step is not None and not 0 <= step <= INT64_MAX:
            raise BadRequest(f"{fname}: _step {row.get('_step')!r} is out of range")
        kinds = set(map(type, row.values()))
        if kinds <= _PLAIN_TYPES and row.keys() == last_keys:
            keys, plain = last
        else:
            keys, plain = key_types(row, kinds)
            if plain:
                last, last_keys = (keys, plain), row.keys()
        lines.append(StreamLine(
            line_no=offset + i,
            text=text,
            step=int(step) if step is not None else None,
            runtime=_finite(row.get("_runtime")),
            timestamp=_finite(row.get("_timestamp")),
            keys=keys,
            values=row,
            plain=plain,
        ))
    return lines


def _finite(value: Any) -> float | None:
    """``_number`` with the two usual cases first (a step, a clock)."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is float:
        return value if value - value == 0.0 else None  # NaN and infinities give NaN
    return _number(value)


_SIGNATURES: dict[tuple[tuple[str, ...], tuple[type, ...]], tuple[dict[str, str], bool]] = {}
_PLAIN_SHAPES: dict[frozenset[str], tuple[dict[str, str], bool]] = {}
_MAX_SIGNATURES = 4096
_PLAIN_TYPES = frozenset({int, float})


def key_types(row: dict[str, Any], kinds: set[type] | None = None
              ) -> tuple[dict[str, str], bool]:
    """Each key's type name, and whether every value is a plain number. Rows of a run share
    a few shapes, so the answer is cached: rows of one shape get the same dict (which must
    not be changed). A row of plain numbers is cached by its set of keys, whatever their
    order (wandb-core writes a line's keys in Go's random map order); others by their keys
    and value types in order."""
    if (set(map(type, row.values())) if kinds is None else kinds) <= _PLAIN_TYPES:
        shape = frozenset(row)
        found = _PLAIN_SHAPES.get(shape)
        if found is None:
            found = (dict.fromkeys(row, "number"), True)
            if len(_PLAIN_SHAPES) >= _MAX_SIGNATURES:
                _PLAIN_SHAPES.clear()
            _PLAIN_SHAPES[shape] = found
        return found
    types = tuple(map(type, row.values()))
    if dict in types:  # a media value's type name depends on its content
        return {k: type_name(v) for k, v in row.items()}, False
    signature = (tuple(row), types)
    found = _SIGNATURES.get(signature)
    if found is None:
        found = ({k: type_name(v) for k, v in row.items()}, False)
        if len(_SIGNATURES) >= _MAX_SIGNATURES:
            _SIGNATURES.clear()
        _SIGNATURES[signature] = found
    return found


def _number(value: Any) -> float | None:
    """A finite number, or None (booleans, NaN and infinities are not steps or times)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value) if isinstance(value, float) else value
    return None


def type_name(value: Any) -> str:
    """The type names W&B reports in historyKeys typeCounts."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        kind = value.get("_type")
        return str(kind) if isinstance(kind, str) else "map"
    return "unknown"
