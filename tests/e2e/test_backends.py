"""The real wandb client against Runyard on its production backends.

(a) MariaDB + SeaweedFS (a real S3 server) + Redis; the embedded queue, and uploads that
    bypass the server are checked by the server itself. Redis dies mid-run: no errors.
(b) PostgreSQL with a password from Secrets Manager (rotated mid-test) + S3 with SSE-KMS +
    SQS object-created notifications from the bucket (moto, for these AWS APIs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pymysql
import pytest

from tests.e2e.client import client_env, output_of, run_script
from tests.e2e.private_db import PrivatePostgres
from tests.e2e.server import RunyardServer, free_port, get_json
from tests.services import AwsService

pytestmark = pytest.mark.e2e

LOG_RUN = '''
import json, os, wandb
import numpy as np
run = wandb.init(project="{project}", id="{run_id}", config={{"backend": "{label}"}})
rows = []
for i in range(40):
    row = {{"loss": 1 / (i + 1), "i": i}}
    run.log(row)
    rows.append(row)
run.log({{"img": wandb.Image(np.full((6, 6, 3), 200, dtype=np.uint8))}})
with open("weights.bin", "wb") as f:
    f.write(bytes(range(256)) * 64)
wandb.save("weights.bin", policy="now")
{middle}
run.finish()
'''


def wait_for(predicate: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def check_run(server: RunyardServer, project: str, run_id: str) -> dict[str, Any]:
    """The run finished with every row, and its files are stored, sized and downloadable."""
    base = f"/api/v1/entities/admin/projects/{project}/runs/{run_id}"
    with server.api() as api:
        run = get_json(api, base)
        history = get_json(api, base + "/history")["rows"]
        assert run["state"] == "finished"
        assert [r["i"] for r in history if "i" in r] == list(range(40))

        def files_sized() -> dict[str, Any] | None:
            items = {f["name"]: f for f in get_json(api, base + "/files")["items"]}
            ready = all(f["size"] is not None for f in items.values())
            return items if ready and "weights.bin" in items else None

        files = wait_for(files_sized, timeout=30)
    assert files["weights.bin"]["size"] == 256 * 64
    body = httpx.get(files["weights.bin"]["url"], timeout=30).content
    assert body == bytes(range(256)) * 64
    assert any(name.startswith("media/images/") for name in files)
    return files


@pytest.fixture
def mariadb_database() -> Any:
    name = f"runyard_e2e_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_unicode_ci")
        yield f"mysql://root@127.0.0.1:3306/{name}"
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE {name}")
    finally:
        conn.close()


def private_redis(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(directory), "--requirepass", "s3cret-redis"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "-a", "s3cret-redis",
                                     "--no-auth-warning", "ping"], capture_output=True,
                                    check=False).stdout.strip() == b"PONG", timeout=20)
    return proc, port


def test_mariadb_seaweedfs_redis(tmp_path: Path, mariadb_database: str,
                                 seaweedfs: AwsService) -> None:
    bucket = f"runyard-{uuid.uuid4().hex[:8]}"
    seaweedfs.client("s3").create_bucket(Bucket=bucket)
    redis, redis_port = private_redis(tmp_path / "redis")
    env = {
        **seaweedfs.env(),
        "MYSQL": mariadb_database,  # the name the replaced system uses
        "RUNYARD_BLOB_STORE_URL": f"s3://{bucket}/runyard",
        "RUNYARD_BLOB_STORE_ENDPOINT": seaweedfs.endpoint,
        "RUNYARD_CACHE_URL": f"redis://:s3cret-redis@127.0.0.1:{redis_port}/0",
    }
    server = RunyardServer(tmp_path / "data", env=env)
    refused = subprocess.run(
        [sys.executable, "-m", "runyard", "server", "--port", str(free_port()),
         "--data-dir", str(tmp_path / "data")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0
    assert "runyard db upgrade" in refused.stderr
    upgrade = subprocess.run([sys.executable, "-m", "runyard", "db", "upgrade"],
                             env={**os.environ, **env}, capture_output=True, text=True,
                             timeout=120, check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    server.start()
    try:
        middle = "import os, signal\nos.kill(int(os.environ['REDIS_PID']), signal.SIGKILL)\n" \
                 "for i in range(40, 60):\n    run.log({'i': i, 'after_redis': True})"
        result = run_script(
            LOG_RUN.format(project="prod-a", run_id="proda001", label="a", middle=middle),
            client_env(server, tmp_path / "home", REDIS_PID=str(redis.pid)), tmp_path / "c")
        assert result.returncode == 0, output_of(result)
        assert redis.wait(10) == -signal.SIGKILL
        with server.api() as api:  # reads work while the cache is gone
            rows = get_json(api, "/api/v1/entities/admin/projects/prod-a/runs/proda001/history")
            assert [r["i"] for r in rows["rows"] if "i" in r] == list(range(60))
        files = check_run_prefix(server, "prod-a", "proda001")
        objects = seaweedfs.client("s3").list_objects_v2(Bucket=bucket, Prefix="runyard/")
        keys = {o["Key"] for o in objects.get("Contents", [])}
        assert any(k.endswith("/weights.bin") for k in keys), keys
        assert files["weights.bin"]["url"].startswith(seaweedfs.endpoint)
    finally:
        server.stop()
        if redis.poll() is None:
            redis.kill()
    assert "Traceback" not in server.log()
    assert "s3cret-redis" not in server.log()


def check_run_prefix(server: RunyardServer, project: str, run_id: str) -> dict[str, Any]:
    base = f"/api/v1/entities/admin/projects/{project}/runs/{run_id}"
    with server.api() as api:
        run = get_json(api, base)
        assert run["state"] == "finished"

        def files_sized() -> dict[str, Any] | None:
            items = {f["name"]: f for f in get_json(api, base + "/files")["items"]}
            ready = all(f["size"] is not None for f in items.values())
            return items if ready and "weights.bin" in items else None

        files = wait_for(files_sized, timeout=30)
    assert files["weights.bin"]["size"] == 256 * 64
    assert httpx.get(files["weights.bin"]["url"], timeout=30).content == bytes(range(256)) * 64
    return files


@pytest.fixture
def postgres() -> Any:
    cluster = PrivatePostgres().install("superpw").start()
    try:
        yield cluster
    finally:
        cluster.stop()


def psql(cluster: PrivatePostgres, sql: str) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                         password="superpw", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


def test_postgres_s3_kms_sqs_secrets_manager(tmp_path: Path, postgres: PrivatePostgres,
                                             moto: AwsService) -> None:
    tag = uuid.uuid4().hex[:8]
    psql(postgres, "CREATE ROLE runyard LOGIN PASSWORD 'first-pw'")
    psql(postgres, "CREATE DATABASE runyard OWNER runyard")
    secrets = moto.client("secretsmanager")
    secret = f"runyard/db-{tag}"
    secrets.create_secret(Name=secret, SecretString=json.dumps(
        {"username": "runyard", "password": "first-pw"}))
    key_id = moto.client("kms").create_key(Description="runyard e2e")["KeyMetadata"]["KeyId"]
    sqs = moto.client("sqs")
    dlq = sqs.create_queue(QueueName=f"runyard-dlq-{tag}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"runyard-files-{tag}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3 = moto.client("s3")
    bucket = f"runyard-{tag}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
    env = {
        **moto.env(),
        "AWS_ENDPOINT_URL_SQS": moto.endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint,
        "RUNYARD_DATABASE_URL": f"postgresql://runyard@127.0.0.1:{postgres.port}/runyard",
        "RUNYARD_DATABASE_PASSWORD_SECRET": secret,
        "RUNYARD_MIGRATE": "true",
        "RUNYARD_BLOB_STORE_URL": f"s3://{bucket}/files",
        "RUNYARD_BLOB_STORE_ENDPOINT": moto.endpoint,
        "RUNYARD_BLOB_STORE_KMS_KEY": key_id,
        "RUNYARD_QUEUE_URL": f"sqs://runyard-files-{tag}",
    }
    server = RunyardServer(tmp_path / "data", env=env).start()
    try:
        result = run_script(
            LOG_RUN.format(project="prod-b", run_id="prodb001", label="b", middle=""),
            client_env(server, tmp_path / "home"), tmp_path / "c1")
        assert result.returncode == 0, output_of(result)
        check_run_prefix(server, "prod-b", "prodb001")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="files/")["Contents"]
        weights = next(o["Key"] for o in listing if o["Key"].endswith("/weights.bin"))
        head = s3.head_object(Bucket=bucket, Key=weights)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert key_id in head["SSEKMSKeyId"]
        # Rotate the database password: the secret first, then the role, then cut every
        # connection. The server re-reads the secret when the database refuses it.
        secrets.put_secret_value(SecretId=secret, SecretString=json.dumps(
            {"username": "runyard", "password": "second-pw"}))
        psql(postgres, "ALTER ROLE runyard PASSWORD 'second-pw'")
        psql(postgres, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE usename = 'runyard'")
        result = run_script(
            LOG_RUN.format(project="prod-b", run_id="prodb002", label="b2", middle=""),
            client_env(server, tmp_path / "home"), tmp_path / "c2")
        assert result.returncode == 0, output_of(result)
        check_run_prefix(server, "prod-b", "prodb002")
    finally:
        server.stop()
    log = server.log()
    assert "first-pw" not in log
    assert "second-pw" not in log
