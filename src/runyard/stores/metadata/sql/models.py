"""SQLAlchemy tables of the metadata store. Portable across SQLite, MySQL/MariaDB/Aurora and
PostgreSQL: no dialect-only SQL; long text maps to LONGTEXT on MySQL; times are epoch seconds
in double precision.

History is stored one row per logged line (one step): all keys of that step sit in ``data``
as the exact JSON text the client sent, next to the extracted ``step``, ``runtime`` and
``timestamp``. A run's history is read back by a range scan on ``(run_id, step)``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer(), "sqlite")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def Name(length: int) -> String:  # noqa: N802 - reads as a column type
    """A name compared exactly: MySQL's default collation ignores case, accents and trailing
    spaces, which would make ``Model.pt`` and ``model.pt`` the same file."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb")


Blob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Entity(Base):
    __tablename__ = "entities"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Name(128), unique=True)
    created_at: Mapped[float] = mapped_column(Double())


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(Name(128), unique=True)
    email: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean(), default=False)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    created_at: Mapped[float] = mapped_column(Double())
    #: ``scrypt$...`` (runyard.auth.passwords); None: the user signs in with API keys only.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: When an admin deactivated the user (its keys and password stop working); None: active.
    disabled_at: Mapped[float | None] = mapped_column(Double(), nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Double())
    last_used_at: Mapped[float | None] = mapped_column(Double(), nullable=True)
    #: What the key is for ("browser session" for a password sign-in); may be empty.
    label: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: When the key was revoked; a revoked key authenticates no more. None: in use.
    revoked_at: Mapped[float | None] = mapped_column(Double(), nullable=True)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("entity_id", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    name: Mapped[str] = mapped_column(Name(128))
    created_at: Mapped[float] = mapped_column(Double())


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        Index("ix_runs_project_created", "project_id", "created_at"),
        Index("ix_runs_state_heartbeat", "state", "heartbeat_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(Name(128))
    display_name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text(), nullable=True)
    group_name: Mapped[str | None] = mapped_column(Name(255), nullable=True)
    job_type: Mapped[str | None] = mapped_column(Name(255), nullable=True)
    tags: Mapped[str] = mapped_column(Text(), default="[]")
    config: Mapped[str] = mapped_column(LongText, default="{}")
    summary: Mapped[str] = mapped_column(LongText, default="{}")
    history_keys: Mapped[str] = mapped_column(LongText, default="{}")
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    program: Mapped[str | None] = mapped_column(Text(), nullable=True)
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    repo: Mapped[str | None] = mapped_column(Text(), nullable=True)
    sweep: Mapped[str | None] = mapped_column(String(128), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    stop_requested: Mapped[bool] = mapped_column(Boolean(), default=False)
    history_line_count: Mapped[int] = mapped_column(Integer(), default=0)
    events_line_count: Mapped[int] = mapped_column(Integer(), default=0)
    log_line_count: Mapped[int] = mapped_column(Integer(), default=0)
    last_step: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    #: History lines below this are sealed into series chunks (runyard.history).
    sealed_lines: Mapped[int] = mapped_column(Integer(), default=0, server_default="0")
    #: Random, set by every stream write: who wrote the run last (see sql/pending.py).
    write_token: Mapped[int] = mapped_column(BigInteger(), default=0, server_default="0")
    created_at: Mapped[float] = mapped_column(Double())
    updated_at: Mapped[float] = mapped_column(Double())
    heartbeat_at: Mapped[float] = mapped_column(Double())
    finished_at: Mapped[float | None] = mapped_column(Double(), nullable=True)


class HistorySegment(Base):
    """History lines ``[start_line, end_line)`` of a run, compressed together
    (runyard.history.segments): a file_stream request's lines are one segment, and sealing
    merges small segments. Segments of a run never overlap."""

    __tablename__ = "history_segments"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    start_line: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    end_line: Mapped[int] = mapped_column(Integer())
    line_count: Mapped[int] = mapped_column(Integer())
    min_step: Mapped[int] = mapped_column(BigInteger())
    max_step: Mapped[int] = mapped_column(BigInteger())
    #: What sealing does with it (runyard.stores.metadata.sql.sealed): LEAVE, SEAL (short
    #: lines, to be stored against their chunks once all sealed) or SEALED (so stored).
    form: Mapped[int] = mapped_column(SmallInteger(), default=0, server_default="0")
    data: Mapped[bytes] = mapped_column(Blob)


class EventRow(Base):
    """System metrics (``wandb-events.jsonl``), one row per sample."""

    __tablename__ = "events"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    runtime: Mapped[float | None] = mapped_column(Double(), nullable=True)
    timestamp: Mapped[float | None] = mapped_column(Double(), nullable=True)
    data: Mapped[str] = mapped_column(LongText)


class ConsoleLine(Base):
    """One console line; ``content`` is the line as a JSON string, so every character
    (NUL included, which PostgreSQL text cannot hold) round-trips on every database."""

    __tablename__ = "console_lines"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    content: Mapped[str] = mapped_column(LongText)


class RunFile(Base):
    __tablename__ = "run_files"
    __table_args__ = (UniqueConstraint("run_id", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    name: Mapped[str] = mapped_column(Name(512))
    storage_key: Mapped[str] = mapped_column(Name(700), unique=True)
    size: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    md5: Mapped[str | None] = mapped_column(String(64), nullable=True)
    uploaded: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_at: Mapped[float] = mapped_column(Double())
    updated_at: Mapped[float] = mapped_column(Double())


class Alert(Base):
    """``run.alert(...)``: kept so the UI and API can show them."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text())
    severity: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Double())


class QueueMessage(Base):
    """The embedded queue (``internal://``): durable in the database, so a restart loses none.

    A consumer claims a message by moving ``available_at`` past now (a lease); an ack deletes
    it; a message that keeps failing is parked with ``dead`` set after its last attempt.
    """

    __tablename__ = "queue_messages"
    __table_args__ = (Index("ix_queue_messages_ready", "dead", "available_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    body: Mapped[str] = mapped_column(Text())
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    available_at: Mapped[float] = mapped_column(Double())
    dead: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_at: Mapped[float] = mapped_column(Double())


class SavedSetting(Base):
    """Settings changed at run time from /system-admin (below CLI and env in precedence)."""

    __tablename__ = "saved_settings"
    name: Mapped[str] = mapped_column(Name(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text())
    updated_at: Mapped[float] = mapped_column(Double())


# artifacts -----------------------------------------------------------------------------------
class ArtifactType(Base):
    __tablename__ = "artifact_types"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(Name(128))
    description: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[float] = mapped_column(Double())


class ArtifactCollection(Base):
    """The versions logged under one artifact name in a project (W&B's artifact sequence)."""

    __tablename__ = "artifact_collections"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    type_id: Mapped[int] = mapped_column(ForeignKey("artifact_types.id"), index=True)
    name: Mapped[str] = mapped_column(Name(128))
    description: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[float] = mapped_column(Double())
    updated_at: Mapped[float] = mapped_column(Double())


class Artifact(Base):
    """One artifact version. ``version_index`` is given at commit and unique per collection
    (NULL while pending); a deleted version keeps its index so it is never reused."""

    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("collection_id", "version_index"),
        Index("ix_artifacts_collection_digest", "collection_id", "digest"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("artifact_collections.id"))
    version_index: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text(), nullable=True)
    metadata_json: Mapped[str] = mapped_column(LongText, default="{}")
    tags: Mapped[str] = mapped_column(Text(), default="[]")
    requested_aliases: Mapped[str] = mapped_column(Text(), default="[]")
    size: Mapped[int] = mapped_column(BigInteger(), default=0)
    file_count: Mapped[int] = mapped_column(Integer(), default=0)
    history_step: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True)
    manifest_key: Mapped[str | None] = mapped_column(String(700), nullable=True)
    manifest_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Double())
    updated_at: Mapped[float] = mapped_column(Double())
    committed_at: Mapped[float | None] = mapped_column(Double(), nullable=True)


class ArtifactAlias(Base):
    """A custom alias (``latest`` included) of a collection, pointing at one version."""

    __tablename__ = "artifact_aliases"
    __table_args__ = (UniqueConstraint("collection_id", "alias"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("artifact_collections.id"))
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    alias: Mapped[str] = mapped_column(Name(128))
    created_at: Mapped[float] = mapped_column(Double())


class ArtifactFile(Base):
    """One manifest entry of a version. Stored files name their blob by hex ``md5``;
    references (``ref``) have none. Pending versions hold the files they will upload."""

    __tablename__ = "artifact_files"
    __table_args__ = (UniqueConstraint("artifact_id", "path"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"))
    path: Mapped[str] = mapped_column(Name(512))
    digest: Mapped[str] = mapped_column(Text())
    size: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    ref: Mapped[str | None] = mapped_column(Text(), nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    birth_artifact_id: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    updated_at: Mapped[float] = mapped_column(Double())


class ArtifactBlob(Base):
    """Content-addressed artifact file bytes (blob key ``artifacts/md5/<md5>``), shared by
    every version that has the same content; ``stored`` once the upload landed."""

    __tablename__ = "artifact_blobs"
    md5: Mapped[str] = mapped_column(String(32), primary_key=True)
    size: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    stored: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_at: Mapped[float] = mapped_column(Double())
    stored_at: Mapped[float | None] = mapped_column(Double(), nullable=True)


class ArtifactLineage(Base):
    """Which runs logged (``output``) or used (``input``) which versions."""

    __tablename__ = "artifact_lineage"
    __table_args__ = (Index("ix_artifact_lineage_run_kind", "run_id", "kind"),)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    created_at: Mapped[float] = mapped_column(Double())


# run search ----------------------------------------------------------------------------------
ExactText = Text().with_variant(
    mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb")


class RunValue(Base):
    """One scalar leaf of a run's config (unwrapped) or summary, at a dotted path, so that the
    public API can filter and sort runs on values in portable SQL (see ``run_search``).

    ``kind``: num, inf, -inf, nan, bool (num_value 1/0), str (str_value), json (a list, as
    canonical JSON in str_value), null. Rewritten whenever the config or summary changes.
    """

    __tablename__ = "run_values"
    # Filters start from a value: runs whose config.optimizer is "adam", whose summary.acc
    # is above 0.9. Strings are found by a 64-bit hash (an index on long text is not
    # portable), then compared exactly.
    __table_args__ = (
        Index("ix_run_values_string", "scope", "path", "str_hash"),
        Index("ix_run_values_number", "scope", "path", "num_value"),
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    path: Mapped[str] = mapped_column(Name(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    num_value: Mapped[float | None] = mapped_column(Double(), nullable=True)
    str_value: Mapped[str | None] = mapped_column(ExactText, nullable=True)
    str_hash: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)


# history engine (runyard.history) --------------------------------------------------------

class SeriesChunk(Base):
    """One metric of one run over the history lines [start_line, end_line)."""

    __tablename__ = "series_chunks"
    __table_args__ = (Index("ix_series_chunks_key_step", "run_id", "key", "first_step"),)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(Name(255), primary_key=True)
    start_line: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    end_line: Mapped[int] = mapped_column(Integer())
    first_step: Mapped[int] = mapped_column(BigInteger())
    last_step: Mapped[int] = mapped_column(BigInteger())
    count: Mapped[int] = mapped_column(Integer())
    #: The whole chunk as one aggregate entry (values may be NaN or infinite, which MySQL
    #: columns cannot hold, hence bytes).
    summary: Mapped[bytes] = mapped_column(LargeBinary())
    #: Aggregates of every LOD_POINTS consecutive points.
    lod: Mapped[bytes] = mapped_column(Blob)
    #: The raw points (runyard.history.codec).
    points: Mapped[bytes] = mapped_column(Blob)
