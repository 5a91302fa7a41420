"""The web UI in a real browser, on data logged by the real wandb client.

One server per module; the wandb client logs three finished runs (known values, config,
tags, a saved file), a long run (3,000 steps, for zoom) and a run that keeps running
(printing coloured lines and logging) while the tests drive Chromium: sign in, the home
page, the workspace (charts hold the logged values; smoothing and x-axis change them; zoom
re-fetches at full resolution; filter, search and sort the table; live updates), the run
page (edit, files download, console tail) and /system-admin (admin and non-admin).
Screenshots of each page are saved in tests/browser/screenshots/.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.client import client_env, output_of, read_out, run_script, start_script
from tests.e2e.server import ADMIN_KEY, RunyardServer

pytestmark = pytest.mark.e2e

LOG_RUNS = '''
import json, os, wandb
out = {}
specs = [("alpha", 0.1, ["base"], 0.5), ("beta", 0.001, ["best", "small"], 0.95),
         ("gamma", 0.005, ["small"], 0.92)]
for idx, (name, lr, tags, acc) in enumerate(specs):
    run = wandb.init(project="ui", name=name, tags=tags, group="g1" if idx < 2 else "g2",
                     config={"lr": lr, "layers": idx + 2, "opt": {"name": "adam"}})
    losses = []
    for step in range(60):
        loss = (idx + 1) / (step + 1) + 0.01 * ((step * 7 + idx) % 5)
        losses.append(loss)
        run.log({"loss": loss, "train/acc": step / 60, "val/loss": loss * 1.5})
    run.summary["acc"] = acc
    path = f"blob-{name}.bin"
    with open(path, "wb") as f:
        f.write(os.urandom(5000 + idx) + b"\\x00\\xff end")
    wandb.save(path, policy="now")
    out[name] = {"id": run.id, "loss": losses, "file": path}
    run.finish()
run = wandb.init(project="zoom", name="long")
for step in range(3000):
    run.log({"y": 2 * step})
out["long"] = {"id": run.id}
run.finish()
json.dump(out, open("out.json", "w"))
'''

RUNNING = '''
import time, wandb
run = wandb.init(project="ui", name="live-run", config={"lr": 0.05},
                 settings=wandb.Settings(x_file_stream_transmit_interval=0.5,
                                         x_stats_sampling_interval=1))
print("RUN_ID", run.id, flush=True)
for i in range(600):
    print(f"\\x1b[32mtick {i}\\x1b[0m live line", flush=True)
    run.log({"live": i * 0.5})
    time.sleep(0.3)
run.finish()
'''


@dataclass
class Env:
    server: RunyardServer
    runs: dict[str, Any]
    client_dir: Path
    carol_key: str
    live_id: str
    tmp: Path
    live: subprocess.Popen[str] | None = field(default=None, repr=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("webui")
    server = RunyardServer(root / "data").start()
    live: subprocess.Popen[str] | None = None
    try:
        created = subprocess.run(
            [sys.executable, "-m", "runyard", "admin", "create-user", "carol",
             "--data-dir", str(server.data_dir)],
            capture_output=True, text=True, timeout=60, check=False)
        assert created.returncode == 0, created.stderr
        carol_key = created.stdout.strip().splitlines()[-1]
        live = start_script(RUNNING, client_env(server, root / "home-live"), root / "live")
        result = run_script(LOG_RUNS, client_env(server, root / "home"), root / "client")
        assert result.returncode == 0, output_of(result)
        live_id = _live_run_id(server)
        yield Env(server=server, runs=read_out(root / "client"), client_dir=root / "client",
                  carol_key=carol_key, live_id=live_id, tmp=root, live=live)
    finally:
        if live is not None and live.poll() is None:
            os.killpg(live.pid, signal.SIGTERM)
            try:
                live.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(live.pid, signal.SIGKILL)
                live.wait()
        server.stop()
    assert "Traceback" not in server.log(), server.log()


def _live_run_id(server: RunyardServer) -> str:
    deadline = time.monotonic() + 120
    with server.api() as api:
        while time.monotonic() < deadline:
            response = api.get("/api/v1/workspace/entities/admin/projects/ui/runs",
                               params={"filter": "name = live-run"})
            if response.status_code == 200 and response.json()["items"]:
                run = response.json()["items"][0]
                if run["history_line_count"] > 3:
                    return str(run["id"])
            time.sleep(0.5)
    raise AssertionError("the running run never showed up")


# helpers ----------------------------------------------------------------------------------------
def signed_in(page: Page, env: Env, key: str = ADMIN_KEY) -> Page:
    page.add_init_script(f"localStorage.setItem('runyard.apiKey', {key!r})")
    return page


def shot(page: Page, screenshots: Path, name: str) -> None:
    path = screenshots / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def chart(page: Page, chart_id: str) -> Any:
    return page.evaluate("id => window.__runyard && window.__runyard.charts[id] || null",
                         chart_id)


def wait_chart(page: Page, chart_id: str, condition: str = "true", timeout: float = 20_000
               ) -> Any:
    """Wait until the chart exists and ``condition`` (JS, ``c`` is the chart) holds."""
    page.wait_for_function(
        f"([id]) => {{ const c = window.__runyard && window.__runyard.charts[id];"
        f" return !!c && ({condition}); }}", arg=[chart_id], timeout=timeout)
    return chart(page, chart_id)


def series_of(snapshot: Any, run_id: str) -> Any:
    return next(s for s in snapshot["series"] if s["id"] == run_id)


def ema(values: list[float], weight: float) -> list[float]:
    last = debias = 0.0
    out = []
    for v in values:
        last = last * weight + (1 - weight) * v
        debias = debias * weight + (1 - weight)
        out.append(last / debias)
    return out


def table_names(page: Page) -> list[str]:
    return page.locator("[data-testid=runs-table] [data-testid=run-link]").all_inner_texts()


def newest_first(env: Env, names: set[str]) -> list[str]:
    """The names in the table's default order (newest first), as the server has them."""
    with env.server.api() as api:
        items = api.get("/api/v1/workspace/entities/admin/projects/ui/runs").json()["items"]
    ordered = sorted(items, key=lambda r: r["created_at"], reverse=True)
    return [r["display_name"] for r in ordered if r["display_name"] in names]


