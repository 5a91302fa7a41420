"""/system-admin: storage settings are validated before they change, and only admins may."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import client_env, output_of, run_script
from tests.e2e.server import RunyardServer, get_json

pytestmark = pytest.mark.e2e

STORAGE = "/api/v1/system-admin/storage"
LOG_ONE = '''
import wandb
run = wandb.init(project="sysadmin", id="{run_id}")
run.log({{"x": 1}})
with open("f.txt", "w") as f:
    f.write("{content}")
wandb.save("f.txt", policy="now")
run.finish()
'''


@pytest.fixture
def fresh(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = RunyardServer(tmp_path / "data").start()
    yield server
    server.stop()


def test_admin_moves_file_storage_and_it_survives_a_restart(fresh: RunyardServer,
                                                             tmp_path: Path) -> None:
    new_root = tmp_path / "moved-blobs"
    with fresh.api() as api:
        before = get_json(api, STORAGE)
        assert before["blob_store_url"].endswith("/data/blobs")
        assert before["queue_url"] == "internal://"
        response = api.put(STORAGE, json={"blob_store_url": new_root.as_uri(),
                                          "queue_url": "internal://"})
        assert response.status_code == 200, response.text
        assert response.json()["blob_store_url"] == new_root.as_uri()
    result = run_script(LOG_ONE.format(run_id="moved001", content="after move"),
                        client_env(fresh, tmp_path / "home"), tmp_path / "c1")
    assert result.returncode == 0, output_of(result)
    assert (new_root / "runs").is_dir()
    assert list(new_root.rglob("f.txt"))[0].read_text() == "after move"
    assert not list(new_root.rglob("probe-*")), "the probe object was not deleted"
    fresh.stop()
    fresh.start()
    with fresh.api() as api:
        assert get_json(api, STORAGE)["blob_store_url"] == new_root.as_uri()
        files = get_json(api, "/api/v1/entities/admin/projects/sysadmin/runs/moved001/files")
    url = next(f["url"] for f in files["items"] if f["name"] == "f.txt")
    assert httpx.get(url, timeout=30).text == "after move"


def test_a_failing_storage_setting_changes_nothing(fresh: RunyardServer, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with fresh.api() as api:
        before = get_json(api, STORAGE)
        for body, words in [
            ({"blob_store_url": (blocker / "sub").as_uri()}, "storage check failed"),
            ({"blob_store_url": "ftp://nowhere/x"}, "unknown blob store URL scheme"),
            ({"blob_store_url": before["blob_store_url"], "queue_url": "carrier-pigeon://"},
             "unknown queue URL scheme"),
        ]:
            response = api.put(STORAGE, json=body)
            assert response.status_code == 400, response.text
            assert words in response.json()["errors"][0]["message"]
        assert get_json(api, STORAGE) == before
    result = run_script(LOG_ONE.format(run_id="still001", content="unchanged"),
                        client_env(fresh, tmp_path / "home"), tmp_path / "c2")
    assert result.returncode == 0, output_of(result)
    assert list((fresh.data_dir / "blobs").rglob("f.txt"))


def test_only_admins_reach_system_admin(fresh: RunyardServer) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "runyard", "admin", "create-user", "carol",
         "--data-dir", str(fresh.data_dir)],
        capture_output=True, text=True, timeout=60, check=False)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    with fresh.api(key) as api:
        assert api.get(STORAGE).status_code == 403
        response = api.put(STORAGE, json={"blob_store_url": "file:///tmp/evil"})
        assert response.status_code == 403
        assert response.json()["errors"][0]["extensions"]["code"] == "forbidden"
    with httpx.Client(base_url=fresh.url) as anonymous:
        assert anonymous.get(STORAGE).status_code == 401


def test_settings_from_the_environment_are_locked(tmp_path: Path) -> None:
    pinned = (tmp_path / "pinned").as_uri()
    server = RunyardServer(tmp_path / "data", env={"RUNYARD_BLOB_STORE_URL": pinned}).start()
    try:
        with server.api() as api:
            state = get_json(api, STORAGE)
            assert state["locked"] == ["blob_store_url"]
            response = api.put(STORAGE, json={"blob_store_url": (tmp_path / "o").as_uri()})
            assert response.status_code == 409
            assert "RUNYARD_BLOB_STORE_URL" in response.json()["errors"][0]["message"]
    finally:
        server.stop()
