from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import RunyardServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunyardServer]:
    """One real server process, embedded defaults, shared by the e2e tests."""
    root = tmp_path_factory.mktemp("runyard")
    srv = RunyardServer(root / "data").start()
    yield srv
    srv.stop()
    log = srv.log()
    assert "Traceback" not in log, log


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"
