"""What only the S3 blob store does: pre-signed URLs, SSE-KMS, multipart, keys under a prefix,
and error translation. Runs on SeaweedFS (a real S3 server, which enforces signatures) and on
moto (which has KMS but does not check signatures: those cases are skipped there).
"""

from __future__ import annotations

import hashlib
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from runyard import registry
from runyard.errors import BadRequest, ConfigError, NotFound, PayloadTooLarge, Unavailable
from runyard.settings import Settings
from runyard.stores.blobs.s3 import MIN_PART_SIZE, S3BlobStore, md5_from_etag, parse_s3_url
from tests.services import ACCESS_KEY, SECRET_KEY, AwsService

T = TypeVar("T")
PART = MIN_PART_SIZE  # 5 MiB: the smallest part size S3 allows


@pytest.fixture(params=["seaweedfs", "moto"])
def service(request: pytest.FixtureRequest, aws_env: pytest.MonkeyPatch) -> AwsService:
    found: AwsService = request.getfixturevalue(request.param)
    return found


@pytest.fixture(scope="session")
def kms_key(moto: AwsService) -> str:
    return str(moto.client("kms").create_key()["KeyMetadata"]["KeyId"])


def settings_for(service: AwsService, bucket: str, prefix: str = "data/runyard",
                 kms_key: str = "") -> Settings:
    return Settings(blob_store_url=f"s3://{bucket}/{prefix}", blob_store_region=service.region,
                    blob_store_endpoint=service.endpoint, blob_store_kms_key=kms_key)


