"""Response shapes of the JSON read API (they drive its OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class UserOut(BaseModel):
    username: str
    entity: str
    email: str
    admin: bool


class ProjectOut(BaseModel):
    entity: str
    name: str
    created_at: float
    run_count: int


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_offset: int | None


class RunOut(BaseModel):
    entity: str
    project: str
    id: str = Field(description="The run id the client uses (wandb's run.id).")
    display_name: str
    state: str = Field(description="running, finished, failed, crashed or preempting.")
    exit_code: int | None
    user: str | None = None
    notes: str | None
    group: str | None
    job_type: str | None
    tags: list[str]
    host: str | None
    program: str | None
    commit: str | None
    created_at: float
    updated_at: float
    heartbeat_at: float
    finished_at: float | None
    stop_requested: bool
    history_line_count: int
    events_line_count: int
    log_line_count: int
    last_step: int | None
    config: dict[str, Any] | None = Field(
        default=None, description="User config, unwrapped from wandb's {key: {value: v}} form.")
    summary: dict[str, Any] | None = None
    history_keys: dict[str, Any] | None = Field(
        default=None, description="Every history key with counts per value type.")
    metadata: dict[str, Any] | None = Field(
        default=None, description="The client's _wandb block: versions, telemetry, metrics.")


class RunPage(BaseModel):
    items: list[RunOut]
    total: int
    next_offset: int | None


class HistoryPage(BaseModel):
    rows: list[dict[str, Any]] = Field(
        description="One object per step with the requested keys (all keys if none given), "
                    "always with _step; values exactly as logged.")
    next_min_step: int | None = Field(
        description="Pass as min_step to read the next page; null at the end.")


class ConsoleLineOut(BaseModel):
    line_no: int
    content: str


class ConsolePage(BaseModel):
    lines: list[ConsoleLineOut]
    next_offset: int | None


class FileOut(BaseModel):
    name: str
    size: int | None
    md5: str | None
    uploaded: bool
    updated_at: float
    url: str = Field(description="Signed, expiring download link.")


class FilePage(BaseModel):
    items: list[FileOut]
    next_offset: int | None


class AlertOut(BaseModel):
    title: str
    text: str
    severity: str
    created_at: float


class StopOut(BaseModel):
    stop_requested: bool
