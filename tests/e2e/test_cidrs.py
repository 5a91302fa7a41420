"""Allowed inbound networks through a real server process (the tests connect from 127.0.0.1).

Outside the list: 403 in the one JSON error shape on every path (API, GraphQL, web UI),
while /healthz and /ready answer for load balancers. Inside: the real wandb client logs.
X-Forwarded-For counts only from a trusted proxy. From /system-admin a list that leaves out
the admin's own address is refused; one fixed by the environment is read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import client_env, output_of, run_script
from tests.e2e.server import ADMIN_KEY, RunyardServer, get_json

pytestmark = pytest.mark.e2e

NETWORK = "/api/v1/system-admin/network"
LOG_RUN = '''
import wandb
run = wandb.init(project="nets", id="netrun01")
run.log({"acc": 0.5})
run.finish()
'''


def basic() -> tuple[str, str]:
    return ("api", ADMIN_KEY)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "forbidden", "status": 403}
    assert "127.0.0.1" in error["message"]


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[RunyardServer]]:
    servers: list[RunyardServer] = []
    yield servers
    for server in servers:
        server.stop()


def start(started: list[RunyardServer], tmp_path: Path, name: str, **env: str
          ) -> RunyardServer:
    server = RunyardServer(tmp_path / name, env=env)
    started.append(server)
    return server.start()


def test_outside_addresses_get_403_but_health_checks_answer(
        started: list[RunyardServer], tmp_path: Path) -> None:
    server = start(started, tmp_path, "data", RUNYARD_ALLOWED_CIDRS="10.0.0.0/8")
    with httpx.Client(base_url=server.url, auth=basic(), timeout=30) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/ready").status_code == 200
        for response in (
            http.get("/api/v1/viewer"),
            http.post("/graphql", json={"query": "{ viewer { id } }"}),
            http.get("/"),
            http.get("/system-admin"),
            http.get(NETWORK),
            http.post("/api/v1/sessions", json={"username": "admin", "password": "x" * 8}),
        ):
            assert_refused(response)
        # a client cannot talk its way in: no trusted proxy, so X-Forwarded-For is ignored
        assert_refused(http.get("/api/v1/viewer", headers={"X-Forwarded-For": "10.1.2.3"}))


def test_inside_addresses_work_and_the_list_is_read_only(
        started: list[RunyardServer], tmp_path: Path) -> None:
    server = start(started, tmp_path, "data", RUNYARD_ALLOWED_CIDRS="10.0.0.0/8, 127.0.0.0/8")
    result = run_script(LOG_RUN, client_env(server, tmp_path / "home"), tmp_path / "client")
    assert result.returncode == 0, output_of(result)
    with server.api() as admin:
        assert get_json(admin, "/api/v1/entities/admin/projects/nets/runs/netrun01")[
            "state"] == "finished"
        state = get_json(admin, NETWORK)
        assert state == {"allowed_cidrs": ["10.0.0.0/8", "127.0.0.0/8"], "trusted_proxies": [],
                         "locked": True, "your_address": "127.0.0.1"}
        refused = admin.put(NETWORK, json={"allowed_cidrs": ["127.0.0.1/32"]})
        assert refused.status_code == 409
        assert "RUNYARD_ALLOWED_CIDRS" in refused.json()["errors"][0]["message"]


def test_admin_edits_the_list_but_cannot_exclude_itself(
        started: list[RunyardServer], tmp_path: Path) -> None:
    server = start(started, tmp_path, "data")
    with server.api() as admin:
        assert get_json(admin, NETWORK)["allowed_cidrs"] == []
        self_excluding = admin.put(NETWORK, json={"allowed_cidrs": ["10.0.0.0/8"]})
        assert self_excluding.status_code == 400
        message = self_excluding.json()["errors"][0]["message"]
        assert "127.0.0.1" in message
        assert "lock you out" in message
        invalid = admin.put(NETWORK, json={"allowed_cidrs": ["127.0.0.0/8", "banana"]})
        assert invalid.status_code == 400
        assert "'banana'" in invalid.json()["errors"][0]["message"]
        assert get_json(admin, NETWORK)["allowed_cidrs"] == []  # nothing changed
        saved = admin.put(NETWORK, json={"allowed_cidrs": ["10.0.0.0/8", "127.0.0.1"]})
        assert saved.status_code == 200, saved.text
        assert saved.json()["allowed_cidrs"] == ["10.0.0.0/8", "127.0.0.1/32"]
        assert admin.get("/api/v1/viewer").status_code == 200
    # the saved list outlives a restart
    server.stop()
    server.start()
    with server.api() as admin:
        assert get_json(admin, NETWORK)["allowed_cidrs"] == ["10.0.0.0/8", "127.0.0.1/32"]
        assert admin.put(NETWORK, json={"allowed_cidrs": []}).status_code == 200
        assert get_json(admin, NETWORK)["allowed_cidrs"] == []


def test_forwarded_for_counts_only_from_a_trusted_proxy(
        started: list[RunyardServer], tmp_path: Path) -> None:
    server = start(started, tmp_path, "data", RUNYARD_ALLOWED_CIDRS="10.0.0.0/8",
                   RUNYARD_TRUSTED_PROXIES="127.0.0.1/32")
    with httpx.Client(base_url=server.url, auth=basic(), timeout=30) as http:
        via_proxy = http.get(NETWORK, headers={"X-Forwarded-For": "10.1.2.3"})
        assert via_proxy.status_code == 200, via_proxy.text
        assert via_proxy.json()["your_address"] == "10.1.2.3"
        assert via_proxy.json()["trusted_proxies"] == ["127.0.0.1/32"]
        assert_refused(http.get(NETWORK))  # the proxy itself is not a client
        # the right-most address not a trusted proxy decides; a forged left end does not
        forged = http.get(NETWORK, headers={"X-Forwarded-For": "10.1.2.3, 127.0.0.5"})
        assert forged.status_code == 403
        assert "127.0.0.5" in forged.json()["errors"][0]["message"]


def test_a_bad_network_setting_stops_the_server_at_start(tmp_path: Path) -> None:
    server = RunyardServer(tmp_path / "data", env={"RUNYARD_ALLOWED_CIDRS": "10.0.0.0/33"})
    with pytest.raises(RuntimeError, match="server exited early") as info:
        server.start(timeout=60)
    assert "RUNYARD_ALLOWED_CIDRS" in str(info.value)
    assert "'10.0.0.0/33'" in str(info.value)
