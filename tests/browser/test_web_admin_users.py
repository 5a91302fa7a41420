"""Users, keys, password sign-in, license and allowed networks in a real browser.

One server per module. Sign in with username and password (keyboard only), sign out
revokes that browser's key; an admin creates a user in /system-admin, copies the key shown
once, makes and revokes keys (a revoked key cannot sign in), deactivates a user, saves a
license key and is refused a network list without its own address; a non-admin sees no
admin page. Screenshots: admin-users.png, signin-password.png (and a few more).

This module runs Playwright itself and stops it at its end: the file sorts before
test_web_serving.py, whose asyncio.run() fails while pytest-playwright's session-wide
Playwright keeps an event loop running in the main thread. When that one is running
already (another browser module ran first), its browser is used instead.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.server import ADMIN_KEY, RunyardServer

pytestmark = pytest.mark.e2e

USERS = "/api/v1/system-admin/users"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunyardServer]:
    srv = RunyardServer(tmp_path_factory.mktemp("webusers") / "data").start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture(scope="module")
def own_browser(request: pytest.FixtureRequest,
                browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    if _loop_running():  # pytest-playwright's Playwright is up: share its browser
        shared: Browser = request.getfixturevalue("browser")
        yield shared
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**browser_type_launch_args)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def web(own_browser: Browser) -> Iterator[Page]:
    """A fresh page (named so that pytest-playwright does not parametrize these tests by
    browser, which would also move them, with its own tests, before test_web_serving.py)."""
    context = own_browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


def make_user(server: RunyardServer, name: str, **fields: Any) -> dict[str, Any]:
    with server.api() as admin:
        response = admin.post(USERS, json={"username": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def viewer_status(server: RunyardServer, key: str) -> int:
    with httpx.Client(base_url=server.url, auth=("api", key), timeout=30) as api:
        return api.get("/api/v1/viewer").status_code


def as_admin(page: Page) -> Page:
    page.add_init_script(f"localStorage.setItem('runyard.apiKey', {ADMIN_KEY!r})")
    return page


def shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def user_row(page: Page, name: str) -> Any:
    return page.locator(f"[data-testid=user-row][data-username='{name}']")


def test_password_sign_in_by_keyboard_and_sign_out_revokes(
        server: RunyardServer, web: Page, screenshots: Path) -> None:
    name = f"paula{secrets.token_hex(2)}"
    make_user(server, name, password="paula-password-1")
    web.goto(server.url + "/signin")
    key_tab = web.get_by_role("tab", name="API key")
    expect(key_tab).to_have_attribute("aria-selected", "true")
    key_tab.focus()
    web.keyboard.press("ArrowRight")  # to the other tab, and it is chosen
    password_tab = web.get_by_role("tab", name="Username & password")
    expect(password_tab).to_have_attribute("aria-selected", "true")
    expect(password_tab).to_be_focused()
    expect(web.get_by_label("API key")).to_have_count(0)

    web.keyboard.press("Tab")
    expect(web.get_by_label("Username")).to_be_focused()
    web.keyboard.type(name)
    web.keyboard.press("Tab")
    web.keyboard.type("wrong-password")
    web.keyboard.press("Enter")
    expect(web.get_by_test_id("signin-error")).to_have_text("Wrong username or password.")
    web.get_by_label("Password").fill("paula-password-1")
    shot(web, screenshots, "signin-password")
    web.get_by_label("Password").press("Enter")
    expect(web.get_by_test_id("signed-in-as")).to_have_text(name)
    key = web.evaluate("localStorage.getItem('runyard.apiKey')")
    assert web.evaluate("localStorage.getItem('runyard.sessionKey')") == "1"
    assert viewer_status(server, key) == 200
    expect(web.get_by_role("link", name="System admin")).to_have_count(0)

    web.get_by_test_id("sign-out").click()
    expect(web).to_have_url(re.compile(r"/signin$"))
    assert web.evaluate("localStorage.getItem('runyard.apiKey')") is None
    # the mode is remembered, and the key this browser had is revoked on the server
    expect(web.get_by_role("tab", name="Username & password")).to_have_attribute(
        "aria-selected", "true")
    wait_status(server, key, 401)


def wait_status(server: RunyardServer, key: str, status: int) -> None:
    """Sign-out revokes the key in the background: wait (briefly) for the refusal."""
    deadline = time.monotonic() + 10
    while viewer_status(server, key) != status:
        assert time.monotonic() < deadline, f"key never got {status}"
        time.sleep(0.1)


def test_admin_creates_a_user_copies_its_key_and_manages_keys(
        server: RunyardServer, web: Page, screenshots: Path) -> None:
    web.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    name = f"victor{secrets.token_hex(2)}"
    as_admin(web).goto(server.url + "/system-admin")
    expect(web.get_by_test_id("users-table")).to_be_visible()
    expect(user_row(web, "admin")).to_contain_text("admin")

    form = web.get_by_test_id("create-user-form")
    form.get_by_label("Username").fill(name)
    form.get_by_label("Email").fill(f"{name}@example.com")
    form.get_by_label("Password (optional)").fill("victor-password-1")
    web.get_by_test_id("create-user").click()
    new_key = web.get_by_test_id("new-key")
    expect(new_key).to_have_value(re.compile(r"^local-\w{40}$"))
    first_key = new_key.input_value()
    web.get_by_test_id("copy-key").click()
    expect(web.get_by_test_id("copy-status")).to_contain_text("Copied")
    assert web.evaluate("navigator.clipboard.readText()") == first_key
    assert viewer_status(server, first_key) == 200
    row = user_row(web, name)
    expect(row).to_contain_text(f"{name}@example.com")
    expect(row).to_contain_text("password or key")

    row.get_by_role("button", name="Keys").click()
    panel = web.get_by_test_id("keys-panel")
    expect(panel.get_by_test_id("key-row")).to_have_count(1)
    expect(panel.get_by_test_id("key-row")).to_contain_text(f"…{first_key[-4:]}")
    panel.get_by_label("New key's label").fill("ci runner")
    panel.get_by_test_id("create-key").click()
    second_key = panel.get_by_test_id("new-key").input_value()
    assert re.fullmatch(r"local-\w{40}", second_key)
    assert second_key != first_key
    expect(panel.get_by_test_id("key-row")).to_have_count(2)
    expect(panel.get_by_test_id("key-row").first).to_contain_text("ci runner")
    expect(row.locator("td.num")).to_have_text("2")
    shot(web, screenshots, "admin-users")

    first_row = panel.locator(f"[data-testid=key-row][data-hint='{first_key[-4:]}']")
    first_row.get_by_test_id("revoke-key").click()
    first_row.get_by_test_id("confirm-revoke").click()
    expect(panel.get_by_test_id("keys-result")).to_contain_text("revoked")
    expect(first_row).to_contain_text("revoked")
    expect(row.locator("td.num")).to_have_text("1")
    assert viewer_status(server, first_key) == 401
    assert viewer_status(server, second_key) == 200
    shot(web, screenshots, "admin-keys-revoked")

    # the revoked key cannot sign in to the web UI; the other one can
    fresh = web.context.new_page()
    fresh.goto(server.url + "/signin")
    fresh.get_by_label("API key").fill(first_key)
    fresh.get_by_role("button", name="Sign in").click()
    expect(fresh.get_by_test_id("signin-error")).to_contain_text("not valid")
    fresh.get_by_label("API key").fill(second_key)
    fresh.get_by_role("button", name="Sign in").click()
    expect(fresh.get_by_test_id("signed-in-as")).to_have_text(name)
    fresh.close()


def test_admin_deactivates_and_reactivates_a_user(server: RunyardServer, web: Page) -> None:
    name = f"dina{secrets.token_hex(2)}"
    key = make_user(server, name)["api_key"]
    as_admin(web).goto(server.url + "/system-admin")
    row = user_row(web, name)
    row.get_by_test_id("deactivate-user").click()
    expect(web.get_by_test_id("users-result")).to_contain_text("deactivated")
    expect(row).to_contain_text("deactivated")
    assert viewer_status(server, key) == 401
    row.get_by_test_id("reactivate-user").click()
    expect(row.get_by_test_id("deactivate-user")).to_be_visible()
    assert viewer_status(server, key) == 200
    # no button to deactivate oneself
    expect(user_row(web, "admin").get_by_test_id("deactivate-user")).to_have_count(0)


def test_admin_sets_and_removes_a_password(server: RunyardServer, web: Page) -> None:
    name = f"pete{secrets.token_hex(2)}"
    make_user(server, name)
    as_admin(web).goto(server.url + "/system-admin")
    row = user_row(web, name)
    expect(row).to_contain_text("key only")
    row.get_by_role("button", name="Keys").click()
    form = web.get_by_test_id("set-password-form")
    form.get_by_label("Password").fill("pete-password-1")
    form.get_by_test_id("set-password").click()
    expect(form.get_by_test_id("password-result")).to_contain_text("can sign in")
    expect(row).to_contain_text("password or key")
    signed = httpx.post(f"{server.url}/api/v1/sessions", timeout=30,
                        json={"username": name, "password": "pete-password-1"})
    assert signed.status_code == 201, signed.text
    form.get_by_test_id("remove-password").click()
    expect(row).to_contain_text("key only")
    refused = httpx.post(f"{server.url}/api/v1/sessions", timeout=30,
                         json={"username": name, "password": "pete-password-1"})
    assert refused.status_code == 401


def test_license_and_networks(server: RunyardServer, web: Page, screenshots: Path) -> None:
    as_admin(web).goto(server.url + "/system-admin")
    card = web.get_by_test_id("license-card")
    expect(card.get_by_test_id("license-statement")).to_contain_text("locks nothing")
    expect(card.get_by_test_id("license-state")).to_have_text("No license key is set.")
    license_key = "web-license-" + secrets.token_hex(8)
    card.get_by_label("License key").fill(license_key)
    card.get_by_test_id("license-save").click()
    expect(card.get_by_test_id("license-state")).to_contain_text(f"…{license_key[-4:]}")
    expect(card).not_to_contain_text(license_key)

    network = web.get_by_test_id("network-card")
    expect(network.get_by_test_id("your-address")).to_have_text("127.0.0.1")
    network.get_by_label("Allowed networks, one per line").fill("10.0.0.0/8")
    network.get_by_test_id("network-save").click()
    expect(network.get_by_test_id("network-result")).to_contain_text("lock you out")
    expect(network.get_by_test_id("network-result")).to_have_attribute("role", "alert")
    shot(web, screenshots, "admin-license-networks")
    with httpx.Client(base_url=server.url, auth=("api", ADMIN_KEY)) as api:
        assert api.get("/api/v1/system-admin/network").json()["allowed_cidrs"] == []
        assert api.get("/api/v1/system-admin/license").json()["hint"] == license_key[-4:]
    card.get_by_test_id("license-clear").click()
    expect(card.get_by_test_id("license-state")).to_have_text("No license key is set.")


def test_non_admin_sees_no_admin_page(server: RunyardServer, web: Page,
                                      screenshots: Path) -> None:
    name = f"nina{secrets.token_hex(2)}"
    make_user(server, name, password="nina-password-1")
    web.goto(server.url + "/signin")
    web.get_by_role("tab", name="Username & password").click()
    web.get_by_label("Username").fill(name)
    web.get_by_label("Password").fill("nina-password-1")
    web.get_by_role("button", name="Sign in").click()
    expect(web.get_by_test_id("signed-in-as")).to_have_text(name)
    expect(web.get_by_role("link", name="System admin")).to_have_count(0)
    web.goto(server.url + "/system-admin")
    expect(web.get_by_test_id("admin-forbidden")).to_contain_text("Only admins")
    expect(web.get_by_test_id("users-card")).to_have_count(0)
    expect(web.get_by_test_id("license-card")).to_have_count(0)
    shot(web, screenshots, "admin-users-refused")
    key = web.evaluate("localStorage.getItem('runyard.apiKey')")
    with httpx.Client(base_url=server.url, auth=("api", key)) as api:
        assert api.get(USERS).status_code == 403
