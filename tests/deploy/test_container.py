"""The Dockerfile and compose.yaml, read as files (there is no Docker engine here; checkov
scans the Dockerfile in test_checkov.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    text = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines()
            if line.strip().upper().startswith(name + " ")]


def test_multi_stage_on_a_pinned_slim_python_311() -> None:
    bases = [f.split()[0] for f in instructions("FROM")]
    assert len(bases) >= 2
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base


def test_installs_runyard_with_its_drivers() -> None:
    install = " ".join(instructions("RUN"))
    assert re.search(r"pip install \"\.\[[^]]*mysql[^]]*\]\"", install)
    for extra in ("postgres", "redis"):
        assert extra in install


def test_runs_as_a_non_root_user() -> None:
    users = instructions("USER")
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")


def test_healthcheck_asks_healthz_with_python() -> None:
    (check,) = instructions("HEALTHCHECK")
    assert "/healthz" in check
    assert '"python"' in check
    assert "curl" not in check


def test_writes_only_to_data_and_tmp() -> None:
    env = " ".join(instructions("ENV"))
    assert "RUNYARD_DATA_DIR=/data" in env
    assert "RUNYARD_HOST=0.0.0.0" in env  # noqa: S104 (inside the container)
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert instructions("VOLUME") == ['["/data"]']
    assert instructions("EXPOSE") == ["8080"]


def test_dockerignore_sends_only_the_package() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert "**" in lines
    assert "!src/" in lines


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_compose_has_the_full_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"runyard", "mariadb", "redis", "seaweedfs", "migrate"} <= set(services)
    app = services["runyard"]
    env = app["environment"]
    assert env["RUNYARD_DATABASE_URL"].startswith("mysql://runyard:")
    assert env["RUNYARD_DATABASE_URL"].endswith("@mariadb:3306/runyard")
    assert env["RUNYARD_BLOB_STORE_URL"] == "s3://runyard"
    assert env["RUNYARD_CACHE_URL"] == "redis://redis:6379/0"
    assert env["RUNYARD_MIGRATE"] == "false"
    assert app["read_only"] is True
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_images_are_pinned_and_ports_local(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if "build" not in service:
            assert re.search(r":\d+(\.\d+)+", image), f"{name}: pin the image version"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} to all"
        if name in ("mariadb", "redis", "seaweedfs"):
            assert service["healthcheck"]["test"], name
