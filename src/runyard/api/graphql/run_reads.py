"""Public-API reads of one run: sampled and paged history, sampled system metrics, history
keys, live history for ``scan_history``, and file pages. ``RunView`` delegates here.

Rows go out as the client logged them. ``history``/``events`` return the stored JSON text of
each row, byte for byte (NaN and Infinity included). ``sampledHistory`` and
``parquetHistory.liveData`` are JSON values decoded by strict JSON parsers on the client's
side (wandb-core), so there a non-finite number travels as the string "NaN", "Infinity" or
"-Infinity".
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

from runyard.errors import BadRequest
from runyard.stores.metadata.base import HistoryRecord, MetadataStore, RunRecord

DEFAULT_SAMPLES = 500
MAX_SAMPLES = 1_000_000
MAX_SPECS = 32
MAX_KEYS = 1000
SCAN_PAGE = 2000
DEFAULT_FILES = 50
MAX_FILES = 10_000
STEP_KEY = "_step"
#: Keys whose JSON form is the same whoever encoded them, so a substring prefilter is exact.
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_./\- ]{1,200}$")


def evenly_spaced(count: int, samples: int) -> list[int]:
    """At most ``samples`` indices of ``range(count)``, evenly spread, first and last kept."""
    if samples <= 0 or count <= 0:
        return []
    if count <= samples:
        return list(range(count))
    if samples == 1:
        return [0]
    picked = {round(i * (count - 1) / (samples - 1)) for i in range(samples)}
    return sorted(picked)


def json_safe(value: Any) -> Any:
    """A JSON value strict parsers accept: non-finite floats become their names as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def _samples(samples: int | None) -> int:
    if samples is None:
        return DEFAULT_SAMPLES
    if samples < 0:
        raise BadRequest("samples must not be negative")
    return min(samples, MAX_SAMPLES)


# history ----------------------------------------------------------------------------------------
def history(store: MetadataStore, run: RunRecord, samples: int | None, min_step: int | None,
            max_step: int | None) -> list[str]:
    """Rows with ``min_step <= step < max_step`` as stored, at most ``samples`` of them."""
    limit = _samples(samples)
    if limit == 0:
        return []
    rows = store.read_history(run.id, min_step=min_step, max_step=max_step, limit=limit + 1)
    if len(rows) > limit:
        positions = store.history_positions(run.id, min_step=min_step, max_step=max_step)
        chosen = [positions[i][0] for i in evenly_spaced(len(positions), limit)]
        rows = store.read_lines(run.id, "history", chosen)
    return [row.text for row in rows]


def events(store: MetadataStore, run: RunRecord, samples: int | None) -> list[str]:
    limit = _samples(samples)
    count = run.events_line_count
    if count <= limit:
        rows = store.read_events(run.id, offset=0, limit=max(limit, 1))[:limit]
    else:
        rows = store.read_lines(run.id, "events", evenly_spaced(count, limit))
    return [row.text for row in rows]


def system_metrics(store: MetadataStore, run: RunRecord) -> str:
    """The latest system-metrics sample, as a JSON object text."""
    if run.events_line_count <= 0:
        return "{}"
    rows = store.read_events(run.id, offset=run.events_line_count - 1, limit=1)
    return rows[-1].text if rows else "{}"


def history_keys(run: RunRecord) -> dict[str, Any]:
    try:
        stats = json.loads(run.history_keys or "{}")
    except ValueError:
        stats = {}
    keys = {
        key: {"typeCounts": [{"type": t, "count": c} for t, c in counts.items()]}
        for key, counts in (stats.items() if isinstance(stats, dict) else [])
        if isinstance(counts, dict)
    }
    return {"lastStep": run.last_step if run.last_step is not None else -1, "keys": keys}


def _scan(store: MetadataStore, run_id: int, min_step: int | None, max_step: int | None,
          needles: Sequence[str]) -> Iterator[HistoryRecord]:
    """Every row in ``[min_step, max_step)`` containing the needles, by step, page by page."""
    start = min_step
    while True:
        rows = store.read_history(run_id, min_step=start, max_step=max_step, limit=SCAN_PAGE,
                                  contains=needles)
        yield from rows
        if len(rows) < SCAN_PAGE:
            return
        start = rows[-1].step + 1


def _rows_with(store: MetadataStore, run_id: int, keys: Sequence[str], min_step: int | None,
               max_step: int | None) -> list[dict[str, Any]]:
    """The rows that have every key, limited to those keys (in the order asked)."""
    needles = [json.dumps(k) for k in keys if _PLAIN_KEY.match(k)]
    out = []
    for row in _scan(store, run_id, min_step, max_step, needles):
        try:
            values = json.loads(row.text)
        except ValueError:
            continue
        if isinstance(values, dict) and all(k in values for k in keys):
            out.append({k: values[k] for k in keys})
    return out


def _spec(text: str) -> tuple[list[str], int, int | None, int | None]:
    try:
        spec = json.loads(text)
    except ValueError:
        raise BadRequest("a sampledHistory spec must be a JSON object") from None
    if not isinstance(spec, dict):
        raise BadRequest("a sampledHistory spec must be a JSON object")
    keys = spec.get("keys")
    if (not isinstance(keys, list) or not keys or len(keys) > MAX_KEYS
            or not all(isinstance(k, str) for k in keys)):
        raise BadRequest(f"spec keys must be a list of 1 to {MAX_KEYS} strings")
    samples = spec.get("samples", DEFAULT_SAMPLES)
    if isinstance(samples, float) and samples.is_integer():
        samples = int(samples)
    if not isinstance(samples, int) or isinstance(samples, bool):
        raise BadRequest("spec samples must be an integer")
    bounds = []
    for name in ("minStep", "maxStep"):
        value = spec.get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise BadRequest(f"spec {name} must be an integer")
        bounds.append(value)
    return list(dict.fromkeys(keys)), _samples(samples), bounds[0], bounds[1]


def sampled_history(store: MetadataStore, run: RunRecord, specs: Sequence[str]
                    ) -> list[list[dict[str, Any]]]:
    """Per spec, at most ``samples`` rows that have all its keys, limited to them; its
    ``maxStep`` is inclusive."""
    if len(specs) > MAX_SPECS:
        raise BadRequest(f"at most {MAX_SPECS} specs")
    out = []
    for text in specs:
        keys, samples, min_step, max_step = _spec(text)
        rows = _rows_with(store, run.id, keys, min_step,
                          max_step + 1 if max_step is not None else None)
        out.append([json_safe(rows[i]) for i in evenly_spaced(len(rows), samples)])
    return out


def parquet_history(store: MetadataStore, run: RunRecord, live_keys: Sequence[str]
                    ) -> dict[str, Any]:
    """No parquet exports: every row is live. ``liveData`` holds each row's ``liveKeys``
    (the client asks for ``_step``: it only needs the steps)."""
    keys = list(dict.fromkeys([STEP_KEY, *live_keys]))
    if keys == [STEP_KEY]:
        positions = store.history_positions(run.id, min_step=None, max_step=None)
        live: list[dict[str, Any]] = [{STEP_KEY: step} for _, step in positions]
    else:
        live = [json_safe(row) for row in _rows_with(store, run.id, keys, None, None)]
    return {"parquetUrls": [], "liveData": live}


# files ------------------------------------------------------------------------------------------
def encode_name_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def decode_name_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("invalid cursor") from None


def page_size(first: int | None, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 0:
        raise BadRequest("first must not be negative")
    return min(first, maximum)
