"""One query for ``runCount`` and the first page of ``runs`` when a request asks for both.

``api.runs()`` sends ``project { runCount(filters: $f) runs(filters: $f, ...) }``: counting
the matching runs is a second pass over all of them, while the page's query sorts every
matching run anyway and can count them on the way (``search_runs_counted``). graphql-core
resolves ``runCount`` first, so it looks at its sibling fields: when the project's selection
holds exactly one ``runs`` with the same filters and no cursor, it reads the page and the
count together and leaves the page in the request's cache for ``runs``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from graphql import GraphQLObjectType, GraphQLResolveInfo, get_named_type
from graphql.execution.collect_fields import collect_sub_fields
from graphql.execution.values import get_argument_values

from runyard.stores.metadata.base import RunHit, RunSearch

#: The arguments of ``Project.runs``, in the order the resolver takes them.
RUNS_ARGUMENTS = ("filters", "after", "first", "order")


@runtime_checkable
class CountedRunSearch(Protocol):
    """A store that reads a page of runs and the number of matching runs together."""

    def search_runs_counted(self, entity: str, project: str, search: RunSearch
                            ) -> tuple[list[RunHit], int]: ...


def sibling_runs_arguments(project_info: GraphQLResolveInfo) -> dict[str, Any] | None:
    """The arguments of the one ``runs`` field selected on the project that
    ``project_info`` resolved, or None (no such field, or more than one)."""
    project_type = get_named_type(project_info.return_type)
    if not isinstance(project_type, GraphQLObjectType) or "runs" not in project_type.fields:
        return None
    fields = collect_sub_fields(project_info.schema, project_info.fragments,
                                project_info.variable_values, project_type,
                                project_info.field_nodes)
    runs = [nodes for nodes in fields.values() if nodes[0].name.value == "runs"]
    if len(runs) != 1:
        return None
    return get_argument_values(project_type.fields["runs"], runs[0][0],
                               project_info.variable_values)


def page_key(project_id: int, arguments: dict[str, Any]) -> tuple[Any, ...]:
    """The request-cache key of a page of a project's runs."""
    return ("runs-page", project_id, *(arguments.get(name) for name in RUNS_ARGUMENTS))
