"""Private database servers for tests that stop and restart them (never the shared ones)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.server import free_port


@dataclass
class PrivateMariaDB:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "mysql"

    def url(self, database: str = "runyard") -> str:
        """The seed's form, as the Terraform module outputs it."""
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def install(self) -> PrivateMariaDB:
        if shutil.which("mariadb-install-db") is None:
            raise RuntimeError("MariaDB is not installed: run scripts/services")
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, timeout=120)
        return self

    def start(self, timeout: float = 60) -> PrivateMariaDB:
        log = (self.root / "mysqld.err").open("ab")
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", f"--datadir={self.datadir}",
             f"--socket={self.root / 'mysql.sock'}", f"--pid-file={self.root / 'mysqld.pid'}",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
             "--innodb-buffer-pool-size=64M"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["mariadb-admin", "--no-defaults", "--protocol=tcp", "-h127.0.0.1",
                 f"-P{self.port}", "-uroot", "ping"], capture_output=True, check=False)
            if ping.returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError("private MariaDB did not start")

    def sql(self, statement: str) -> None:
        subprocess.run(["mariadb", "--no-defaults", "--protocol=tcp", "-h127.0.0.1",
                        f"-P{self.port}", "-uroot", "-e", statement], check=True,
                       capture_output=True, timeout=60)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own that checks passwords (scram-sha-256).

    It lives in a directory the ``postgres`` user can reach (pytest's own temporary
    directories are private to root), removed again by ``stop``.
    """

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="runyard-pg-")))
    port: int = field(default_factory=free_port)
    started: bool = False

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _as_postgres(self, command: str) -> None:
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True,
                       timeout=120)

    def install(self, superuser_password: str) -> PrivatePostgres:
        if shutil.which("initdb") is None and not Path("/usr/lib/postgresql").is_dir():
            raise RuntimeError("PostgreSQL is not installed: run scripts/services")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(superuser_password)
        shutil.chown(pwfile, "postgres")
        self._as_postgres(f"initdb -D {self.datadir} -U postgres --auth=scram-sha-256 "
                          f"--pwfile={pwfile} -E UTF8")
        pwfile.unlink()
        return self

    def start(self) -> PrivatePostgres:
        self._as_postgres(
            f"pg_ctl -D {self.datadir} -o '-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-k {self.root}' -l {self.root / 'log'} -w start")
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            self._as_postgres(f"pg_ctl -D {self.datadir} -m fast -w stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
