from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runyard.cli.main import cli
from runyard.errors import ConfigError
from runyard.settings import SETTINGS, Settings


def test_defaults_are_the_embedded_backends() -> None:
    settings = Settings.load(environ={})
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("runyard-data/runyard.db")
    assert settings.resolved_blob_store_url.startswith("file:///")
    assert settings.queue_url == "internal://"


def test_flag_wins_over_env_and_env_over_default() -> None:
    env = {"RUNYARD_PORT": "9000", "RUNYARD_HOST": "0.0.0.0"}  # noqa: S104
    settings = Settings.load({"port": 9100}, environ=env)
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"  # noqa: S104
    assert Settings.load(environ={}).port == 8080


def test_types_are_coerced_and_bad_values_named() -> None:
    settings = Settings.load(environ={"RUNYARD_MIGRATE_ON_START": "false",
                                      "RUNYARD_DATA_DIR": "/tmp/x",
                                      "RUNYARD_RUN_HEARTBEAT_TIMEOUT": "2.5"})
    assert settings.migrate_on_start is False
    assert settings.data_dir == Path("/tmp/x")
    assert settings.run_heartbeat_timeout == 2.5
    with pytest.raises(ConfigError, match="RUNYARD_PORT"):
        Settings.load(environ={"RUNYARD_PORT": "eighty"})


def test_every_setting_is_a_server_flag() -> None:
    result = CliRunner().invoke(cli, ["server", "--help"])
    for setting in SETTINGS:
        assert setting.flag in result.output
        assert setting.env in result.output


def test_secrets_are_not_in_repr() -> None:
    settings = Settings.load(environ={"RUNYARD_ADMIN_API_KEY": "local-" + "s" * 40,
                                      "RUNYARD_SECRET_KEY": "k" * 40})
    assert "s" * 40 not in repr(settings)
    assert "k" * 40 not in repr(settings)
