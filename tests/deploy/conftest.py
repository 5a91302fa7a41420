"""Deployment checks: Terraform, Helm, container files and the scale-out run.

These tests need tools that live outside the project's .venv (python-hcl2, helm-python-sdk,
kubernetes-validate and checkov, each pinned in deploy/requirements-*.txt) plus nginx and
MariaDB for the scale-out test. ``scripts/deploy-checks`` installs all of it and runs them
with ``RUNYARD_DEPLOY_CHECKS=1``; any other pytest run skips this folder with that hint.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
TERRAFORM = DEPLOY / "terraform"
CHART = DEPLOY / "helm" / "runyard"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RUNYARD_DEPLOY_CHECKS") == "1":
        return
    skip = pytest.mark.skip(reason="deployment checks run through scripts/deploy-checks")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)
