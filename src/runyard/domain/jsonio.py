"""JSON request bodies: orjson for speed, the standard parser for what orjson refuses."""

from __future__ import annotations

import json
from typing import Any

import orjson

from runyard.errors import BadRequest


def decode_json(body: bytes) -> Any:
    """Parse a JSON body (orjson, or the standard parser for NaN/Infinity tokens)."""
    if not body:
        raise BadRequest("request body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None
