"""The server rides out a database restart: the client's run completes with every row."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import client_env, start_script
from tests.e2e.private_db import PrivateMariaDB
from tests.e2e.server import RunyardServer, get_json

pytestmark = pytest.mark.e2e

STEPS = 80
STEADY = f'''
import time, wandb
run = wandb.init(project="dbfault", id="dbfault1")
for i in range({STEPS}):
    run.log({{"i": i, "half": i / 2}})
    time.sleep(0.2)
run.finish()
'''


def test_database_restart_mid_run(tmp_path: Path) -> None:
    db = PrivateMariaDB(tmp_path / "db").install().start()
    server = None
    try:
        db.sql("CREATE DATABASE runyard CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        server = RunyardServer(tmp_path / "data", env={
            "RUNYARD_DATABASE_URL": db.url(), "RUNYARD_MIGRATE": "true"}).start()
        client = start_script(STEADY, client_env(server, tmp_path / "home"), tmp_path / "c")
        url = "/api/v1/entities/admin/projects/dbfault/runs/dbfault1"
        with server.api() as api:
            deadline = time.monotonic() + 60
            while api.get(url).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.3)
            time.sleep(2)
            db.kill()
            time.sleep(1)
            assert httpx.get(f"{server.url}/ready", timeout=10).status_code == 503
            outage = api.get(url)
            assert outage.status_code == 503
            assert outage.json()["errors"][0]["extensions"]["code"] == "unavailable"
            assert "pymysql" not in outage.text.lower()
            time.sleep(3)
            db.start()
            output, _ = client.communicate(timeout=240)
            assert client.returncode == 0, output
            run = get_json(api, url)
            history = get_json(api, url + "/history", limit=1000)["rows"]
        assert httpx.get(f"{server.url}/ready", timeout=10).status_code == 200
        assert run["state"] == "finished"
        assert [r["i"] for r in history] == list(range(STEPS))
        assert run["history_line_count"] == STEPS
    finally:
        if server:
            server.stop()
        db.stop()
