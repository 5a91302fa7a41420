"""Private database servers for tests that stop and restart them (never the shared ones)."""

from __future__ import annotations

import shutil
import signal
import subprocess
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
