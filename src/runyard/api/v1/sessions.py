"""Username + password sign-in for the web UI, sign-out, and changing one's own password.

A sign-in returns a new API key labelled ``browser session``: the UI then works with keys
like every other client, and sign-out revokes that key. Wrong username and wrong password
get the same 401 after the same work (no user enumeration); failed attempts are limited
per username and client address (10 a minute, then 429).
"""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from runyard.api.http.common import CurrentUser, runtime_of
from runyard.auth.keys import generate_key, hash_key, key_from_authorization, key_hint
from runyard.auth.passwords import check_strength, hash_password, needs_rehash, verify_password
from runyard.auth.ratelimit import FailureLimiter
from runyard.errors import Conflict, Forbidden, NotFound, Unauthorized
from runyard.stores.metadata.base import SESSION_KEY_LABEL

router = APIRouter(prefix="/api/v1", tags=["sessions"])

SIGN_IN_FAILED = "wrong username or password"


class SignIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class Session(BaseModel):
    api_key: str = Field(description="A new API key for this browser; shown once. Sign-out "
                                     "revokes it.")
    username: str
    entity: str
    admin: bool


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(max_length=1024)] = Field(
        "", description="Required when the user has a password already.")
    new_password: Annotated[str, Field(max_length=1024)]


def limiter_of(request: Request) -> FailureLimiter:
    limiter: FailureLimiter | None = getattr(request.app.state, "sign_in_limiter", None)
    if limiter is None:
        limiter = request.app.state.sign_in_limiter = FailureLimiter(limit=10, window=60.0)
    return limiter


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/sessions", response_model=Session, status_code=201,
             responses={401: {"description": "Wrong username or password."},
                        429: {"description": "Too many failed attempts; see Retry-After."}})
async def sign_in(body: SignIn, request: Request) -> Session:
    """Sign in with username and password; the answer carries a new API key."""
    runtime = runtime_of(request)
    limiter = limiter_of(request)
    attempt = (body.username.casefold(), _client(request))
    limiter.check(attempt)
    found = await anyio.to_thread.run_sync(runtime.store.password_hash_for, body.username)
    stored = found[1] if found else None
    ok = await anyio.to_thread.run_sync(verify_password, body.password, stored)
    if not ok or found is None:
        limiter.failed(attempt)
        raise Unauthorized(SIGN_IN_FAILED)
    limiter.succeeded(attempt)
    user = found[0]
    if needs_rehash(found[1]):
        new_hash = await anyio.to_thread.run_sync(hash_password, body.password)
        await anyio.to_thread.run_sync(runtime.store.set_password, user.id, new_hash)
    key = generate_key()
    await anyio.to_thread.run_sync(
        lambda: runtime.store.add_api_key(user.id, hash_key(key), key_hint(key),
                                          label=SESSION_KEY_LABEL))
    return Session(api_key=key, username=user.username, entity=user.entity,
                   admin=user.is_admin)


@router.delete("/sessions/current", status_code=204, response_class=Response,
               responses={409: {"description": "The key was not made by a sign-in."}})
async def sign_out(request: Request, user: CurrentUser) -> Response:
    """Revoke the browser-session key this request was sent with."""
    runtime = runtime_of(request)
    key = key_from_authorization(request.headers.get("authorization"))
    digest = hash_key(key or "")
    record = await anyio.to_thread.run_sync(runtime.store.api_key_for_hash, digest)
    if record is None or record.user_id != user.id:
        raise NotFound("no such session")
    if record.label != SESSION_KEY_LABEL:
        raise Conflict("this API key was not made by a password sign-in; an admin revokes "
                       "it in /system-admin")
    await anyio.to_thread.run_sync(runtime.store.revoke_api_key, record.id, time.time())
    runtime.forget_key(digest)
    return Response(status_code=204)


@router.put("/viewer/password", status_code=204, response_class=Response,
            responses={403: {"description": "The current password is wrong."}})
async def change_password(body: PasswordChange, request: Request, user: CurrentUser
                          ) -> Response:
    """Set or change one's own password. Other browser sessions of the user are signed out."""
    runtime = runtime_of(request)
    check_strength(body.new_password)
    found = await anyio.to_thread.run_sync(runtime.store.password_hash_for, user.username)
    if found is not None:
        limiter = limiter_of(request)
        attempt = (user.username.casefold(), _client(request))
        limiter.check(attempt)
        if not await anyio.to_thread.run_sync(verify_password, body.current_password,
                                              found[1]):
            limiter.failed(attempt)
            raise Forbidden("the current password is wrong")
        limiter.succeeded(attempt)
    new_hash = await anyio.to_thread.run_sync(hash_password, body.new_password)
    await anyio.to_thread.run_sync(runtime.store.set_password, user.id, new_hash)
    current = hash_key(key_from_authorization(request.headers.get("authorization")) or "")
    keys = await anyio.to_thread.run_sync(runtime.store.list_api_keys, user.id)
    for record in keys:
        if record.active and record.label == SESSION_KEY_LABEL and record.key_hash != current:
            await anyio.to_thread.run_sync(runtime.store.revoke_api_key, record.id,
                                           time.time())
            runtime.forget_key(record.key_hash)
    return Response(status_code=204)
