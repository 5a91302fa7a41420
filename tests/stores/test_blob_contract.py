"""Contract of the blob store port, run against every adapter.

To add an adapter, add a ``BlobBackend`` to ``BACKENDS``: the settings that make
``registry.blob_store`` choose it and a way to list every object it holds (to prove that failed
uploads leave nothing behind). Each test runs in one event loop, opened and closed inside.

S3 runs on SeaweedFS (a real S3 server) and on moto with SSE-KMS; each test gets its own prefix
in a bucket shared by the session, and unfinished multipart uploads count as leftovers.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from runyard import registry
from runyard.errors import BadRequest, NotFound, PayloadTooLarge
from runyard.settings import Settings
from runyard.stores.blobs.base import BlobStore
from tests.services import AwsService

T = TypeVar("T")


@dataclass
class BlobBackend:
    settings: Settings
    leftovers: Callable[[], list[str]]  # every object/file the backend holds, incl. temp files

    def run(self, body: Callable[[BlobStore], Awaitable[T]]) -> T:
        async def main() -> T:
            store = registry.blob_store(self.settings)
            await store.open()
            try:
                return await body(store)
            finally:
                await store.close()

        return anyio.run(main)


def _local(request: pytest.FixtureRequest, tmp_path: Path) -> BlobBackend:
    root = tmp_path / "blobs"

    def leftovers() -> list[str]:
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())

    return BlobBackend(Settings(data_dir=tmp_path, blob_store_url=root.as_uri()), leftovers)


@dataclass
class S3Bucket:
    """One bucket per S3 service and session; tests use their own prefixes in it."""

    service: AwsService
    name: str
    kms_key: str = ""

    @property
    def s3(self) -> Any:
        return self.service.client("s3")


@pytest.fixture(scope="session")
def seaweedfs_bucket(seaweedfs: AwsService) -> S3Bucket:
    return S3Bucket(seaweedfs, seaweedfs.create_bucket())


@pytest.fixture(scope="session")
def moto_kms_bucket(moto: AwsService) -> S3Bucket:
    key = moto.client("kms").create_key(Description="runyard blob tests")["KeyMetadata"]["KeyId"]
    return S3Bucket(moto, moto.create_bucket(), kms_key=key)


def s3_backend(request: pytest.FixtureRequest, bucket: S3Bucket) -> BlobBackend:
    request.getfixturevalue("aws_env")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings = Settings(blob_store_url=f"s3://{bucket.name}/{prefix}",
                        blob_store_region=bucket.service.region,
                        blob_store_endpoint=bucket.service.endpoint,
                        blob_store_kms_key=bucket.kms_key)
    s3 = bucket.s3

    def leftovers() -> list[str]:
        head = prefix + "/"
        objects = s3.list_objects_v2(Bucket=bucket.name, Prefix=head).get("Contents", [])
        uploads = s3.list_multipart_uploads(Bucket=bucket.name, Prefix=head).get("Uploads", [])
        if bucket.kms_key:  # whatever is left was stored with SSE-KMS under the configured key
            for o in objects:
                stored = s3.head_object(Bucket=bucket.name, Key=o["Key"])
                assert stored["ServerSideEncryption"] == "aws:kms"
                assert stored["SSEKMSKeyId"].endswith(bucket.kms_key)
        return sorted([o["Key"][len(head):] for o in objects]
                      + [f"unfinished multipart upload: {u['Key']}" for u in uploads])

    return BlobBackend(settings, leftovers)


def _seaweedfs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobBackend:
    return s3_backend(request, request.getfixturevalue("seaweedfs_bucket"))


def _moto_kms(request: pytest.FixtureRequest, tmp_path: Path) -> BlobBackend:
    return s3_backend(request, request.getfixturevalue("moto_kms_bucket"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], BlobBackend]] = {
    "local": _local, "s3-seaweedfs": _seaweedfs, "s3-moto-kms": _moto_kms}


@pytest.fixture(params=sorted(BACKENDS))
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobBackend:
    return BACKENDS[request.param](request, tmp_path)


async def chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        await anyio.sleep(0)
        yield part


async def read_all(store: BlobStore, key: str) -> bytes:
    return b"".join([part async for part in await store.get(key)])


PARTS = [b"hello ", b"", b"world\x00\xff", bytes(range(256)) * 4096]  # ~1 MiB in total
DATA = b"".join(PARTS)
MD5 = hashlib.md5(DATA).hexdigest()  # noqa: S324 - checksum under test


def test_put_get_round_trip(blobs: BlobBackend) -> None:
    async def body(store: BlobStore) -> None:
        info = await store.put("runs/1/files/data.bin", chunks(PARTS), max_bytes=len(DATA))
        assert (info.key, info.size, info.md5) == ("runs/1/files/data.bin", len(DATA), MD5)
        assert await read_all(store, "runs/1/files/data.bin") == DATA
        stat = await store.stat("runs/1/files/data.bin")
        assert stat is not None
        assert (stat.key, stat.size) == ("runs/1/files/data.bin", len(DATA))
        assert stat.md5 in ("", MD5)

    blobs.run(body)


@pytest.mark.parametrize(("start", "end"), [(0, 1), (6, 11), (100, None), (0, len(DATA)),
                                            (len(DATA) - 3, None), (5000, 900_000)])
def test_byte_ranges(blobs: BlobBackend, start: int, end: int | None) -> None:
    async def body(store: BlobStore) -> None:
        await store.put("ranged/data.bin", chunks(PARTS), max_bytes=len(DATA))
        got = b"".join([p async for p in await store.get("ranged/data.bin", start=start,
                                                         end=end)])
        assert got == DATA[start:end]

    blobs.run(body)


def test_large_blob_streams_back_in_chunks(blobs: BlobBackend) -> None:
    block = hashlib.sha256(b"x").digest() * 32768  # 1 MiB
    parts = [block] * 5

    async def body(store: BlobStore) -> None:
        info = await store.put("big/blob", chunks(parts), max_bytes=10 * len(block))
        assert info.size == 5 * len(block)
        assert info.md5 == hashlib.md5(block * 5).hexdigest()  # noqa: S324
        received = [part async for part in await store.get("big/blob")]
        assert len(received) > 1
        assert b"".join(received) == block * 5

    blobs.run(body)


def test_empty_blob(blobs: BlobBackend) -> None:
    async def body(store: BlobStore) -> None:
        info = await store.put("empty", chunks([]), max_bytes=10)
        assert (info.size, info.md5) == (0, hashlib.md5(b"").hexdigest())  # noqa: S324
        assert await read_all(store, "empty") == b""
        stat = await store.stat("empty")
        assert stat is not None
        assert stat.size == 0

    blobs.run(body)


def test_put_overwrites(blobs: BlobBackend) -> None:
    async def body(store: BlobStore) -> None:
        await store.put("k/v", chunks([b"first version, longer"]), max_bytes=100)
        info = await store.put("k/v", chunks([b"second"]), max_bytes=100)
        assert (info.size, info.md5) == (6, hashlib.md5(b"second").hexdigest())  # noqa: S324
        assert await read_all(store, "k/v") == b"second"
        stat = await store.stat("k/v")
        assert stat is not None
        assert stat.size == 6

    blobs.run(body)
    assert blobs.leftovers() == ["k/v"]


def test_missing_blob(blobs: BlobBackend) -> None:
    async def body(store: BlobStore) -> None:
        assert await store.stat("no/such/key") is None
        with pytest.raises(NotFound):
            await read_all(store, "no/such/key")
        assert await store.delete("no/such/key") is False

    blobs.run(body)


def test_delete(blobs: BlobBackend) -> None:
    async def body(store: BlobStore) -> None:
        await store.put("a/1", chunks([b"one"]), max_bytes=10)
        await store.put("a/2", chunks([b"two"]), max_bytes=10)
        assert await store.delete("a/1") is True
        assert await store.stat("a/1") is None
        with pytest.raises(NotFound):
            await read_all(store, "a/1")
        assert await store.delete("a/1") is False
        assert await read_all(store, "a/2") == b"two"

    blobs.run(body)
    assert blobs.leftovers() == ["a/2"]


def test_keys_are_independent(blobs: BlobBackend) -> None:
    async def body(store: BlobStore) -> None:
        await store.put("runs/1/files/a", chunks([b"1a"]), max_bytes=10)
        await store.put("runs/1/files/a.bak", chunks([b"1a.bak"]), max_bytes=10)
        await store.put("runs/2/files/a", chunks([b"2a"]), max_bytes=10)
        await store.put("runs/1/files/ünï 🚀.txt", chunks([b"unicode"]), max_bytes=10)
        assert await read_all(store, "runs/1/files/a") == b"1a"
        assert await read_all(store, "runs/1/files/a.bak") == b"1a.bak"
        assert await read_all(store, "runs/2/files/a") == b"2a"
        assert await read_all(store, "runs/1/files/ünï 🚀.txt") == b"unicode"

    blobs.run(body)


def test_exactly_max_bytes_is_accepted(blobs: BlobBackend) -> None:
    async def body(store: BlobStore) -> None:
        info = await store.put("k", chunks([b"12345", b"67890"]), max_bytes=10)
        assert info.size == 10

    blobs.run(body)


@pytest.mark.parametrize("existing", [False, True], ids=["new-key", "existing-key"])
def test_payload_too_large_leaves_nothing_behind(blobs: BlobBackend, existing: bool) -> None:
    async def body(store: BlobStore) -> None:
        if existing:
            await store.put("up/load", chunks([b"old"]), max_bytes=10)
        with pytest.raises(PayloadTooLarge):
            await store.put("up/load", chunks([b"12345", b"67890", b"1"]), max_bytes=10)
        if existing:
            assert await read_all(store, "up/load") == b"old"
        else:
            assert await store.stat("up/load") is None

    blobs.run(body)
    assert blobs.leftovers() == (["up/load"] if existing else [])


def test_failing_iterator_leaves_nothing_behind(blobs: BlobBackend) -> None:
    class ClientWentAway(Exception):
        pass

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial data " * 1000
        yield b"more"
        raise ClientWentAway

    async def body(store: BlobStore) -> None:
        with pytest.raises(ClientWentAway):
            await store.put("up/broken", broken(), max_bytes=1 << 20)
        assert await store.stat("up/broken") is None
        with pytest.raises(NotFound):
            await read_all(store, "up/broken")

    blobs.run(body)
    assert blobs.leftovers() == []


def test_cancelled_upload_leaves_nothing_behind(blobs: BlobBackend) -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield b"start"
        await anyio.sleep(30)
        yield b"never"

    async def body(store: BlobStore) -> None:
        started = time.monotonic()
        with anyio.move_on_after(0.2):
            await store.put("up/cancelled", slow(), max_bytes=1 << 20)
        assert time.monotonic() - started < 5
        assert await store.stat("up/cancelled") is None

    blobs.run(body)
    assert blobs.leftovers() == []


BAD_KEYS = ["../escape", "a/../../escape", "a/..", "/etc/passwd", "/abs", "a\x00b", "",
            "a//b", "./a", "a/./b", "\\windows", "C:\\x", "..\\escape"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_unsafe_keys_are_rejected(blobs: BlobBackend, key: str) -> None:
    async def body(store: BlobStore) -> None:
        with pytest.raises(BadRequest):
            await store.put(key, chunks([b"x"]), max_bytes=10)
        with pytest.raises(BadRequest):
            await store.get(key)
        with pytest.raises(BadRequest):
            await store.stat(key)
        with pytest.raises(BadRequest):
            await store.delete(key)

    blobs.run(body)
    assert blobs.leftovers() == []
