"""``runyard db``: schema migrations."""

from __future__ import annotations

from typing import Any

import click

from runyard import registry
from runyard.cli.options import STORE_SETTINGS, load_settings, settings_options
from runyard.stores.metadata.sql import schema
from runyard.stores.metadata.sql.store import SqlMetadataStore


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@settings_options(STORE_SETTINGS)
def upgrade(**values: Any) -> None:
    """Apply all migrations."""
    settings = load_settings(values)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = registry.metadata_store_for(settings)
    if not isinstance(store, SqlMetadataStore):
        raise click.ClickException("this metadata store has no migrations")
    store.open()
    try:
        schema.upgrade(store.engine)
        click.echo(f"schema at {schema.current_revision(store.engine)}")
    finally:
        store.close()
