"""graphql-core execution with a short cut for plain leaf fields.

A page of runs is ~50 objects of ~25 fields, and most of those fields are a stored value
read from a view attribute (``name``, ``state``, ``config``): graphql-core still builds a
resolve-info object, coerces (absent) arguments, calls the default resolver and walks
``complete_value`` for each one, which cost as much as the database query.

For a field without its own resolver, without arguments and of a scalar or enum type (or a
list of them), the result is what the default resolver would return, serialized: read the
attribute, and serialize it as ``complete_leaf_value`` does. Its response path (only used
to locate errors) is not built either. Whatever is not that simple
(a method, a missing or null value of a non-null field, a value the scalar does not
serialize) goes the generic way, so results and errors stay exactly graphql-core's.
"""

from __future__ import annotations

from asyncio import gather
from collections.abc import Mapping
from typing import Any, NamedTuple

from graphql import (
    ExecutionContext,
    FieldNode,
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    default_field_resolver,
)
from graphql.pyutils import Path, Undefined


class _Plan(NamedTuple):
    """How the short cut completes a field: its scalar or enum type and its wrappers."""

    leaf: GraphQLLeafType
    non_null: bool
    is_list: bool
    item_non_null: bool


def _plan(return_type: GraphQLOutputType) -> _Plan | None:
    """The plan of a field the short cut can complete, or None."""
    non_null = isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return _Plan(inner, non_null, False, False)
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_non_null = isinstance(item, GraphQLNonNull)
        item = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(item, GraphQLScalarType | GraphQLEnumType):
            return _Plan(item, non_null, True, item_non_null)
    return None


#: ``_plain``'s answer for a field that the generic path must complete.
_GENERIC: Any = object()


class FastFieldsExecutionContext(ExecutionContext):
    """An ExecutionContext whose ``execute_fields`` completes plain leaf fields directly
    (and builds a field's response path only when the generic path needs it)."""

    #: Per object type and field name: the field's plan (types are not changed once built).
    _plans: dict[tuple[GraphQLObjectType, str], _Plan | None] = {}

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, fields: dict[str, list[FieldNode]]) -> Any:
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        for response_name, field_nodes in fields.items():
            result = self._plain(parent_type, source_value, field_nodes)
            if result is _GENERIC:
                result = self.execute_field(parent_type, source_value, field_nodes,
                                            Path(path, response_name, parent_type.name))
                if result is Undefined:
                    continue
                if self.is_awaitable(result):
                    awaitable_fields.append(response_name)
            results[response_name] = result
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:  # as graphql-core does (we never get here)
            values = await gather(*(results[name] for name in awaitable_fields))
            results.update(zip(awaitable_fields, values, strict=True))
            return results

        return get_results()

    def _plain(self, parent_type: GraphQLObjectType, source: Any,
               field_nodes: list[FieldNode]) -> Any:
        """The completed value of a plain leaf field, or ``_GENERIC``."""
        node = field_nodes[0]
        if (node.arguments or self.middleware_manager is not None
                or self.field_resolver is not default_field_resolver):
            return _GENERIC
        name = node.name.value
        key = (parent_type, name)
        if key in self._plans:
            plan = self._plans[key]
        else:
            field = parent_type.fields.get(name)  # None for __typename: generic
            plan = (_plan(field.type) if field is not None and field.resolve is None
                    and not field.args else None)
            self._plans[key] = plan
        if plan is None:
            return _GENERIC
        leaf, non_null, is_list, item_non_null = plan
        value = (source.get(name) if isinstance(source, Mapping)
                 else getattr(source, name, None))
        if value is None:
            return _GENERIC if non_null else None
        if callable(value) or isinstance(value, Exception):
            return _GENERIC
        try:
            if not is_list:
                out = leaf.serialize(value)
                return _GENERIC if out is None or out is Undefined else out
            if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
                return _GENERIC
            items: list[Any] = []
            for item in value:
                if item is None:
                    if item_non_null:
                        return _GENERIC
                    items.append(None)
                    continue
                out = leaf.serialize(item)
                if out is None or out is Undefined:
                    return _GENERIC
                items.append(out)
            return items
        except Exception:  # noqa: BLE001 - the generic path reports it as graphql-core does
            return _GENERIC
