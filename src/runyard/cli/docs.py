"""``runyard docs``: print generated reference documents (committed under docs/)."""

from __future__ import annotations

import click

from runyard.settings import settings_markdown


@click.group()
def docs() -> None:
    """Generated reference documents."""


@docs.command("settings")
def settings() -> None:
    """Print docs/settings.md."""
    click.echo(settings_markdown(), nl=False)
