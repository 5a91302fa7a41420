from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runyard.cli.main import cli
from runyard.errors import ConfigError
from runyard.settings import SETTINGS, Settings
from runyard.stores.metadata.sql.urls import redacted


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
    settings = Settings.load(environ={"RUNYARD_MIGRATE": "false",
                                      "RUNYARD_DATA_DIR": "/tmp/x",
                                      "RUNYARD_RUN_HEARTBEAT_TIMEOUT": "2.5"})
    assert settings.migrate is False
    assert settings.should_migrate is False
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


def test_migrate_defaults_to_yes_for_sqlite_only() -> None:
    assert Settings.load(environ={}).should_migrate is True
    mysql = Settings.load(environ={"RUNYARD_DATABASE_URL": "mysql://u:p@h/db"})
    assert mysql.should_migrate is False
    assert Settings.load({"migrate": True}, environ={"MYSQL": "mysql://u:p@h/db"}).should_migrate


def test_names_of_the_replaced_system_map_over() -> None:
    env = {"MYSQL": "mysql://u:p@db:3306/wandb", "BUCKET": "s3://b/p",
           "BUCKET_QUEUE": "sqs://q", "AWS_REGION": "eu-central-1", "REDIS": "redis://r:6379",
           "LICENSE": "lic", "HOST": "https://wandb.example.com"}
    settings = Settings.load(environ=env)
    assert (settings.database_url, settings.blob_store_url, settings.queue_url,
            settings.blob_store_region, settings.cache_url, settings.license,
            settings.public_url) == (env["MYSQL"], env["BUCKET"], env["BUCKET_QUEUE"],
                                     env["AWS_REGION"], env["REDIS"], env["LICENSE"],
                                     env["HOST"])
    assert Settings.load(environ={**env, "RUNYARD_BLOB_STORE_URL": "file:///x"}
                         ).blob_store_url == "file:///x"


def test_saved_settings_sit_between_environment_and_default() -> None:
    saved = {"blob_store_url": "s3://saved/p", "queue_url": "sqs://saved", "port": "1"}
    settings = Settings.load(environ={"RUNYARD_QUEUE_URL": "internal://"}).with_saved(saved)
    assert settings.blob_store_url == "s3://saved/p"
    assert settings.queue_url == "internal://"
    assert settings.port == 8080


@pytest.mark.parametrize(("given", "expected"), [
    ("mysql://u:p%40ss@db:3306/wandb", "mysql+pymysql://u:***@db:3306/wandb?charset=utf8mb4"),
    ("mysql+pymysql://u:p@db/wandb?charset=utf8mb4", "mysql+pymysql://u:***@db/wandb?charset=utf8mb4"),
    ("postgres://u:p@db/r", "postgresql+psycopg://u:***@db/r"),
    ("postgresql://u@db/r", "postgresql+psycopg://u@db/r"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_urls_are_normalized(given: str, expected: str) -> None:
    assert redacted(given) == expected


def test_unknown_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported database 'oracle'"):
        redacted("oracle://u:p@h/db")


def test_a_keep_alive_below_one_second_is_refused_at_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["server", "--data-dir", str(tmp_path),
                                      "--keep-alive-timeout", "0"])
    assert result.exit_code != 0
    assert "RUNYARD_KEEP_ALIVE_TIMEOUT: must be at least 1" in result.output
