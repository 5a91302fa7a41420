"""``runyard admin``: users, API keys and passwords.

Revoking a key or deactivating a user here writes to the database; running servers stop
accepting the key within their authentication cache's 10 seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from runyard.auth.keys import generate_key, hash_key, key_hint
from runyard.auth.passwords import check_strength, hash_password
from runyard.cli.context import open_store
from runyard.cli.options import STORE_SETTINGS, settings_options
from runyard.domain.names import check_name
from runyard.errors import RunyardError
from runyard.stores.metadata.base import MetadataStore, UserRecord


@click.group()
def admin() -> None:
    """Manage users, API keys and passwords."""


def _user(store: MetadataStore, name: str) -> UserRecord:
    user = store.get_user(name)
    if user is None:
        raise click.ClickException(f"no user named {name!r}")
    return user


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def _read_password(password: str | None) -> str:
    """The password given, or one asked for twice on the terminal (never echoed)."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return check_strength(password)
    except RunyardError as exc:
        raise click.ClickException(exc.message) from None


@admin.command("create-user")
@click.argument("name")
@click.option("--email", default="", help="The user's email address.")
@click.option("--admin", "is_admin", is_flag=True, help="Give the user admin rights.")
@click.option("--with-password", is_flag=True,
              help="Ask for a password (twice) so the user can sign in to the web UI with it.")
@settings_options(STORE_SETTINGS)
def create_user(name: str, email: str, is_admin: bool, with_password: bool,
                **values: Any) -> None:
    """Create user NAME (and its entity NAME) and print a new API key for it."""
    password_hash = hash_password(_read_password(None)) if with_password else None
    with open_store(values) as store:
        key = generate_key()
        try:
            store.create_user(check_name("user", name), email=email, is_admin=is_admin,
                              api_key=(hash_key(key), key_hint(key)),
                              password_hash=password_hash)
        except RunyardError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(key)


@admin.command("create-key")
@click.argument("name")
@click.option("--label", default="", help="What the key is for (shown in lists).")
@settings_options(STORE_SETTINGS)
def create_key(name: str, label: str, **values: Any) -> None:
    """Print a new API key for existing user NAME."""
    with open_store(values) as store:
        user = _user(store, name)
        key = generate_key()
        store.add_api_key(user.id, hash_key(key), key_hint(key), label=label)
    click.echo(key)


@admin.command("list-users")
@settings_options(STORE_SETTINGS)
def list_users(**values: Any) -> None:
    """List users: name, email, admin, active keys, password, state, created."""
    with open_store(values) as store:
        accounts = store.list_users(limit=100_000)
    rows = [("USER", "EMAIL", "ADMIN", "KEYS", "PASSWORD", "STATE", "CREATED (UTC)")]
    rows += [(a.username, a.email or "-", "yes" if a.is_admin else "no", str(a.active_keys),
              "yes" if a.has_password else "no", "active" if a.active else "deactivated",
              _when(a.created_at)) for a in accounts]
    _table(rows)


@admin.command("list-keys")
@click.argument("name")
@settings_options(STORE_SETTINGS)
def list_keys(name: str, **values: Any) -> None:
    """List user NAME's API keys (never the keys: their ids and last characters)."""
    with open_store(values) as store:
        keys = store.list_api_keys(_user(store, name).id)
    rows = [("ID", "KEY", "LABEL", "CREATED (UTC)", "LAST USED", "STATE")]
    rows += [(str(k.id), "..." + k.hint, k.label or "-", _when(k.created_at),
              _when(k.last_used_at),
              "active" if k.active else f"revoked {_when(k.revoked_at)}") for k in keys]
    _table(rows)


@admin.command("revoke-key")
@click.argument("name")
@click.argument("key_id", type=int)
@settings_options(STORE_SETTINGS)
def revoke_key(name: str, key_id: int, **values: Any) -> None:
    """Revoke API key KEY_ID (see list-keys) of user NAME."""
    with open_store(values) as store:
        user = _user(store, name)
        if not any(k.id == key_id for k in store.list_api_keys(user.id)):
            raise click.ClickException(f"user {name!r} has no API key {key_id}")
        record = store.revoke_api_key(key_id, time.time())
    click.echo(f"revoked key {record.id} (...{record.hint}) of {name}")


@admin.command("set-password")
@click.argument("name")
@click.option("--remove", is_flag=True, help="Remove the password (API keys only).")
@settings_options(STORE_SETTINGS)
def set_password(name: str, remove: bool, **values: Any) -> None:
    """Set (asked for twice, not echoed) or remove user NAME's web sign-in password."""
    password_hash = None if remove else hash_password(_read_password(None))
    with open_store(values) as store:
        store.set_password(_user(store, name).id, password_hash)
    click.echo(f"password of {name} {'removed' if remove else 'set'}")


@admin.command("deactivate-user")
@click.argument("name")
@settings_options(STORE_SETTINGS)
def deactivate_user(name: str, **values: Any) -> None:
    """Deactivate user NAME: its API keys and password stop working (runs are kept)."""
    with open_store(values) as store:
        store.set_user_active(_user(store, name).id, False, time.time())
    click.echo(f"deactivated {name}")


@admin.command("activate-user")
@click.argument("name")
@settings_options(STORE_SETTINGS)
def activate_user(name: str, **values: Any) -> None:
    """Reactivate user NAME (keys revoked one by one stay revoked)."""
    with open_store(values) as store:
        store.set_user_active(_user(store, name).id, True, time.time())
    click.echo(f"activated {name}")


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