def wait_names(page: Page, expected: list[str]) -> None:
    expect(page.locator("[data-testid=runs-table] [data-testid=run-link]")).to_have_text(
        expected, timeout=15_000)


# tests ------------------------------------------------------------------------------------------
def test_sign_in_shows_the_user_and_signs_out(env: Env, page: Page, screenshots: Path) -> None:
    page.goto(env.server.url + "/admin/ui")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fadmin%2Fui$"))
    shot(page, screenshots, "01-sign-in")
    page.get_by_label("API key").fill("local-wrong-key-" + "x" * 30)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text("not valid")
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_label("API key").press("Enter")  # the form works from the keyboard
    expect(page).to_have_url(env.server.url + "/admin/ui")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("admin")
    assert page.evaluate("localStorage.getItem('runyard.apiKey')") == ADMIN_KEY
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    assert page.evaluate("localStorage.getItem('runyard.apiKey')") is None
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)


def test_home_lists_projects_with_run_counts(env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/")
    rows = page.get_by_test_id("projects").locator("tbody tr")
    expect(rows).to_have_count(2)
    ui = rows.filter(has_text="ui").first
    expect(ui.locator("td").nth(1)).to_have_text("4")
    expect(rows.filter(has_text="zoom").locator("td").nth(1)).to_have_text("1")
    expect(ui.locator("td").nth(3)).to_contain_text(re.compile("just now|min ago"))
    shot(page, screenshots, "02-home")


def test_workspace_charts_hold_the_logged_values(env: Env, page: Page,
                                                 screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/admin/ui")
    ids = {name: env.runs[name]["id"] for name in ("alpha", "beta", "gamma")}
    condition = " && ".join(f"c.series.some(s => s.id === '{i}' && s.y.length === 60)"
                            for i in ids.values())
    snapshot = wait_chart(page, "workspace:loss", condition)
    for name, run_id in ids.items():
        s = series_of(snapshot, run_id)
        assert s["x"] == list(range(60))
        assert s["y"] == pytest.approx(env.runs[name]["loss"], rel=1e-12, abs=0)
        assert s["min"] == s["max"] == s["y"]  # one point per bucket: an exact band
    colors = {s["id"]: s["color"] for s in snapshot["series"]}
    assert len(set(colors.values())) == len(colors), colors
    # Sections by prefix: train/ and val/ charts exist too.
    expect(page.locator("[data-section=train] [data-metric='train/acc']")).to_have_count(1)
    expect(page.locator("[data-section=val] [data-metric='val/loss']")).to_have_count(1)
    shot(page, screenshots, "03-workspace")

    # Workspace-wide smoothing: EMA (weight 0.6 by default) changes the line, not the data.
    page.locator("#ws-smooth").select_option("ema")
    smoothed = wait_chart(page, "workspace:loss", "c.smoothing === true")
    beta = series_of(smoothed, ids["beta"])
    assert beta["raw"] == pytest.approx(env.runs["beta"]["loss"], rel=1e-12)
    assert beta["y"] == pytest.approx(ema(env.runs["beta"]["loss"], 0.6), rel=1e-9)
    page.locator("#ws-smooth").select_option("average")
    averaged = wait_chart(page, "workspace:loss", "c.smoothingKind === 'average'")
    losses = env.runs["beta"]["loss"]
    expected = [sum(losses[max(0, i - 9):i + 1]) / len(losses[max(0, i - 9):i + 1])
                for i in range(60)]
    assert series_of(averaged, ids["beta"])["y"] == pytest.approx(expected, rel=1e-9)
    shot(page, screenshots, "04-workspace-smoothed")
    page.locator("#ws-smooth").select_option("none")

    # X-axis: wall time (epoch seconds), then relative time (seconds since the run started).
    page.locator("#ws-x").select_option("_wall")
    wall = wait_chart(page, "workspace:loss", "c.xAxis === '_wall'")
    xs = series_of(wall, ids["alpha"])["x"]
    assert time.time() - 900 < xs[0] <= xs[-1] <= time.time() + 5
    page.locator("#ws-x").select_option("_relative")
    relative = wait_chart(page, "workspace:loss", "c.xAxis === '_relative'")
    xs = series_of(relative, ids["alpha"])["x"]
    assert 0 <= xs[0] <= xs[-1] < 600
    assert xs != list(range(60))
    # A metric as the x-axis: loss against train/acc (= step / 60).
    page.locator("#ws-x").select_option("train/acc")
    by_metric = wait_chart(page, "workspace:loss", "c.xAxis === 'train/acc'")
    assert series_of(by_metric, ids["alpha"])["x"] == pytest.approx(
        [s / 60 for s in range(60)])
    page.locator("#ws-x").select_option("_step")
    wait_chart(page, "workspace:loss", "c.xAxis === '_step'")

    # One chart's own settings override the workspace's.
    page.get_by_role("button", name="Settings of chart val/loss").click()
    page.locator("[data-metric='val/loss'] [data-testid=smoothing-kind]").select_option("gaussian")
    own = wait_chart(page, "workspace:val/loss", "c.smoothingKind === 'gaussian'")
    assert own["smoothing"] is True
    assert chart(page, "workspace:loss")["smoothing"] is False
    page.get_by_role("button", name="Use workspace settings").click()
    wait_chart(page, "workspace:val/loss", "c.smoothing === false")

    # Log scale, and hiding a run from the charts.
    page.get_by_test_id("log-y").first.check()
    wait_chart(page, "workspace:loss", "c.logY === true")
    page.get_by_role("button", name="Hide gamma in charts").click()
    hidden = wait_chart(page, "workspace:loss",
                        f"!c.series.some(s => s.id === '{ids['gamma']}')")
    assert {s["id"] for s in hidden["series"]} >= {ids["alpha"], ids["beta"]}

    # Grouping by a config key: one mean line per group with a min/max band.
    page.get_by_test_id("group-by").select_option("group")
    page.get_by_role("button", name="Show all").click()
    grouped = wait_chart(page, "workspace:loss", "c.grouped === true && c.series.length >= 2")
    g1 = next(s for s in grouped["series"] if s["id"] == "group:g1")
    alpha, beta_loss = env.runs["alpha"]["loss"], env.runs["beta"]["loss"]
    assert g1["y"][:60] == pytest.approx([(a + b) / 2 for a, b in zip(alpha, beta_loss,
                                                                       strict=True)])
    assert g1["min"][5] == pytest.approx(min(alpha[5], beta_loss[5]))
    page.get_by_test_id("group-by").select_option("")


def test_dark_theme(env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/admin/ui")
    wait_chart(page, "workspace:loss", "c.series.length >= 3")
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    wait_chart(page, "workspace:loss", "c.series.length >= 3")
    shot(page, screenshots, "05-workspace-dark")
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"


def test_zoom_refetches_at_full_resolution(env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/admin/zoom")
    run_id = env.runs["long"]["id"]
    full = wait_chart(page, "workspace:y", f"c.series.some(s => s.id === '{run_id}')")
    points = series_of(full, run_id)
    assert 500 <= len(points["x"]) <= 1000  # 3,000 steps in at most 1,000 exact buckets
    assert points["y"] == pytest.approx([2 * x for x in points["x"]])  # bucket means of 2*step
    box = page.locator("[data-metric=y] .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.30, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.38, y, steps=5)
    page.mouse.up()
    zoomed = wait_chart(page, "workspace:y", "c.steps !== null && c.fetches >= 2 && "
                                             "c.series[0].x.every(Number.isInteger)")
    lo, hi = zoomed["steps"]
    s = series_of(zoomed, run_id)
    assert 600 < lo < hi < 1400
    assert s["x"] == list(range(lo, hi + 1))  # every logged step, one point each
    assert s["y"] == [2 * x for x in s["x"]]
    shot(page, screenshots, "06-workspace-zoomed")
    page.locator("[data-metric=y] .u-over").dblclick()
    wait_chart(page, "workspace:y", "c.steps === null")


def test_filter_search_and_sort_the_runs_table(env: Env, page: Page,
                                              screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/admin/ui")
    expect(page.get_by_test_id("pager-status")).to_have_text("1–4 of 4")
    page.get_by_test_id("run-filter").fill("config.lr < 0.01")
    page.get_by_test_id("run-filter").press("Enter")
    wait_names(page, ["gamma", "beta"])  # newest first
    everyone = newest_first(env, {"alpha", "beta", "gamma", "live-run"})
    page.get_by_test_id("run-filter").fill("config.lr < 0.01 and summary.acc > 0.93")
    page.get_by_role("button", name="Apply").click()
    wait_names(page, ["beta"])
    page.get_by_test_id("run-filter").fill("tags in (base, best) or state = running")
    page.get_by_role("button", name="Apply").click()
    wait_names(page, newest_first(env, {"live-run", "beta", "alpha"}))
    page.get_by_test_id("run-filter").fill("config.lr <")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("runs-error")).to_contain_text("filter: expected a value")
    page.get_by_role("button", name="Clear").click()
    wait_names(page, everyone)

    page.get_by_test_id("run-search").fill("gam")
    page.get_by_test_id("run-search").press("Enter")
    wait_names(page, ["gamma"])
    page.get_by_test_id("run-search").fill("small")  # a tag
    page.get_by_test_id("run-search").press("Enter")
    wait_names(page, ["gamma", "beta"])
    page.get_by_role("button", name="Clear").click()

    # A summary column, sorted both ways (runs without the value come last both times).
    page.get_by_test_id("columns-button").click()
    page.locator("[data-column='summary.acc']").check()
    page.locator("[data-column='config.lr']").check()
    page.get_by_role("button", name="Done").click()
    page.locator("button.sort[data-sort='summary.acc']").click()
    wait_names(page, ["beta", "gamma", "alpha", "live-run"])
    expect(page.locator("tr[data-run] td[data-col='summary.acc']")).to_have_text(
        ["0.95", "0.92", "0.5", "–"])
    page.locator("button.sort[data-sort='summary.acc']").click()
    wait_names(page, ["alpha", "gamma", "beta", "live-run"])
    page.locator("button.sort[data-sort='config.lr']").click()
    wait_names(page, ["alpha", "live-run", "gamma", "beta"])
    page.locator("button.sort[data-sort=name]").click()
    wait_names(page, ["live-run", "gamma", "beta", "alpha"])
    page.locator("button.sort[data-sort=name]").click()
    wait_names(page, ["alpha", "beta", "gamma", "live-run"])
    expect(page.locator("th[aria-sort=ascending]")).to_have_count(1)
    shot(page, screenshots, "07-runs-table")


def test_pages_of_runs(env: Env, page: Page) -> None:
    """130 runs (made in the store directly: the client would take minutes) in pages of 50."""
    from runyard.cli.context import open_store
    from runyard.stores.metadata.base import RunFields

    with open_store({"data_dir": str(env.server.data_dir)}) as store:
        user = store.get_user("admin")
        assert user is not None
        for i in range(130):
            store.upsert_run("admin", "many", f"m{i:04d}", user_id=user.id,
                             fields=RunFields(display_name=f"many-{i:03d}",
                                              summary=f'{{"score": {i}}}'),
                             make_display_name=str)
    signed_in(page, env).goto(env.server.url + "/admin/many")
    status = page.get_by_test_id("pager-status")
    expect(status).to_have_text("1–50 of 130")
    page.locator("button.sort[data-sort=name]").click()
    page.locator("button.sort[data-sort=name]").click()  # ascending
    links = page.locator("[data-testid=runs-table] [data-testid=run-link]")
    expect(links.first).to_have_text("many-000")
    page.get_by_test_id("next-page").click()
    expect(status).to_have_text("51–100 of 130")
    expect(links.first).to_have_text("many-050")
    page.get_by_test_id("next-page").click()
    expect(status).to_have_text("101–130 of 130")
    expect(links).to_have_count(30)
    expect(page.get_by_test_id("next-page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(links.first).to_have_text("many-050")


def test_compare_runs_marks_differences(env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/admin/ui")
    page.get_by_test_id("compare-link").click()
    expect(page).to_have_url(re.compile(r"/admin/ui/compare\?runs="))
    table = page.get_by_test_id("compare")
    expect(table.locator("thead th")).to_have_count(5)  # key + 4 runs
    lr = table.locator("tr[data-key='Config:lr']")
    expect(lr).to_have_class("diff")
    expect(lr.locator("td")).to_contain_text(["0.001"])
    expect(table.locator("tr[data-key='Run:job_type']")).not_to_have_class("diff")
    before = table.locator("tbody tr[data-key]").count()
    page.get_by_test_id("only-diff").check()
    expect(table.locator("tr[data-key='Config:lr']")).to_have_count(1)
    assert table.locator("tbody tr[data-key]").count() < before
    shot(page, screenshots, "08b-compare")


def test_run_page_edits_and_downloads_a_file(env: Env, page: Page,
                                             screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/admin/ui")
    page.get_by_role("link", name="beta", exact=True).click()
    beta = env.runs["beta"]["id"]
    expect(page).to_have_url(f"{env.server.url}/admin/ui/runs/{beta}")
    expect(page.get_by_test_id("run-title")).to_have_text("beta")
    expect(page.get_by_test_id("config")).to_contain_text("0.001")
    expect(page.get_by_test_id("summary")).to_contain_text("0.95")
    expect(page.get_by_test_id("overview")).to_contain_text("finished")
    expect(page.get_by_test_id("overview")).to_contain_text("python script.py")
    shot(page, screenshots, "08-run-overview")

    page.get_by_test_id("edit-name").fill("beta-renamed")
    page.get_by_test_id("edit-tag").fill("star")
    page.get_by_test_id("edit-tag").press("Enter")
    page.get_by_test_id("edit-notes").fill("the best one")
    page.get_by_test_id("save-run").click()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    expect(page.get_by_test_id("run-title")).to_have_text("beta-renamed")
    with env.server.api() as api:
        run = api.get(f"/api/v1/entities/admin/projects/ui/runs/{beta}").json()
    assert run["display_name"] == "beta-renamed"
    assert run["tags"] == ["best", "small", "star"]
    assert run["notes"] == "the best one"

    page.get_by_role("link", name="Charts", exact=True).click()
    charted = wait_chart(page, "run:loss", "c.series.length === 1")
    assert charted["series"][0]["y"] == pytest.approx(env.runs["beta"]["loss"], rel=1e-12)
    shot(page, screenshots, "08c-run-charts")

    page.get_by_role("link", name="Files", exact=True).click()
    name = env.runs["beta"]["file"]
    row = page.locator(f"tr[data-file='{name}']")
    with page.expect_download() as info:
        row.get_by_test_id("download").click()
    downloaded = Path(info.value.path()).read_bytes()
    assert downloaded == (env.client_dir / name).read_bytes()
    shot(page, screenshots, "09-run-files")


def test_console_of_a_running_run_tails_live(env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page, env).goto(f"{env.server.url}/admin/ui/runs/{env.live_id}/logs")
    console = page.get_by_test_id("console")
    expect(console.locator(".log-line").first).to_be_visible(timeout=15_000)
    first = console.locator(".log-line").count()
    last_tick = _last_tick(page)
    # New lines arrive without a reload.
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=console] .log-line').length > n + 5",
        arg=first, timeout=20_000)
    assert _last_tick(page) > last_tick
    colored = console.locator(".log-text span", has_text=re.compile(r"^tick \d+$")).first
    assert colored.evaluate("e => getComputedStyle(e).color") == "rgb(13, 188, 121)"
    shot(page, screenshots, "10-run-console-live")

    # The workspace's chart of the running run grows without a reload too.
    page.goto(env.server.url + "/admin/ui")
    live = wait_chart(page, "workspace:live",
                      f"c.series.some(s => s.id === '{env.live_id}' && s.x.length > 0)")
    before = len(series_of(live, env.live_id)["x"])
    wait_chart(page, "workspace:live",
               f"c.series.some(s => s.id === '{env.live_id}' && s.x.length > {before})")
    expect(page.get_by_test_id("live")).to_be_visible()

    # And the system metrics tab draws what the client sampled.
    page.goto(f"{env.server.url}/admin/ui/runs/{env.live_id}/system")
    expect(page.locator(".chart-card").first).to_be_visible(timeout=30_000)
    wait_chart(page, "system:system.memory_percent", "c.series[0].x.length > 0")
    shot(page, screenshots, "10b-run-system-metrics")


def _last_tick(page: Page) -> int:
    texts = page.get_by_test_id("console").locator(".log-text").all_inner_texts()
    ticks = [int(m.group(1)) for t in texts if (m := re.search(r"tick (\d+)", t))]
    return max(ticks)


def test_system_admin_saves_valid_storage_and_shows_the_servers_error(
        env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page, env).goto(env.server.url + "/admin/ui")
    page.get_by_role("link", name="System admin").click()
    expect(page).to_have_url(env.server.url + "/system-admin")
    url_field = page.get_by_label("File storage URL")
    original = url_field.input_value()
    assert original.startswith("file://")

    moved = (env.tmp / "moved-blobs").as_uri()
    url_field.fill(moved)
    page.get_by_test_id("storage-save").click()
    expect(page.get_by_test_id("storage-result")).to_contain_text("Saved")
    with env.server.api() as api:
        assert api.get("/api/v1/system-admin/storage").json()["blob_store_url"] == moved

    url_field.fill("ftp://nowhere/x")
    page.get_by_test_id("storage-save").click()
    expect(page.get_by_test_id("storage-result")).to_contain_text(
        "unknown blob store URL scheme")
    expect(page.get_by_test_id("storage-result")).to_have_attribute("role", "alert")
    shot(page, screenshots, "11-system-admin-error")
    with env.server.api() as api:
        assert api.get("/api/v1/system-admin/storage").json()["blob_store_url"] == moved

    url_field.fill(original)  # back, so the files logged before stay reachable
    page.get_by_test_id("storage-save").click()
    expect(page.get_by_test_id("storage-result")).to_contain_text("Saved")


def test_non_admin_is_refused(env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page, env, env.carol_key).goto(env.server.url + "/system-admin")
    expect(page.get_by_test_id("signed-in-as")).to_have_text("carol")
    expect(page.get_by_test_id("admin-forbidden")).to_contain_text("Only admins")
    expect(page.get_by_role("link", name="System admin")).to_have_count(0)
    expect(page.get_by_test_id("storage-form")).to_have_count(0)
    shot(page, screenshots, "12-system-admin-refused")
    with httpx.Client(base_url=env.server.url, auth=("api", env.carol_key)) as api:
        assert api.get("/api/v1/system-admin/storage").status_code == 403
    page.goto(env.server.url + "/admin/ui")
    expect(page.get_by_test_id("runs-error")).to_contain_text("no access")
