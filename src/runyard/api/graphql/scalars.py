"""Custom scalars the client declares: JSONString (JSON text), JSON (a JSON value), Int64,
Duration (milliseconds)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLSchema, value_from_ast_untyped
from graphql.language import StringValueNode, ValueNode


def _json_string_serialize(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _json_string_parse_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _json_string_parse_literal(node: ValueNode, variables: Any = None) -> str:
    if isinstance(node, StringValueNode):
        return node.value
    return json.dumps(value_from_ast_untyped(node, variables))


def _identity(value: Any) -> Any:
    return value


def _json_parse_literal(node: ValueNode, variables: Any = None) -> Any:
    return value_from_ast_untyped(node, variables)


def _int64(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("Int64 cannot represent a boolean")
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int | float) and int(value) == value:
        return int(value)
    raise TypeError(f"Int64 cannot represent {value!r}")


def _int64_literal(node: ValueNode, variables: Any = None) -> int:
    return _int64(value_from_ast_untyped(node, variables))


def _datetime(value: Any) -> str:
    """ISO-8601 in UTC without a zone suffix, as W&B returns (e.g. 2026-11-29T07:21:32)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    raise TypeError(f"DateTime cannot represent {value!r}")


def bind_scalars(schema: GraphQLSchema) -> None:
    table = {
        "JSONString": (_json_string_serialize, _json_string_parse_value,
                       _json_string_parse_literal),
        "JSON": (_identity, _identity, _json_parse_literal),
        "Int64": (_int64, _int64, _int64_literal),
        "Duration": (_int64, _int64, _int64_literal),
        "DateTime": (_datetime, _identity, _json_parse_literal),
    }
    for name, (serialize, parse_value, parse_literal) in table.items():
        scalar = schema.type_map.get(name)
        if scalar is None:
            continue
        scalar.serialize = serialize  # type: ignore[attr-defined]
        scalar.parse_value = parse_value  # type: ignore[attr-defined]
        scalar.parse_literal = parse_literal  # type: ignore[attr-defined]
