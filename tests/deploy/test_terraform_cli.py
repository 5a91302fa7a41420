"""The terraform binary, where there is one: `fmt -check` on every module, and `validate` plus
`terraform test` on the provider-free submodules (naming, chart values). Modules that use the
AWS, Helm or Kubernetes providers cannot be initialised offline (no registry), so they are
covered by fmt, the python-hcl2 tests and checkov instead."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import TERRAFORM

PROVIDER_FREE = ["aws/modules/naming", "kubernetes/modules/values"]


@pytest.fixture(scope="module")
def terraform() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("SKIP terraform checks: no terraform binary on this machine")
    return binary


def run(terraform: str, args: list[str], cwd: Path, data_dir: Path) -> str:
    env = {**os.environ, "TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull, "NO_COLOR": "1"}
    result = subprocess.run([terraform, *args, "-no-color"], cwd=cwd, env=env,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"terraform {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_fmt(terraform: str, tmp_path: Path) -> None:
    run(terraform, ["fmt", "-check", "-recursive", "-diff"], TERRAFORM, tmp_path)


@pytest.mark.parametrize("module", PROVIDER_FREE)
def test_validate_and_test_provider_free_modules(terraform: str, module: str,
                                                 tmp_path: Path) -> None:
    path = TERRAFORM / module
    run(terraform, ["init", "-backend=false", "-input=false"], path, tmp_path)
    run(terraform, ["validate"], path, tmp_path)
    out = run(terraform, ["test"], path, tmp_path)
    assert "0 failed" in out, out
    assert not (path / ".terraform").exists()
