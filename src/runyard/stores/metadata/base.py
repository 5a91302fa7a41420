"""The metadata store port: users, keys, projects, runs, their streams and files.

Adapters return the plain records below, never ORM objects, so that nothing above the
store depends on how it keeps them. Every method is one transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from runyard.errors import RunyardError
from runyard.history.buckets import Entries
from runyard.history.query import SeriesQuery

RUN_STATES = ("running", "finished", "failed", "crashed", "killed", "preempting")


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    email: str
    is_admin: bool
    entity: str


@dataclass(frozen=True, slots=True)
class UserAccount:
    """A user as /system-admin lists it."""

    id: int
    username: str
    email: str
    is_admin: bool
    entity: str
    created_at: float
    active: bool
    has_password: bool
    active_keys: int


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    user_id: int
    key_hash: str
    hint: str
    label: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


#: The label of a key issued by a username + password sign-in; sign-out revokes it.
SESSION_KEY_LABEL = "browser session"


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
    #: The parsed line, when the parser still has it (saves parsing it again to seal).
    values: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    #: Every value a plain number (int or float); lines of one shape share ``keys``.
    plain: bool = field(default=False, compare=False, repr=False)


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


# run search (the public API's filters and order) ---------------------------------------------
#: Run columns a search may filter on; the ``*_at`` ones are epoch seconds.
SEARCHABLE_RUN_COLUMNS = ("name", "display_name", "state", "group_name", "job_type", "host",
                          "sweep", "notes", "username", "created_at", "updated_at",
                          "heartbeat_at")
TIME_RUN_COLUMNS = ("created_at", "updated_at", "heartbeat_at")
#: Run columns a search may sort on.
FieldSource = Literal["column", "tags", "config", "summary"]
CompareOp = Literal["eq", "ne", "gt", "gte", "lt", "lte"]


@dataclass(frozen=True, slots=True)
class RunField:
    """What a condition or an order reads.

    ``column``: a run column (``name`` is one of SEARCHABLE_RUN_COLUMNS); ``tags``: the run's
    tags; ``config`` / ``summary``: a scalar at a dotted path of the (unwrapped) config or of
    the summary (``"lr"``, ``"val/loss.min"``). ``paths`` lists every path that names the
    value: the client writes ``config.lr.value`` for ``config.lr``.
    """

    source: FieldSource
    name: str = ""
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Compare:
    """``field <op> value``; value fields compare within a type (numbers with numbers, ...)."""

    field: RunField
    op: CompareOp
    value: Any


@dataclass(frozen=True, slots=True)
class OneOf:
    """``$in`` (``negate``: ``$nin``). For tags: the run has any (none) of the tags."""

    field: RunField
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Matches:
    """``$regex``: a string value matching a regular expression (searched, not anchored)."""

    field: RunField
    pattern: str


@dataclass(frozen=True, slots=True)
class Exists:
    field: RunField
    present: bool = True


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[RunFilter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[RunFilter, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    item: RunFilter


RunFilter = Compare | OneOf | Matches | Exists | AllOf | AnyOf | Negation


@dataclass(frozen=True, slots=True)
class RunOrder:
    """Sort runs by one field. Runs without a value for a config/summary field come last in
    both directions; ties are broken by the run's id in the same direction."""

    field: RunField = RunField("column", "created_at")
    descending: bool = False


@dataclass(frozen=True, slots=True)
class RunSearch:
    """A filtered, ordered page of a project's runs, after the cursor ``after``: the
    ``sort_key`` of the last run of the previous page (keyset pagination: stable while runs
    are added or change)."""

    where: RunFilter | None = None
    order: RunOrder = RunOrder()
    limit: int = 50
    after: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class RunHit:
    run: RunRecord
    sort_key: tuple[Any, ...]


# artifact records ----------------------------------------------------------------------------
ARTIFACT_KINDS = ("output", "input")


@dataclass(frozen=True, slots=True)
class NewArtifact:
    entity: str
    project: str
    run_id: int | None
    type_name: str
    collection: str
    digest: str
    description: str | None = None
    metadata: str = "{}"
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    history_step: int | None = None
    deduplicate: bool = True


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    id: int
    collection_id: int
    collection: str
    project_id: int
    entity: str
    project: str
    type_name: str
    version_index: int | None
    state: str
    digest: str
    description: str | None
    metadata: str
    tags: list[str]
    aliases: list[str]
    size: int
    file_count: int
    history_step: int | None
    run_id: int | None
    manifest_key: str | None
    manifest_digest: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class CreatedArtifact:
    artifact: ArtifactRecord
    latest_id: int | None  # the collection's newest committed version before this call
    deduplicated: bool


