"""``runyard server``: run the HTTP server."""

from __future__ import annotations

import logging
from typing import Any

import click

from runyard.cli.options import load_settings, settings_options
from runyard.errors import ConfigError


@click.command()
@settings_options()
def server(**values: Any) -> None:
    """Start the server (SQLite, local disk and the embedded queue by default)."""
    import uvicorn

    from runyard.app import create_app

    try:
        settings = load_settings(values)
    except ConfigError as exc:
        raise click.UsageError(exc.message) from None
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"Runyard on http://{settings.host}:{settings.port} "
               f"(data: {settings.data_dir.resolve()})")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower(), access_log=False,
                timeout_graceful_shutdown=10)
