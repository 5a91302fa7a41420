"""What a chart asks for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_BUCKETS = 1000


@dataclass(frozen=True)
class SeriesQuery:
    keys: Sequence[str]
    min_step: int | None = None
    max_step: int | None = None  # exclusive
    buckets: int = DEFAULT_BUCKETS
