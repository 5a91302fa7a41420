"""What only the SQS queue does, on moto with REAL S3 -> SQS notifications: S3 events become
ObjectCreated (test events skipped, keys decoded), duplicates are harmless for the consumer,
failed messages come back and end in the dead-letter queue, multi-record messages; and
``runyard storage check`` against a bucket set up right and one set up wrong.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from click.testing import CliRunner

from runyard.cli.main import cli
from runyard.errors import ConfigError, Unavailable
from runyard.queues.base import ObjectCreated
from runyard.queues.sqs import QueueAddress, SqsQueue, parse_sqs_url
from runyard.runtime import Runtime
from runyard.settings import Settings
from runyard.stores.blobs.s3 import MIN_PART_SIZE, S3BlobStore
from runyard.stores.keys import run_file_key
from runyard.stores.metadata.base import RunFields
from tests.services import MOTO_ACCOUNT, AwsService

T = TypeVar("T")
PREFIX = "deploy/runyard"


@dataclass
class SqsSetup:
    moto: AwsService
    queue_url: str
    queue_arn: str
    dlq_url: str = ""

    @property
    def url(self) -> str:
        return f"sqs://{self.queue_url}"

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages."""
        got = self.moto.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages",
                                                     "ApproximateNumberOfMessagesNotVisible"])
        attrs = got["Attributes"]
        return (int(attrs["ApproximateNumberOfMessages"]),
                int(attrs["ApproximateNumberOfMessagesNotVisible"]))

    def dead_letters(self) -> list[str]:
        got = self.moto.client("sqs").receive_message(QueueUrl=self.dlq_url,
                                                      MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [m["Body"] for m in got.get("Messages", [])]


def make_queue(moto: AwsService, *, max_receive: int = 0) -> SqsSetup:
    sqs = moto.client("sqs")
    name = f"runyard-{uuid.uuid4().hex[:12]}"
    attributes: dict[str, str] = {}
    dlq_url = ""
    if max_receive:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        attributes["RedrivePolicy"] = json.dumps({
            "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
            "maxReceiveCount": str(max_receive)})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return SqsSetup(moto, url, arn["Attributes"]["QueueArn"], dlq_url)


def notifying_bucket(moto: AwsService, queue: SqsSetup, *, filter_prefix: str = PREFIX + "/",
                     cors: bool = True) -> str:
    s3 = moto.client("s3")
    bucket = moto.create_bucket()
    config: dict[str, Any] = {"QueueArn": queue.queue_arn, "Events": ["s3:ObjectCreated:*"]}
    if filter_prefix:
        config["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": filter_prefix}]}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [config]})
    if cors:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["*"]}]})
    return bucket


def blob_settings(moto: AwsService, bucket: str, **more: Any) -> Settings:
    return Settings(blob_store_url=f"s3://{bucket}/{PREFIX}", blob_store_region=moto.region,
                    blob_store_endpoint=moto.endpoint, **more)


