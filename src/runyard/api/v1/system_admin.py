"""``/api/v1/system-admin``: instance settings, for admins only.

External file storage (bucket, region, KMS key, endpoint, notification queue) can be changed
at run time. A change is tested first (a PUT, GET and DELETE of a probe object, and a queue
read); when the test fails nothing changes and the error says why.

The license key can be saved or cleared (it is never shown back, only its last characters):
Runyard locks no feature behind it. The allowed inbound networks (``allowed_cidrs``) can be
changed, but never to a list that leaves out the admin's own address. A setting fixed by a
flag or environment variable is read-only here (409). Users and keys: api/v1/users.py.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from runyard import registry
from runyard.api.http.cidr import contains, format_networks, parse_networks
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


# license ---------------------------------------------------------------------------------
NOTHING_LOCKED = ("Runyard locks nothing behind a license: every feature, any number of users "
                  "and all your data work with or without a key. A key is kept only so that "
                  "configurations written for W&B Server keep working.")


class LicenseOut(BaseModel):
    set: bool = Field(description="A license key is configured.")
    source: Literal["environment", "saved", "none"] = Field(
        description="environment: a flag or RUNYARD_LICENSE / LICENSE (read-only here); "
                    "saved: saved from /system-admin.")
    hint: str | None = Field(description="The key's last four characters; never the key.")
    locked: bool = Field(description="Fixed by a flag or environment variable.")
    features_locked: bool = Field(False, description="Always false.")
    statement: str = NOTHING_LOCKED


class LicenseIn(BaseModel):
    license: Annotated[str, Field(max_length=16_384)] = Field(
        description="The license key; empty clears it.")


def _license_out(settings: Settings) -> LicenseOut:
    value = settings.license.strip()
    locked = "license" in settings.explicit
    source: Literal["environment", "saved", "none"] = (
        "environment" if locked and value else "saved" if value else "none")
    return LicenseOut(set=bool(value), source=source, locked=locked,
                      hint=value[-4:] if len(value) >= 12 else None)


@router.get("/license", response_model=LicenseOut)
async def get_license(request: Request, _admin: Admin) -> LicenseOut:
    return _license_out(runtime_of(request).settings)


@router.put("/license", response_model=LicenseOut,
            responses={409: {"description": "Set by a flag or environment variable."}})
async def put_license(body: LicenseIn, request: Request, _admin: Admin) -> LicenseOut:
    """Save (or, with an empty key, clear) the license key. Nothing depends on it."""
    runtime = runtime_of(request)
    if "license" in runtime.settings.explicit:
        raise Conflict("the license is set by the server's environment or flags "
                       "(RUNYARD_LICENSE or LICENSE); change it there")
    value = body.license.strip()
    await anyio.to_thread.run_sync(runtime.store.save_settings, {"license": value}, time.time())
    runtime.settings = runtime.settings.replace(license=value)
    return _license_out(runtime.settings)


@router.delete("/license", response_model=LicenseOut,
               responses={409: {"description": "Set by a flag or environment variable."}})
async def delete_license(request: Request, admin: Admin) -> LicenseOut:
    """Clear the saved license key."""
    return await put_license(LicenseIn(license=""), request, admin)


# allowed inbound networks --------------------------------------------------------------
class NetworkOut(BaseModel):
    allowed_cidrs: list[str] = Field(
        description="Networks allowed to reach the server; empty: everyone.")
    trusted_proxies: list[str] = Field(
        description="Proxies whose X-Forwarded-For is believed (set by flag or environment).")
    locked: bool = Field(description="allowed_cidrs is fixed by a flag or environment variable.")
    your_address: str | None = Field(description="Your address, as this server sees it.")


class NetworkIn(BaseModel):
    allowed_cidrs: Annotated[list[Annotated[str, Field(max_length=64)]],
                             Field(max_length=1000)] = Field(
        description="IPv4/IPv6 networks such as 10.0.0.0/8; empty allows everyone.")


def _network_out(settings: Settings, request: Request) -> NetworkOut:
    return NetworkOut(
        allowed_cidrs=[str(n) for n in parse_networks(settings.allowed_cidrs)],
        trusted_proxies=[str(n) for n in parse_networks(settings.trusted_proxies)],
        locked="allowed_cidrs" in settings.explicit,
        your_address=request.client.host if request.client else None,
    )


@router.get("/network", response_model=NetworkOut)
async def get_network(request: Request, _admin: Admin) -> NetworkOut:
    return _network_out(runtime_of(request).settings, request)


@router.put("/network", response_model=NetworkOut,
            responses={400: {"description": "Not a network, or it would lock you out."},
                       409: {"description": "Set by a flag or environment variable."}})
async def put_network(body: NetworkIn, request: Request, _admin: Admin) -> NetworkOut:
    """Change the allowed inbound networks; a list without your own address is refused."""
    runtime = runtime_of(request)
    if "allowed_cidrs" in runtime.settings.explicit:
        raise Conflict("allowed_cidrs is set by the server's environment or flags "
                       "(RUNYARD_ALLOWED_CIDRS); change it there")
    networks = parse_networks(body.allowed_cidrs)
    here = request.client.host if request.client else None
    if networks and not contains(networks, here):
        raise BadRequest(f"your own address {here or '(unknown)'} is not in this list; saving "
                         "it would lock you out. Add your network first.")
    value = format_networks(networks)
    await anyio.to_thread.run_sync(runtime.store.save_settings, {"allowed_cidrs": value},
                                   time.time())
    runtime.settings = runtime.settings.replace(allowed_cidrs=value)
    return _network_out(runtime.settings, request)
