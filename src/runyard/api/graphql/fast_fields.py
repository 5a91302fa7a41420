"""graphql-core execution with a short cut for plain leaf fields.

A page of runs is ~50 objects of ~25 fields, and most of those fields are a stored value
read from a view attribute (``name``, ``state``, ``config``): graphql-core still builds a
resolve-info object, coerces (absent) arguments, calls the default resolver and walks
``complete_value`` for each one, which cost as much as the database query.

For a field without its own resolver, without arguments and of a scalar or enum type (or a
list of them), the result is what the default resolver would return, serialized: read the
attribute, and serialize it as ``complete_leaf_value`` does. Whatever is not that simple
(a method, a missing or null value of a non-null field, a value the scalar does not
serialize) goes the generic way, so results and errors stay exactly graphql-core's.
"""

from __future__ import annotations

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


class FastFieldsExecutionContext(ExecutionContext):
    """An ExecutionContext whose ``execute_field`` completes plain leaf fields directly."""

    #: Per object type and field name: the field's plan (types are not changed once built).
    _plans: dict[tuple[GraphQLObjectType, str], _Plan | None] = {}

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_nodes: list[FieldNode], path: Path) -> Any:
        node = field_nodes[0]
        if (node.arguments or self.middleware_manager is not None
                or self.field_resolver is not default_field_resolver):
            return super().execute_field(parent_type, source, field_nodes, path)
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
            return super().execute_field(parent_type, source, field_nodes, path)
        leaf, non_null, is_list, item_non_null = plan
        value = (source.get(name) if isinstance(source, Mapping)
                 else getattr(source, name, None))
        if value is None:
            if non_null:
                return super().execute_field(parent_type, source, field_nodes, path)
            return None
        if callable(value) or isinstance(value, Exception):
            return super().execute_field(parent_type, source, field_nodes, path)
        try:
            if not is_list:
                out = leaf.serialize(value)
                if out is None or out is Undefined:
                    return super().execute_field(parent_type, source, field_nodes, path)
                return out
            if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
                return super().execute_field(parent_type, source, field_nodes, path)
            items: list[Any] = []
            for item in value:
                if item is None:
                    if item_non_null:
                        return super().execute_field(parent_type, source, field_nodes, path)
                    items.append(None)
                    continue
                out = leaf.serialize(item)
                if out is None or out is Undefined:
                    return super().execute_field(parent_type, source, field_nodes, path)
                items.append(out)
            return items
        except Exception:  # noqa: BLE001 - the generic path reports it as graphql-core does
            return super().execute_field(parent_type, source, field_nodes, path)
