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
    """Constructors do no I/O; ``open`` prepares the backend."""

    #: True when clients PUT/GET through this server's /storage endpoint (signed URLs);
    #: False when the backend hands out its own pre-signed URLs (S3).
    served_by_runyard: bool = True

    @abc.abstractmethod
    async def open(self) -> None: ...

    async def close(self) -> None:
        return None

    @abc.abstractmethod
    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> BlobInfo:
        """Store the stream under key, all or nothing. PayloadTooLarge past max_bytes."""

    @abc.abstractmethod
    async def get(self, key: str) -> AsyncIterator[bytes]:
        """Stream a blob's bytes. NotFound if absent."""

    @abc.abstractmethod
    async def stat(self, key: str) -> BlobInfo | None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> bool: ...
