"""Generated references are committed; these fail when they are stale."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from runyard.cli.main import cli

DOCS = Path(__file__).parents[2] / "docs"


def _generated(*args: str) -> str:
    result = CliRunner().invoke(cli, ["docs", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_settings_reference_is_current() -> None:
    assert (DOCS / "settings.md").read_text() == _generated("settings"), (
        "docs/settings.md is stale: run `runyard docs settings > docs/settings.md`")


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text() == _generated("cli"), (
        "docs/cli.md is stale: run `runyard docs cli > docs/cli.md`")


def test_openapi_contract_is_current() -> None:
    assert (DOCS / "openapi.json").read_text() == _generated("openapi"), (
        "docs/openapi.json is stale: run `runyard docs openapi > docs/openapi.json`")
