"""Render the Runyard chart offline with helm-python-sdk (Helm's Go SDK through ctypes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.deploy.conftest import CHART

RELEASE = "runyard"
NAMESPACE = "runyard"
KUBE_VERSION = "1.31.0"


def scenarios() -> list[Path]:
    """The install scenarios: ci/*-values.yaml (default, s3 + sqs + redis)."""
    return sorted((CHART / "ci").glob("*-values.yaml"))


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def render(values: dict[str, Any]) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` (hooks included) would print."""
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def manifests(values: dict[str, Any]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path, text in sorted(render(values).items()):
        if path.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def as_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    for doc in docs:
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name):
            return doc
    raise AssertionError(f"no {kind} {name or ''} in the rendered chart")
