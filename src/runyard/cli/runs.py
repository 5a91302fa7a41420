"""``runyard runs``: act on runs from the server side."""

from __future__ import annotations

from typing import Any

import click

from runyard.cli.context import open_store
from runyard.cli.options import STORE_SETTINGS, settings_options


@click.group()
def runs() -> None:
    """Act on runs."""


@runs.command("stop")
@click.argument("path", metavar="ENTITY/PROJECT/RUN_ID")
@settings_options(STORE_SETTINGS)
def stop(path: str, **values: Any) -> None:
    """Ask a running run to stop; its client stops at its next file_stream request."""
    parts = path.split("/")
    if len(parts) != 3 or not all(parts):
        raise click.UsageError("PATH must be ENTITY/PROJECT/RUN_ID")
    with open_store(values) as store:
        run = store.get_run(*parts)
        if run is None:
            raise click.ClickException(f"no run {path}")
        store.request_stop(run.id)
    click.echo(f"stop requested for {path} (state: {run.state})")
