"""Create, update and look up runs: UpsertBucket and RunResumeStatus."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from runyard.api.graphql.views import Info, ProjectView, RunView, ctx_of
from runyard.domain import ids
from runyard.domain.names import check_name, display_name, new_run_id
from runyard.errors import BadRequest, NotFound
from runyard.stores.metadata.base import RUN_STATES, RunFields

DEFAULT_PROJECT = "uncategorized"


def _json_object(field: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise BadRequest(f"{field} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{field} must be a JSON object")
    return text


def _fields(data: dict[str, Any]) -> RunFields:
    state = data.get("state")
    if state is not None and state not in RUN_STATES:
        raise BadRequest(f"state must be one of {', '.join(RUN_STATES)}")
    tags = data.get("tags")
    if tags is not None and any(not t or len(t) > 255 for t in tags):
        raise BadRequest("tags must be 1 to 255 characters")
    notes = data.get("notes")
    return RunFields(
        display_name=data.get("displayName"),
        notes=notes if notes is not None else data.get("description"),
        group_name=data.get("groupName"),
        job_type=data.get("jobType"),
        tags=tags,
        config=_json_object("config", data.get("config")),
        summary=_json_object("summaryMetrics", data.get("summaryMetrics")),
        host=data.get("host"),
        program=data.get("jobProgram"),
        commit=data.get("commit"),
        repo=data.get("jobRepo"),
        sweep=data.get("sweep"),
        state=state,
    )


def upsert_bucket(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx_of(info)
    store = context.runtime.store
    fields = _fields(input)
    if input.get("id"):
        record = store.get_run_by_id(ids.decode("Run", input["id"]))
        if record is None:
            raise NotFound("run does not exist")
        context.check_access(record.entity)
        updated = store.update_run(record.id, fields)
        context.after_write(updated.entity, updated.project)
        return {"bucket": RunView(updated), "inserted": False}
    entity = check_name("entity", input.get("entityName") or context.user.entity)
    project = check_name("project", input.get("modelName") or DEFAULT_PROJECT)
    name = check_name("run", input.get("name") or new_run_id())
    context.check_access(entity)
    record, inserted = store.upsert_run(
        entity, project, name, user_id=context.user.id, fields=fields,
        make_display_name=display_name,
    )
    context.after_write(entity, project)
    return {"bucket": RunView(record), "inserted": inserted}


def model(_root: Any, info: Info, name: str | None = None,
          entityName: str | None = None) -> ProjectView | None:  # noqa: N803
    context = ctx_of(info)
    entity = entityName or context.user.entity
    if not context.can_access(entity):
        return None
    record = context.runtime.store.get_project(entity, name or DEFAULT_PROJECT)
    return ProjectView(record, selected_by=info) if record else None


RESOLVERS: dict[str, Callable[..., Any]] = {
    "Mutation.upsertBucket": upsert_bucket,
    "Query.model": model,
    "Query.project": model,
}