def with_store(store: S3BlobStore, body: Callable[[S3BlobStore], Awaitable[T]]) -> T:
    async def main() -> T:
        await store.open()
        try:
            return await body(store)
        finally:
            await store.close()

    return anyio.run(main)


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def blocks(count: int, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    """``count`` blocks of ``size`` bytes, each different, made on the fly."""
    for i in range(count):
        yield hashlib.sha256(str(i).encode()).digest() * (size // 32)


def expected_md5(count: int, size: int = 1024 * 1024) -> str:
    digest = hashlib.md5()  # noqa: S324 - checksum under test
    for i in range(count):
        digest.update(hashlib.sha256(str(i).encode()).digest() * (size // 32))
    return digest.hexdigest()


def headers_of(store: S3BlobStore) -> dict[str, str]:
    return dict(h.split(":", 1) for h in store.upload_headers())


# pre-signed URLs ---------------------------------------------------------------------------
def test_presigned_put_then_get_with_plain_http(service: AwsService) -> None:
    bucket = service.create_bucket()
    store = S3BlobStore(settings_for(service, bucket))
    data = b"uploaded straight to the bucket \x00\xff"

    def transfer(s: S3BlobStore) -> tuple[str, str]:
        return (s.presign("PUT", "runs/1/files/ü b+c.txt", 60) or "",
                s.presign("GET", "runs/1/files/ü b+c.txt", 60) or "")

    async def stat(s: S3BlobStore) -> Any:
        return await s.stat("runs/1/files/ü b+c.txt")

    put_url, get_url = with_store(store, lambda s: anyio.to_thread.run_sync(transfer, s))
    assert store.direct_transfers is True
    assert put_url.startswith(f"{service.endpoint}/{bucket}/data/runyard/runs/1/files/")
    assert httpx.put(put_url, content=data).status_code == 200
    got = httpx.get(get_url)
    assert (got.status_code, got.content) == (200, data)
    info = with_store(store, stat)
    assert (info.size, info.md5) == (len(data), hashlib.md5(data).hexdigest())  # noqa: S324
    head = service.client("s3").head_object(Bucket=bucket,
                                            Key="data/runyard/runs/1/files/ü b+c.txt")
    assert head["ContentLength"] == len(data)


def test_runtime_hands_out_presigned_urls(service: AwsService) -> None:
    bucket = service.create_bucket()
    store = registry.blob_store(settings_for(service, bucket))
    assert isinstance(store, S3BlobStore)

    async def body(s: S3BlobStore) -> str | None:
        return s.presign("GET", "k", 3600)

    assert (with_store(store, body) or "").startswith(f"{service.endpoint}/{bucket}/data/")


def test_tampered_signature_is_refused(service: AwsService) -> None:
    if service.name == "moto":
        pytest.skip("moto does not check signatures")
    bucket = service.create_bucket()
    store = S3BlobStore(settings_for(service, bucket))

    async def urls(s: S3BlobStore) -> tuple[str, str]:
        await s.put("secret", one(b"private"), max_bytes=100)
        return s.presign("PUT", "k", 60) or "", s.presign("GET", "secret", 60) or ""

    put_url, get_url = with_store(store, urls)

    def tamper(url: str) -> str:
        head, signature = url.rsplit("X-Amz-Signature=", 1)
        return f"{head}X-Amz-Signature={'0' if signature[0] != '0' else '1'}{signature[1:]}"

    assert httpx.put(tamper(put_url), content=b"evil").status_code == 403
    assert httpx.get(tamper(get_url)).status_code == 403
    # a URL for one key does not open another
    assert httpx.get(get_url.replace("/secret?", "/other?")).status_code == 403
    assert httpx.get(get_url).content == b"private"


def test_expired_presigned_url_is_refused(service: AwsService) -> None:
    if service.name == "moto":
        pytest.skip("moto does not check signatures or expiry")
    bucket = service.create_bucket()
    store = S3BlobStore(settings_for(service, bucket))
    put_url = with_store(store, lambda s: anyio.to_thread.run_sync(s.presign, "PUT", "k", 1))
    assert put_url is not None
    time.sleep(1.5)  # X-Amz-Date has whole seconds: the URL ends at most 1 s after signing
    response = httpx.put(put_url, content=b"late")
    assert response.status_code == 403
    assert "expired" in response.text.lower()


def test_presign_rejects_other_methods_and_unsafe_keys(seaweedfs: AwsService,
                                                       aws_env: pytest.MonkeyPatch) -> None:
    store = S3BlobStore(settings_for(seaweedfs, seaweedfs.create_bucket()))

    async def body(s: S3BlobStore) -> None:
        with pytest.raises(BadRequest):
            s.presign("DELETE", "k", 60)
        with pytest.raises(BadRequest):
            s.presign("GET", "../escape", 60)

    with_store(store, body)


# SSE-KMS ---------------------------------------------------------------------------------
def test_kms_objects_are_stored_with_the_key(moto: AwsService, aws_env: pytest.MonkeyPatch,
                                             kms_key: str) -> None:
    bucket = moto.create_bucket()
    store = S3BlobStore(settings_for(moto, bucket, kms_key=kms_key), part_size=PART)
    s3 = moto.client("s3")

    async def body(s: S3BlobStore) -> str:
        await s.put("small", one(b"tiny"), max_bytes=100)
        await s.put("large", blocks(6), max_bytes=10 * PART)  # multipart
        return s.presign("PUT", "direct", 60) or ""

    put_url = with_store(store, body)
    assert store.upload_headers() == ["x-amz-server-side-encryption:aws:kms",
                                      f"x-amz-server-side-encryption-aws-kms-key-id:{kms_key}"]
    assert "x-amz-server-side-encryption" in put_url  # the SSE headers are signed
    assert httpx.put(put_url, content=b"direct", headers=headers_of(store)).status_code == 200
    for key in ("small", "large", "direct"):
        head = s3.head_object(Bucket=bucket, Key=f"data/runyard/{key}")
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"].endswith(kms_key), key

    async def stat(s: S3BlobStore) -> str:
        info = await s.stat("small")
        assert info is not None
        return info.md5

    assert with_store(store, stat) == ""  # an SSE-KMS ETag is not an MD5


def test_without_a_kms_key_no_headers_are_needed(seaweedfs: AwsService,
                                                 aws_env: pytest.MonkeyPatch) -> None:
    store = S3BlobStore(settings_for(seaweedfs, "any-bucket"))
    assert store.upload_headers() == []


# multipart -------------------------------------------------------------------------------
def test_large_body_goes_up_in_parts_without_holding_it(service: AwsService) -> None:
    bucket = service.create_bucket()
    store = S3BlobStore(settings_for(service, bucket), part_size=PART)
    count = 21  # MiB: five parts of >= 5 MiB and a last small one

    async def body(s: S3BlobStore) -> tuple[Any, int, bytes]:
        tracemalloc.start()
        try:
            info = await s.put("big/blob.bin", blocks(count), max_bytes=64 * PART)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        digest = hashlib.md5()  # noqa: S324
        async for chunk in await s.get("big/blob.bin"):
            digest.update(chunk)
        return info, peak, digest.hexdigest().encode()

    info, peak, read_md5 = with_store(store, body)
    assert (info.size, info.md5) == (count * 1024 * 1024, expected_md5(count))
    assert read_md5.decode() == expected_md5(count)
    assert peak < 3 * PART, f"put held {peak} bytes for a {count} MiB body"
    head = service.client("s3").head_object(Bucket=bucket, Key="data/runyard/big/blob.bin")
    assert head["ETag"].strip('"').endswith("-5")
    assert md5_from_etag(head["ETag"]) == ""

    async def stat(s: S3BlobStore) -> Any:
        return await s.stat("big/blob.bin")

    stat_info = with_store(store, stat)
    assert (stat_info.size, stat_info.md5) == (count << 20, "")


@pytest.mark.parametrize("failure", ["iterator", "too-large", "cancelled"])
def test_failed_multipart_upload_is_aborted(service: AwsService, failure: str) -> None:
    bucket = service.create_bucket()
    store = S3BlobStore(settings_for(service, bucket), part_size=PART)
    s3 = service.client("s3")

    class ClientWentAway(Exception):
        pass

    scopes: list[anyio.CancelScope] = []

    async def broken() -> AsyncIterator[bytes]:
        async for block in blocks(12):
            yield block
        if failure == "cancelled":
            scopes[0].cancel()  # as if the client went away after two parts were sent
            await anyio.sleep(30)
        raise ClientWentAway

    async def body(s: S3BlobStore) -> None:
        if failure == "iterator":
            with pytest.raises(ClientWentAway):
                await s.put("up/big", broken(), max_bytes=64 * PART)
        elif failure == "too-large":
            with pytest.raises(PayloadTooLarge):
                await s.put("up/big", blocks(12), max_bytes=11 * 1024 * 1024)
        else:
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                await s.put("up/big", broken(), max_bytes=64 * PART)
            assert scope.cancelled_caught
        assert await s.stat("up/big") is None

    with_store(store, body)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []


# keys ------------------------------------------------------------------------------------
def test_relative_key_strips_the_prefix() -> None:
    store = S3BlobStore(Settings(blob_store_url="s3://bucket/deploy/runyard/"))
    assert (store.bucket, store.prefix) == ("bucket", "deploy/runyard")
    assert store.object_key("runs/1/files/a b.txt") == "deploy/runyard/runs/1/files/a b.txt"
    assert store.relative_key("deploy/runyard/runs/1/files/a b.txt") == "runs/1/files/a b.txt"
    assert store.relative_key("deploy/runyard/runs/1/files/a+b%2B.txt") == (
        "runs/1/files/a+b%2B.txt")  # already decoded: not decoded twice
    assert store.relative_key("deploy/runyard") is None
    assert store.relative_key("deploy/runyard/") is None
    assert store.relative_key("deploy/runyard2/runs/1") is None
    assert store.relative_key("other/runs/1/files/a") is None
    assert store.relative_key("runs/1/files/a") is None
    # an event key that was not decoded yet (moto encodes '/' as %2F)
    assert store.relative_key("deploy%2Frunyard%2Fruns%2F1%2Ffiles%2Fa+b%C3%BC.txt") == (
        "runs/1/files/a bü.txt")


def test_relative_key_without_a_prefix() -> None:
    store = S3BlobStore(Settings(blob_store_url="s3://bucket"))
    assert store.prefix == ""
    assert store.object_key("runs/1/files/a") == "runs/1/files/a"
    assert store.relative_key("runs/1/files/a") == "runs/1/files/a"
    assert store.relative_key("") is None


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "file:///tmp", "s3://b/../x",
                                 "s3://b/a//b"])
def test_bad_s3_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_s3_url(url)


def test_constructor_does_no_io() -> None:
    store = S3BlobStore(Settings(blob_store_url="s3://bucket/p",
                                 blob_store_endpoint="http://127.0.0.1:9"))
    with pytest.raises(RuntimeError, match="not open"):
        store.presign("GET", "k", 60)


# errors ----------------------------------------------------------------------------------
def test_missing_bucket_is_unavailable(service: AwsService) -> None:
    bucket = f"missing-{uuid.uuid4().hex[:12]}"
    store = S3BlobStore(settings_for(service, bucket))
    with pytest.raises(Unavailable, match=bucket):
        with_store(store, lambda s: anyio.sleep(0))


def test_refused_credentials_are_unavailable_without_the_secret(
    seaweedfs: AwsService, aws_env: pytest.MonkeyPatch
) -> None:
    bucket = seaweedfs.create_bucket()
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-" + SECRET_KEY)
    store = S3BlobStore(settings_for(seaweedfs, bucket))

    async def body(s: S3BlobStore) -> None:
        await s.put("k", one(b"x"), max_bytes=10)

    with pytest.raises(Unavailable) as caught:
        with_store(store, body)
    message = caught.value.message
    assert bucket in message
    assert SECRET_KEY not in message
    assert ACCESS_KEY not in message
    assert "credentials were refused" in message or "access denied" in message


def test_unreachable_endpoint_is_unavailable(aws_env: pytest.MonkeyPatch) -> None:
    from tests.services import free_port

    store = S3BlobStore(Settings(blob_store_url="s3://bucket/p", blob_store_region="us-east-1",
                                 blob_store_endpoint=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(Unavailable, match="cannot reach"):
        with_store(store, lambda s: anyio.sleep(0))


def test_missing_objects_are_not_found(service: AwsService) -> None:
    store = S3BlobStore(settings_for(service, service.create_bucket()))

    async def body(s: S3BlobStore) -> None:
        assert await s.stat("nope") is None
        with pytest.raises(NotFound):
            await s.get("nope")
        assert await s.delete("nope") is False

    with_store(store, body)