def run_async(body: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(body)


async def opened(queue: SqsQueue, body: Callable[[SqsQueue], Awaitable[T]]) -> T:
    await queue.open()
    try:
        return await body(queue)
    finally:
        await queue.close()


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def receive_at_least(queue: SqsQueue, count: int, timeout: float = 10) -> list[
        ObjectCreated]:
    found: list[ObjectCreated] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        found += await queue.receive(max_messages=10, wait_seconds=1)
    return found


@pytest.fixture
def sqs(moto: AwsService, aws_env: pytest.MonkeyPatch) -> SqsSetup:
    return make_queue(moto)


# real S3 -> SQS notifications ------------------------------------------------------------
KEYS = ["runs/1/files/plain.txt", "runs/1/files/with space+plus%41.txt",
        "runs/1/files/ünïcødé 🚀/ok.txt"]


def test_bucket_notifications_become_object_created(sqs: SqsSetup) -> None:
    bucket = notifying_bucket(sqs.moto, sqs)
    store = S3BlobStore(blob_settings(sqs.moto, bucket))

    async def body() -> list[ObjectCreated]:
        await store.open()
        try:
            for i, key in enumerate(KEYS):
                await store.put(key, one(b"x" * (i + 1)), max_bytes=10)
            await store.put("elsewhere", one(b"?"), max_bytes=10)  # object outside the prefix
            sqs.moto.client("s3").put_object(Bucket=bucket, Key="not-ours.txt", Body=b"!")

            async def consume(queue: SqsQueue) -> list[ObjectCreated]:
                got = await receive_at_least(queue, len(KEYS) + 1)
                for m in got:
                    await queue.ack(m)
                return got

            return await opened(SqsQueue(sqs.url), consume)
        finally:
            await store.close()

    got = run_async(body)
    mapped = sorted((store.relative_key(m.key), m.size, m.md5) for m in got)
    md5 = {i: hashlib.md5(b"x" * (i + 1)).hexdigest() for i in range(3)}  # noqa: S324
    assert mapped == sorted([(key, i + 1, md5[i]) for i, key in enumerate(KEYS)]
                            + [("elsewhere", 1, hashlib.md5(b"?").hexdigest())])  # noqa: S324
    assert all(m.receipt and m.attempts == 1 for m in got)
    assert sqs.counts() == (0, 0)  # the s3:TestEvent was deleted too


def test_multipart_upload_notifications(sqs: SqsSetup) -> None:
    """moto sends both ObjectCreated:Put and CompleteMultipartUpload; md5 only for single PUTs."""
    bucket = notifying_bucket(sqs.moto, sqs)
    store = S3BlobStore(blob_settings(sqs.moto, bucket), part_size=MIN_PART_SIZE)
    size = 11 * 1024 * 1024

    async def body() -> list[ObjectCreated]:
        await store.open()
        try:
            await store.put("runs/2/files/big.bin", one(b"\x01" * size), max_bytes=size)
            return await opened(SqsQueue(sqs.url), lambda q: receive_at_least(q, 1))
        finally:
            await store.close()

    got = run_async(body)
    assert {(store.relative_key(m.key), m.size) for m in got} == {("runs/2/files/big.bin", size)}
    assert all(m.md5 == "" for m in got)


def test_duplicate_delivery_is_harmless_for_the_consumer(sqs: SqsSetup, tmp_path: Path) -> None:
    bucket = notifying_bucket(sqs.moto, sqs)
    settings = blob_settings(sqs.moto, bucket, data_dir=tmp_path / "data",
                             queue_url=sqs.url, admin_api_key="admin-" + "k" * 40)
    runtime = Runtime(settings)
    data = b"a file the client PUT straight into the bucket"

    async def body() -> tuple[Any, Any]:
        await runtime.start(background=False)
        try:
            store = runtime.store
            admin = store.get_user("admin")
            assert admin is not None
            run, _ = store.upsert_run("admin", "proj", "run1", user_id=admin.id,
                                      fields=RunFields(), make_display_name=lambda n: f"r-{n}")
            [row] = store.register_files(run.id, ["out put.txt"],
                                         lambda name: run_file_key(run.id, name))
            url = runtime.blob_url("PUT", row.storage_key, "http://unused")
            assert url.startswith(sqs.moto.endpoint)
            response = await anyio.to_thread.run_sync(lambda: httpx.put(url, content=data))
            assert response.status_code == 200
            assert isinstance(runtime.queue, SqsQueue)
            [event] = await receive_at_least(runtime.queue, 1)
            # the same notification handled twice, plus a redelivered copy of it
            await runtime.handle_object_created(event)
            await runtime.handle_object_created(event)
            after_one = store.get_file(run.id, "out put.txt")
            await runtime.queue.publish(ObjectCreated(event.key, event.size, event.md5))
            [copy] = await receive_at_least(runtime.queue, 1)
            await runtime.handle_object_created(copy)
            for m in (event, copy, event):
                await runtime.queue.ack(m)
            return after_one, store.get_file(run.id, "out put.txt")
        finally:
            await runtime.stop()

    after_one, after_all = run_async(body)
    assert after_one is not None
    assert after_all is not None
    assert (after_one.uploaded, after_one.size, after_one.md5) == (
        True, len(data), hashlib.md5(data).hexdigest())  # noqa: S324
    assert (after_all.uploaded, after_all.size, after_all.md5) == (
        after_one.uploaded, after_one.size, after_one.md5)
    assert sqs.counts() == (0, 0)


def test_sns_wrapped_notifications(sqs: SqsSetup) -> None:
    inner = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "object": {"key": "a+b%2Fc", "size": 5, "eTag": "0" * 32}}}]})
    sqs.moto.client("sqs").send_message(QueueUrl=sqs.queue_url, MessageBody=json.dumps(
        {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": inner}))
    got = run_async(lambda: opened(SqsQueue(sqs.url), lambda q: receive_at_least(q, 1)))
    assert [(m.key, m.size, m.md5) for m in got] == [("a b/c", 5, "0" * 32)]


# several records in one message ----------------------------------------------------------
def two_records() -> str:
    return json.dumps({"Records": [
        {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": f"k{i}", "size": i}}}
        for i in (1, 2)]})


def test_a_message_with_several_records_is_deleted_once_all_are_acked(sqs: SqsSetup) -> None:
    sqs.moto.client("sqs").send_message(QueueUrl=sqs.queue_url, MessageBody=two_records())

    async def body(queue: SqsQueue) -> None:
        first, second = await queue.receive(max_messages=10, wait_seconds=2)
        assert (first.key, second.key) == ("k1", "k2")
        assert first.receipt == second.receipt
        await queue.ack(first)
        assert sqs.counts() == (0, 1)  # still in flight: k2 is not handled yet
        await queue.ack(second)
        assert sqs.counts() == (0, 0)
        await queue.ack(second)  # idempotent
        await queue.ack(first)

    run_async(lambda: opened(SqsQueue(sqs.url), body))


def test_one_failed_record_hands_the_whole_message_back(sqs: SqsSetup) -> None:
    sqs.moto.client("sqs").send_message(QueueUrl=sqs.queue_url, MessageBody=two_records())

    async def body(queue: SqsQueue) -> None:
        first, second = await queue.receive(max_messages=10, wait_seconds=2)
        await queue.ack(first)
        await queue.nack(second)
        await queue.nack(second)  # idempotent
        again = await queue.receive(max_messages=10, wait_seconds=2)
        assert [(m.key, m.attempts) for m in again] == [("k1", 2), ("k2", 2)]
        for m in again:
            await queue.ack(m)

    run_async(lambda: opened(SqsQueue(sqs.url, backoff_seconds=0), body))
    assert sqs.counts() == (0, 0)


# failures --------------------------------------------------------------------------------
def test_a_nacked_message_comes_back_after_the_backoff(sqs: SqsSetup) -> None:
    async def body(queue: SqsQueue) -> None:
        await queue.publish(ObjectCreated("runs/1/files/x", 3, ""))
        [first] = await queue.receive(max_messages=1, wait_seconds=2)
        started = time.monotonic()
        await queue.nack(first)
        assert await queue.receive(max_messages=1, wait_seconds=0) == []
        [again] = await queue.receive(max_messages=1, wait_seconds=5)
        assert time.monotonic() - started >= 0.9
        assert (again.key, again.size, again.attempts) == ("runs/1/files/x", 3, 2)
        await queue.ack(again)

    queue = SqsQueue(sqs.url, backoff_seconds=1)
    assert [queue.backoff(n) for n in (1, 2, 3, 20)] == [1, 2, 4, 300]
    run_async(lambda: opened(queue, body))


def test_after_max_receive_count_the_message_is_in_the_dead_letter_queue(
    moto: AwsService, aws_env: pytest.MonkeyPatch
) -> None:
    setup = make_queue(moto, max_receive=2)

    async def body(queue: SqsQueue) -> None:
        await queue.publish(ObjectCreated("runs/1/files/poison", -1, ""))
        for attempt in (1, 2):
            [m] = await queue.receive(max_messages=1, wait_seconds=2)
            assert m.attempts == attempt
            await queue.nack(m)  # never deleted
        assert await queue.receive(max_messages=10, wait_seconds=1) == []

    run_async(lambda: opened(SqsQueue(setup.url, backoff_seconds=0), body))
    [dead] = setup.dead_letters()
    assert json.loads(dead)["Records"][0]["s3"]["object"]["key"] == "runs/1/files/poison"


def test_a_body_that_is_not_an_s3_event_ends_in_the_dead_letter_queue(
    moto: AwsService, aws_env: pytest.MonkeyPatch
) -> None:
    setup = make_queue(moto, max_receive=1)
    moto.client("sqs").send_message(QueueUrl=setup.queue_url, MessageBody="not an event")

    async def body(queue: SqsQueue) -> list[ObjectCreated]:
        return await queue.receive(max_messages=10, wait_seconds=1.5)

    assert run_async(lambda: opened(SqsQueue(setup.url, backoff_seconds=0), body)) == []
    assert setup.dead_letters() == ["not an event"]


# queue behaviour -------------------------------------------------------------------------
def test_check_consumes_nothing(sqs: SqsSetup) -> None:
    async def body(queue: SqsQueue) -> None:
        await queue.publish(ObjectCreated("k", 1, ""))
        await queue.check()
        await queue.check()
        [m] = await queue.receive(max_messages=10, wait_seconds=1)
        assert m.key == "k"
        await queue.ack(m)

    run_async(lambda: opened(SqsQueue(sqs.url), body))


def test_receive_gathers_more_than_one_sqs_batch(sqs: SqsSetup) -> None:
    async def body(queue: SqsQueue) -> None:
        for i in range(23):
            await queue.publish(ObjectCreated(f"k{i}", i, ""))
        got = await queue.receive(max_messages=50, wait_seconds=1)
        assert sorted(m.size for m in got) == list(range(23))
        for m in got:
            await queue.ack(m)

    run_async(lambda: opened(SqsQueue(sqs.url), body))


def test_a_cancelled_long_poll_does_not_hold_up_shutdown(sqs: SqsSetup) -> None:
    async def body(queue: SqsQueue) -> float:
        started = time.monotonic()
        with anyio.move_on_after(0.3):
            await queue.receive(max_messages=10, wait_seconds=15)
        return time.monotonic() - started

    assert run_async(lambda: opened(SqsQueue(sqs.url), body)) < 2


def test_queue_name_is_resolved_on_open(sqs: SqsSetup, aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL_SQS", sqs.moto.endpoint)
    name = sqs.queue_url.rsplit("/", 1)[1]
    queue = SqsQueue(f"sqs://{name}")

    async def body(q: SqsQueue) -> str:
        return q.queue_url

    assert run_async(lambda: opened(queue, body)) == sqs.queue_url
    with pytest.raises(Unavailable, match="does not exist"):
        run_async(lambda: opened(SqsQueue("sqs://no-such-queue"), body))


@pytest.mark.parametrize(("url", "address"), [
    ("sqs://uploads", QueueAddress(name="uploads")),
    ("sqs://uploads.fifo", QueueAddress(name="uploads.fifo")),
    ("sqs://https://sqs.eu-west-1.amazonaws.com/123456789012/uploads",
     QueueAddress(name="uploads", region="eu-west-1",
                  queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/uploads")),
    ("sqs://sqs.us-west-2.amazonaws.com/123456789012/uploads",
     QueueAddress(name="uploads", region="us-west-2",
                  queue_url="https://sqs.us-west-2.amazonaws.com/123456789012/uploads")),
    ("sqs://arn:aws:sqs:ap-south-1:123456789012:uploads",
     QueueAddress(name="uploads", region="ap-south-1", owner="123456789012")),
    (f"sqs://http://127.0.0.1:5000/{MOTO_ACCOUNT}/q",
     QueueAddress(name="q", queue_url=f"http://127.0.0.1:5000/{MOTO_ACCOUNT}/q",
                  endpoint="http://127.0.0.1:5000")),
])
def test_queue_url_forms(url: str, address: QueueAddress) -> None:
    assert parse_sqs_url(url) == address


@pytest.mark.parametrize("url", ["sqs://", "sqs://bad name", "sqs://arn:aws:sns:r:1:t",
                                 "sqs://https://host", "internal://"])
def test_bad_queue_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        SqsQueue(url)


# runyard storage check -------------------------------------------------------------------
def storage_check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["storage", "check", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def check_args(moto: AwsService, bucket: str, queue_url: str, *more: str) -> list[str]:
    return ["--blob-store-url", f"s3://{bucket}/{PREFIX}", "--blob-store-endpoint",
            moto.endpoint, "--blob-store-region", moto.region, "--queue-url", queue_url, *more]


def test_storage_check_passes_on_a_correct_setup(moto: AwsService,
                                                 aws_env: pytest.MonkeyPatch) -> None:
    setup = make_queue(moto, max_receive=5)
    bucket = notifying_bucket(moto, setup)
    key = moto.client("kms").create_key()["KeyMetadata"]["KeyId"]
    code, output = storage_check(*check_args(moto, bucket, setup.url, "--blob-store-kms-key",
                                             key, "--public-url", "https://wandb.example.com"))
    assert code == 0, output
    lines = output.splitlines()
    for expected in ["blob store s3://", "write a probe object", "objects are encrypted with "
                     "SSE-KMS key", "read the probe object back", "delete the probe object",
                     "bucket CORS allows GET and PUT from https://wandb.example.com",
                     "can be read", "has a dead-letter queue",
                     "bucket notifications send s3:ObjectCreated:* to the queue"]:
        assert any(line.startswith("OK") and expected in line for line in lines), (
            expected, output)
    assert "FAIL" not in output
    assert lines[-1] == "all checks passed"
    assert moto.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_storage_check_says_what_is_wrong_and_how_to_fix_it(moto: AwsService,
                                                            aws_env: pytest.MonkeyPatch) -> None:
    setup = make_queue(moto)  # no dead-letter queue
    bucket = moto.create_bucket()  # no CORS, no notifications
    code, output = storage_check(*check_args(moto, bucket, setup.url))
    assert code == 1
    assert "FAIL bucket CORS allows GET and PUT from *: the bucket has no CORS configuration" in (
        output)
    assert f"aws s3api put-bucket-cors --bucket {bucket} --cors-configuration" in output
    assert "WARN queue" in output
    assert "set-queue-attributes" in output
    assert "RedrivePolicy" in output
    assert "FAIL bucket notifications send s3:ObjectCreated:* to the queue" in output
    assert f"sends no events to {setup.queue_arn}" in output
    assert "put-bucket-notification-configuration" in output
    assert "s3.amazonaws.com" in output  # the queue policy that lets S3 send
    assert f'"Value": "{PREFIX}/"' in output
    assert output.splitlines()[-1] == "2 check(s) failed"

    # a notification filtered to another prefix is not enough either
    other = notifying_bucket(moto, setup, filter_prefix="other/")
    code, output = storage_check(*check_args(moto, other, setup.url))
    assert code == 1
    assert "leaves out objects under" in output


def test_storage_check_on_a_missing_bucket_and_queue(moto: AwsService,
                                                     aws_env: pytest.MonkeyPatch) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    code, output = storage_check(*check_args(
        moto, missing, f"sqs://{moto.endpoint}/{MOTO_ACCOUNT}/missing-queue"))
    assert code == 1
    assert f"FAIL blob store s3://{missing}/{PREFIX} can be opened" in output
    assert "the bucket does not exist" in output
    assert '"s3:PutObject"' in output  # the IAM policy to grant
    assert "FAIL queue sqs://" in output


def test_storage_check_with_the_embedded_defaults(tmp_path: Path) -> None:
    code, output = storage_check("--data-dir", str(tmp_path))
    assert code == 0, output
    assert "OK   queue internal://" in output
