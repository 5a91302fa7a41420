"""Server processes for the benchmark: Runyard and MLflow on 127.0.0.1, their memory, disk.

Every process started here is recorded and stopped by :func:`stop_all` (called from the
``finally`` of the benchmark and on SIGTERM/SIGINT). Servers run in their own process group,
so a server and the children it spawned (MLflow's uvicorn worker) stop together; only
process groups that this module created are ever signalled.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ADMIN_KEY = "local-" + "b3nChM4rK0" * 4
HOST = "127.0.0.1"

_STARTED: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def spawn(args: list[str], *, log: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    _STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10) -> None:
    """SIGTERM the process group we created for ``proc``, then SIGKILL if it lingers."""
    if proc is None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if proc.poll() is None and pgid == proc.pid:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    if pgid == proc.pid:  # leftovers of the group (children), then the leader
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    if proc in _STARTED:
        _STARTED.remove(proc)


def stop_all() -> None:
    for proc in list(_STARTED):
        stop(proc, timeout=10)


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def tree_cpu(pid: int) -> float:
    """User+system CPU seconds of a process and its live descendants."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class RssSampler:
    """Samples a process tree's RSS every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss(self.pid)
            self.samples.append(rss)
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode}):\n{tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout}s:\n{tail(log)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- MariaDB -------------------------------------------------------------------------------

MARIADB = {"host": HOST, "port": 3306, "user": "root", "password": ""}


def mariadb_create(name: str) -> str:
    import pymysql

    conn = pymysql.connect(**MARIADB)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    finally:
        conn.close()
    return f"mysql+pymysql://root@{HOST}:3306/{name}"


def mariadb_drop(name: str) -> None:
    import pymysql

    try:
        conn = pymysql.connect(**MARIADB)
    except pymysql.Error:
        return
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def mariadb_bytes(name: str) -> int:
    """Data + index bytes of a database (InnoDB statistics, refreshed first)."""
    import pymysql

    conn = pymysql.connect(database=name, **MARIADB)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = %s", (name,))
            for (table,) in cur.fetchall():
                cur.execute(f"ANALYZE TABLE `{table}`")
                cur.fetchall()
            cur.execute("SELECT COALESCE(SUM(data_length + index_length), 0) "
                        "FROM information_schema.tables WHERE table_schema = %s", (name,))
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


# --- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pid(self) -> int:
        """The process that serves requests (for py-spy): the leader or its busiest child."""
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return self.pid
        py = [c for c in children if "python" in (c.name() or "").lower()]
        return py[-1].pid if py else self.pid

    def rss(self) -> int:
        return tree_rss(self.pid) if self.proc else 0

    def cpu(self) -> float:
        return tree_cpu(self.pid) if self.proc else 0.0

    def stop(self) -> None:
        stop(self.proc)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def start(self) -> Server:
        raise NotImplementedError

    def disk_bytes(self) -> int:
        raise NotImplementedError

    def cleanup(self) -> None:
        self.stop()


@dataclass
class RunyardServer(Server):
    database: str = "sqlite"  # or "mariadb"
    db_name: str = ""

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.database == "mariadb" and not self.db_name:
            self.db_name = f"runyard_bench_{os.getpid()}_{self.workdir.name}".replace("-", "_")
            self.database_url = mariadb_create(self.db_name)
        else:
            self.database_url = ""

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def start(self, timeout: float = 120) -> RunyardServer:
        env = {**os.environ, "RUNYARD_ADMIN_API_KEY": ADMIN_KEY, "RUNYARD_LOG_LEVEL": "warning"}
        args = [sys.executable, "-m", "runyard", "server", "--host", HOST,
                "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.database_url:
            args += ["--database-url", self.database_url, "--migrate"]
        self.proc = spawn(args, log=self.log, env=env, cwd=self.workdir)
        wait_ready(f"{self.url}/ready", self.proc, self.log, timeout)
        return self

    def disk_files(self) -> dict[str, int]:
        """Sizes of the data directory's files (and the MariaDB database), largest first."""
        files = {}
        for root, _dirs, names in os.walk(self.data_dir):
            for name in names:
                path = Path(root) / name
                files[str(path.relative_to(self.data_dir))] = path.stat().st_size
        if self.db_name:
            files[f"mariadb:{self.db_name}"] = mariadb_bytes(self.db_name)
        return dict(sorted(files.items(), key=lambda kv: -kv[1])[:10])

    def disk_bytes(self) -> int:
        total = dir_bytes(self.data_dir)
        if self.db_name:
            total += mariadb_bytes(self.db_name)
        return total

    def cleanup(self) -> None:
        self.stop()
        if self.db_name:
            mariadb_drop(self.db_name)


@dataclass
class MlflowServer(Server):
    workers: int = 1

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def db_path(self) -> Path:
        return self.workdir / "mlflow.db"

    def start(self, timeout: float = 180) -> MlflowServer:
        mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
        # No GenAI job runner (7 huey consumer processes polling in the background): it is
        # not part of tracking, and would only take CPU and memory from the server.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        args = [mlflow, "server", "--backend-store-uri", f"sqlite:///{self.db_path}",
                "--default-artifact-root", str(self.workdir / "artifacts"),
                "--artifacts-destination", str(self.workdir / "mlartifacts"),
                "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = spawn(args, log=self.log, env=env, cwd=self.workdir)
        wait_ready(f"{self.url}/health", self.proc, self.log, timeout)
        return self

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.workdir.glob("mlflow.db*") if p.is_file())
