"""``/api/v1/system-admin``: instance settings, for admins only.

External file storage (bucket, region, KMS key, endpoint, notification queue) can be changed
at run time. A change is tested first (a PUT, GET and DELETE of a probe object, and a queue
read); when the test fails nothing changes and the error says why.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from runyard import registry
from runyard.api.http.common import CurrentUser, runtime_of
from runyard.errors import BadRequest, Conflict, Forbidden, RunyardError
from runyard.runtime import Runtime
from runyard.settings import SETTINGS, Settings
from runyard.stores.metadata.base import UserRecord

STORAGE_FIELDS = ("blob_store_url", "blob_store_region", "blob_store_kms_key",
                  "blob_store_endpoint", "queue_url")


def require_admin(user: CurrentUser) -> UserRecord:
    if not user.is_admin:
        raise Forbidden("only admins may use /system-admin")
    return user


Admin = Annotated[UserRecord, Depends(require_admin)]
router = APIRouter(prefix="/api/v1/system-admin", tags=["system-admin"])


class StorageSettings(BaseModel):
    blob_store_url: str = Field(description="file:///PATH or s3://BUCKET/PREFIX")
    blob_store_region: str = ""
    blob_store_kms_key: str = Field("", description="KMS key id or ARN for SSE-KMS.")
    blob_store_endpoint: str = Field("", description="S3-compatible endpoint; empty for AWS.")
    queue_url: str = Field("internal://", description="internal:// or sqs://QUEUE")


class StorageOut(StorageSettings):
    locked: list[str] = Field(
        description="Settings fixed by a flag or environment variable; they cannot be "
                    "changed here.")


def _storage_out(settings: Settings) -> StorageOut:
    return StorageOut(
        blob_store_url=settings.resolved_blob_store_url,
        blob_store_region=settings.blob_store_region,
        blob_store_kms_key=settings.blob_store_kms_key,
        blob_store_endpoint=settings.blob_store_endpoint,
        queue_url=settings.queue_url,
        locked=sorted(n for n in STORAGE_FIELDS if n in settings.explicit),
    )


@router.get("/storage", response_model=StorageOut)
async def get_storage(request: Request, _admin: Admin) -> StorageOut:
    return _storage_out(runtime_of(request).settings)


@router.put("/storage", response_model=StorageOut)
async def put_storage(body: StorageSettings, request: Request, _admin: Admin) -> StorageOut:
    runtime = runtime_of(request)
    current = runtime.settings
    wanted = body.model_dump()
    locked = [n for n in STORAGE_FIELDS
              if n in current.explicit and wanted[n] != getattr(current, n)]
    if locked:
        env = ", ".join(next(s.env for s in SETTINGS if s.name == n) for n in locked)
        raise Conflict(f"set by the server's environment or flags ({env}); change it there")
    candidate = current.replace(**wanted)
    await _validate(candidate, runtime)
    await anyio.to_thread.run_sync(
        runtime.store.save_settings, {n: str(wanted[n]) for n in STORAGE_FIELDS}, time.time())
    await runtime.reconfigure(candidate)
    return _storage_out(runtime.settings)


async def _validate(candidate: Settings, runtime: Runtime) -> None:
    """Write, read and delete a probe object, and read the queue, with the new settings."""
    try:
        blobs = registry.blob_store(candidate)
        queue = registry.queue(candidate.queue_url, runtime.store, candidate)
    except RunyardError as exc:
        raise BadRequest(exc.message) from None
    probe_key = f"_runyard/probe-{secrets.token_hex(8)}"
    payload = b"runyard storage check " + secrets.token_bytes(16)
    step = "open the blob store"
    try:
        await blobs.open()
        step = "write a test object"
        info = await blobs.put(probe_key, _one(payload), max_bytes=len(payload))
        step = "read the test object back"
        chunks = [c async for c in await blobs.get(probe_key)]
        if b"".join(chunks) != payload or info.size != len(payload):
            raise BadRequest("the test object read back differs from what was written")
        step = "delete the test object"
        await blobs.delete(probe_key)
        step = "read the notification queue"
        await queue.open()
        await queue.check()
    except RunyardError as exc:
        raise BadRequest(f"storage check failed: could not {step}: {exc.message}") from None
    except Exception as exc:  # adapters' own errors: name the step and the kind, not internals
        raise BadRequest(f"storage check failed: could not {step} "
                         f"({type(exc).__name__}: {_short(exc)})") from None
    finally:
        await blobs.close()
        await queue.close()


async def _one(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
