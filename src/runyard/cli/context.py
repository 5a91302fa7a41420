"""Open the metadata store for one CLI command (with migrations applied)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from runyard import registry
from runyard.cli.options import load_settings
from runyard.errors import ConfigError
from runyard.stores.metadata.base import MetadataStore
from runyard.stores.metadata.sql import schema
from runyard.stores.metadata.sql.store import SqlMetadataStore


@contextmanager
def open_store(values: dict[str, Any]) -> Iterator[MetadataStore]:
    try:
        settings = load_settings(values)
    except ConfigError as exc:
        raise click.UsageError(exc.message) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = registry.metadata_store_for(settings)
    store.open()
    try:
        if isinstance(store, SqlMetadataStore):
            schema.upgrade(store.engine)
        yield store
    finally:
        store.close()
