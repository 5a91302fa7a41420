"""The blob store port: run files and (later) artifacts, addressed by opaque keys."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    md5: str  # hex; empty where the backend does not know it without reading


class BlobStore(abc.ABC):
    """Constructors do no I/O; ``open`` prepares the backend.

    Clients move bytes either through Runyard's own ``/storage`` endpoint (URLs signed by
    Runyard; ``presign`` returns None) or straight to the backend (``presign`` returns the
    backend's own pre-signed URL, as S3 does).
    """

    #: True when clients move bytes straight to the backend (``presign`` gives URLs).
    direct_transfers: bool = False

    def presign(self, method: str, key: str, ttl_seconds: int) -> str | None:
        """A URL for ``GET`` or ``PUT`` of ``key`` that the backend serves itself, or None."""
        return None

    def upload_headers(self) -> list[str]:
        """``Name:Value`` headers a client must send with a pre-signed PUT (e.g. SSE-KMS)."""
        return []

    def object_key(self, key: str) -> str:
        """The backend's own key for ``key`` (what its notifications name)."""
        return key

    def relative_key(self, object_key: str) -> str | None:
        """Map a backend object key from a notification to our key; None if not ours."""
        return object_key

    @abc.abstractmethod
    async def open(self) -> None: ...

    async def close(self) -> None:
        return None

    @abc.abstractmethod
    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> BlobInfo:
        """Store the stream under key, all or nothing. PayloadTooLarge past max_bytes."""

    @abc.abstractmethod
    async def get(self, key: str, *, start: int = 0, end: int | None = None
                  ) -> AsyncIterator[bytes]:
        """Stream a blob's bytes ``[start, end)`` (to its end when ``end`` is None).
        NotFound if absent."""

    @abc.abstractmethod
    async def stat(self, key: str) -> BlobInfo | None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> bool: ...
