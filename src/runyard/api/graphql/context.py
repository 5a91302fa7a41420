"""What a resolver can reach: the runtime, the caller and the URL clients reach us at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runyard.errors import Forbidden, NotFound
from runyard.runtime import Runtime
from runyard.stores.metadata.base import RunRecord, UserRecord


@dataclass
class Context:
    runtime: Runtime
    user: UserRecord
    base_url: str
    cache: dict[Any, Any] = field(default_factory=dict)
    changed: set[tuple[str, str]] = field(default_factory=set)

    def can_access(self, entity: str) -> bool:
        return self.user.is_admin or self.user.entity == entity

    def check_access(self, entity: str) -> None:
        if not self.can_access(entity):
            raise Forbidden(f"user {self.user.username!r} has no access to entity {entity!r}")

    def after_write(self, entity: str, project: str) -> None:
        """Note a project whose cached reads the request invalidates (done once it ends)."""
        self.changed.add((entity, project))

    def run(self, entity: str, project: str, name: str) -> RunRecord:
        self.check_access(entity)
        record = self.runtime.store.get_run(entity, project, name)
        if record is None:
            raise NotFound(f"run {entity}/{project}/{name} does not exist")
        return record
