"""The metadata store port: users, keys, projects, runs, their streams and files.

Adapters return the plain records below, never ORM objects, so that nothing above the
store depends on how it keeps them. Every method is one transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

RUN_STATES = ("running", "finished", "failed", "crashed", "killed", "preempting")


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    email: str
    is_admin: bool
    entity: str


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: int
    entity: str
    name: str
    created_at: float
    run_count: int = 0


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    project_id: int
    entity: str
    project: str
    name: str
    display_name: str
    state: str
    user_id: int
    notes: str | None
    group_name: str | None
    job_type: str | None
    tags: list[str]
    config: str
    summary: str
    history_keys: str
    host: str | None
    program: str | None
    commit: str | None
    repo: str | None
    sweep: str | None
    exit_code: int | None
    stop_requested: bool
    history_line_count: int
    events_line_count: int
    log_line_count: int
    last_step: int | None
    created_at: float
    updated_at: float
    heartbeat_at: float
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class RunFields:
    """Fields a run upsert may set. ``None`` means "leave unchanged"."""

    display_name: str | None = None
    notes: str | None = None
    group_name: str | None = None
    job_type: str | None = None
    tags: list[str] | None = None
    config: str | None = None
    summary: str | None = None
    host: str | None = None
    program: str | None = None
    commit: str | None = None
    repo: str | None = None
    sweep: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class StreamLine:
    """One parsed line of wandb-history.jsonl or wandb-events.jsonl."""

    line_no: int
    text: str
    step: int | None
    runtime: float | None
    timestamp: float | None
    keys: dict[str, str]  # key -> type name, for history key statistics


@dataclass(slots=True)
class StreamBatch:
    """One file_stream request, parsed and checked, ready to apply atomically."""

    history: list[StreamLine] = field(default_factory=list)
    events: list[StreamLine] = field(default_factory=list)
    console: list[tuple[int, str]] = field(default_factory=list)
    summary: str | None = None
    uploaded: list[str] = field(default_factory=list)
    complete: bool = False
    exit_code: int | None = None
    preempting: bool = False


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    line_no: int
    step: int
    runtime: float | None
    timestamp: float | None
    text: str


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: int
    run_id: int
    name: str
    storage_key: str
    size: int | None
    md5: str | None
    uploaded: bool
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    run_id: int
    title: str
    text: str
    severity: str
    created_at: float


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Filter, sort and page a project's runs. ``sort`` is a column, ``-`` for descending."""

    state: str | None = None
    tags: Sequence[str] = ()
    group: str | None = None
    job_type: str | None = None
    search: str | None = None
    sort: str = "-created_at"
    limit: int = 50
    offset: int = 0


SORTABLE_RUN_COLUMNS = ("created_at", "updated_at", "heartbeat_at", "name", "display_name", "state")


