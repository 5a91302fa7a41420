"""The public API's Runs query through the GraphQL service, on SQLite: ``runCount`` and the
first page of ``runs`` read together (runs_page) answer exactly what they answer apart, and
the plain-leaf short cut (fast_fields) answers exactly what graphql-core's default does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from graphql import ExecutionContext, ExecutionResult, execute
from sqlalchemy import create_engine

from runyard.api.graphql.context import Context
from runyard.api.graphql.executor import GraphQLService
from runyard.runtime import Runtime
from runyard.stores.metadata.base import RunFields
from runyard.stores.metadata.sql import schema
from runyard.stores.metadata.sql.store import SqlMetadataStore
from tests.graphql.wandb_queries import installed_client_documents


def _client_runs_query() -> str:
    """The Runs query the installed client sends for ``wandb.Api().runs(..., lazy=False)``
    (read from the package, not copied: see wandb_queries)."""
    for doc in installed_client_documents():
        if (doc.operation_name == "Runs" and not doc.variant and "runCount" in doc.text
                and "fragment RunFragment" in doc.text and "summaryMetrics" in doc.text):
            return doc.text
    raise AssertionError("the installed wandb client sends no Runs query with its run fields")


RUNS_QUERY = _client_runs_query()
COUNT_QUERY = """
query Count($filters: JSONString) {
  project(name: "p", entityName: "alice") { runCount(filters: $filters) }
}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'runyard.db'}"
    engine = create_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    store = SqlMetadataStore(url)
    store.open()
    user = store.create_user("alice", email="a@example.com")
    for i in range(23):
        config = {"opt": {"value": ["adam", "sgd"][i % 2]}, "i": {"value": i}}
        summary = {"acc": i / 23} if i % 5 else {}
        store.upsert_run("alice", "p", f"r{i:02d}", user_id=user.id, fields=RunFields(
            config=json.dumps(config), summary=json.dumps(summary), tags=[f"t{i % 3}"],
            notes=None if i % 2 else "n"), make_display_name=lambda n: f"run-{n}")
    try:
        yield store
    finally:
        store.close()


def _run(store: SqlMetadataStore, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    user = store.get_user("alice")
    assert user is not None
    context = Context(runtime=cast(Runtime, SimpleNamespace(store=store)), user=user,
                      base_url="http://runyard")
    return GraphQLService().execute(query, variables, None, context)


def _variables(**extra: Any) -> dict[str, Any]:
    return {"project": "p", "entity": "alice", "perPage": 5, **extra}


@pytest.mark.parametrize("filters", [None, {"config.opt": "adam"}, {"config.opt": "none"},
                                     {"summary_metrics.acc": {"$gt": 0.5}}])
@pytest.mark.parametrize("order", ["-summary_metrics.acc", "+config.i", None])
def test_count_and_pages_read_together_match_apart(store: SqlMetadataStore, filters: Any,
                                                   order: str | None) -> None:
    filters_text = json.dumps(filters) if filters is not None else None
    expected = _run(store, COUNT_QUERY, {"filters": filters_text})["data"]["project"]
    counted = store.search_runs_counted
    calls: list[str] = []

    def spy(*args: Any) -> Any:
        calls.append("counted")
        return counted(*args)

    store.search_runs_counted = spy  # type: ignore[method-assign,assignment]
    cursor = None
    names: list[str] = []
    for page in range(6):
        body = _run(store, RUNS_QUERY, _variables(filters=filters_text, order=order,
                                                  cursor=cursor))
        assert "errors" not in body
        project = body["data"]["project"]
        assert project["runCount"] == expected["runCount"]
        runs = project["runs"]
        alone = _run(store, RUNS_QUERY.replace("runCount(filters: $filters)", ""),
                     _variables(filters=filters_text, order=order, cursor=cursor))
        assert alone["data"]["project"]["runs"] == runs  # the same page, in the same order
        names += [e["node"]["name"] for e in runs["edges"]]
        # Only the first page is read with its count.
        assert calls == ["counted"] * (1 if page == 0 else 0)
        calls.clear()
        if not runs["pageInfo"]["hasNextPage"]:
            break
        cursor = runs["pageInfo"]["endCursor"]
    assert len(names) == len(set(names)) == expected["runCount"]


def test_a_bad_runs_argument_fails_runs_only(store: SqlMetadataStore) -> None:
    body = _run(store, RUNS_QUERY, _variables(order="-no such order!"))
    assert body["data"]["project"]["runCount"] == 23
    assert body["data"]["project"]["runs"] is None
    assert [e["path"] for e in body["errors"]] == [["project", "runs"]]


def test_different_filters_are_counted_apart(store: SqlMetadataStore) -> None:
    query = RUNS_QUERY.replace("runCount(filters: $filters)", 'runCount(filters: "{}")')
    body = _run(store, query, _variables(filters=json.dumps({"config.opt": "adam"})))
    assert body["data"]["project"]["runCount"] == 23
    assert len(body["data"]["project"]["runs"]["edges"]) == 5


def test_short_cut_answers_what_graphql_core_answers(store: SqlMetadataStore) -> None:
    service = GraphQLService()
    user = store.get_user("alice")
    assert user is not None
    variables = _variables(perPage=50, order="-summary_metrics.acc")
    context = Context(runtime=cast(Runtime, SimpleNamespace(store=store)), user=user,
                      base_url="http://runyard")
    fast = service.execute(RUNS_QUERY, variables, None, context)
    context = Context(runtime=cast(Runtime, SimpleNamespace(store=store)), user=user,
                      base_url="http://runyard")
    plain = execute(service.schema, service._documents.get(RUNS_QUERY),
                    variable_values=variables, context_value=context,
                    execution_context_class=ExecutionContext)
    assert isinstance(plain, ExecutionResult)
    assert plain.errors is None
    assert json.dumps(fast) == json.dumps({"data": plain.data})
