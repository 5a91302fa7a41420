"""``runyard storage check``: is the blob store and notification setup usable?

One line per check (``OK``, ``WARN`` or ``FAIL``); each failure says what is wrong and how to fix
it, with the exact ``aws`` command or policy to apply. Exit code 1 when any check fails.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import anyio
import click

from runyard import registry
from runyard.cli.options import load_settings, settings_options
from runyard.errors import RunyardError
from runyard.queues.sqs import SqsQueue
from runyard.settings import Settings
from runyard.stores.blobs.base import BlobStore
from runyard.stores.blobs.s3 import S3BlobStore

CHECK_SETTINGS = ("data_dir", "blob_store_url", "blob_store_region", "blob_store_kms_key",
                  "blob_store_endpoint", "queue_url", "public_url")
CREATED_EVENTS = {"s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
                  "s3:ObjectCreated:CompleteMultipartUpload"}


@dataclass
class Check:
    status: str  # OK, WARN or FAIL
    name: str
    detail: str = ""
    fix: str = ""


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def __call__(self, check: Check) -> None:
        self.failed += check.status == "FAIL"
        line = f"{check.status:<4} {check.name}"
        click.echo(line + (f": {check.detail}" if check.detail else ""))
        for fix_line in check.fix.splitlines():
            click.echo(f"     {fix_line}")


@click.group()
def storage() -> None:
    """File storage (blob store and notifications)."""


@storage.command("check")
@settings_options(CHECK_SETTINGS)
def check(**values: Any) -> None:
    """Test the blob store (write, read, delete, CORS) and the notification queue."""
    try:
        settings = load_settings(values)
    except RunyardError as exc:
        raise click.UsageError(exc.message) from None
    report = Report()
    anyio.run(_run_checks, settings, report)
    if report.failed:
        click.echo(f"{report.failed} check(s) failed")
        raise SystemExit(1)
    click.echo("all checks passed")


async def _run_checks(settings: Settings, report: Report) -> None:
    blobs = await _blob_checks(settings, report)
    try:
        queue = await _queue_checks(settings, report)
        try:
            await _notification_check(settings, blobs, queue, report)
        finally:
            if queue is not None:
                await queue.close()
    finally:
        if blobs is not None:
            await blobs.close()


def _aws(settings: Settings, *args: str) -> str:
    """An aws CLI command line, with the endpoint and region the server uses."""
    extra: list[str] = []
    if settings.blob_store_endpoint:
        extra += ["--endpoint-url", settings.blob_store_endpoint]
    if settings.blob_store_region:
        extra += ["--region", settings.blob_store_region]
    return " ".join(["aws", *[shlex.quote(a) for a in [*args, *extra]]])


def _access_fix(store: S3BlobStore) -> str:
    statement = [{"Effect": "Allow",
                  "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                             "s3:AbortMultipartUpload", "s3:ListBucket", "s3:GetBucketCORS",
                             "s3:GetBucketNotification"],
                  "Resource": [f"arn:aws:s3:::{store.bucket}",
                               f"arn:aws:s3:::{store.bucket}/*"]}]
    if store.kms_key:
        statement.append({"Effect": "Allow",
                          "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                          "Resource": store.kms_key if store.kms_key.startswith("arn:")
                          else f"<ARN of KMS key {store.kms_key}>"})
    policy = json.dumps({"Version": "2012-10-17", "Statement": statement}, indent=2)
    return ("fix: check the bucket name, region and endpoint, then give the server's AWS "
            "identity (role or user) this policy:\n" + policy)


async def _probe_body(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


async def _blob_checks(settings: Settings, report: Report) -> BlobStore | None:
    url = settings.resolved_blob_store_url
    store: BlobStore | None = None
    try:
        store = registry.blob_store(settings)
        await store.open()
    except RunyardError as exc:
        fix = (_access_fix(store) if isinstance(store, S3BlobStore)
               else "fix: check RUNYARD_BLOB_STORE_URL (file:///PATH or s3://BUCKET/PREFIX)")
        report(Check("FAIL", f"blob store {url} can be opened", exc.message, fix))
        return None
    report(Check("OK", f"blob store {url} can be opened"))
    key = f"_runyard/probe-{secrets.token_hex(8)}"
    payload = b"runyard storage check " + secrets.token_bytes(16)
    steps = ["write a probe object", "read the probe object back", "delete the probe object"]
    step = steps[0]
    try:
        await store.put(key, _probe_body(payload), max_bytes=len(payload))
        report(Check("OK", step, key))
        if isinstance(store, S3BlobStore) and store.kms_key:
            report(await _kms_check(store, key))
        step = steps[1]
        data = b"".join([chunk async for chunk in await store.get(key)])
        if data != payload:
            report(Check("FAIL", step, "the bytes read back differ from those written",
                         "fix: the endpoint is not a consistent S3 store; check "
                         "RUNYARD_BLOB_STORE_ENDPOINT"))
        else:
            report(Check("OK", step))
        step = steps[2]
        await store.delete(key)
        report(Check("OK", step))
    except RunyardError as exc:
        fix = (_access_fix(store) if isinstance(store, S3BlobStore)
               else "fix: make the directory writable by the server's user")
        report(Check("FAIL", step, exc.message, fix))
        for skipped in steps[steps.index(step) + 1:]:
            report(Check("FAIL", skipped, "skipped after the failure above"))
    if isinstance(store, S3BlobStore):
        report(await _cors_check(settings, store))
    return store


async def _kms_check(store: S3BlobStore, key: str) -> Check:
    name = f"objects are encrypted with SSE-KMS key {store.kms_key}"
    try:
        head = await anyio.to_thread.run_sync(lambda: store.client.head_object(
            Bucket=store.bucket, Key=store.object_key(key)))
    except Exception as exc:
        return Check("FAIL", name, str(store.translate(exc, "look up the probe object")),
                     _access_fix(store))
    used = str(head.get("SSEKMSKeyId", ""))
    wanted = store.kms_key
    same = (used == wanted or used.endswith(f"/{wanted}") or wanted.startswith("alias/")
            or wanted.endswith(f"/{used}"))
    if head.get("ServerSideEncryption") == "aws:kms" and same:
        return Check("OK", name)
    return Check("FAIL", name,
                 f"the probe object has ServerSideEncryption="
                 f"{head.get('ServerSideEncryption', 'none')!s} with key {used or 'none'}",
                 "fix: the endpoint ignored the SSE-KMS headers; use AWS S3 or a server with "
                 "KMS support, or unset RUNYARD_BLOB_STORE_KMS_KEY")


def _origin(settings: Settings) -> str:
    if not settings.public_url:
        return "*"
    parsed = urlparse(settings.public_url)
    return f"{parsed.scheme}://{parsed.netloc}"


async def _cors_check(settings: Settings, store: S3BlobStore) -> Check:
    from botocore.exceptions import ClientError

    origin = _origin(settings)
    name = f"bucket CORS allows GET and PUT from {origin}"
    rules_json = json.dumps({"CORSRules": [{
        "AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3600}]})
    fix = ("fix: browsers (the web UI) PUT and GET with pre-signed URLs; allow them with\n"
           + _aws(settings, "s3api", "put-bucket-cors", "--bucket", store.bucket,
                  "--cors-configuration", rules_json)
           + ("\n(set --public-url to check the exact origin of the web UI)"
              if origin == "*" else ""))
    try:
        cors = await anyio.to_thread.run_sync(
            lambda: store.client.get_bucket_cors(Bucket=store.bucket))
    except Exception as exc:
        if (isinstance(exc, ClientError)
                and exc.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration"):
            return Check("FAIL", name, "the bucket has no CORS configuration", fix)
        return Check("FAIL", name, str(store.translate(exc, "read the CORS configuration")),
                     fix)
    for rule in cors.get("CORSRules", []):
        origins = rule.get("AllowedOrigins", [])
        methods = {m.upper() for m in rule.get("AllowedMethods", [])}
        if ("*" in origins or origin in origins) and {"GET", "PUT"} <= methods:
            if "*" not in rule.get("AllowedHeaders", []):
                return Check("WARN", name, "allowed, but AllowedHeaders is not '*': a PUT "
                             "with other headers (Content-Type, SSE-KMS) may be refused")
            return Check("OK", name)
    return Check("FAIL", name, "no CORS rule allows both GET and PUT from that origin", fix)


async def _queue_checks(settings: Settings, report: Report) -> SqsQueue | None:
    url = settings.queue_url
    scheme = urlparse(url).scheme
    if scheme == "internal":
        report(Check("OK", f"queue {url}",
                     "embedded in the metadata database; nothing to set up"))
        return None
    if scheme != "sqs":
        report(Check("FAIL", f"queue {url}", "unknown queue URL scheme",
                     "fix: use internal:// or sqs://QUEUE_NAME_OR_URL"))
        return None
    name = f"queue {url} can be read"
    try:
        queue = SqsQueue(url, region=settings.blob_store_region)
        await queue.open()
        await queue.check()
    except RunyardError as exc:
        report(Check("FAIL", name, exc.message,
                     "fix: check the queue name/URL and region, and give the server's AWS "
                     "identity sqs:GetQueueUrl, sqs:GetQueueAttributes, sqs:ReceiveMessage, "
                     "sqs:DeleteMessage, sqs:ChangeMessageVisibility and sqs:SendMessage "
                     "on the queue"))
        return None
    report(Check("OK", name))
    attributes = await queue.attributes()
    dlq = f"queue {url} has a dead-letter queue"
    if attributes.get("RedrivePolicy"):
        redrive = json.loads(attributes["RedrivePolicy"])
        report(Check("OK", dlq, f"{redrive.get('deadLetterTargetArn')} after "
                                f"{redrive.get('maxReceiveCount')} receives"))
    else:
        policy = json.dumps({"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": "<ARN of the dead-letter queue>", "maxReceiveCount": "5"})})
        report(Check("WARN", dlq, "no RedrivePolicy: a message that keeps failing is retried "
                     "forever instead of being set aside",
                     "fix: " + " ".join(["aws sqs set-queue-attributes --queue-url",
                                         shlex.quote(queue.queue_url), "--attributes",
                                         shlex.quote(policy)])))
    return queue


async def _notification_check(settings: Settings, blobs: BlobStore | None,
                              queue: SqsQueue | None, report: Report) -> None:
    if not isinstance(blobs, S3BlobStore):
        return
    name = "bucket notifications send s3:ObjectCreated:* to the queue"
    if queue is None:
        if urlparse(settings.queue_url).scheme == "internal":
            report(Check("OK", "bucket notifications", "not used with internal://: the server "
                         "checks the uploads that clients report"))
        return
    arn = (await queue.attributes()).get("QueueArn", "")
    want_prefix = f"{blobs.prefix}/" if blobs.prefix else ""
    config_json: dict[str, Any] = {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
    if want_prefix:
        config_json["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix",
                                                          "Value": want_prefix}]}}
    queue_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{blobs.bucket}"}}}]}
    fix = ("fix: let S3 send to the queue, then subscribe the queue (this replaces the "
           "bucket's notification configuration: merge any existing entries into it):\n"
           + " ".join(["aws sqs set-queue-attributes --queue-url", shlex.quote(queue.queue_url),
                       "--attributes",
                       shlex.quote(json.dumps({"Policy": json.dumps(queue_policy)}))]) + "\n"
           + _aws(settings, "s3api", "put-bucket-notification-configuration", "--bucket",
                  blobs.bucket, "--notification-configuration",
                  json.dumps({"QueueConfigurations": [config_json]})))
    try:
        got = await anyio.to_thread.run_sync(
            lambda: blobs.client.get_bucket_notification_configuration(Bucket=blobs.bucket))
    except Exception as exc:
        report(Check("FAIL", name, str(blobs.translate(exc, "read the notification "
                                                             "configuration")), fix))
        return
    problems: list[str] = []
    for config in got.get("QueueConfigurations", []):
        if config.get("QueueArn") != arn:
            continue
        events = set(config.get("Events", []))
        if "s3:ObjectCreated:*" not in events and not CREATED_EVENTS <= events:
            problems.append(f"it sends only {', '.join(sorted(events))}")
            continue
        rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        bad = [r for r in rules
               if (r.get("Name", "").lower() == "prefix" and not want_prefix.startswith(
                   r.get("Value", "")))
               or (r.get("Name", "").lower() == "suffix" and r.get("Value"))]
        if bad:
            problems.append(f"its filter {bad} leaves out objects under {want_prefix!r}")
            continue
        report(Check("OK", name, arn))
        return
    topics = [c.get("TopicArn") for c in got.get("TopicConfigurations", [])]
    if topics and not problems:
        report(Check("WARN", name, f"events go to SNS topic(s) {', '.join(map(str, topics))}; "
                     "make sure the queue is subscribed (raw or wrapped messages both work)"))
        return
    detail = (f"the bucket notification for {arn} is incomplete: " + "; ".join(problems)
              if problems else f"the bucket {blobs.bucket!r} sends no events to {arn}")
    report(Check("FAIL", name, detail, fix))
