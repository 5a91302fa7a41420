"""``/api/v1/workspace``: what the web UI's workspace needs beyond the read API.

* projects with run counts and last activity;
* the runs table: a filter *expression* (``config.lr < 0.01 and summary.acc > 0.9``) parsed
  into the MongoDB-style filter of :mod:`runyard.domain.run_filters`, a search over names and
  tags, sorting by any column (run columns, ``runtime``, ``user``, ``config.x``,
  ``summary.x``), keyset pagination over any number of runs, and the requested config and
  summary values of each row;
* the keys of a project: chartable metrics (the union of its runs' history keys) and the
  config and summary paths a table column can show;
* edits of a run's display name, tags and notes (``PATCH`` on the run).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from runyard.api.http.common import CurrentUser, check_entity_access, runtime_of
from runyard.api.v1.nan_json import NanJSONResponse
from runyard.api.v1.routes import RUN_PATH, run_out
from runyard.domain.run_filters import decode_cursor, encode_cursor, parse_filters, parse_order
from runyard.errors import BadRequest, NotFound
from runyard.stores.metadata.base import (
    MetadataStore,
    RunField,
    RunFields,
    RunOrder,
    RunRecord,
    RunSearch,
)

router = APIRouter(prefix="/api/v1", tags=["workspace"], default_response_class=NanJSONResponse)

MAX_PAGE = 500
MAX_COLUMNS = 100
MAX_EXPRESSION = 4000
KEY_SCAN_RUNS = 5000  # the keys of a project come from its most recently updated runs
KEY_SCAN_PAGE = 500
KEYS_TTL = 10.0
MAX_TAGS = 100
MAX_TAG_LENGTH = 255
MAX_NOTES = 100_000


# filter expressions ----------------------------------------------------------------------------
#: Field names of the expression language -> the client field names run_filters knows.
_COLUMN_FIELDS = {
    "name": "display_name", "display_name": "display_name", "id": "name", "run": "name",
    "state": "state", "group": "group", "job_type": "job_type", "host": "host",
    "user": "username", "username": "username", "notes": "notes", "sweep": "sweep",
    "created_at": "created_at", "created": "created_at", "updated_at": "updated_at",
    "heartbeat_at": "heartbeat_at", "tags": "tags", "tag": "tags",
}
_KEYWORDS = {"and", "or", "not", "in", "exists", "contains", "true", "false", "null"}
_OPERATORS = {"=": "$eq", "==": "$eq", "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt",
              ">=": "$gte"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<quoted>`[^`]*`)
  | (?P<op><=|>=|!=|==|!~|=|<|>|~|&&|\|\||!)
  | (?P<punct>[(),\[\]])
  | (?P<word>[^\s<>=!~()\[\],"'`]+)
""", re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str  # string, quoted (a field in backquotes), op, punct, word, end
    text: str
    position: int

    @property
    def keyword(self) -> str | None:
        lowered = self.text.lower()
        return lowered if self.kind == "word" and lowered in _KEYWORDS else None


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # an unterminated quote
            raise BadRequest(f"filter: unterminated quote at character {position + 1}")
        kind = match.lastgroup or "space"
        if kind != "space":
            out.append(_Token(kind, match.group(), position))
        position = match.end()
    out.append(_Token("end", "", len(text)))
    return out


