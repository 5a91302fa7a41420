"""checkov (--skip-download, offline) on the Terraform, the rendered Helm manifests and the
Dockerfile. Every failed check must be listed in deploy/checkov-skips.yaml with a reason, and
every listed check must still fail (no stale skips)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, REPO, TERRAFORM

SKIPS = DEPLOY / "checkov-skips.yaml"
EXAMPLE_VARS = TERRAFORM / "examples" / "public-dns-external" / "terraform.tfvars.example"


def checkov_binary() -> str:
    """checkov from its own venv (.venv-iac/checkov), or $RUNYARD_CHECKOV, or PATH."""
    for candidate in (os.environ.get("RUNYARD_CHECKOV"),
                      str(REPO / ".venv-iac" / "checkov" / "bin" / "checkov"),
                      shutil.which("checkov")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("checkov is not installed: scripts/deploy-checks installs it")


def skips() -> dict[str, dict[str, str]]:
    return yaml.safe_load(SKIPS.read_text())


def failed_checks(framework: str, *args: str) -> dict[str, list[str]]:
    """check id -> resources that fail it."""
    result = subprocess.run(
        [checkov_binary(), "--framework", framework, "--skip-download", "--quiet",
         "--output", "json", *args],
        capture_output=True, text=True, check=False, cwd=REPO, timeout=240,
    )
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-4000:]
    report: Any = json.loads(result.stdout) if result.stdout.strip() else {}
    reports = report if isinstance(report, list) else [report]
    failed: dict[str, list[str]] = {}
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 0, f"checkov {framework} checked nothing:\n{result.stderr[-2000:]}"
    assert not any(r.get("summary", {}).get("parsing_errors") for r in reports), reports
    for item in reports:
        for check in item.get("results", {}).get("failed_checks", []):
            failed.setdefault(check["check_id"], []).append(
                f"{check['resource']} ({check['file_path']})")
    return failed


def assert_matches_skips(framework: str, failed: dict[str, list[str]]) -> None:
    allowed = skips()[framework] or {}
    unexpected = {k: v for k, v in failed.items() if k not in allowed}
    stale = sorted(set(allowed) - set(failed))
    assert not unexpected, f"checkov {framework} failures not in {SKIPS.name}: {unexpected}"
    assert not stale, f"{SKIPS.name} skips {stale}, which now pass: remove them"


def test_every_skip_has_a_reason() -> None:
    data = skips()
    assert set(data) == {"terraform", "kubernetes", "dockerfile"}
    total = 0
    for framework, entries in data.items():
        for check, reason in (entries or {}).items():
            assert check.startswith("CKV"), (framework, check)
            assert len(reason.split()) >= 10, f"{check}: say why it is skipped"
            total += 1
    assert total <= 8, "keep the skip list short"


def test_terraform() -> None:
    failed = failed_checks("terraform", "--directory", str(TERRAFORM),
                           "--var-file", str(EXAMPLE_VARS))
    assert_matches_skips("terraform", failed)


def test_rendered_helm_manifests(tmp_path: Path) -> None:
    pytest.importorskip("helm_python", reason="helm-python-sdk renders the chart")
    from tests.deploy.chart import as_yaml, load_values, manifests, scenarios

    for scenario in scenarios():
        (tmp_path / f"{scenario.stem}.yaml").write_text(as_yaml(manifests(load_values(scenario))))
    failed = failed_checks("kubernetes", "--directory", str(tmp_path))
    assert_matches_skips("kubernetes", failed)


def test_dockerfile() -> None:
    failed = failed_checks("dockerfile", "--file", str(REPO / "Dockerfile"))
    assert_matches_skips("dockerfile", failed)