class MetadataStore(abc.ABC):
    """Port for the metadata store. Constructors do no I/O; ``open`` connects."""

    # lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def ping(self) -> bool: ...

    # users and keys ----------------------------------------------------------------------
    @abc.abstractmethod
    def count_users(self) -> int: ...

    @abc.abstractmethod
    def create_user(self, username: str, *, email: str = "", is_admin: bool = False) -> UserRecord:
        """Create a user and its personal entity of the same name. Conflict if taken."""

    @abc.abstractmethod
    def get_user(self, username: str) -> UserRecord | None: ...

    @abc.abstractmethod
    def add_api_key(self, user_id: int, key_hash: str, hint: str) -> None: ...

    @abc.abstractmethod
    def user_for_key(self, key_hash: str) -> UserRecord | None: ...

    # entities and projects ---------------------------------------------------------------
    @abc.abstractmethod
    def entity_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def get_project(self, entity: str, name: str) -> ProjectRecord | None: ...

    @abc.abstractmethod
    def list_projects(self, entity: str, *, limit: int, offset: int) -> list[ProjectRecord]: ...

    # runs --------------------------------------------------------------------------------
    @abc.abstractmethod
    def upsert_run(
        self,
        entity: str,
        project: str,
        name: str,
        *,
        user_id: int,
        fields: RunFields,
        make_display_name: Callable[[int], str],
    ) -> tuple[RunRecord, bool]:
        """Create the run (and its project) or update it; returns (run, inserted).

        ``make_display_name`` gets the project's run count and is called only for a new run
        without a display name.
        """

    @abc.abstractmethod
    def update_run(self, run_id: int, fields: RunFields) -> RunRecord: ...

    @abc.abstractmethod
    def get_run(self, entity: str, project: str, name: str) -> RunRecord | None: ...

    @abc.abstractmethod
    def get_run_by_id(self, run_id: int) -> RunRecord | None: ...

    @abc.abstractmethod
    def list_runs(self, entity: str, project: str, query: RunQuery) -> tuple[list[RunRecord], int]:
        """One page of runs and the total count matching the filter."""

    @abc.abstractmethod
    def request_stop(self, run_id: int) -> None: ...

    @abc.abstractmethod
    def mark_stale_runs_crashed(self, heartbeat_before: float) -> int:
        """Mark running runs whose last heartbeat is older than the cutoff as crashed."""

    # streams -----------------------------------------------------------------------------
    @abc.abstractmethod
    def apply_stream(self, run_id: int, batch: StreamBatch, now: float) -> RunRecord:
        """Apply one file_stream request atomically; lines at known offsets are replaced."""

    @abc.abstractmethod
    def read_history(
        self, run_id: int, *, min_step: int | None, max_step: int | None, limit: int
    ) -> list[HistoryRecord]:
        """Rows with ``min_step <= step < max_step``, ascending by step."""

    @abc.abstractmethod
    def history_tail(self, run_id: int, count: int) -> list[HistoryRecord]: ...

    @abc.abstractmethod
    def read_events(self, run_id: int, *, offset: int, limit: int) -> list[HistoryRecord]: ...

    @abc.abstractmethod
    def read_console(self, run_id: int, *, offset: int, limit: int) -> list[tuple[int, str]]: ...

    @abc.abstractmethod
    def add_alert(self, run_id: int, title: str, text: str, severity: str) -> AlertRecord: ...

    @abc.abstractmethod
    def list_alerts(self, run_id: int) -> list[AlertRecord]: ...

    # embedded queue (durable) -----------------------------------------------------------
    @abc.abstractmethod
    def enqueue(self, body: str, now: float) -> None: ...

    @abc.abstractmethod
    def claim_messages(self, limit: int, lease_seconds: float, now: float) -> list[QueuedMessage]:
        """Lease up to ``limit`` ready messages; each claim counts as one attempt."""

    @abc.abstractmethod
    def delete_message(self, message_id: int) -> None: ...

    @abc.abstractmethod
    def release_message(self, message_id: int, *, retry_at: float, dead: bool) -> None:
        """Make a failed message ready again at ``retry_at``, or park it as dead."""

    @abc.abstractmethod
    def dead_messages(self) -> list[QueuedMessage]: ...

    # saved settings ----------------------------------------------------------------------
    @abc.abstractmethod
    def saved_settings(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def save_settings(self, values: dict[str, str], now: float) -> None: ...

    # files -------------------------------------------------------------------------------
    @abc.abstractmethod
    def register_files(self, run_id: int, names: Sequence[str], key_for: Callable[[str], str]
                       ) -> list[FileRecord]:
        """Create (or return) the file rows, in input order; new keys come from key_for."""

    @abc.abstractmethod
    def file_stored(self, storage_key: str, size: int, md5: str, now: float) -> bool:
        """Record that a blob landed; False when no file row has that key."""

    @abc.abstractmethod
    def list_files(self, run_id: int, *, limit: int, offset: int) -> list[FileRecord]: ...

    @abc.abstractmethod
    def get_file(self, run_id: int, name: str) -> FileRecord | None: ...

