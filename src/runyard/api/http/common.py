"""What every HTTP handler needs: the runtime, the caller, a bounded body, the base URL."""

from __future__ import annotations

import gzip
import zlib
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from runyard.auth.keys import key_from_authorization
from runyard.domain.jsonio import decode_json
from runyard.errors import BadRequest, Forbidden, PayloadTooLarge
from runyard.runtime import Runtime
from runyard.stores.metadata.base import UserRecord


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


_basic = HTTPBasic(auto_error=False, description="Username `api`, password: your API key.")


async def current_user(
    request: Request,
    _documented: Annotated[HTTPBasicCredentials | None, Security(_basic)] = None,
) -> UserRecord:
    """FastAPI dependency: the authenticated user, or a 401."""
    runtime = runtime_of(request)
    key = key_from_authorization(request.headers.get("authorization"))
    user = runtime.cached_user(key)  # the usual case: no thread hop, no query
    if user is None:
        user = await anyio.to_thread.run_sync(runtime.authenticate, key)
    return user


CurrentUser = Annotated[UserRecord, Depends(current_user)]


def check_entity_access(user: UserRecord, entity: str) -> None:
    """A user reads and writes its own entity; admins reach every entity."""
    if not (user.is_admin or user.entity == entity):
        raise Forbidden(f"user {user.username!r} has no access to entity {entity!r}")


def base_url(request: Request) -> str:
    configured: str = runtime_of(request).settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed; 413 past ``limit`` bytes (before or after gzip)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(body, limit + 1)
        except (zlib.error, gzip.BadGzipFile):
            raise BadRequest("request body is not valid gzip") from None
        if len(body) > limit or decompressor.unconsumed_tail:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return body


async def read_json(request: Request, limit: int) -> Any:
    return decode_json(await read_body(request, limit))


