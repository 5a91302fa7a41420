"""Artifacts in the web UI, in a real browser, on artifacts the real wandb client logged.

One server for the module. A producer run logs two versions of a dataset (metadata,
description, aliases, files in a folder); a consumer run uses it by alias. In Chromium:
sign in, go from the workspace to the project's artifacts, open the collection (its versions
and aliases), open a version (aliases, metadata, files; a download gives the logged bytes),
follow the lineage to the producing and the consuming run, and the run page's artifacts tab.
Screenshots land in tests/browser/screenshots/.

The file name sorts after test_web_serving.py on purpose: once Playwright's sync API has
started, an event loop keeps running in the main thread, which that module's asyncio.run()
would trip over.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.client import client_env, output_of, read_out, run_script
from tests.e2e.server import ADMIN_KEY, RunyardServer

pytestmark = pytest.mark.e2e

PROJECT = "arts-ui"
DATASET = "mnist-mini"
V0_METADATA = {"rows": 100, "source": {"kind": "synthetic", "seed": 7}, "classes": ["a", "b"]}
V1_METADATA = {"rows": 120, "source": {"kind": "synthetic", "seed": 8}, "note": "cleaned"}

LOG = r'''
import json, os, random, shutil, wandb

def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

rng = random.Random(3)
out = {}
run = wandb.init(project="arts-ui", entity="admin", name="producer", job_type="prepare")
out["producer"] = run.id
write("data/train.csv", b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(100)))
write("data/blobs/noise.bin", rng.randbytes(20_000) + b"\x00\xff")
v0 = wandb.Artifact("mnist-mini", type="dataset", description="A small sample",
                    metadata=json.loads(os.environ["V0_METADATA"]))
v0.add_dir("data")
run.log_artifact(v0, aliases=["raw"])
v0.wait()
shutil.copytree("data", "v0")
write("data/train.csv", b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(120)))
v1 = wandb.Artifact("mnist-mini", type="dataset", description="Cleaned",
                    metadata=json.loads(os.environ["V1_METADATA"]))
v1.add_dir("data")
run.log_artifact(v1, aliases=["best"])
v1.wait()
shutil.copytree("data", "v1")
run.finish()

run = wandb.init(project="arts-ui", entity="admin", name="consumer", job_type="train")
out["consumer"] = run.id
used = run.use_artifact("mnist-mini:best")
out["used"] = used.version
run.finish()
json.dump(out, open("out.json", "w"))
'''


@dataclass
class Env:
    server: RunyardServer
    producer: str
    consumer: str
    client_dir: Path

    def url(self, path: str) -> str:
        return f"{self.server.url}/admin/{PROJECT}{path}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("webartifacts")
    server = RunyardServer(root / "data").start()
    try:
        client = client_env(server, root / "home", V0_METADATA=json.dumps(V0_METADATA),
                            V1_METADATA=json.dumps(V1_METADATA))
        result = run_script(LOG, client, root / "client")
        assert result.returncode == 0, output_of(result)
        out = read_out(root / "client")
        assert out["used"] == "v1"
        yield Env(server, out["producer"], out["consumer"], root / "client")
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()


def signed_in(page: Page) -> Page:
    page.add_init_script(f"localStorage.setItem('runyard.apiKey', {ADMIN_KEY!r})")
    return page


def shot(page: Page, screenshots: Path, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot keeps the sticky header on top
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def fmt_bytes(n: int) -> str:
    """As the web UI shows a size (lib/format.ts fmtBytes), for sizes from 1 KB to 1 MB."""
    kb = n / 1024
    return f"{kb:.{1 if kb < 10 else 0}f} KB"


def metadata_value(page: Page, key: str) -> Locator:
    return page.locator(f"[data-testid=metadata] tr[data-key='{key}'] td")


# tests ------------------------------------------------------------------------------------------
def test_sign_in_then_the_projects_artifacts(env: Env, page: Page, screenshots: Path) -> None:
    page.goto(env.url(""))
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_label("API key").press("Enter")
    expect(page).to_have_url(env.url(""))
    expect(page.get_by_test_id("artifacts-link")).to_be_visible()
    shot(page, screenshots, "workspace-artifacts-link")

    page.get_by_test_id("artifacts-link").click()  # from the workspace
    expect(page).to_have_url(env.url("/artifacts"))
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text("artifacts")
    section = page.locator("section[data-type=dataset]")
    expect(section.get_by_role("heading")).to_contain_text("dataset")
    row = section.locator(f"tr[data-collection='{DATASET}']")
    expect(row.get_by_test_id("version-count")).to_have_text("2")
    expect(row.locator("td").nth(2)).to_have_text("v1")
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"just now|min ago"))
    shot(page, screenshots, "artifacts")


def test_collection_lists_versions_with_aliases(env: Env, page: Page,
                                                screenshots: Path) -> None:
    signed_in(page).goto(env.url("/artifacts"))
    link = page.get_by_test_id("collection-link").filter(has_text=DATASET)
    link.focus()
    page.keyboard.press("Enter")  # keyboard reachable
    expect(page).to_have_url(env.url(f"/artifacts/dataset/{DATASET}"))
    expect(page.get_by_test_id("collection-title")).to_have_text(DATASET)
    versions = page.get_by_test_id("versions")
    expect(versions.locator("tbody tr")).to_have_count(2)
    expect(versions.get_by_test_id("version-link")).to_have_text(["v1", "v0"])
    expect(versions.locator("tr[data-version=v1] .alias")).to_have_text(["best", "latest"])
    expect(versions.locator("tr[data-version=v0] .alias")).to_have_text(["raw"])
    expect(versions.locator("tr[data-version=v0]")).to_contain_text("committed")
    v0_size = sum(p.stat().st_size for p in (env.client_dir / "v0").rglob("*") if p.is_file())
    assert v0_size > 20_000
    expect(versions.locator("tr[data-version=v0] td.num").first).to_have_text(
        fmt_bytes(v0_size))
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs).to_contain_text(f"artifacts/dataset/{DATASET}")
    shot(page, screenshots, "artifact-collection")


def test_version_page_shows_aliases_metadata_and_files(env: Env, page: Page,
                                                        screenshots: Path) -> None:
    signed_in(page).goto(env.url(f"/artifacts/dataset/{DATASET}"))
    page.locator("tr[data-version=v0]").get_by_test_id("version-link").click()
    expect(page).to_have_url(env.url(f"/artifacts/dataset/{DATASET}/v0"))
    expect(page.get_by_test_id("artifact-title")).to_have_text(f"{DATASET}:v0")
    info = page.get_by_test_id("artifact-info")
    expect(info.locator(".alias")).to_have_text(["raw"])
    expect(info).to_contain_text("A small sample")
    expect(metadata_value(page, "rows")).to_have_text("100")
    expect(metadata_value(page, "source.kind")).to_have_text("synthetic")
    expect(metadata_value(page, "source.seed")).to_have_text("7")
    expect(metadata_value(page, "classes")).to_have_text('["a","b"]')

    files = page.get_by_test_id("artifact-files")
    expect(files.locator("tbody tr")).to_have_count(2)
    expect(files.locator("tbody tr td.mono:first-child")).to_have_text(
        ["blobs/noise.bin", "train.csv"])
    noise = env.client_dir / "v0" / "blobs" / "noise.bin"
    row = files.locator("tr[data-file='blobs/noise.bin']")
    expect(row.locator("td.num")).to_have_text(fmt_bytes(noise.stat().st_size))
    shot(page, screenshots, "artifact-version")

    for path in ("blobs/noise.bin", "train.csv"):
        with page.expect_download() as info_download:
            files.locator(f"tr[data-file='{path}']").get_by_test_id("download").click()
        download = info_download.value
        assert download.suggested_filename == path.split("/")[-1]
        assert Path(download.path()).read_bytes() == (env.client_dir / "v0" / path).read_bytes()

    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    shot(page, screenshots, "artifact-version-dark")


def test_an_alias_opens_its_version_and_v1_has_its_own_bytes(env: Env, page: Page) -> None:
    signed_in(page).goto(env.url(f"/artifacts/dataset/{DATASET}/latest"))
    expect(page.get_by_test_id("artifact-title")).to_have_text(f"{DATASET}:v1")
    expect(page.get_by_test_id("resolved-alias")).to_contain_text("latest → v1")
    expect(page.get_by_test_id("artifact-info").locator(".alias")).to_have_text(
        ["best", "latest"])
    expect(metadata_value(page, "rows")).to_have_text("120")
    expect(metadata_value(page, "note")).to_have_text("cleaned")
    with page.expect_download() as info:
        page.locator("tr[data-file='train.csv']").get_by_test_id("download").click()
    assert Path(info.value.path()).read_bytes() == (env.client_dir / "v1" / "train.csv"
                                                    ).read_bytes()
    assert (env.client_dir / "v1" / "train.csv").read_bytes() != (
        env.client_dir / "v0" / "train.csv").read_bytes()

    page.goto(env.url(f"/artifacts/dataset/{DATASET}/no-such-alias"))
    expect(page.get_by_role("alert")).to_contain_text("has no version or alias")


def test_lineage_links_to_the_producing_and_the_consuming_run(env: Env, page: Page,
                                                              screenshots: Path) -> None:
    signed_in(page).goto(env.url(f"/artifacts/dataset/{DATASET}/v1"))
    logged_by = page.get_by_test_id("logged-by")
    used_by = page.get_by_test_id("used-by")
    expect(logged_by.get_by_role("link")).to_have_text(["producer"])
    expect(used_by.get_by_role("link")).to_have_text(["consumer"])
    shot(page, screenshots, "artifact-lineage")

    logged_by.get_by_role("link", name="producer").click()
    expect(page).to_have_url(env.url(f"/runs/{env.producer}"))
    expect(page.get_by_test_id("run-title")).to_have_text("producer")
    page.go_back()
    page.get_by_test_id("used-by").get_by_role("link", name="consumer").click()
    expect(page).to_have_url(env.url(f"/runs/{env.consumer}"))
    expect(page.get_by_test_id("run-title")).to_have_text("consumer")

    # v0 was logged by the producer and used by nobody
    page.goto(env.url(f"/artifacts/dataset/{DATASET}/v0"))
    expect(page.get_by_test_id("logged-by").get_by_role("link")).to_have_text(["producer"])
    expect(page.get_by_test_id("used-by")).to_have_count(0)
    expect(page.get_by_test_id("lineage")).to_contain_text("None.")


def test_run_page_artifacts_tab(env: Env, page: Page, screenshots: Path) -> None:
    signed_in(page).goto(env.url(f"/runs/{env.producer}"))
    page.get_by_role("link", name="Artifacts", exact=True).click()
    expect(page).to_have_url(env.url(f"/runs/{env.producer}/artifacts"))
    output = page.get_by_test_id("output-artifacts")
    expect(output.get_by_test_id("version-link")).to_have_text(
        [f"{DATASET}:v0", f"{DATASET}:v1"])
    expect(page.get_by_test_id("no-input-artifacts")).to_be_visible()
    shot(page, screenshots, "run-artifacts")

    page.goto(env.url(f"/runs/{env.consumer}/artifacts"))
    used = page.get_by_test_id("input-artifacts")
    expect(used.get_by_test_id("version-link")).to_have_text([f"{DATASET}:v1"])
    expect(used.locator(".alias")).to_have_text(["best", "latest"])
    expect(page.get_by_test_id("no-output-artifacts")).to_be_visible()
    used.get_by_test_id("version-link").click()
    expect(page).to_have_url(env.url(f"/artifacts/dataset/{DATASET}/v1"))
    expect(page.get_by_test_id("artifact-title")).to_have_text(f"{DATASET}:v1")
