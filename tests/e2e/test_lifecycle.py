"""Run states and continuity: failures, resume, server-side stop, crash, offline sync, login."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.client import (
    client_env,
    output_of,
    read_out,
    run_script,
    start_script,
    wandb_cli,
)
from tests.e2e.server import ADMIN_KEY, RunyardServer, get_json

pytestmark = pytest.mark.e2e

RUNS = "/api/v1/entities/admin/projects/{project}/runs/{run}"


def fetch_run(server: RunyardServer, project: str, run: str, part: str = "",
              **params: object) -> dict:
    with server.api() as api:
        return get_json(api, RUNS.format(project=project, run=run) + part, **params)


def wait_for(predicate, timeout: float, interval: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def test_failed_run_keeps_exit_code(server: RunyardServer, tmp_path: Path) -> None:
    source = '''
    import sys, wandb
    run = wandb.init(project="life", id="failrun1")
    run.log({"x": 1})
    sys.exit(3)
    '''
    result = run_script(source, client_env(server, tmp_path / "home"), tmp_path)
    assert result.returncode == 3, output_of(result)
    run = fetch_run(server, "life", "failrun1")
    assert (run["state"], run["exit_code"]) == ("failed", 3)


def test_exception_marks_run_failed(server: RunyardServer, tmp_path: Path) -> None:
    source = '''
    import wandb
    run = wandb.init(project="life", id="failrun2")
    run.log({"x": 1})
    raise RuntimeError("training blew up")
    '''
    result = run_script(source, client_env(server, tmp_path / "home"), tmp_path)
    assert result.returncode == 1, output_of(result)
    run = fetch_run(server, "life", "failrun2")
    assert (run["state"], run["exit_code"]) == ("failed", 1)
    lines = fetch_run(server, "life", "failrun2", "/logs")["lines"]
    assert any("training blew up" in line["content"] for line in lines)


RESUMABLE = '''
import json, os, wandb
run = wandb.init(project="life", id="resume01", resume=os.environ["MODE"],
                 config={"first": 1} if os.environ["PART"] == "1" else {"second": 2})
for i in range(int(os.environ["N"])):
    run.log({"loss": float(i), "part": int(os.environ["PART"])})
print("console", os.environ["PART"])
with open(os.environ["OUT"], "w") as f:
    json.dump({"id": run.id, "name": run.name}, f)
run.finish()
'''


def test_resume_continues_history_at_the_right_step(server: RunyardServer,
                                                    tmp_path: Path) -> None:
    env = client_env(server, tmp_path / "home", OUT=str(tmp_path / "out.json"))
    first = run_script(RESUMABLE, {**env, "MODE": "allow", "PART": "1", "N": "10"}, tmp_path)
    assert first.returncode == 0, output_of(first)
    second = run_script(RESUMABLE, {**env, "MODE": "must", "PART": "2", "N": "5"}, tmp_path)
    assert second.returncode == 0, output_of(second)
    out = read_out(tmp_path)
    history = fetch_run(server, "life", "resume01", "/history")["rows"]
    assert [r["_step"] for r in history] == list(range(15))
    assert [r["loss"] for r in history] == [float(i) for i in [*range(10), *range(5)]]
    assert [r["part"] for r in history] == [1] * 10 + [2] * 5
    run = fetch_run(server, "life", "resume01")
    assert run["state"] == "finished"
    assert run["history_line_count"] == 15
    assert run["config"] == {"first": 1, "second": 2}
    assert run["display_name"] == out["name"]
    console = [line["content"] for line in fetch_run(server, "life", "resume01", "/logs")["lines"]]
    assert any(c.endswith("console 1") for c in console)
    assert any(c.endswith("console 2") for c in console)


def test_resume_must_of_unknown_run_fails(server: RunyardServer, tmp_path: Path) -> None:
    source = '''
    import wandb
    wandb.init(project="life", id="neverwas1", resume="must")
    '''
    result = run_script(source, client_env(server, tmp_path / "home"), tmp_path)
    assert result.returncode != 0
    assert "neverwas1" in result.stderr + result.stdout
    with server.api() as api:
        response = api.get(RUNS.format(project="life", run="neverwas1"))
    assert response.status_code == 404


def test_resume_allow_of_unknown_run_creates_it(server: RunyardServer, tmp_path: Path) -> None:
    env = client_env(server, tmp_path / "home", OUT=str(tmp_path / "out.json"))
    source = RESUMABLE.replace('id="resume01"', 'id="allownew1"')
    result = run_script(source, {**env, "MODE": "allow", "PART": "1", "N": "3"}, tmp_path)
    assert result.returncode == 0, output_of(result)
    history = fetch_run(server, "life", "allownew1", "/history")["rows"]
    assert [r["_step"] for r in history] == [0, 1, 2]


LONG_RUNNING = '''
import time, wandb
run = wandb.init(project="life", id="{run_id}")
for i in range(100000):
    run.log({{"i": i}})
    time.sleep(0.2)
'''


def test_stop_from_server_side_stops_the_client(server: RunyardServer, tmp_path: Path) -> None:
    proc = start_script(LONG_RUNNING.format(run_id="stopme01"),
                        client_env(server, tmp_path / "home"), tmp_path)
    try:
        wait_for(lambda: fetch_run_or_none(server, "stopme01"), timeout=60)
        with server.api() as api:
            response = api.post(RUNS.format(project="life", run="stopme01") + "/stop")
        assert response.status_code == 202, response.text
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    run = wait_for(lambda: _finished(server, "stopme01"), timeout=30)
    assert run["state"] == "killed"
    assert run["stop_requested"] is True
    assert run["history_line_count"] > 0


def test_stop_with_the_cli(server: RunyardServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = start_script(LONG_RUNNING.format(run_id="stopme02"),
                        client_env(server, tmp_path / "home"), tmp_path)
    try:
        wait_for(lambda: fetch_run_or_none(server, "stopme02"), timeout=60)
        cli = subprocess.run(
            [sys.executable, "-m", "runyard", "runs", "stop", "admin/life/stopme02",
             "--data-dir", str(server.data_dir)],
            capture_output=True, text=True, timeout=60, check=False)
        assert cli.returncode == 0, cli.stderr
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert wait_for(lambda: _finished(server, "stopme02"), timeout=30)["state"] == "killed"


def fetch_run_or_none(server: RunyardServer, run_id: str) -> dict | None:
    with server.api() as api:
        response = api.get(RUNS.format(project="life", run=run_id))
    if response.status_code != 200:
        return None
    body = response.json()
    return body if body["history_line_count"] > 0 else None


def _finished(server: RunyardServer, run_id: str) -> dict | None:
    run = fetch_run(server, "life", run_id)
    return run if run["state"] != "running" else None


def test_run_without_heartbeats_is_marked_crashed(tmp_path: Path) -> None:
    fast = RunyardServer(tmp_path / "data", env={"RUNYARD_RUN_HEARTBEAT_TIMEOUT": "4",
                                                 "RUNYARD_REAPER_INTERVAL": "0.5"}).start()
    try:
        proc = start_script(LONG_RUNNING.format(run_id="crash001").replace('"life"', '"crash"'),
                            client_env(fast, tmp_path / "home"), tmp_path)
        url = "/api/v1/entities/admin/projects/crash/runs/crash001"
        try:
            with fast.api() as api:
                wait_for(lambda: api.get(url).status_code == 200, timeout=60)
                assert api.get(url).json()["state"] == "running"
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the script and its wandb-core die at once
            proc.wait()
        with fast.api() as api:
            crashed = wait_for(lambda: api.get(url).json()["state"] == "crashed", timeout=30)
        assert crashed
    finally:
        fast.stop()


def test_offline_run_synced_later_arrives_complete(server: RunyardServer, tmp_path: Path) -> None:
    env = client_env(server, tmp_path / "home", OUT=str(tmp_path / "out.json"),
                     WANDB_MODE="offline")
    source = '''
    import json, os, wandb
    run = wandb.init(project="offline", id="offline01", config={"k": "v"}, tags=["off"])
    for i in range(25):
        run.log({"acc": i / 25, "n": i})
    run.summary["best"] = 0.96
    print("offline console")
    with open(os.environ["OUT"], "w") as f:
        json.dump({"dir": os.path.dirname(run.dir)}, f)
    run.finish()
    '''
    result = run_script(source, env, tmp_path)
    assert result.returncode == 0, output_of(result)
    with server.api() as api:
        assert api.get("/api/v1/entities/admin/projects/offline/runs/offline01").status_code == 404
    run_dir = read_out(tmp_path)["dir"]
    synced = wandb_cli(["sync", run_dir], {**env, "WANDB_MODE": "online"}, tmp_path)
    assert synced.returncode == 0, output_of(synced)
    with server.api() as api:
        base = "/api/v1/entities/admin/projects/offline/runs/offline01"
        run = get_json(api, base)
        history = get_json(api, base + "/history")["rows"]
        logs = get_json(api, base + "/logs")["lines"]
    assert run["state"] == "finished"
    assert run["config"] == {"k": "v"}
    assert run["tags"] == ["off"]
    assert run["summary"]["best"] == 0.96
    assert [r["n"] for r in history] == list(range(25))
    assert [r["acc"] for r in history] == [i / 25 for i in range(25)]
    assert any(line["content"].endswith("offline console") for line in logs)


def test_wandb_login_with_host_then_log(server: RunyardServer, tmp_path: Path) -> None:
    env = client_env(server, tmp_path / "home")
    for name in ("WANDB_BASE_URL", "WANDB_API_KEY"):
        env.pop(name)
    login = wandb_cli(["login", "--host", server.url, ADMIN_KEY], env, tmp_path)
    assert login.returncode == 0, output_of(login)
    assert "admin" in login.stdout + login.stderr
    netrc = (tmp_path / "home" / ".netrc").read_text()
    assert f"127.0.0.1:{server.port}" in netrc
    source = '''
    import wandb
    run = wandb.init(project="login", id="loggedin1")
    run.log({"ok": 1})
    run.finish()
    '''
    result = run_script(source, env, tmp_path)
    assert result.returncode == 0, output_of(result)
    with server.api() as api:
        run = get_json(api, "/api/v1/entities/admin/projects/login/runs/loggedin1")
    assert run["state"] == "finished"


def test_wandb_login_with_a_wrong_key_fails(server: RunyardServer, tmp_path: Path) -> None:
    env = client_env(server, tmp_path / "home")
    env.pop("WANDB_API_KEY")
    login = wandb_cli(["login", "--host", server.url, "local-" + "x" * 40], env, tmp_path)
    assert login.returncode != 0
    assert not (tmp_path / "home" / ".netrc").exists() or "x" * 40 not in (
        tmp_path / "home" / ".netrc").read_text()


def test_init_with_a_wrong_key_fails_cleanly(server: RunyardServer, tmp_path: Path) -> None:
    env = client_env(server, tmp_path / "home", key="local-" + "y" * 40)
    result = run_script('import wandb\nwandb.init(project="nope")\n', env, tmp_path)
    assert result.returncode != 0
    assert "invalid API key" in result.stdout + result.stderr


def test_other_users_cannot_write_to_my_entity(server: RunyardServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    created = subprocess.run(
        [sys.executable, "-m", "runyard", "admin", "create-user", "bob",
         "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60, check=False)
    assert created.returncode == 0, created.stderr
    bob_key = created.stdout.strip().splitlines()[-1]
    env = client_env(server, tmp_path / "home", key=bob_key)
    denied = run_script('import wandb\nwandb.init(project="p", entity="admin")\n', env, tmp_path)
    assert denied.returncode != 0
    assert "no access to entity 'admin'" in denied.stdout + denied.stderr
    allowed = run_script(
        'import wandb\nr = wandb.init(project="p", id="bobrun01")\nr.log({"a": 1})\nr.finish()\n',
        env, tmp_path)
    assert allowed.returncode == 0, output_of(allowed)
    with server.api(bob_key) as api:
        run = get_json(api, "/api/v1/entities/bob/projects/p/runs/bobrun01")
        assert api.get("/api/v1/entities/admin/projects").status_code == 403
    assert run["state"] == "finished"
    json.dumps(run)
