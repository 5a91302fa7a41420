"""GraphQL object views over store records.

graphql-core's default resolver reads an attribute named like the field and, when it is
callable, calls it with ``(info, **arguments)``; so each view exposes the schema's
camelCase field names as properties or methods.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLResolveInfo

from runyard.api.graphql import run_reads, runs_page
from runyard.api.graphql.artifact_views import ProjectArtifactsMixin, RunArtifactsMixin
from runyard.api.graphql.context import Context
from runyard.api.graphql.runs_page import CountedRunSearch
from runyard.domain import ids
from runyard.domain.run_filters import decode_cursor, encode_cursor, parse_filters, parse_order
from runyard.errors import RunyardError
from runyard.stores.metadata.base import (
    FileRecord,
    ProjectRecord,
    RunRecord,
    RunSearch,
    UserRecord,
)

TAIL_ROWS = 10
DEFAULT_RUNS_PAGE = 50
MAX_RUNS_PAGE = 1000

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


class ProjectView(ProjectArtifactsMixin):
    def __init__(self, record: ProjectRecord, selected_by: Info | None = None) -> None:
        self._record = record
        #: The resolve info of the field that returned this project (see runs_page).
        self._selected_by = selected_by
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

    def user(self, info: Info) -> UserView | None:
        """The owner: the user whose personal entity holds the project."""
        record = ctx_of(info).runtime.store.get_user(self._record.entity)
        return UserView(record) if record else None

    def runCount(self, info: Info, filters: str | None = None) -> int:
        context = ctx_of(info)
        store = context.runtime.store
        arguments = (runs_page.sibling_runs_arguments(self._selected_by)
                     if self._selected_by is not None else None)
        if (arguments is not None and arguments.get("filters") == filters
                and not arguments.get("after") and isinstance(store, CountedRunSearch)):
            try:
                page, total = self._runs_page(info, counted=True, **arguments)
            except RunyardError:
                pass  # a bad argument of runs: its own field reports it
            else:
                context.cache[runs_page.page_key(self._record.id, arguments)] = page
                return total
        return store.count_runs(self._record.entity, self._record.name,
                                parse_filters(filters))

    def runs(self, info: Info, filters: str | None = None, after: str | None = None,
             first: int | None = None, order: str | None = None) -> dict[str, Any]:
        """api.runs(): a page of runs in a stable order; cursors carry the sort key."""
        key = runs_page.page_key(self._record.id, {"filters": filters, "after": after,
                                                   "first": first, "order": order})
        cached: dict[str, Any] | None = ctx_of(info).cache.pop(key, None)
        if cached is not None:  # read with runCount
            return cached
        return self._runs_page(info, filters=filters, after=after, first=first,
                               order=order)[0]

    def _runs_page(self, info: Info, *, filters: str | None = None, after: str | None = None,
                   first: int | None = None, order: str | None = None,
                   counted: bool = False) -> tuple[dict[str, Any], int]:
        """The page of ``runs``, and with ``counted`` the number of matching runs."""
        run_order = parse_order(order)
        limit = run_reads.page_size(first, DEFAULT_RUNS_PAGE, MAX_RUNS_PAGE)
        search = RunSearch(where=parse_filters(filters), order=run_order, limit=limit + 1,
                           after=decode_cursor(run_order, after))
        store = ctx_of(info).runtime.store
        total = 0
        if counted and isinstance(store, CountedRunSearch):
            hits, total = store.search_runs_counted(self._record.entity, self._record.name,
                                                    search)
        else:
            hits = store.search_runs(self._record.entity, self._record.name, search)
        edges = [{"node": RunView(h.run), "cursor": encode_cursor(run_order, h.sort_key)}
                 for h in hits[:limit]]
        return {"edges": edges,
                "pageInfo": page_info(str(edges[-1]["cursor"]) if edges else after,
                                      len(hits) > limit)}, total


class RunView(RunArtifactsMixin):
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

    def user(self, info: Info) -> UserView | None:
        context = ctx_of(info)
        key = ("user", self._record.user_id)
        if key not in context.cache:  # a page of runs asks for the same few users
            context.cache[key] = context.runtime.store.get_user_by_id(self._record.user_id)
        record: UserRecord | None = context.cache[key]
        return UserView(record) if record else None

    def systemMetrics(self, info: Info) -> str:
        return run_reads.system_metrics(ctx_of(info).runtime.store, self._record)

    def historyKeys(self, info: Info) -> dict[str, Any]:
        return run_reads.history_keys(self._record)

    def history(self, info: Info, samples: int | None = None, minStep: int | None = None,  # noqa: N803
                maxStep: int | None = None) -> list[str]:  # noqa: N803
        """RunFullHistory (sampled, first and last kept) and HistoryPage (maxStep exclusive)."""
        return run_reads.history(ctx_of(info).runtime.store, self._record, samples, minStep,
                                 maxStep)

    def events(self, info: Info, samples: int | None = None) -> list[str]:
        return run_reads.events(ctx_of(info).runtime.store, self._record, samples)

    def sampledHistory(self, info: Info, specs: list[str]) -> list[list[dict[str, Any]]]:
        return run_reads.sampled_history(ctx_of(info).runtime.store, self._record, specs)

    def parquetHistory(self, info: Info, liveKeys: list[str]) -> dict[str, Any]:  # noqa: N803
        return run_reads.parquet_history(ctx_of(info).runtime.store, self._record, liveKeys)

    def fileCount(self, info: Info) -> int:
        return ctx_of(info).runtime.store.count_files(self._record.id)

    def files(self, info: Info, names: list[str | None] | None = None, after: str | None = None,
              first: int | None = None, pattern: str | None = None) -> dict[str, Any]:
        """Uploaded files by name; ``names`` (exact) wins over ``pattern`` (SQL LIKE)."""
        context = ctx_of(info)
        runtime = context.runtime
        limit = run_reads.page_size(first, run_reads.DEFAULT_FILES, run_reads.MAX_FILES)
        records = runtime.store.find_files(
            self._record.id, names=[n for n in names or [] if n], pattern=pattern,
            after=run_reads.decode_name_cursor(after), limit=limit + 1)
        edges = [{"node": FileView(r, runtime.blob_url("GET", r.storage_key, context.base_url)),
                  "cursor": run_reads.encode_name_cursor(r.name)} for r in records[:limit]]
        return {"edges": edges,
                "pageInfo": page_info(str(edges[-1]["cursor"]) if edges else after,
                                      len(records) > limit)}

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
        self.mimetype = mimetypes.guess_type(record.name)[0] or "application/octet-stream"
        self.updatedAt = iso(record.updated_at)
        self.directUrl = url
        self._url = url

    def url(self, info: Info, upload: bool | None = None) -> str:
        return self._url


def page_info(end_cursor: str | None, has_next: bool) -> dict[str, Any]:
    return {"__typename": "PageInfo", "endCursor": end_cursor, "hasNextPage": has_next,
            "startCursor": None, "hasPreviousPage": False}
