"""``runyard admin``: users and API keys."""

from __future__ import annotations

from typing import Any

import click

from runyard.auth.keys import generate_key, hash_key, key_hint
from runyard.cli.context import open_store
from runyard.cli.options import STORE_SETTINGS, settings_options
from runyard.domain.names import check_name
from runyard.errors import RunyardError


@click.group()
def admin() -> None:
    """Manage users and API keys."""


@admin.command("create-user")
@click.argument("name")
@click.option("--email", default="", help="The user's email address.")
@click.option("--admin", "is_admin", is_flag=True, help="Give the user admin rights.")
@settings_options(STORE_SETTINGS)
def create_user(name: str, email: str, is_admin: bool, **values: Any) -> None:
    """Create user NAME (and its entity NAME) and print a new API key for it."""
    with open_store(values) as store:
        try:
            user = store.create_user(check_name("user", name), email=email, is_admin=is_admin)
        except RunyardError as exc:
            raise click.ClickException(exc.message) from None
        key = generate_key()
        store.add_api_key(user.id, hash_key(key), key_hint(key))
    click.echo(key)


@admin.command("create-key")
@click.argument("name")
@settings_options(STORE_SETTINGS)
def create_key(name: str, **values: Any) -> None:
    """Print a new API key for existing user NAME."""
    with open_store(values) as store:
        user = store.get_user(name)
        if user is None:
            raise click.ClickException(f"no user named {name!r}")
        key = generate_key()
        store.add_api_key(user.id, hash_key(key), key_hint(key))
    click.echo(key)
