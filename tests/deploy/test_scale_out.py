"""Scale-out on one machine: two ``runyard server`` replicas behind nginx share one MariaDB
database, one S3 bucket (SeaweedFS, a real S3 server), one Redis cache, one signing key and
one admin key, like pods of the Helm chart. The real wandb client logs a run through nginx;
requests land on both replicas; one replica is killed (SIGKILL) in the middle of the run;
the run still completes with every row, and its files are in the bucket.

The schema is created first with ``runyard db upgrade`` (the chart's pre-install hook), then
both replicas start at the same time with migrations off (RUNYARD_MIGRATE=false), as the
pods of a fresh Deployment do (the first-start admin bootstrap is safe against that race).

Runs with the project's .venv (runyard, wandb 0.31.0, pymysql) through scripts/deploy-checks,
which installs nginx (Debian) and starts MariaDB on 127.0.0.1:3306 when missing.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("runyard", reason="runs with the project's .venv (scripts/deploy-checks)")
pytest.importorskip("wandb", reason="runs with the project's .venv (scripts/deploy-checks)")
pymysql = pytest.importorskip("pymysql", reason="needs the [mysql] extra")

from tests.e2e.client import client_env, start_script  # noqa: E402
from tests.e2e.server import ADMIN_KEY, RunyardServer, free_port, get_json  # noqa: E402
from tests.services import AwsService  # noqa: E402

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
MYSQL_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock")
STEPS = 400
PROJECT = "scale"
RUN_ID = "scaleout1"


def unavailable(reason: str) -> None:
    """Skip where a service is missing; on CI (CI=true) scripts/deploy-checks must provide it."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: scripts/deploy-checks must provide it)", pytrace=False)
    pytest.skip(f"SKIP scale-out: {reason}")


# -- MariaDB ----------------------------------------------------------------------------


def _connect_admin() -> tuple[object, str]:
    """root over TCP without a password (this project's machines), else root over the unix
    socket (Debian's default); returns the connection and the URL prefix servers use."""
    try:
        return (pymysql.connect(connect_timeout=5, autocommit=True, **MARIADB),
                "mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4")
    except pymysql.MySQLError as exc:
        error = exc
    for socket in MYSQL_SOCKETS:
        if Path(socket).exists():
            try:
                return (pymysql.connect(unix_socket=socket, user="root", autocommit=True,
                                        connect_timeout=5),
                        f"mysql+pymysql://root@localhost/{{name}}?unix_socket={socket}"
                        "&charset=utf8mb4")
            except pymysql.MySQLError as exc:
                error = exc
    unavailable(f"MariaDB: root cannot log in on 127.0.0.1:3306 or a local socket: {error}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    name = f"runyard_scale_{secrets.token_hex(4)}"
    admin, url = _connect_admin()
    with admin.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                       "COLLATE utf8mb4_unicode_ci")
    try:
        yield url.format(name=name)
    finally:
        with admin.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()  # type: ignore[attr-defined]


# -- nginx ------------------------------------------------------------------------------

