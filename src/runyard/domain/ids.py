"""Opaque GraphQL ids: base64 of ``Type:number``, as W&B uses."""

from __future__ import annotations

import base64
import binascii

from runyard.errors import BadRequest


def encode(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def encode_name(type_name: str, name: str) -> str:
    return base64.b64encode(f"{type_name}:{name}".encode()).decode()


def decode(type_name: str, value: str) -> int:
    try:
        kind, _, number = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise BadRequest(f"not a valid {type_name} id") from None
    if kind != type_name or not number.isdigit():
        raise BadRequest(f"not a valid {type_name} id")
    return int(number)
