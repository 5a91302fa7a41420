"""S3 event notifications, as S3 sends them to SQS (directly or through an SNS topic).

``parse`` turns one message body into ObjectCreated notifications: one per ``ObjectCreated:*``
record (a body may hold several), none for ``s3:TestEvent`` (sent when a notification is set up)
or other events (removals, restores...). Keys arrive URL-encoded (``+`` for a space, ``%2F``
for ``/`` on some servers) and are decoded once, here. The ETag is an MD5 only for a
single-part upload without SSE-KMS; otherwise ``md5`` is "".

``event_body`` writes the same shape, so the server's own "check this upload" messages (size
-1: look the blob up) travel through SQS like the bucket's.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from runyard.queues.base import ObjectCreated
from runyard.stores.blobs.s3 import md5_from_etag

TEST_EVENT = "s3:TestEvent"
RUNYARD_SOURCE = "runyard"


class NotAnS3Event(ValueError):
    """The body is not an S3 event notification (or is a broken one)."""


def _load(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        raise NotAnS3Event("message body is not text")
    try:
        data = json.loads(text)
    except ValueError:
        raise NotAnS3Event("message body is not JSON") from None
    if not isinstance(data, dict):
        raise NotAnS3Event("message body is not a JSON object")
    return data


def parse(body: str, *, receipt: str = "", attempts: int = 1,
          etag_md5: bool = True) -> list[ObjectCreated]:
    """The ObjectCreated notifications in one message body; NotAnS3Event if it has none to
    give and is not an event we knowingly skip.

    ``etag_md5=False`` ignores ETags: with SSE-KMS (configured, or the bucket's default) an
    ETag is not the MD5 of the bytes, and nothing in the event says so.
    """
    data = _load(body)
    if data.get("Type") == "Notification" and "Message" in data:  # delivered through SNS
        data = _load(data["Message"])
    if data.get("Event") == TEST_EVENT:
        return []
    records = data.get("Records")
    if not isinstance(records, list):
        raise NotAnS3Event("no 'Records' list in the message")
    found: list[ObjectCreated] = []
    for record in records:
        if not isinstance(record, dict):
            raise NotAnS3Event("a record is not a JSON object")
        name = str(record.get("eventName", "")).removeprefix("s3:")
        if not name.startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3")
        obj = s3.get("object") if isinstance(s3, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not obj["key"]:
            raise NotAnS3Event(f"{name} record without an object key")
        raw_key: str = obj["key"]
        size = obj.get("size")
        etag = obj.get("eTag", obj.get("etag", ""))
        trusted = etag_md5 and name != "ObjectCreated:CompleteMultipartUpload"
        found.append(ObjectCreated(
            key=unquote_plus(raw_key),
            size=size if isinstance(size, int) and not isinstance(size, bool) else -1,
            md5=md5_from_etag(etag) if trusted and isinstance(etag, str) else "",
            receipt=receipt, attempts=attempts))
    return found


def event_body(message: ObjectCreated, *, bucket: str = "") -> str:
    """An S3-event-shaped body for one notification (size < 0 means: look the blob up)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    record = {
        "eventVersion": "2.1",
        "eventSource": RUNYARD_SOURCE,
        "eventTime": now,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket},
            "object": {"key": quote_plus(message.key, safe="/"), "size": message.size,
                       "eTag": message.md5},
        },
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"))
