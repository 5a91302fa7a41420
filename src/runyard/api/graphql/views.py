"""GraphQL object views over store records.

graphql-core's default resolver reads an attribute named like the field and, when it is
callable, calls it with ``(info, **arguments)``; so each view exposes the schema's
camelCase field names as properties or methods.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLResolveInfo

from runyard.api.graphql.context import Context
from runyard.domain import ids
from runyard.stores.metadata.base import FileRecord, ProjectRecord, RunRecord, UserRecord

TAIL_ROWS = 10

Info = GraphQLResolveInfo


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def ctx_of(info: Info) -> Context:
    context: Context = info.context
    return context


class EntityView:
    def __init__(self, name: str) -> None:
        self.name = name
        self.id = ids.encode_name("Entity", name)
        self.organization = None  # a non-null org id sends the client to a metadata server


class UserView:
    def __init__(self, user: UserRecord) -> None:
        self._user = user
        self.id = ids.encode("User", user.id)
        self.name = user.username
        self.username = user.username
        self.email = user.email
        self.entity = user.entity
        self.admin = user.is_admin
        self.flags = "{}"
        self.deletedAt = None
        self.teams = {"edges": [{"node": {"name": user.entity}}]}
        self.apiKeys: dict[str, list[Any]] = {"edges": []}


class ProjectView:
    def __init__(self, record: ProjectRecord) -> None:
        self._record = record
        self.id = ids.encode("Project", record.id)
        self.internalId = str(record.id)
        self.name = record.name
        self.entityName = record.entity
        self.entity = EntityView(record.entity)
        self.createdAt = iso(record.created_at)
        self.readOnly = False
        self.isBenchmark = False

    def bucket(self, info: Info, name: str, missingOk: bool | None = None) -> RunView | None:
        record = ctx_of(info).runtime.store.get_run(self._record.entity, self._record.name, name)
        return RunView(record) if record else None

    run = bucket


class RunView:
    def __init__(self, record: RunRecord) -> None:
        r = self._record = record
        self.id = ids.encode("Run", r.id)
        self.name = r.name
        self.displayName = r.display_name
        self.description = r.notes
        self.notes = r.notes
        self.config = r.config
        self.summaryMetrics = r.summary
        self.state = r.state
        self.group = r.group_name
        self.jobType = r.job_type
        self.tags = r.tags
        self.sweepName = r.sweep
        self.commit = r.commit
        self.host = r.host
        self.readOnly = False
        self.projectId = str(r.project_id)
        self.historyLineCount = r.history_line_count
        self.eventsLineCount = r.events_line_count
        self.logLineCount = r.log_line_count
        self.exitcode = r.exit_code
        self.stopped = r.stop_requested
        self.createdAt = iso(r.created_at)
        self.updatedAt = iso(r.updated_at)
        self.heartbeatAt = iso(r.heartbeat_at)

    def project(self, info: Info) -> ProjectView | None:
        record = ctx_of(info).runtime.store.get_project(self._record.entity, self._record.project)
        return ProjectView(record) if record else None

    def historyTail(self, info: Info) -> str:
        rows = ctx_of(info).runtime.store.history_tail(self._record.id, TAIL_ROWS)
        return json.dumps([row.text for row in rows])

    def eventsTail(self, info: Info) -> str:
        store = ctx_of(info).runtime.store
        start = max(0, self._record.events_line_count - TAIL_ROWS)
        rows = store.read_events(self._record.id, offset=start, limit=TAIL_ROWS)
        return json.dumps([row.text for row in rows])

    def wandbConfig(self, info: Info, keys: list[str] | None = None) -> str:
        """Keys of ``config._wandb.value``; the client needs ``t`` to see a resumable run."""
        try:
            wandb_value = json.loads(self._record.config).get("_wandb", {}).get("value", {})
        except (ValueError, AttributeError):
            wandb_value = {}
        if not isinstance(wandb_value, dict):
            wandb_value = {}
        wanted = keys if keys is not None else list(wandb_value)
        return json.dumps({k: wandb_value[k] for k in wanted if k in wandb_value})


class FileView:
    def __init__(self, record: FileRecord, url: str) -> None:
        self.id = ids.encode("File", record.id)
        self.name = record.name
        self.sizeBytes = record.size or 0
        self.md5 = record.md5
        self.mimetype = None
        self.updatedAt = iso(record.updated_at)
        self.directUrl = url
        self._url = url

    def url(self, info: Info, upload: bool | None = None) -> str:
        return self._url


def page_info(end_cursor: str | None, has_next: bool) -> dict[str, Any]:
    return {"__typename": "PageInfo", "endCursor": end_cursor, "hasNextPage": has_next,
            "startCursor": None, "hasPreviousPage": False}
