"""The web UI's own unit tests (vitest: smoothing, chart data, filters of the URL routes,
ANSI colours, JSON with NaN) and its type check, run from the normal test suite."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: run scripts/setup (installs Node.js and npm)")
    if not (WEB / "node_modules").is_dir():
        pytest.fail("web/node_modules is missing: run scripts/setup (or cd web && npm ci)")
    return subprocess.run([npm, *args], cwd=WEB, capture_output=True, text=True, timeout=180,
                          check=False)


def test_vitest_unit_tests_pass() -> None:
    result = _npm("test", "--silent")
    assert result.returncode == 0, result.stdout + result.stderr


def test_typescript_type_check_passes() -> None:
    result = _npm("run", "--silent", "typecheck")
    assert result.returncode == 0, result.stdout + result.stderr