NGINX_CONF = """\
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
daemon off;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    log_format upstreams '$msec $request_method $uri $status upstream=[$upstream_addr] '
                         'upstream_status=[$upstream_status]';
    access_log {root}/access.log upstreams;
    client_max_body_size 0;
    upstream runyard {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://runyard;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A replica that died: try the other one, also for POSTs (file_stream and the
            # GraphQL mutations the client sends are idempotent).
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    root: Path
    backends: list[int]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)
        if binary is None:
            unavailable("nginx is not installed (scripts/deploy-checks installs it with apt)")
        self.port = self.port or free_port()
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        # A root master hands requests to unprivileged workers, which could not write request
        # bodies under pytest's private temp folder: keep the workers as this user.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=60s;"
                            for p in self.backends)
        conf = self.root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, root=self.root, port=self.port,
                                          servers=servers))
        self.process = subprocess.Popen(
            [binary, "-p", str(self.root), "-c", str(conf), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL, stderr=(self.root / "stderr.log").open("wb"))
        deadline = time.monotonic() + 15
        import httpx

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.errors()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"nginx not answering:\n{self.errors()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def errors(self) -> str:
        parts = [(self.root / n) for n in ("error.log", "stderr.log")]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def upstream_hits(self) -> Counter[str]:
        """How many requests nginx sent to each backend port (retries counted)."""
        hits: Counter[str] = Counter()
        log = self.root / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            match = re.search(r"upstream=\[([^\]]*)\]", line)
            for addr in re.split(r"[,:]\s*|\s+", match.group(1)) if match else []:
                if addr.isdigit():
                    hits[addr] += 1
        return hits


# -- the stack --------------------------------------------------------------------------


@dataclass
class Stack:
    a: RunyardServer
    b: RunyardServer
    nginx: Nginx
    s3: AwsService
    bucket: str


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of our own, with a password, on a free port."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(directory), "--requirepass", "scale-cache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(port), "-a", "scale-cache",
                              "--no-auth-warning", "ping"], capture_output=True,
                             check=False).stdout.strip() != b"PONG":
            if time.monotonic() > deadline:
                raise AssertionError("redis did not start")
            time.sleep(0.1)
        yield f"redis://:scale-cache@127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def stack(database_url: str, redis_url: str, seaweedfs: AwsService,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("scale")
    bucket = seaweedfs.create_bucket(f"scale-{secrets.token_hex(4)}")
    port_a, port_b = free_port(), free_port()
    # nginx's port is chosen first: it is the replicas' public URL.
    nginx = Nginx(root / "nginx", [port_a, port_b], port=free_port())
    nginx.root.mkdir()
    shared = {
        **seaweedfs.env(),
        "RUNYARD_DATABASE_URL": database_url,
        "RUNYARD_BLOB_STORE_URL": f"s3://{bucket}/runyard",
        "RUNYARD_BLOB_STORE_ENDPOINT": seaweedfs.endpoint,
        "RUNYARD_CACHE_URL": redis_url,
        "RUNYARD_SECRET_KEY": "scale-out-signing-key-" + "x" * 24,
        "RUNYARD_ADMIN_API_KEY": ADMIN_KEY,
        "RUNYARD_PUBLIC_URL": nginx.url,
        "RUNYARD_MIGRATE": "false",
        "RUNYARD_MIGRATE_ON_START": "false",  # the setting's earlier name
        "RUNYARD_RUN_HEARTBEAT_TIMEOUT": "600",
    }

    # The Helm chart's pre-install hook.
    upgrade = subprocess.run(
        [sys.executable, "-m", "runyard", "db", "upgrade", "--data-dir", str(root / "migrate")],
        env={**os.environ, **shared}, capture_output=True, text=True, timeout=120, check=False)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr

    a = RunyardServer(root / "a" / "data", port=port_a, env=shared)
    b = RunyardServer(root / "b" / "data", port=port_b, env=shared)
    for server in (a, b):
        server.data_dir.parent.mkdir(parents=True)
    try:
        with ThreadPoolExecutor(2) as pool:  # both pods start at once
            list(pool.map(lambda server: server.start(timeout=90), (a, b)))
        yield Stack(a, b, nginx.start(), seaweedfs, bucket)
    finally:
        nginx.stop()
        for server in (a, b):
            server.stop()


SCRIPT = f'''
import json, os, pathlib, time, wandb
half, go = pathlib.Path(os.environ["HALF"]), pathlib.Path(os.environ["GO"])
run = wandb.init(project="{PROJECT}", id="{RUN_ID}", config={{"replicas": 2}},
                 settings=wandb.Settings(x_file_stream_transmit_interval=0.2))
logged = []
for i in range({STEPS}):
    row = {{"loss": 1.0 / (i + 1), "i": i, "phase": "before" if i < {STEPS // 2} else "after"}}
    run.log(row)
    logged.append(row)
    if i % 50 == 25:  # GraphQL traffic all through the run, before and after the kill
        run.config.update({{f"checkpoint_{{i}}": i}})
    if i == {STEPS // 2}:
        half.write_text("1")
        deadline = time.time() + 120
        while not go.exists() and time.time() < deadline:
            time.sleep(0.05)
    time.sleep(0.02)
with open("weights.bin", "wb") as f:
    f.write(bytes(range(256)) * 512)
wandb.save("weights.bin", policy="now")
run.summary["done"] = True
run.finish()
pathlib.Path(os.environ["OUT"]).write_text(json.dumps({{"id": run.id, "logged": logged}}))
'''


def wait_for_file(path: Path, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"client exited early:\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} not written within {timeout}s")
        time.sleep(0.05)


def test_both_replicas_start_on_one_schema(stack: Stack) -> None:
    for server in (stack.a, stack.b):
        with server.api() as api:
            assert get_json(api, "/ready")["status"] == "ready"


def test_run_survives_losing_a_replica(stack: Stack, tmp_path: Path) -> None:
    half, go, out = tmp_path / "half", tmp_path / "go", tmp_path / "out.json"
    env = client_env(stack.a, tmp_path / "home", HALF=str(half), GO=str(go), OUT=str(out))
    env["WANDB_BASE_URL"] = stack.nginx.url
    client = start_script(SCRIPT, env, tmp_path / "client")
    try:
        wait_for_file(half, client, timeout=180)
        before = stack.nginx.upstream_hits()
        port_a, port_b = str(stack.a.port), str(stack.b.port)
        assert before[port_a] > 0, f"no request reached replica A: {before}"
        assert before[port_b] > 0, f"no request reached replica B: {before}"

        assert stack.b.process is not None
        stack.b.process.send_signal(signal.SIGKILL)
        stack.b.process.wait(10)
        go.write_text("1")

        output, _ = client.communicate(timeout=240)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
    assert client.returncode == 0, f"client failed:\n{output}\nnginx:\n{stack.nginx.errors()}"
    after = stack.nginx.upstream_hits()
    assert after[port_a] > before[port_a], "replica A took no requests after B died"

    logged = json.loads(out.read_text())["logged"]
    with stack.a.api() as api:
        base = f"/api/v1/entities/admin/projects/{PROJECT}/runs/{RUN_ID}"
        run = get_json(api, base)
        rows = get_json(api, base + "/history", limit=10000)["rows"]
    assert run["state"] == "finished", run
    checkpoints = {k: v for k, v in run["config"].items() if k.startswith("checkpoint_")}
    assert checkpoints == {f"checkpoint_{i}": i for i in range(25, STEPS, 50)}
    assert [r["_step"] for r in rows] == list(range(STEPS))
    for want, got in zip(logged, rows, strict=True):
        assert {k: got[k] for k in want} == want, (want, got)
    assert "Traceback" not in stack.a.log(), stack.a.log()
    objects = stack.s3.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="runyard/")
    sizes = {o["Key"].rsplit("/", 1)[-1]: o["Size"] for o in objects.get("Contents", [])}
    assert sizes.get("weights.bin") == 256 * 512, sizes
    assert "scale-cache" not in stack.a.log()