class _ExpressionParser:
    """``or`` of ``and`` of (``not`` x | ``(`` expr ``)`` | condition), as MongoDB-style JSON.

    Conditions: ``field OP value`` (OP: = == != < <= > >=), ``field ~ regex`` and
    ``field !~ regex`` (case-insensitive), ``field contains text``, ``field in (a, b)``,
    ``field not in (...)``, ``field exists``. Values: numbers, quoted strings, true, false,
    null, NaN, Infinity, or a bare word (a string).
    """

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def fail(self, what: str, token: _Token | None = None) -> BadRequest:
        token = token or self.peek()
        found = "the end" if token.kind == "end" else repr(token.text)
        return BadRequest(f"filter: expected {what} at character {token.position + 1}, "
                          f"found {found}")

    def parse(self) -> dict[str, Any] | None:
        if self.peek().kind == "end":
            return None
        result = self.disjunction()
        if self.peek().kind != "end":
            raise self.fail("'and', 'or' or the end")
        return result

    def disjunction(self) -> dict[str, Any]:
        items = [self.conjunction()]
        while self.peek().keyword == "or" or self.peek().text == "||":
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else {"$or": items}

    def conjunction(self) -> dict[str, Any]:
        items = [self.unary()]
        while self.peek().keyword == "and" or self.peek().text == "&&":
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else {"$and": items}

    def unary(self) -> dict[str, Any]:
        token = self.peek()
        if token.keyword == "not" or (token.kind == "op" and token.text == "!"):
            self.take()
            return {"$nor": [self.unary()]}
        if token.text == "(" and token.kind == "punct":
            self.take()
            inner = self.disjunction()
            if self.take().text != ")":
                raise self.fail("')'", self.tokens[self.index - 1])
            return inner
        return self.condition()

    def field(self) -> str:
        token = self.take()
        if token.kind == "quoted":
            name = token.text[1:-1]
        elif token.kind == "word" and token.keyword is None:
            name = token.text
        else:
            raise self.fail("a field such as config.lr, summary.acc, state or tags", token)
        return _field_name(name, token.position)

    def condition(self) -> dict[str, Any]:
        field = self.field()
        token = self.take()
        keyword = token.keyword
        if token.kind == "op" and token.text in _OPERATORS:
            value = self.value()
            if field == "tags":
                if token.text in ("=", "=="):
                    return {"tags": _tag(value)}
                if token.text == "!=":
                    return {"tags": {"$ne": _tag(value)}}
                raise BadRequest("filter: tags support =, !=, in, not in, contains and exists")
            return {field: {_OPERATORS[token.text]: value}}
        if token.kind == "op" and token.text in ("~", "!~"):
            pattern = self.value()
            if not isinstance(pattern, str):
                raise BadRequest("filter: ~ needs a text pattern")
            regex = {"$regex": pattern, "$options": "i"}
            return {field: regex} if token.text == "~" else {field: {"$not": regex}}
        if keyword == "contains":
            text = self.value()
            if field == "tags":
                return {"tags": _tag(text)}
            return {field: {"$regex": re.escape(str(text)), "$options": "i"}}
        if keyword == "exists":
            return {field: {"$exists": True}}
        if keyword == "in":
            return {field: {"$in": self.values()}}
        if keyword == "not" and self.peek().keyword == "in":
            self.take()
            return {field: {"$nin": self.values()}}
        raise self.fail("an operator (= != < <= > >= ~ in contains exists)", token)

    def values(self) -> list[Any]:
        opening = self.take()
        if opening.text not in ("(", "["):
            raise self.fail("'(' and a list of values", opening)
        closing = ")" if opening.text == "(" else "]"
        items = [self.value()]
        while self.peek().text == ",":
            self.take()
            items.append(self.value())
        if self.take().text != closing:
            raise self.fail(f"',' or '{closing}'", self.tokens[self.index - 1])
        return items

    def value(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind != "word":
            raise self.fail("a value", token)
        keyword = token.keyword
        if keyword in ("true", "false"):
            return keyword == "true"
        if keyword == "null":
            return None
        if keyword is not None:
            raise self.fail("a value", token)
        return _number_or_word(token.text)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _number_or_word(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
        return float(lowered.replace("infinity", "inf"))
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _tag(value: Any) -> str:
    if not isinstance(value, str):
        return json.dumps(value)
    return value


def _field_name(name: str, position: int) -> str:
    lowered = name.lower()
    if lowered in _COLUMN_FIELDS:
        return _COLUMN_FIELDS[lowered]
    for prefix, target in (("config.", "config."), ("c.", "config."),
                           ("summary.", "summary_metrics."), ("s.", "summary_metrics."),
                           ("summary_metrics.", "summary_metrics.")):
        if name.startswith(prefix) and len(name) > len(prefix):
            return target + name[len(prefix):]
    raise BadRequest(
        f"filter: unknown field {name!r} at character {position + 1}; use config.<key>, "
        f"summary.<key> or one of {', '.join(sorted(set(_COLUMN_FIELDS)))}")


def parse_expression(text: str | None) -> dict[str, Any] | None:
    """The filter expression as the MongoDB-style document run_filters understands."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_EXPRESSION:
        raise BadRequest(f"filter: longer than {MAX_EXPRESSION} characters")
    return _ExpressionParser(text).parse()


def search_document(text: str | None) -> dict[str, Any] | None:
    """Runs whose display name or id contains the text (any case), or with it as a tag."""
    if text is None or not text.strip():
        return None
    term = text.strip()[:200]
    pattern = {"$regex": re.escape(term), "$options": "i"}
    return {"$or": [{"display_name": pattern}, {"name": pattern}, {"tags": term}]}


# sorting ---------------------------------------------------------------------------------------
_SORT_ALIASES = {
    "name": "display_name", "display_name": "display_name", "id": "name", "state": "state",
    "created": "created_at", "created_at": "created_at", "updated_at": "updated_at",
    "heartbeat_at": "heartbeat_at", "group": "group", "job_type": "job_type",
    "runtime": "summary_metrics._runtime",
}


def parse_sort(text: str | None) -> RunOrder:
    """``[-]column``: a table column (name, state, created, runtime, user, group, job_type),
    ``config.<key>`` or ``summary.<key>``; descending with ``-``."""
    text = (text or "").strip() or "-created_at"
    descending = text.startswith("-")
    name = text[1:] if text[0] in "+-" else text
    if name in ("user", "username"):
        return RunOrder(RunField("column", "username"), descending)
    if name in ("tags", "tag"):
        raise BadRequest("cannot sort on tags")
    target = _SORT_ALIASES.get(name)
    if target is None:
        if name.startswith("summary.") and len(name) > len("summary."):
            target = "summary_metrics." + name[len("summary."):]
        elif name.startswith(("config.", "summary_metrics.")):
            target = name
        else:
            raise BadRequest(f"cannot sort on {name!r}; sort on name, state, created, runtime, "
                             "user, group, job_type, config.<key> or summary.<key>")
    return parse_order(("-" if descending else "") + target)


# values of a run -------------------------------------------------------------------------------
def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def unwrap_config(text: str | None) -> dict[str, Any]:
    return {k: v["value"] if isinstance(v, dict) and "value" in v else v
            for k, v in _loads(text).items() if k != "_wandb"}


def lookup(value: Any, path: str) -> Any:
    """The value at a dotted path; a key that itself holds dots or slashes wins."""
    if not isinstance(value, dict):
        return None
    if path in value:
        return value[path]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in value:
            found = lookup(value[head], ".".join(parts[cut:]))
            if found is not None:
                return found
    return None


def _scalar(value: Any) -> Any:
    """Table cells hold scalars; objects and lists are shown as short JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    text = json.dumps(value, allow_nan=True, default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def runtime_seconds(record: RunRecord, summary: dict[str, Any]) -> float:
    value = summary.get("_runtime")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    end = record.finished_at if record.finished_at is not None else (
        record.heartbeat_at if record.state == "running" else record.updated_at)
    return max(0.0, end - record.created_at)


# response shapes -------------------------------------------------------------------------------
class ProjectActivity(BaseModel):
    entity: str
    name: str
    created_at: float
    run_count: int
    last_activity: float = Field(description="Newest update of any of its runs (epoch s); "
                                             "the project's creation when it has none.")
    running: int = Field(description="Runs in state running.")


class ProjectActivityPage(BaseModel):
    items: list[ProjectActivity]
    next_offset: int | None


class WorkspaceRun(BaseModel):
    id: str
    display_name: str
    state: str
    user: str | None
    tags: list[str]
    group: str | None
    job_type: str | None
    notes: str | None
    host: str | None
    created_at: float
    updated_at: float
    heartbeat_at: float
    finished_at: float | None
    runtime: float = Field(description="Seconds: summary._runtime, else from timestamps.")
    last_step: int | None
    history_line_count: int
    values: dict[str, Any] = Field(
        description="The requested columns (config.<key>, summary.<key>) that the run has.")


class WorkspaceRunPage(BaseModel):
    items: list[WorkspaceRun]
    total: int
    next_cursor: str | None = Field(description="Pass as cursor for the next page.")


class ProjectKeys(BaseModel):
    metrics: list[str] = Field(description="History keys with numeric values, sorted.")
    config: list[str] = Field(description="Config paths (dotted) of scalar values.")
    summary: list[str] = Field(description="Summary paths of scalar values.")
    runs_scanned: int
    truncated: bool = Field(description="True when the project has more runs than scanned.")


class RunEdit(BaseModel):
    display_name: str | None = Field(None, min_length=1, max_length=255)
    tags: list[str] | None = Field(None, max_length=MAX_TAGS)
    notes: str | None = Field(None, max_length=MAX_NOTES)


# routes ----------------------------------------------------------------------------------------
@router.get("/workspace/entities/{entity}/projects", response_model=ProjectActivityPage)
async def project_activity(entity: str, request: Request, user: CurrentUser,
                           limit: Annotated[int, Query(ge=1, le=200)] = 100,
                           offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0
                           ) -> ProjectActivityPage:
    check_entity_access(user, entity)
    store = runtime_of(request).store
    return await anyio.to_thread.run_sync(_project_activity, store, entity, limit, offset)


def _project_activity(store: MetadataStore, entity: str, limit: int,
                      offset: int) -> ProjectActivityPage:
    if not store.entity_exists(entity):
        raise NotFound(f"entity {entity!r} does not exist")
    projects = store.list_projects(entity, limit=limit + 1, offset=offset)
    items = []
    newest = RunOrder(RunField("column", "updated_at"), descending=True)
    running = parse_filters({"state": "running"})
    for project in projects[:limit]:
        hits = store.search_runs(entity, project.name, RunSearch(order=newest, limit=1))
        last = hits[0].run.updated_at if hits else project.created_at
        count = store.count_runs(entity, project.name, running) if hits else 0
        items.append(ProjectActivity(entity=entity, name=project.name,
                                     created_at=project.created_at,
                                     run_count=project.run_count, last_activity=last,
                                     running=count))
    items.sort(key=lambda p: p.last_activity, reverse=True)
    return ProjectActivityPage(items=items,
                               next_offset=offset + limit if len(projects) > limit else None)


WS_PROJECT = "/workspace/entities/{entity}/projects/{project}"


@router.get(WS_PROJECT + "/runs", response_model=WorkspaceRunPage)
async def workspace_runs(
    entity: str, project: str, request: Request, user: CurrentUser,
    filter: Annotated[str | None, Query(
        description="An expression: `config.lr < 0.01 and summary.acc > 0.9`, "
                    "`state in (running, crashed)`, `tags = best or name ~ 'bert'`.")] = None,
    search: Annotated[str | None, Query(description="Text in the name or id, or a tag.")] = None,
    sort: Annotated[str, Query(description="[-]name|state|created|runtime|user|group|job_type"
                                           "|config.<key>|summary.<key>")] = "-created_at",
    columns: Annotated[list[str], Query(description="config.<key> / summary.<key> values "
                                                    "to return with each run.")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
    count: bool = True,
) -> WorkspaceRunPage:
    check_entity_access(user, entity)
    if len(columns) > MAX_COLUMNS:
        raise BadRequest(f"at most {MAX_COLUMNS} columns")
    parts = [d for d in (parse_expression(filter), search_document(search)) if d]
    document = parts[0] if len(parts) == 1 else ({"$and": parts} if parts else None)
    where = parse_filters(document)
    order = parse_sort(sort)
    after = decode_cursor(order, cursor)
    store = runtime_of(request).store

    def compute() -> WorkspaceRunPage:
        if store.get_project(entity, project) is None:
            raise NotFound(f"project {entity}/{project} does not exist")
        hits = store.search_runs(entity, project,
                                 RunSearch(where=where, order=order, limit=limit + 1,
                                           after=after))
        total = store.count_runs(entity, project, where) if count else -1
        users: dict[int, str | None] = {}
        items = []
        for hit in hits[:limit]:
            record = hit.run
            if record.user_id not in users:
                found = store.get_user_by_id(record.user_id)
                users[record.user_id] = found.username if found else None
            items.append(_workspace_run(record, users[record.user_id], columns))
        more = len(hits) > limit
        return WorkspaceRunPage(
            items=items, total=total,
            next_cursor=encode_cursor(order, hits[limit - 1].sort_key) if more else None)

    return await anyio.to_thread.run_sync(compute)


def _workspace_run(record: RunRecord, username: str | None,
                   columns: list[str]) -> WorkspaceRun:
    summary = _loads(record.summary)
    config: dict[str, Any] | None = None
    values: dict[str, Any] = {}
    for column in columns:
        if column.startswith("config."):
            if config is None:
                config = unwrap_config(record.config)
            found = lookup(config, column[len("config."):])
        elif column.startswith("summary."):
            found = lookup(summary, column[len("summary."):])
        else:
            continue
        if found is not None:
            values[column] = _scalar(found)
    return WorkspaceRun(
        id=record.name, display_name=record.display_name, state=record.state, user=username,
        tags=record.tags, group=record.group_name, job_type=record.job_type,
        notes=record.notes, host=record.host, created_at=record.created_at,
        updated_at=record.updated_at, heartbeat_at=record.heartbeat_at,
        finished_at=record.finished_at, runtime=runtime_seconds(record, summary),
        last_step=record.last_step, history_line_count=record.history_line_count,
        values=values)


_NUMERIC_TYPES = frozenset({"number", "int", "float", "integer", "nan", "inf", "-inf",
                            "infinity", "bool", "boolean"})


@router.get(WS_PROJECT + "/keys", response_model=ProjectKeys)
async def project_keys(entity: str, project: str, request: Request,
                       user: CurrentUser) -> NanJSONResponse:
    check_entity_access(user, entity)
    runtime = runtime_of(request)
    store = runtime.store
    generation = await runtime.project_generation(entity, project)
    # Running runs add keys without a new generation: a short TTL keeps the list fresh.
    key = f"ws-keys:{entity}/{project}:{generation}:{int(time.time() // KEYS_TTL)}"

    async def compute() -> bytes:
        keys = await anyio.to_thread.run_sync(_project_keys, store, entity, project)
        return keys.model_dump_json().encode()

    body = await runtime.cache.get_or_compute(key, KEYS_TTL * 2, compute)
    return NanJSONResponse(json.loads(body))


def _project_keys(store: MetadataStore, entity: str, project: str) -> ProjectKeys:
    if store.get_project(entity, project) is None:
        raise NotFound(f"project {entity}/{project} does not exist")
    metrics: set[str] = set()
    config: set[str] = set()
    summary: set[str] = set()
    order = RunOrder(RunField("column", "updated_at"), descending=True)
    after: tuple[Any, ...] | None = None
    scanned = 0
    truncated = False
    while True:
        hits = store.search_runs(entity, project,
                                 RunSearch(order=order, limit=KEY_SCAN_PAGE, after=after))
        for hit in hits:
            for name, counts in _loads(hit.run.history_keys).items():
                if isinstance(counts, dict) and any(
                        str(t).lower() in _NUMERIC_TYPES for t in counts):
                    metrics.add(name)
            _paths("", unwrap_config(hit.run.config), config, 0)
            values = _loads(hit.run.summary)
            values.pop("_wandb", None)
            _paths("", values, summary, 0)
        scanned += len(hits)
        if len(hits) < KEY_SCAN_PAGE:
            break
        if scanned >= KEY_SCAN_RUNS:
            truncated = True
            break
        after = hits[-1].sort_key
    return ProjectKeys(metrics=sorted(metrics), config=sorted(config), summary=sorted(summary),
                       runs_scanned=scanned, truncated=truncated)


def _paths(prefix: str, value: Any, out: set[str], depth: int) -> None:
    if len(out) > 5000:
        return
    if isinstance(value, dict) and value and depth < 6:
        if "_type" in value:  # media and tables: not a table column
            return
        for key, child in value.items():
            _paths(f"{prefix}.{key}" if prefix else str(key), child, out, depth + 1)
        return
    if prefix and not isinstance(value, dict | list):
        out.add(prefix)


@router.patch(RUN_PATH, tags=["workspace"])
async def edit_run(entity: str, project: str, run: str, body: RunEdit, request: Request,
                   user: CurrentUser) -> NanJSONResponse:
    """Change a run's display name, tags or notes; fields left out stay as they are."""
    check_entity_access(user, entity)
    tags = None
    if body.tags is not None:
        tags = list(dict.fromkeys(t.strip() for t in body.tags if t.strip()))
        too_long = [t for t in tags if len(t) > MAX_TAG_LENGTH]
        if too_long:
            raise BadRequest(f"tags are at most {MAX_TAG_LENGTH} characters")
    display_name = body.display_name.strip() if body.display_name is not None else None
    if display_name == "":
        raise BadRequest("display_name cannot be empty")
    runtime = runtime_of(request)
    store = runtime.store

    def apply() -> RunRecord:
        record = store.get_run(entity, project, run)
        if record is None:
            raise NotFound(f"run {entity}/{project}/{run} does not exist")
        return store.update_run(record.id, RunFields(display_name=display_name, tags=tags,
                                                     notes=body.notes))

    updated = await anyio.to_thread.run_sync(apply)
    await runtime.project_changed(entity, project)
    return NanJSONResponse(run_out(updated, detail=True).model_dump())
