"""``runyard``: the command line, a click group split by topic."""

from __future__ import annotations

import click

from runyard import __version__
from runyard.cli.admin import admin
from runyard.cli.db import db
from runyard.cli.docs import docs
from runyard.cli.runs import runs
from runyard.cli.server import server
from runyard.cli.storage import storage


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runyard")
def cli() -> None:
    """Runyard: self-hosted experiment tracking for the unmodified wandb client."""


cli.add_command(server)
cli.add_command(admin)
cli.add_command(db)
cli.add_command(runs)
cli.add_command(docs)
cli.add_command(storage)
