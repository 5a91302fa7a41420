"""S3 blob store (``s3://BUCKET/PREFIX``): AWS S3 or an S3-compatible server.

Clients move bytes straight to the bucket with pre-signed URLs (``direct_transfers``). Uploads
through the server stream: a body that fits in one part is sent with one PUT, a larger one as a
multipart upload that is aborted when anything fails, so a failed upload leaves nothing behind.
With a KMS key every object is written with SSE-KMS, pre-signed PUTs included (the SSE headers
are signed and handed to the client through ``upload_headers``).

Credentials come from boto3's usual chain (environment, shared config, IAM role / IRSA). Every
boto3 call runs in a worker thread. Errors are translated at this boundary: a missing key is
NotFound; a missing bucket, refused credentials, throttling or an unreachable endpoint is
Unavailable, with a message naming the bucket and never the credentials.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import unquote_plus, urlparse

import anyio

from runyard.errors import BadRequest, ConfigError, NotFound, PayloadTooLarge, Unavailable
from runyard.settings import Settings
from runyard.stores.blobs.base import BlobInfo, BlobStore
from runyard.stores.keys import check_key

log = logging.getLogger("runyard.s3")

T = TypeVar("T")

READ_CHUNK = 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part (all but the last)
DEFAULT_PART_SIZE = 16 * 1024 * 1024
MAX_PARTS = 10_000
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 limit
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
_MISSING = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "AllAccessDisabled", "AccountProblem"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                    "InvalidToken", "TokenRefreshRequired", "InvalidClientTokenId"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ("bucket", "some/prefix")."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigError(f"not an S3 URL (want s3://BUCKET/PREFIX): {url!r}")
    prefix = parsed.path.strip("/")
    if prefix:
        try:
            check_key(prefix)
        except BadRequest:
            raise ConfigError(f"unusable prefix in S3 URL {url!r}") from None
    return parsed.netloc, prefix


def md5_from_etag(etag: str) -> str:
    """The MD5 an ETag stands for: only a plain (single-part) ETag is one; else ""."""
    value = etag.strip().strip('"').lower()
    return value if _MD5_ETAG.match(value) else ""


class S3BlobStore(BlobStore):
    direct_transfers = True

    def __init__(self, settings: Settings, *, part_size: int = DEFAULT_PART_SIZE) -> None:
        self.bucket, self.prefix = parse_s3_url(settings.resolved_blob_store_url)
        self.region = settings.blob_store_region
        self.endpoint = settings.blob_store_endpoint.rstrip("/")
        self.kms_key = settings.blob_store_kms_key
        if part_size < MIN_PART_SIZE:
            raise ConfigError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")
        self.part_size = part_size
        self._client: Any = None

    # lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        from botocore.exceptions import ClientError

        client = await anyio.to_thread.run_sync(self._make_client)
        try:
            await anyio.to_thread.run_sync(lambda: client.head_bucket(Bucket=self.bucket))
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:  # HEAD has no error body: a 404 here is the bucket
                client.close()
                raise Unavailable(f"S3 bucket {self.bucket!r}: could not reach the bucket: "
                                  "the bucket does not exist") from None
            if status != 403:
                client.close()
                raise self.translate(exc, "reach the bucket") from None
            # HeadBucket needs s3:ListBucket; object access may still be allowed.
            log.warning("S3 bucket %r: HeadBucket was refused; continuing (object operations "
                        "will tell whether access works)", self.bucket)
        except Exception as exc:
            client.close()
            raise self.translate(exc, "reach the bucket") from None
        self._client = client

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {"signature_version": "s3v4",
                                   "retries": {"mode": "standard", "max_attempts": 3},
                                   "connect_timeout": 10, "read_timeout": 120}
        if self.endpoint:
            # S3-compatible servers: bucket in the path, checksums only where S3 needs them.
            options.update(s3={"addressing_style": "path"},
                           request_checksum_calculation="when_required",
                           response_checksum_validation="when_required")
        return boto3.session.Session().client(
            "s3", region_name=self.region or None, endpoint_url=self.endpoint or None,
            config=Config(**options))

    @property
    def client(self) -> Any:
        """The boto3 S3 client (for checks such as ``runyard storage check``)."""
        if self._client is None:
            raise RuntimeError("S3 blob store is not open")
        return self._client

    # keys --------------------------------------------------------------------------------
    def object_key(self, key: str) -> str:
        """The bucket's object key for our key (the prefix joined in front)."""
        checked = check_key(key)
        return f"{self.prefix}/{checked}" if self.prefix else checked

    def relative_key(self, object_key: str) -> str | None:
        """Our key for a bucket object key; None outside the prefix.

        Keys from S3 event notifications are URL-encoded; the queue adapters decode them. A key
        that is only under the prefix once decoded (an undecoded event key) is decoded here.
        """
        found = self._strip_prefix(object_key)
        if found is None and object_key != unquote_plus(object_key):
            found = self._strip_prefix(unquote_plus(object_key))
        return found

    def _strip_prefix(self, object_key: str) -> str | None:
        if not self.prefix:
            return object_key or None
        head = self.prefix + "/"
        if not object_key.startswith(head) or len(object_key) == len(head):
            return None
        return object_key[len(head):]

    # direct transfers --------------------------------------------------------------------
    def _sse(self) -> dict[str, str]:
        if not self.kms_key:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key}

    def presign(self, method: str, key: str, ttl_seconds: int) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self.object_key(key)}
        if method == "GET":
            operation = "get_object"
        elif method == "PUT":
            operation, params = "put_object", {**params, **self._sse()}
        else:
            raise BadRequest(f"cannot pre-sign {method!r}: only GET and PUT")
        ttl = max(1, min(int(ttl_seconds), MAX_PRESIGN_SECONDS))
        return str(self.client.generate_presigned_url(operation, Params=params, ExpiresIn=ttl))

    def upload_headers(self) -> list[str]:
        """The signed SSE-KMS headers a pre-signed PUT must carry (``Name:Value``)."""
        if not self.kms_key:
            return []
        return ["x-amz-server-side-encryption:aws:kms",
                f"x-amz-server-side-encryption-aws-kms-key-id:{self.kms_key}"]

    # blobs -------------------------------------------------------------------------------
    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> BlobInfo:
        object_key = self.object_key(key)
        client = self.client
        part_size = max(self.part_size, -(-max_bytes // MAX_PARTS))
        digest = hashlib.md5()  # noqa: S324 - content checksum, not security
        size = 0
        buffer = bytearray()
        upload: _MultipartUpload | None = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"upload is larger than {max_bytes} bytes")
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= part_size:
                    if upload is None:
                        upload = _MultipartUpload(self, object_key)
                        with anyio.CancelScope(shield=True):  # never lose the upload id
                            await upload.start()
                    part, buffer = buffer, bytearray()
                    await upload.send(part)
            if upload is None:
                await self._call("write an object", lambda: client.put_object(
                    Bucket=self.bucket, Key=object_key, Body=buffer, **self._sse()))
            else:
                if buffer:
                    await upload.send(buffer)
                await upload.complete()
        except BaseException:
            if upload is not None:
                with anyio.CancelScope(shield=True):
                    await upload.abort()
            raise
        return BlobInfo(key, size, digest.hexdigest())

    async def get(self, key: str, *, start: int = 0, end: int | None = None
                  ) -> AsyncIterator[bytes]:
        object_key = self.object_key(key)
        client = self.client
        extra: dict[str, str] = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        response = await self._call("read an object", lambda: client.get_object(
            Bucket=self.bucket, Key=object_key, **extra))
        return self._stream(response["Body"])

    async def _stream(self, body: Any) -> AsyncIterator[bytes]:
        try:
            while True:
                block = await self._call("read an object", lambda: body.read(READ_CHUNK))
                if not block:
                    return
                yield bytes(block)
        finally:
            await anyio.to_thread.run_sync(body.close)

    async def stat(self, key: str) -> BlobInfo | None:
        object_key = self.object_key(key)
        client = self.client
        try:
            head = await self._call("look up an object", lambda: client.head_object(
                Bucket=self.bucket, Key=object_key))
        except NotFound:
            return None
        # An SSE-KMS object's ETag is not the MD5 of its bytes.
        encrypted = head.get("ServerSideEncryption") == "aws:kms"
        md5 = "" if encrypted else md5_from_etag(str(head.get("ETag", "")))
        return BlobInfo(key, int(head["ContentLength"]), md5)

    async def delete(self, key: str) -> bool:
        object_key = self.object_key(key)
        client = self.client
        if await self.stat(key) is None:
            return False
        await self._call("delete an object", lambda: client.delete_object(
            Bucket=self.bucket, Key=object_key))
        return True

    # errors ------------------------------------------------------------------------------
    async def _call(self, action: str, func: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(func)
        except Exception as exc:
            raise self.translate(exc, action) from None

    def translate(self, exc: Exception, action: str) -> Exception:
        """A RunyardError for a boto error (other exceptions are returned unchanged)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
        )

        where = f"S3 bucket {self.bucket!r}"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _MISSING:
                return NotFound("no such file")
            if code == "NoSuchBucket":
                why = "the bucket does not exist"
            elif code in _BAD_CREDENTIALS:
                why = f"the AWS credentials were refused ({code})"
            elif code in _DENIED or code.startswith("KMS.") or status == 403:
                why = f"access denied ({code}); the server's AWS identity needs s3:GetObject, " \
                      "s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket" + (
                          " and kms:GenerateDataKey and kms:Decrypt on the KMS key"
                          if self.kms_key else "")
            else:
                why = f"{code or 'error'} (HTTP {status})"
            return Unavailable(f"{where}: could not {action}: {why}")
        if isinstance(exc, NoCredentialsError):
            return Unavailable(f"{where}: could not {action}: no AWS credentials found "
                               "(environment, shared config or an IAM role)")
        if isinstance(exc, NoRegionError):
            return ConfigError(f"{where}: no region; set RUNYARD_BLOB_STORE_REGION")
        if isinstance(exc, EndpointConnectionError):
            return Unavailable(f"{where}: could not {action}: cannot reach "
                               f"{self.endpoint or 'the S3 endpoint'}")
        if isinstance(exc, BotoCoreError):
            return Unavailable(f"{where}: could not {action}: {type(exc).__name__}")
        return exc


class _MultipartUpload:
    """One multipart upload: parts are sent as they fill; abort removes every trace."""

    def __init__(self, store: S3BlobStore, object_key: str) -> None:
        self._store = store
        self._key = object_key
        self._id = ""
        self._parts: list[dict[str, Any]] = []

    async def start(self) -> None:
        store, client = self._store, self._store.client
        created = await store._call("start a multipart upload", lambda: (
            client.create_multipart_upload(Bucket=store.bucket, Key=self._key, **store._sse())))
        self._id = str(created["UploadId"])

    async def send(self, data: bytearray) -> None:
        store, client = self._store, self._store.client
        number = len(self._parts) + 1
        sent = await store._call("upload a part", lambda: client.upload_part(
            Bucket=store.bucket, Key=self._key, UploadId=self._id, PartNumber=number,
            Body=data))
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def complete(self) -> None:
        store, client = self._store, self._store.client
        await store._call("complete a multipart upload", lambda: (
            client.complete_multipart_upload(Bucket=store.bucket, Key=self._key,
                                             UploadId=self._id,
                                             MultipartUpload={"Parts": self._parts})))

    async def abort(self) -> None:
        if not self._id:
            return
        store, client = self._store, self._store.client
        try:
            await store._call("abort a multipart upload", lambda: (
                client.abort_multipart_upload(Bucket=store.bucket, Key=self._key,
                                              UploadId=self._id)))
        except Exception as exc:  # the original error matters more; a lifecycle rule cleans up
            log.warning("could not abort multipart upload of %r: %s", self._key, exc)
