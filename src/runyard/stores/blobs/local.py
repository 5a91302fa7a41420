"""Local-disk blob store (``file:///path``): one file per key under a root directory.

Writes go to a temporary file in the same directory and are renamed into place, so a
reader never sees a partial blob and a failed upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import anyio

from runyard.errors import BadRequest, NotFound, PayloadTooLarge
from runyard.stores.blobs.base import BlobInfo, BlobStore
from runyard.stores.keys import check_key

CHUNK = 1024 * 1024


class LocalBlobStore(BlobStore):
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise BadRequest(f"not a local file URL: {url}")
        self.root = Path(unquote(parsed.path))

    async def open(self) -> None:
        await anyio.to_thread.run_sync(lambda: self.root.mkdir(parents=True, exist_ok=True))

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> BlobInfo:
        target = self._path(key)
        await anyio.to_thread.run_sync(lambda: target.parent.mkdir(parents=True, exist_ok=True))
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        digest = hashlib.md5()  # noqa: S324 - content checksum, not security
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(f"upload is larger than {max_bytes} bytes")
                    digest.update(chunk)
                    await anyio.to_thread.run_sync(handle.write, chunk)
            await anyio.to_thread.run_sync(os.replace, tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return BlobInfo(key, size, digest.hexdigest())

    async def get(self, key: str, *, start: int = 0, end: int | None = None
                  ) -> AsyncIterator[bytes]:
        path = self._path(key)
        if not await anyio.to_thread.run_sync(path.is_file):
            raise NotFound("no such file")
        return _read_chunks(path, start, end)

    async def stat(self, key: str) -> BlobInfo | None:
        path = self._path(key)

        def _stat() -> BlobInfo | None:
            return BlobInfo(key, path.stat().st_size, "") if path.is_file() else None

        return await anyio.to_thread.run_sync(_stat)

    async def delete(self, key: str) -> bool:
        path = self._path(key)

        def _delete() -> bool:
            try:
                path.unlink()
                return True
            except FileNotFoundError:
                return False

        return await anyio.to_thread.run_sync(_delete)


async def _read_chunks(path: Path, start: int, end: int | None) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(start)
        remaining = None if end is None else max(0, end - start)
        while remaining is None or remaining > 0:
            block = await handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not block:
                break
            if remaining is not None:
                remaining -= len(block)
            yield block