@dataclass(frozen=True, slots=True)
class BlobState:
    md5: str
    stored: bool
    size: int | None


@dataclass(frozen=True, slots=True)
class ArtifactFileSpec:
    """One manifest entry to record at commit. ``md5`` is None for references."""

    path: str
    digest: str
    size: int | None
    ref: str | None
    md5: str | None
    birth_artifact_id: int | None = None


@dataclass(frozen=True, slots=True)
class ArtifactFileRecord:
    id: int
    artifact_id: int
    path: str
    digest: str
    size: int | None
    ref: str | None
    md5: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class ArtifactChanges:
    """``None`` leaves a field unchanged."""

    description: str | None = None
    metadata: str | None = None
    tags_to_add: tuple[str, ...] = ()
    tags_to_remove: tuple[str, ...] = ()
    aliases: tuple[str, ...] | None = None  # the complete set of custom aliases


@dataclass(frozen=True, slots=True)
class DeletedArtifact:
    artifact: ArtifactRecord
    freed_md5s: list[str]
    manifest_key: str | None


@dataclass(frozen=True, slots=True)
class ArtifactTypeRecord:
    id: int
    project_id: int
    name: str
    description: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    id: int
    project_id: int
    entity: str
    project: str
    type_name: str
    name: str
    description: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class CollectionStats:
    """A collection's COMMITTED versions: how many, and the newest one's index."""

    versions: int
    latest_index: int | None


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
    def create_user(self, username: str, *, email: str = "", is_admin: bool = False,
                    api_key: tuple[str, str] | None = None,
                    password_hash: str | None = None) -> UserRecord:
        """Create a user and its personal entity of the same name (and, in the same
        transaction, an API key given as ``(hash, hint)``). Conflict if the name is taken."""

    @abc.abstractmethod
    def get_user(self, username: str) -> UserRecord | None: ...

    @abc.abstractmethod
    def get_user_by_id(self, user_id: int) -> UserRecord | None: ...

    @abc.abstractmethod
    def add_api_key(self, user_id: int, key_hash: str, hint: str, *, label: str = ""
                    ) -> ApiKeyRecord: ...

    @abc.abstractmethod
    def user_for_key(self, key_hash: str) -> UserRecord | None:
        """The active user behind an active key; None for an unknown or revoked key or a
        deactivated user. Notes the key's use (at most about once a minute per key)."""

    @abc.abstractmethod
    def list_users(self, *, limit: int = 1000, offset: int = 0) -> list[UserAccount]:
        """Users by name, with how many active keys each has."""

    @abc.abstractmethod
    def get_account(self, username: str) -> UserAccount | None: ...

    @abc.abstractmethod
    def list_api_keys(self, user_id: int) -> list[ApiKeyRecord]:
        """A user's keys, revoked ones too, newest first."""

    @abc.abstractmethod
    def api_key_for_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    @abc.abstractmethod
    def revoke_api_key(self, key_id: int, now: float) -> ApiKeyRecord:
        """Revoke a key (it authenticates no more). Revoking a revoked key changes nothing.
        NotFound when there is no such key."""

    @abc.abstractmethod
    def set_user_active(self, user_id: int, active: bool, now: float) -> UserAccount:
        """Deactivate (its keys and password stop working) or reactivate a user; keys
        revoked one by one stay revoked. NotFound when there is no such user."""

    @abc.abstractmethod
    def set_password(self, user_id: int, password_hash: str | None) -> None:
        """Set or (None) remove a user's password hash. NotFound when there is no such user."""

    @abc.abstractmethod
    def password_hash_for(self, username: str) -> tuple[UserRecord, str] | None:
        """An active user's record and password hash; None when the user does not exist,
        is deactivated or has no password."""

    # entities and projects ---------------------------------------------------------------
    @abc.abstractmethod
    def entity_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def get_project(self, entity: str, name: str) -> ProjectRecord | None: ...

    @abc.abstractmethod
    def list_projects(self, entity: str, *, limit: int, offset: int = 0,
                      after: tuple[float, int] | None = None) -> list[ProjectRecord]:
        """Newest first. ``after`` = (created_at, id) of the last project of the previous page."""

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

    async def history_versions_async(self, entity: str, project: str,
                                     names: Sequence[str]) -> dict[str, tuple[int, int]]:
        """``history_versions`` for a caller on the event loop (every cached chart asks it).
        Default: asked from a worker thread. An adapter that can answer on the loop without
        blocking it answers there: the hop to a worker thread is a third of a cached chart's
        time on a busy machine."""
        return await anyio.to_thread.run_sync(self.history_versions, entity, project, names)

    def history_versions(self, entity: str, project: str,
                         names: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(run id, history line count) of each named run that exists (absent names are
        left out). The line count proves a cached chart current: a new history line,
        written through any replica, changes it. Adapters answer it in one cheap query."""
        found: dict[str, tuple[int, int]] = {}
        for name in names:
            record = self.get_run(entity, project, name)
            if record is not None:
                found[name] = (record.id, record.history_line_count)
        return found

    @abc.abstractmethod
    def get_run_by_id(self, run_id: int) -> RunRecord | None: ...

    @abc.abstractmethod
    def list_runs(self, entity: str, project: str, query: RunQuery) -> tuple[list[RunRecord], int]:
        """One page of runs and the total count matching the filter."""

    @abc.abstractmethod
    def search_runs(self, entity: str, project: str, search: RunSearch) -> list[RunHit]:
        """One page of runs matching ``search.where`` in ``search.order``, each with its sort
        key (pass the last one as ``after`` for the next page). NotFound without the project."""

    @abc.abstractmethod
    def count_runs(self, entity: str, project: str, where: RunFilter | None) -> int: ...

    @abc.abstractmethod
    def delete_run(self, run_id: int) -> list[str]:
        """Delete a run with its streams, files and alerts; returns its files' storage keys.

        Conflict when other records (e.g. artifacts) still need the run."""

    @abc.abstractmethod
    def request_stop(self, run_id: int) -> None: ...

    @abc.abstractmethod
    def mark_stale_runs_crashed(self, heartbeat_before: float) -> int:
        """Mark running runs whose last heartbeat is older than the cutoff as crashed."""

    # streams -----------------------------------------------------------------------------
    @abc.abstractmethod
    def apply_stream(self, run_id: int, batch: StreamBatch, now: float) -> RunRecord:
        """Apply one file_stream request atomically; lines at known offsets are replaced."""

    def apply_streams(self, items: Sequence[tuple[int, StreamBatch]], now: float
                      ) -> list[RunRecord | RunyardError]:
        """Apply several requests (in one transaction where the adapter can); a run that no
        longer exists gets its error in place of its record."""
        results: list[RunRecord | RunyardError] = []
        for run_id, batch in items:
            try:
                results.append(self.apply_stream(run_id, batch, now))
            except RunyardError as exc:
                results.append(exc)
        return results

    @abc.abstractmethod
    def read_history(
        self, run_id: int, *, min_step: int | None, max_step: int | None, limit: int,
        contains: Sequence[str] = (),
    ) -> list[HistoryRecord]:
        """Rows with ``min_step <= step < max_step``, ascending by step; with ``contains``,
        only rows whose stored text contains every one of those strings."""

    @abc.abstractmethod
    def history_positions(self, run_id: int, *, min_step: int | None, max_step: int | None
                          ) -> list[tuple[int, int]]:
        """(line_no, step) of the rows with ``min_step <= step < max_step``, by step."""

    @abc.abstractmethod
    def read_lines(self, run_id: int, stream: Literal["history", "events"],
                   line_numbers: Sequence[int]) -> list[HistoryRecord]:
        """The rows at these line numbers (missing ones skipped), by step then line."""

    @abc.abstractmethod
    def history_tail(self, run_id: int, count: int) -> list[HistoryRecord]: ...

    @abc.abstractmethod
    def read_series(self, run_id: int, query: SeriesQuery) -> dict[str, Entries]:
        """Per metric, at most ``query.buckets`` exact aggregates over the step range."""

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

    @abc.abstractmethod
    def find_files(self, run_id: int, *, names: Sequence[str] = (), pattern: str | None = None,
                   after: str | None = None, limit: int) -> list[FileRecord]:
        """Uploaded files by name: only ``names`` when given, else those whose name is LIKE
        ``pattern`` when given; ``after``: the last name of the previous page."""

    @abc.abstractmethod
    def count_files(self, run_id: int) -> int:
        """Number of uploaded files."""


    # artifacts ---------------------------------------------------------------------------
    # A collection (W&B "artifact sequence") holds the versions logged under one name in a
    # project; a version is PENDING until committed, then gets the next ``version_index``
    # and its aliases. Its files are recorded from the committed manifest; stored files
    # point at content-addressed blobs (by hex md5) that versions share.
    @abc.abstractmethod
    def create_artifact(self, spec: NewArtifact, now: float) -> CreatedArtifact:
        """A PENDING version, or the COMMITTED one with the same digest (its aliases merged
        with the requested ones, and the run recorded as a logger of it)."""

    @abc.abstractmethod
    def get_artifact(self, artifact_id: int) -> ArtifactRecord | None:
        """Any state, DELETED included."""

    @abc.abstractmethod
    def find_artifact(self, entity: str, project: str, collection: str, alias: str
                      ) -> ArtifactRecord | None:
        """The COMMITTED version a ``vN`` or custom alias names in a collection."""

    @abc.abstractmethod
    def set_artifact_manifest(self, artifact_id: int, storage_key: str, digest: str) -> None:
        """Where a PENDING version's manifest is uploaded, and its base64 md5."""

    @abc.abstractmethod
    def add_artifact_files(self, artifact_id: int, files: Sequence[tuple[str, str]],
                           now: float) -> dict[str, BlobState]:
        """Record (path, hex md5) of files a PENDING version will upload; returns the state
        of each md5's blob (a new blob starts not stored)."""

    @abc.abstractmethod
    def artifact_blobs(self, md5s: Sequence[str]) -> dict[str, BlobState]:
        """Known blobs among ``md5s``."""

    @abc.abstractmethod
    def artifact_blob_stored(self, md5: str, size: int, now: float) -> bool:
        """Mark a blob stored (recorded if unknown); False when no version had asked for it."""

    @abc.abstractmethod
    def artifact_blob_rejected(self, md5: str) -> None:
        """The stored bytes do not have this md5: the blob is not stored."""

    @abc.abstractmethod
    def commit_artifact(self, artifact_id: int, entries: Sequence[ArtifactFileSpec],
                        now: float) -> ArtifactRecord:
        """PENDING -> COMMITTED atomically: next version index of the collection (distinct
        under concurrency), the manifest's entries, requested aliases, ``latest``, lineage.
        Idempotent for an already committed version."""

    @abc.abstractmethod
    def use_artifact(self, artifact_id: int, run_id: int, now: float) -> None:
        """Record that a run used a committed version (input lineage)."""

    @abc.abstractmethod
    def update_artifact(self, artifact_id: int, changes: ArtifactChanges, now: float
                        ) -> ArtifactRecord: ...

    @abc.abstractmethod
    def add_artifact_aliases(self, artifact_id: int, aliases: Sequence[str], now: float
                             ) -> ArtifactRecord:
        """Point each alias of the version's collection at this version (moving it)."""

    @abc.abstractmethod
    def remove_artifact_aliases(self, artifact_id: int, aliases: Sequence[str]
                                ) -> ArtifactRecord:
        """Remove these aliases where they point at this version."""

    @abc.abstractmethod
    def delete_artifact(self, artifact_id: int, *, delete_aliases: bool, now: float
                        ) -> DeletedArtifact:
        """Mark a version DELETED and drop its files; Conflict while it has aliases unless
        ``delete_aliases``. Returns the blobs no other version references any more (their
        rows are gone; the caller deletes the bytes)."""

    @abc.abstractmethod
    def list_artifact_types(self, entity: str, project: str, *, limit: int, offset: int
                            ) -> list[ArtifactTypeRecord]: ...

    @abc.abstractmethod
    def get_artifact_type(self, entity: str, project: str, name: str
                          ) -> ArtifactTypeRecord | None: ...

    @abc.abstractmethod
    def get_collection(self, entity: str, project: str, name: str) -> CollectionRecord | None: ...

    @abc.abstractmethod
    def get_collection_by_id(self, collection_id: int) -> CollectionRecord | None: ...

    @abc.abstractmethod
    def list_collections(self, entity: str, project: str, *, type_name: str | None,
                         limit: int, offset: int) -> tuple[list[CollectionRecord], int]:
        """Collections with at least one version, newest first, and their total count."""

    @abc.abstractmethod
    def collection_stats(self, collection_ids: Sequence[int]) -> dict[int, CollectionStats]:
        """Version count and newest version index of each collection, in one query; a
        collection without committed versions is absent."""

    @abc.abstractmethod
    def list_collection_aliases(self, collection_id: int) -> list[tuple[str, int]]:
        """(alias, artifact id) of a collection, by alias."""

    @abc.abstractmethod
    def list_artifacts(self, collection_id: int, *, states: Sequence[str], descending: bool,
                       limit: int, offset: int) -> tuple[list[ArtifactRecord], int]:
        """Versions of a collection by version index (pending ones last) and their count."""

    @abc.abstractmethod
    def list_run_artifacts(self, run_id: int, kind: str, *, limit: int, offset: int
                           ) -> tuple[list[ArtifactRecord], int]:
        """COMMITTED versions a run logged (``output``) or used (``input``), oldest first."""

    @abc.abstractmethod
    def artifact_run_ids(self, artifact_id: int, kind: str) -> list[int]:
        """Runs that logged (``output``) or used (``input``) a version, in order."""

    @abc.abstractmethod
    def list_artifact_files(self, artifact_id: int, *, names: Sequence[str] | None,
                            limit: int, offset: int) -> tuple[list[ArtifactFileRecord], int]:
        """A version's files by path (optionally only ``names``) and their count."""

