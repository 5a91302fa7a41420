"""Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser).

The web UI must be built first (``scripts/setup`` does it; by hand: ``cd web && npm ci &&
npm run build``); Chromium comes from ``scripts/setup test`` (Debian's ``chromium``).
Screenshots of every page land in ``tests/browser/screenshots/`` for reviewers.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
WEB_DIST = Path(__file__).resolve().parents[2] / "src" / "runyard" / "web_dist"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Replaces pytest-playwright's (a class-bound session fixture that pytest 9 deprecates,
    an error under our warning filters); each test builds its URLs from its server."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `scripts/setup test` (installs Debian's "
                    "chromium); never `playwright install`")
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"the web UI is not built in {WEB_DIST}: run `scripts/setup` or "
                    "`cd web && npm ci && npm run build`")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800},
            "accept_downloads": True}


@pytest.fixture(scope="session")
def screenshots() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
