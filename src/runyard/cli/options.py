"""Click options generated from the settings table, so flags and env vars never drift."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runyard.settings import SETTINGS, Setting, Settings

F = Callable[..., Any]


def _option(setting: Setting) -> Callable[[F], F]:
    help_text = f"{setting.help} [env: {setting.env}]"
    if setting.type is bool:
        name = setting.flag[2:]
        return click.option(f"--{name}/--no-{name}", setting.name, default=None, help=help_text)
    click_type: Any = {bool: click.BOOL, int: click.INT, float: click.FLOAT,
                       Path: click.Path(path_type=Path)}.get(setting.type, click.STRING)
    return click.option(setting.flag, setting.name, type=click_type, default=None,
                        help=help_text)


def settings_options(names: tuple[str, ...] | None = None) -> Callable[[F], F]:
    """Add one option per setting (or the named ones); values left None fall back to env."""
    chosen = [s for s in SETTINGS if names is None or s.name in names]

    def decorate(func: F) -> F:
        for setting in reversed(chosen):
            func = _option(setting)(func)
        return func

    return decorate


def load_settings(values: dict[str, Any]) -> Settings:
    return Settings.load({k: v for k, v in values.items() if v is not None})


STORE_SETTINGS = ("data_dir", "database_url", "database_password_secret")
