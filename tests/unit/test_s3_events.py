"""S3 event notification bodies -> ObjectCreated, from literal JSON as S3, moto and SNS send it."""

from __future__ import annotations

import json

import pytest

from runyard.queues.base import ObjectCreated
from runyard.queues.s3_events import NotAnS3Event, event_body, parse

MD5 = "900150983cd24fb0d6963f7d28e17f72"

AWS_PUT = """{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1",
"eventTime":"2026-11-29T10:00:00.000Z","eventName":"ObjectCreated:Put",
"userIdentity":{"principalId":"AWS:AROAEXAMPLE"},"requestParameters":{"sourceIPAddress":"10.0.0.1"},
"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
"s3":{"s3SchemaVersion":"1.0","configurationId":"runyard-uploads",
"bucket":{"name":"wandb-files","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::wandb-files"},
"object":{"key":"runyard/runs/7/files/media/images/my+image+%C3%BC.png","size":1024,
"eTag":"900150983cd24fb0d6963f7d28e17f72","sequencer":"0055AED6DCD90281E5"}}}]}"""

MOTO_PUT = """{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
"awsRegion": "us-east-1", "eventTime": "2026-11-29T19:35:08.843Z",
"eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "MsUz7f",
"bucket": {"name": "bkt1", "arn": "arn:aws:s3:::bkt1"}, "object": {
"key": "p%2Fx+y%2F%C3%BC%2B.txt", "size": 3, "eTag": "900150983cd24fb0d6963f7d28e17f72"}}}]}"""

TEST_EVENT = """{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-29T19:35:08.838Z",
"Bucket":"bkt1","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"""


def record(name: str, key: str, size: object = 10, etag: object = MD5) -> dict[str, object]:
    return {"eventName": name, "s3": {"bucket": {"name": "b"},
                                      "object": {"key": key, "size": size, "eTag": etag}}}


def body(*records: dict[str, object]) -> str:
    return json.dumps({"Records": list(records)})


def test_aws_put_event() -> None:
    assert parse(AWS_PUT, receipt="r-1", attempts=3) == [ObjectCreated(
        key="runyard/runs/7/files/media/images/my image ü.png", size=1024, md5=MD5,
        receipt="r-1", attempts=3)]


def test_moto_encodes_slashes_and_plus() -> None:
    [created] = parse(MOTO_PUT)
    assert (created.key, created.size, created.md5) == ("p/x y/ü+.txt", 3, MD5)


def test_test_event_is_skipped() -> None:
    assert parse(TEST_EVENT) == []


def test_several_records_share_the_receipt() -> None:
    got = parse(body(record("ObjectCreated:Put", "a"), record("ObjectCreated:Copy", "b+c", 20)),
                receipt="r", attempts=2)
    assert [(m.key, m.size, m.receipt, m.attempts) for m in got] == [
        ("a", 10, "r", 2), ("b c", 20, "r", 2)]


def test_other_events_are_ignored() -> None:
    got = parse(body(record("ObjectRemoved:Delete", "gone"),
                     record("ObjectCreated:Post", "kept"),
                     record("ObjectRestore:Completed", "cold"),
                     record("s3:ObjectCreated:Put", "x")))
    assert [m.key for m in got] == ["kept", "x"]
    assert parse(body(record("ObjectRemoved:Delete", "gone"))) == []


def test_multipart_etag_is_not_an_md5() -> None:
    got = parse(body(record("ObjectCreated:CompleteMultipartUpload", "big", 99, MD5),
                     record("ObjectCreated:Put", "parts", 99, "0123456789abcdef0123456789abcdef-3"),
                     record("ObjectCreated:Put", "quoted", 1, f'"{MD5.upper()}"'),
                     record("ObjectCreated:Put", "no-etag", 1, None)))
    assert [(m.key, m.md5) for m in got] == [("big", ""), ("parts", ""), ("quoted", MD5),
                                              ("no-etag", "")]


def test_etags_can_be_ignored_for_sse_kms_buckets() -> None:
    [created] = parse(AWS_PUT, etag_md5=False)
    assert (created.size, created.md5) == (1024, "")


def test_missing_or_odd_size_means_look_it_up() -> None:
    got = parse(body(record("ObjectCreated:Put", "a", None), record("ObjectCreated:Put", "b", "7"),
                     record("ObjectCreated:Put", "c", True), record("ObjectCreated:Put", "d", 0)))
    assert [m.size for m in got] == [-1, -1, -1, 0]


def test_sns_wrapped_bodies() -> None:
    def wrapped(inner: str) -> str:
        return json.dumps({"Type": "Notification", "MessageId": "d0e1",
                           "TopicArn": "arn:aws:sns:eu-west-1:123456789012:uploads",
                           "Subject": "Amazon S3 Notification", "Message": inner,
                           "Timestamp": "2026-11-29T10:00:00.000Z",
                           "SignatureVersion": "1", "Signature": "EXAMPLE"})

    [created] = parse(wrapped(AWS_PUT), receipt="r")
    assert created.key == "runyard/runs/7/files/media/images/my image ü.png"
    assert created.receipt == "r"
    assert parse(wrapped(TEST_EVENT)) == []


@pytest.mark.parametrize("text", [
    "", "not json", "[]", "42", '{"hello": "world"}', '{"Records": {}}', '{"Records": [1]}',
    body({"eventName": "ObjectCreated:Put", "s3": {"object": {"size": 1}}}),
    body({"eventName": "ObjectCreated:Put", "s3": {"object": {"key": ""}}}),
    body({"eventName": "ObjectCreated:Put"}),
    json.dumps({"Type": "Notification", "Message": "not json"}),
])
def test_bodies_that_are_not_s3_events(text: str) -> None:
    with pytest.raises(NotAnS3Event):
        parse(text)


@pytest.mark.parametrize("key", ["runs/1/files/a.txt", "runs/1/files/a b+c%20d.txt",
                                 "runs/1/files/ünï 🚀/x&y=z?.txt"])
@pytest.mark.parametrize("size", [-1, 0, 12345])
def test_event_body_round_trips(key: str, size: int) -> None:
    sent = ObjectCreated(key=key, size=size, md5=MD5 if size > 0 else "")
    text = event_body(sent, bucket="b")
    assert json.loads(text)["Records"][0]["eventName"] == "ObjectCreated:Put"
    [got] = parse(text, receipt="rr", attempts=4)
    assert got == ObjectCreated(key=key, size=size, md5=sent.md5, receipt="rr", attempts=4)
