"""Users, API keys, passwords and the license, through a real server process.

Admins make users and keys over /api/v1/system-admin; the real wandb client logs with such a
key; a revoked key or a deactivated user is refused on the very next request (GraphQL and
/api/v1); password sign-in hands out a session key that sign-out revokes; failed sign-ins
are rate limited; non-admins get 403 on every admin route (read from the OpenAPI document).
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import client_env, output_of, run_script
from tests.e2e.server import ADMIN_KEY, RunyardServer, get_json

pytestmark = pytest.mark.e2e

USERS = "/api/v1/system-admin/users"
SESSIONS = "/api/v1/sessions"
LICENSE = "/api/v1/system-admin/license"
VIEWER_QUERY = {"query": "query Viewer { viewer { id username entity } }"}
LOG_RUN = '''
import json, os, wandb
run = wandb.init(project="keys", id="{run_id}")
for i in range(3):
    run.log({{"loss": 1.0 / (i + 1)}})
run.finish()
json.dump({{"entity": run.entity}}, open(os.environ["OUT"], "w"))
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunyardServer]:
    srv = RunyardServer(tmp_path_factory.mktemp("users") / "data").start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def create_user(server: RunyardServer, name: str, **fields: Any) -> dict[str, Any]:
    with server.api() as api:
        response = api.post(USERS, json={"username": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def sign_in(server: RunyardServer, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}{SESSIONS}",
                      json={"username": username, "password": password}, timeout=30)


def graphql_status(server: RunyardServer, key: str) -> int:
    with server.api(key) as api:
        return api.post("/graphql", json=VIEWER_QUERY).status_code


def viewer_status(server: RunyardServer, key: str) -> int:
    with server.api(key) as api:
        return api.get("/api/v1/viewer").status_code


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# users and keys --------------------------------------------------------------------------
def test_created_user_logs_with_the_wandb_client_until_its_key_is_revoked(
        server: RunyardServer, tmp_path: Path) -> None:
    name = unique("ursula")
    created = create_user(server, name, email=f"{name}@example.com")
    key = created["api_key"]
    assert created["user"] == {**created["user"], "username": name, "admin": False,
                               "active": True, "active_keys": 1, "has_password": False}
    assert created["key"]["hint"] == key[-4:]

    out = tmp_path / "out.json"
    result = run_script(LOG_RUN.format(run_id="keyrun01"),
                        client_env(server, tmp_path / "home", key=key, OUT=str(out)),
                        tmp_path / "c1")
    assert result.returncode == 0, output_of(result)
    with server.api() as admin:
        run = get_json(admin, f"/api/v1/entities/{name}/projects/keys/runs/keyrun01")
        assert run["state"] == "finished"
        assert run["history_line_count"] == 3

    assert graphql_status(server, key) == 200
    with server.api() as admin:
        response = admin.delete(f"{USERS}/{name}/keys/{created['key']['id']}")
        assert response.status_code == 200, response.text
        assert response.json()["active"] is False
        assert response.json()["revoked_at"] is not None
    # refused on the very next request, although it was just authenticated (and cached)
    assert graphql_status(server, key) == 401
    assert viewer_status(server, key) == 401
    with server.api(key) as api:
        body = api.get("/api/v1/viewer").json()
    assert body["errors"][0]["extensions"] == {"code": "unauthorized", "status": 401}


def test_keys_are_listed_by_hint_and_shown_only_once(server: RunyardServer) -> None:
    name = unique("kim")
    first = create_user(server, name)
    with server.api() as admin:
        response = admin.post(f"{USERS}/{name}/keys", json={"label": "laptop"})
        assert response.status_code == 201, response.text
        second = response.json()
        assert viewer_status(server, second["api_key"]) == 200  # noted as used
        listing = admin.get(f"{USERS}/{name}/keys")
    assert listing.status_code == 200
    for key in (first["api_key"], second["api_key"]):
        assert key not in listing.text
        assert key[6:-4] not in listing.text
    items = listing.json()["items"]
    assert [k["hint"] for k in items] == [second["api_key"][-4:], first["api_key"][-4:]]
    assert [k["label"] for k in items] == ["laptop", ""]
    assert items[0]["last_used_at"] is not None
    assert items[1]["last_used_at"] is None
    with server.api() as admin:
        users = {u["username"]: u for u in get_json(admin, USERS)["items"]}
    assert users[name]["active_keys"] == 2
    assert users["admin"]["admin"] is True


def test_user_names_are_checked_and_unique(server: RunyardServer) -> None:
    name = unique("dup")
    create_user(server, name)
    with server.api() as admin:
        again = admin.post(USERS, json={"username": name})
        assert again.status_code == 409, again.text
        bad = admin.post(USERS, json={"username": "a/b"})
        assert bad.status_code == 400
        short = admin.post(USERS, json={"username": unique("pw"), "password": "short"})
        assert short.status_code == 400
        assert "at least 8" in short.json()["errors"][0]["message"]
        assert admin.get(f"{USERS}/nobody-{name}/keys").status_code == 404
        assert admin.delete(f"{USERS}/{name}/keys/999999").status_code == 404


def test_a_key_of_another_user_cannot_be_revoked_through_this_user(
        server: RunyardServer) -> None:
    a, b = create_user(server, unique("ann")), create_user(server, unique("ben"))
    with server.api() as admin:
        response = admin.delete(f"{USERS}/{a['user']['username']}/keys/{b['key']['id']}")
    assert response.status_code == 404
    assert viewer_status(server, b["api_key"]) == 200


def test_deactivated_user_is_refused_until_reactivated(server: RunyardServer) -> None:
    name = unique("dora")
    created = create_user(server, name, password="dora-password-1")
    key = created["api_key"]
    assert viewer_status(server, key) == 200
    assert sign_in(server, name, "dora-password-1").status_code == 201
    with server.api() as admin:
        response = admin.patch(f"{USERS}/{name}", json={"active": False})
        assert response.status_code == 200, response.text
        assert response.json()["active"] is False
    assert viewer_status(server, key) == 401
    assert graphql_status(server, key) == 401
    refused = sign_in(server, name, "dora-password-1")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["message"] == "wrong username or password"
    with server.api() as admin:
        assert admin.patch(f"{USERS}/{name}", json={"active": True}).status_code == 200
    assert viewer_status(server, key) == 200
    assert sign_in(server, name, "dora-password-1").status_code == 201


def test_an_admin_cannot_lock_themselves_out(server: RunyardServer) -> None:
    name = unique("root")
    created = create_user(server, name, admin=True)
    own = created["api_key"]
    with server.api(own) as me:
        selfish = me.patch(f"{USERS}/{name}", json={"active": False})
        assert selfish.status_code == 409, selfish.text
        assert "yourself" in selfish.json()["errors"][0]["message"]
        last = me.delete(f"{USERS}/{name}/keys/{created['key']['id']}")
        assert last.status_code == 409, last.text
        assert "last working API key" in last.json()["errors"][0]["message"]
        spare = me.post(f"{USERS}/{name}/keys", json={"label": "spare"}).json()
        # with a second key, the first may go (even the one this request is made with)
        assert me.delete(f"{USERS}/{name}/keys/{created['key']['id']}").status_code == 200
    assert viewer_status(server, own) == 401
    with server.api(spare["api_key"]) as me:
        assert me.get(f"{USERS}/{name}").json()["active_keys"] == 1
        # another admin may deactivate this one
    with server.api() as admin:
        assert admin.patch(f"{USERS}/{name}", json={"active": False}).status_code == 200
    assert viewer_status(server, spare["api_key"]) == 401


def _admin_routes(server: RunyardServer) -> list[tuple[str, str]]:
    document = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=30).json()
    routes = [(method.upper(), path) for path, ops in document["paths"].items()
              if path.startswith("/api/v1/system-admin") for method in ops]
    assert len(routes) >= 12, routes  # storage, license, network, users, keys, password...
    return routes


def test_non_admins_get_403_on_every_admin_route(server: RunyardServer) -> None:
    plain = create_user(server, unique("pat"))
    target = create_user(server, unique("tom"))
    values = {"username": target["user"]["username"], "key_id": str(target["key"]["id"])}
    for method, template in _admin_routes(server):
        path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        with server.api(plain["api_key"]) as api:
            response = api.request(method, path, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert error_code(response) == "forbidden"
        anonymous = httpx.request(method, f"{server.url}{path}", json={}, timeout=30)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
    # nothing changed for the target
    assert viewer_status(server, target["api_key"]) == 200


# passwords and sessions ------------------------------------------------------------------
def test_password_sign_in_gives_a_working_key_and_sign_out_revokes_it(
        server: RunyardServer) -> None:
    name = unique("sam")
    create_user(server, name, password="sam-password-1")
    response = sign_in(server, name, "sam-password-1")
    assert response.status_code == 201, response.text
    session = response.json()
    assert session["username"] == name
    assert session["entity"] == name
    key = session["api_key"]
    assert viewer_status(server, key) == 200
    assert graphql_status(server, key) == 200
    with server.api() as admin:
        labels = [k["label"] for k in get_json(admin, f"{USERS}/{name}/keys")["items"]]
    assert "browser session" in labels
    with server.api(key) as api:
        assert api.delete(f"{SESSIONS}/current").status_code == 204
    assert viewer_status(server, key) == 401
    assert graphql_status(server, key) == 401


def test_sign_out_does_not_revoke_a_key_made_by_an_admin(server: RunyardServer) -> None:
    created = create_user(server, unique("kay"))
    with server.api(created["api_key"]) as api:
        response = api.delete(f"{SESSIONS}/current")
    assert response.status_code == 409
    assert viewer_status(server, created["api_key"]) == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(server: RunyardServer) -> None:
    name = unique("wes")
    create_user(server, name, password="wes-password-1")
    wrong = sign_in(server, name, "not-the-password")
    unknown = sign_in(server, unique("ghost"), "wes-password-1")
    no_password = create_user(server, unique("nopw"))["user"]["username"]
    without = sign_in(server, no_password, "anything-at-all")
    for response in (wrong, unknown, without):
        assert response.status_code == 401, response.text
        assert response.json() == wrong.json()
    assert wrong.json()["errors"][0]["message"] == "wrong username or password"


def test_failed_sign_ins_are_rate_limited(server: RunyardServer) -> None:
    name = unique("rob")
    create_user(server, name, password="rob-password-1")
    statuses = [sign_in(server, name, f"guess-{i}").status_code for i in range(10)]
    assert statuses == [401] * 10
    blocked = sign_in(server, name, "rob-password-1")  # even the right password, for now
    assert blocked.status_code == 429, blocked.text
    assert int(blocked.headers["retry-after"]) >= 1
    assert error_code(blocked) == "too_many_requests"
    # another user from the same address is not affected
    other = unique("roz")
    create_user(server, other, password="roz-password-1")
    assert sign_in(server, other, "roz-password-1").status_code == 201


def test_users_change_their_own_password(server: RunyardServer) -> None:
    name = unique("cat")
    create_user(server, name, password="cat-password-1")
    first = sign_in(server, name, "cat-password-1").json()["api_key"]
    second = sign_in(server, name, "cat-password-1").json()["api_key"]
    with server.api(second) as api:
        wrong = api.put("/api/v1/viewer/password",
                        json={"current_password": "nope-nope", "new_password": "cat-password-2"})
        assert wrong.status_code == 403
        weak = api.put("/api/v1/viewer/password",
                       json={"current_password": "cat-password-1", "new_password": "x"})
        assert weak.status_code == 400
        ok = api.put("/api/v1/viewer/password",
                     json={"current_password": "cat-password-1",
                           "new_password": "cat-password-2"})
        assert ok.status_code == 204, ok.text
    assert sign_in(server, name, "cat-password-1").status_code == 401
    assert sign_in(server, name, "cat-password-2").status_code == 201
    assert viewer_status(server, first) == 401  # other browser sessions are signed out
    assert viewer_status(server, second) == 200  # this one stays


def test_admin_sets_a_password_and_the_cli_lists_and_revokes(server: RunyardServer) -> None:
    name = unique("cli")
    created = create_user(server, name)
    with server.api() as admin:
        response = admin.put(f"{USERS}/{name}/password", json={"password": "cli-password-1"})
        assert response.status_code == 200, response.text
        assert response.json()["has_password"] is True
    assert sign_in(server, name, "cli-password-1").status_code == 201

    def cli(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "runyard", "admin", *args, "--data-dir",
             str(server.data_dir)], input=stdin, capture_output=True, text=True, timeout=60,
            check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert re.search(rf"^{name}\s+-\s+no\s+2\s+yes\s+active", cli("list-users"), re.M)
    listing = cli("list-keys", name)
    assert f"...{created['api_key'][-4:]}" in listing
    assert created["api_key"] not in listing
    cli("set-password", name, stdin="cli-password-2\ncli-password-2\n")
    assert sign_in(server, name, "cli-password-2").status_code == 201
    assert "revoked" in cli("revoke-key", name, str(created["key"]["id"]))
    with server.api() as admin:
        keys = get_json(admin, f"{USERS}/{name}/keys")["items"]
    assert next(k for k in keys if k["id"] == created["key"]["id"])["active"] is False


# license -------------------------------------------------------------------------------
def test_license_is_saved_shown_as_a_hint_and_cleared(server: RunyardServer) -> None:
    secret = "lic-" + secrets.token_hex(16)
    with server.api() as admin:
        state = get_json(admin, LICENSE)
        assert state["features_locked"] is False
        assert "locks nothing" in state["statement"]
        saved = admin.put(LICENSE, json={"license": secret})
        assert saved.status_code == 200, saved.text
        assert secret not in saved.text
        assert saved.json() == {**saved.json(), "set": True, "source": "saved",
                                "hint": secret[-4:], "locked": False}
        assert secret not in admin.get(LICENSE).text
        cleared = admin.delete(LICENSE)
        assert cleared.json()["set"] is False
        assert cleared.json()["source"] == "none"


def test_license_from_the_environment_is_read_only(tmp_path: Path) -> None:
    secret = "env-license-" + secrets.token_hex(8)
    srv = RunyardServer(tmp_path / "data", env={"RUNYARD_LICENSE": secret}).start()
    try:
        with srv.api() as admin:
            state = admin.get(LICENSE)
            assert secret not in state.text
            assert state.json() == {**state.json(), "set": True, "source": "environment",
                                    "locked": True, "hint": secret[-4:]}
            refused = admin.put(LICENSE, json={"license": "other"})
            assert refused.status_code == 409
            assert "RUNYARD_LICENSE" in refused.json()["errors"][0]["message"]
            # nothing is locked: the admin still makes users
            assert admin.post(USERS, json={"username": "lic-user"}).status_code == 201
        assert ADMIN_KEY not in srv.log()
    finally:
        srv.stop()
