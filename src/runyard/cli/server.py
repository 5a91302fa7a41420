"""``runyard server``: run the HTTP server."""

from __future__ import annotations

import logging
from typing import Any

import click

from runyard.cli.options import load_settings, settings_options
from runyard.errors import ConfigError
from runyard.settings import Settings
from runyard.stores.metadata.sql.urls import redacted


@click.command()
@settings_options()
def server(**values: Any) -> None:
    """Start the server (SQLite, local disk and the embedded queue by default)."""
    import uvicorn

    from runyard.app import create_app

    try:
        settings = load_settings(values)
        preflight(settings)
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"Runyard on http://{settings.host}:{settings.port} "
               f"(data: {settings.data_dir.resolve()}, "
               f"database: {redacted(settings.resolved_database_url)})")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower(), access_log=False,
                timeout_graceful_shutdown=10, timeout_keep_alive=settings.keep_alive_timeout,
                # the client address is the socket's peer; X-Forwarded-For is read by
                # runyard.api.http.cidr, and only from the trusted_proxies
                proxy_headers=False)


def preflight(settings: Settings) -> None:
    """Fail fast, with a message and no traceback, on settings the server cannot start with."""
    from runyard import registry
    from runyard.api.http.cidr import parse_networks
    from runyard.errors import BadRequest
    from runyard.stores.metadata.sql import schema
    from runyard.stores.metadata.sql.store import SqlMetadataStore

    if settings.keep_alive_timeout < 1:
        raise ConfigError("RUNYARD_KEEP_ALIVE_TIMEOUT: must be at least 1 (seconds)")
    for name in ("allowed_cidrs", "trusted_proxies"):
        try:
            parse_networks(getattr(settings, name))
        except BadRequest as exc:
            raise ConfigError(f"RUNYARD_{name.upper()}: {exc.message}") from None
    store = registry.metadata_store_for(settings)
    registry.queue(settings.queue_url, store, settings)  # an unknown scheme fails here
    if settings.should_migrate:
        return  # the server migrates at start
    if isinstance(store, SqlMetadataStore):
        store.open()
        try:
            schema.ensure_current(store.engine, migrate=False)
        finally:
            store.close()
