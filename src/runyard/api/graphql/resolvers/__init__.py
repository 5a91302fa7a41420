"""Root-field resolvers, one module per concern, merged into one table ``Type.field``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runyard.api.graphql.resolvers import alerts, artifacts, files, public, runs, viewer

RESOLVERS: dict[str, Callable[..., Any]] = {
    **viewer.RESOLVERS,
    **runs.RESOLVERS,
    **files.RESOLVERS,
    **alerts.RESOLVERS,
    **artifacts.RESOLVERS,
    **public.RESOLVERS,
}
