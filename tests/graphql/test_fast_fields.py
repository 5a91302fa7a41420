"""fast_fields answers exactly what graphql-core's own execution answers: values, nulls,
errors and their paths, for plain leaf fields and for everything it leaves to graphql-core."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import ExecutionContext, ExecutionResult, build_schema, execute, parse

from runyard.api.graphql.fast_fields import FastFieldsExecutionContext

SCHEMA = build_schema("""
enum Color { RED GREEN }
type Item {
  name: String
  required: String!
  count: Int
  ratio: Float
  flag: Boolean
  color: Color
  tags: [String!]
  maybe: [String]
  strict: [Int!]!
  called(x: Int): String
  method: String
  child: Item
}
type Query { items: [Item] item: Item! }
""")

QUERY = """
{ items { name required count ratio flag color tags maybe strict called(x: 2) method
          __typename alias: name child { name required } }
  item { ... on Item { name tags } } }
"""


class Item:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def called(self, _info: Any, x: int = 0) -> str:
        return f"called {x}"

    def method(self, _info: Any) -> str:
        return "from a method"


GOOD = {"name": "a", "required": "r", "count": 3, "ratio": 0.5, "flag": True, "color": "RED",
        "tags": ["x", "y"], "maybe": ["m", None], "strict": [1, 2], "child": None}
CASES = [
    GOOD,
    {**GOOD, "name": None, "count": None, "tags": None, "child": Item(**GOOD)},
    {**GOOD, "required": None},  # a null non-null field: the item becomes null, with an error
    {**GOOD, "count": "not a number"},  # a value the scalar refuses
    {**GOOD, "tags": ["x", None]},  # a null item of a non-null list
    {**GOOD, "strict": "12"},  # a string for a list
    {**GOOD, "color": "BLUE"},  # no such enum value
    {**GOOD, "ratio": ValueError("boom")},  # an error as the value
    {"required": "only this"},  # missing attributes
]


def _result(context_class: type[ExecutionContext], items: list[Any]) -> ExecutionResult:
    result = execute(SCHEMA, parse(QUERY), root_value={"items": items, "item": {"name": "n",
                                                       "tags": ["t"]}},
                     execution_context_class=context_class)
    assert isinstance(result, ExecutionResult)
    return result


@pytest.mark.parametrize("values", CASES)
def test_same_data_and_errors_as_graphql_core(values: dict[str, Any]) -> None:
    items = [Item(**values), {**values}, None]
    fast = _result(FastFieldsExecutionContext, items)
    plain = _result(ExecutionContext, items)
    assert json.dumps(fast.data) == json.dumps(plain.data)  # the same keys in the same order
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in plain.errors or []]
