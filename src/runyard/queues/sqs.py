"""SQS queue (``sqs://NAME``, ``sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``,
``sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME`` or ``sqs://arn:aws:sqs:REGION:ACCOUNT:NAME``).

The bucket sends S3 event notifications here; ``receive`` turns them into ObjectCreated (see
``s3_events``), deleting ``s3:TestEvent`` and other events it has no use for. A message with
several records gives several ObjectCreated sharing one receipt; the message is deleted once
all of them are acked, and handed back whole if any is nacked. A failed message is never
deleted: ``nack`` makes it visible again after a backoff, and the queue's RedrivePolicy moves it
to the dead-letter queue after maxReceiveCount deliveries. A body that is not an S3 event is
treated the same way (it ends in the DLQ, where someone can look at it).

Region: the one in the URL, else boto3's (``AWS_REGION``); for a queue URL on another host
(an emulator) that host is the endpoint. Every boto3 call runs in a worker thread.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import anyio

from runyard.errors import ConfigError, Unavailable
from runyard.queues import s3_events
from runyard.queues.base import ObjectCreated, Queue
from runyard.stores.metadata.base import MetadataStore

log = logging.getLogger("runyard.sqs")

T = TypeVar("T")

MAX_BATCH = 10  # SQS's limit per ReceiveMessage
MAX_WAIT_SECONDS = 20  # SQS's longest long poll
SHORT_POLL_PAUSE = 0.2
BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 300.0
_SETTLED_MEMORY = 10_000
_AWS_HOST = re.compile(r"^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|"
                       r"([a-z0-9-]+)\.queue\.amazonaws\.com|queue\.amazonaws\.com)$")
_GONE = {"ReceiptHandleIsInvalid", "InvalidParameterValue", "MessageNotInflight",
         "AWS.SimpleQueueService.MessageNotInflight"}
_NO_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


@dataclass(frozen=True)
class QueueAddress:
    """Where a queue is: its URL when known (else its name, resolved on open)."""

    name: str
    queue_url: str = ""
    region: str = ""
    endpoint: str = ""
    owner: str = ""


def parse_sqs_url(url: str) -> QueueAddress:
    if not url.startswith("sqs://"):
        raise ConfigError(f"not an SQS URL (want sqs://QUEUE_NAME_OR_URL): {url!r}")
    rest = url[len("sqs://"):].strip()
    if rest.startswith("arn:"):
        parts = rest.split(":")
        if len(parts) != 6 or parts[2] != "sqs" or not parts[5]:
            raise ConfigError(f"not an SQS queue ARN: {rest!r}")
        return QueueAddress(name=parts[5], region=parts[3], owner=parts[4])
    if "/" in rest and not rest.startswith(("http://", "https://")):
        rest = "https://" + rest
    if rest.startswith(("http://", "https://")):
        parsed = urlparse(rest)
        name = parsed.path.rstrip("/").rsplit("/", 1)[-1]
        if not parsed.netloc or not name:
            raise ConfigError(f"not an SQS queue URL: {rest!r}")
        aws = _AWS_HOST.match(parsed.netloc.lower())
        if aws:
            region = aws.group(1) or aws.group(2) or "us-east-1"
            return QueueAddress(name=name, queue_url=rest, region=region)
        return QueueAddress(name=name, queue_url=rest,
                            endpoint=f"{parsed.scheme}://{parsed.netloc}")
    if not rest or not re.fullmatch(r"[A-Za-z0-9_-]{1,80}(\.fifo)?", rest):
        raise ConfigError(f"not an SQS queue name: {rest!r}")
    return QueueAddress(name=rest)


class SqsQueue(Queue):
    def __init__(self, url: str, store: MetadataStore | None = None, *, region: str = "",
                 backoff_seconds: float = BACKOFF_SECONDS,
                 max_backoff_seconds: float = MAX_BACKOFF_SECONDS,
                 etag_md5: bool = True) -> None:
        """``etag_md5=False`` when objects are SSE-KMS encrypted: their ETags are no MD5s."""
        self.address = parse_sqs_url(url)
        self.etag_md5 = etag_md5
        self.region = region or self.address.region
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._client: Any = None
        self._queue_url = self.address.queue_url
        #: receipt -> records of that message not yet acked
        self._outstanding: dict[str, int] = {}
        #: receipts already deleted or handed back (ack/nack are idempotent)
        self._settled: OrderedDict[str, None] = OrderedDict()

    # lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        self._client = await anyio.to_thread.run_sync(self._make_client)
        if not self._queue_url:
            extra = {"QueueOwnerAWSAccountId": self.address.owner} if self.address.owner else {}
            found = await self._call("find the queue", lambda: self.client.get_queue_url(
                QueueName=self.address.name, **extra))
            self._queue_url = str(found["QueueUrl"])

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError

        region = self.region or None
        if region is None and self.address.endpoint:
            region = boto3.session.Session().region_name or "us-east-1"
        try:
            return boto3.session.Session().client(
                "sqs", region_name=region, endpoint_url=self.address.endpoint or None,
                config=Config(retries={"mode": "standard", "max_attempts": 3},
                              connect_timeout=10, read_timeout=MAX_WAIT_SECONDS + 10))
        except NoRegionError:
            raise ConfigError(f"SQS queue {self.address.name!r}: no AWS region; set AWS_REGION "
                              "or give the queue URL") from None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("SQS queue is not open")
        return self._client

    @property
    def queue_url(self) -> str:
        if not self._queue_url:
            raise RuntimeError("SQS queue is not open")
        return self._queue_url

    # messages ----------------------------------------------------------------------------
    async def publish(self, message: ObjectCreated) -> None:
        body = s3_events.event_body(message)
        await self._call("send a message", lambda: self.client.send_message(
            QueueUrl=self.queue_url, MessageBody=body))

    async def receive(self, *, max_messages: int, wait_seconds: float) -> list[ObjectCreated]:
        deadline = time.monotonic() + max(0.0, wait_seconds)
        found: list[ObjectCreated] = []
        while len(found) < max_messages:
            remaining = deadline - time.monotonic()
            # Long-poll (whole seconds) until the first message; then take what is there.
            wait = 0 if found else int(min(MAX_WAIT_SECONDS, max(0.0, remaining)))
            batch = min(MAX_BATCH, max_messages - len(found))
            raw = await self._receive(batch, wait)
            for message in raw:
                found += await self._decode(message)
            if found and len(raw) < batch:
                break  # the queue has nothing more right now
            if not raw:
                if found or deadline - time.monotonic() <= 0:
                    break
                if wait == 0:
                    await anyio.sleep(min(SHORT_POLL_PAUSE, deadline - time.monotonic()))
        return found

    async def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        try:
            response = await anyio.to_thread.run_sync(
                lambda: self.client.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=count, WaitTimeSeconds=wait,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"]),
                abandon_on_cancel=True)  # a long poll must not hold up shutdown
        except Exception as exc:
            raise self.translate(exc, "receive messages") from None
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    async def _decode(self, message: dict[str, Any]) -> list[ObjectCreated]:
        receipt = str(message["ReceiptHandle"])
        attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        try:
            found = s3_events.parse(str(message.get("Body", "")), receipt=receipt,
                                    attempts=attempts, etag_md5=self.etag_md5)
        except s3_events.NotAnS3Event as exc:
            log.warning("SQS message %s is not an S3 event (%s); leaving it for the "
                        "dead-letter queue", message.get("MessageId", "?"), exc)
            await self._hand_back(receipt, attempts)
            return []
        if not found:  # s3:TestEvent or an event we do not use
            await self._delete(receipt)
            return []
        self._outstanding[receipt] = len(found)
        return found

    async def ack(self, message: ObjectCreated) -> None:
        receipt = message.receipt
        left = self._outstanding.get(receipt)
        if left is not None and left > 1:
            self._outstanding[receipt] = left - 1
            return
        self._outstanding.pop(receipt, None)
        if receipt not in self._settled:
            await self._delete(receipt)

    async def nack(self, message: ObjectCreated) -> None:
        self._outstanding.pop(message.receipt, None)
        if message.receipt not in self._settled:
            await self._hand_back(message.receipt, message.attempts)

    async def check(self) -> None:
        """Read the queue's attributes and receive without taking anything (visibility 0)."""
        await self.attributes()
        await self._call("receive messages", lambda: self.client.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
            VisibilityTimeout=0))

    async def attributes(self) -> dict[str, str]:
        """The queue's attributes (QueueArn, RedrivePolicy, Policy, ...)."""
        got = await self._call("read the queue attributes", lambda: (
            self.client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])))
        attributes: dict[str, str] = got.get("Attributes", {})
        return attributes

    def backoff(self, attempts: int) -> int:
        """Seconds a failed message stays invisible before its next delivery."""
        delay = self._backoff * 2.0 ** max(0, attempts - 1)
        return math.ceil(min(self._max_backoff, delay))

    async def _delete(self, receipt: str) -> None:
        await self._settle(receipt, "delete a message", lambda: self.client.delete_message(
            QueueUrl=self.queue_url, ReceiptHandle=receipt))

    async def _hand_back(self, receipt: str, attempts: int) -> None:
        delay = self.backoff(attempts)
        await self._settle(receipt, "hand a message back", lambda: (
            self.client.change_message_visibility(QueueUrl=self.queue_url,
                                                  ReceiptHandle=receipt,
                                                  VisibilityTimeout=delay)))

    async def _settle(self, receipt: str, action: str, func: Callable[[], Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            await anyio.to_thread.run_sync(func)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _GONE:
                raise self.translate(exc, action) from None
            # The receipt expired (another delivery is under way): nothing left to do here.
            log.info("SQS: could not %s: the receipt is no longer valid", action)
        except Exception as exc:
            raise self.translate(exc, action) from None
        self._settled[receipt] = None
        while len(self._settled) > _SETTLED_MEMORY:
            self._settled.popitem(last=False)

    # errors ------------------------------------------------------------------------------
    async def _call(self, action: str, func: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(func)
        except Exception as exc:
            raise self.translate(exc, action) from None

    def translate(self, exc: Exception, action: str) -> Exception:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = f"SQS queue {self.address.name!r}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _NO_QUEUE:
                why = "the queue does not exist (in this region and account)"
            elif code in {"AccessDenied", "AccessDeniedException"} or status == 403:
                why = (f"access denied ({code}); the server's AWS identity needs "
                       "sqs:GetQueueUrl, sqs:GetQueueAttributes, sqs:ReceiveMessage, "
                       "sqs:DeleteMessage, sqs:ChangeMessageVisibility and sqs:SendMessage")
            else:
                why = f"{code or 'error'} (HTTP {status})"
            return Unavailable(f"{where}: could not {action}: {why}")
        if isinstance(exc, NoCredentialsError):
            return Unavailable(f"{where}: could not {action}: no AWS credentials found "
                               "(environment, shared config or an IAM role)")
        if isinstance(exc, EndpointConnectionError):
            return Unavailable(f"{where}: could not {action}: cannot reach "
                               f"{self.address.endpoint or 'the SQS endpoint'}")
        if isinstance(exc, BotoCoreError):
            return Unavailable(f"{where}: could not {action}: {type(exc).__name__}")
        return exc
