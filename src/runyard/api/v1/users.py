"""``/api/v1/system-admin/users``: users and their API keys, for admins only.

A key is shown once, when it is made; afterwards only its last four characters (the hint).
Revoking a key or deactivating a user takes effect on the next request to this replica
(its authentication cache forgets them); other replicas stop accepting within the cache's
10 seconds. An admin cannot deactivate themselves or revoke their own last working key.
"""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from runyard.api.http.common import runtime_of
from runyard.api.v1.system_admin import Admin
from runyard.auth.keys import generate_key, hash_key, key_hint
from runyard.auth.passwords import check_strength, hash_password
from runyard.domain.names import check_name
from runyard.errors import Conflict, NotFound
from runyard.runtime import Runtime
from runyard.stores.metadata.base import ApiKeyRecord, UserAccount

router = APIRouter(prefix="/api/v1/system-admin/users", tags=["system-admin"])

Username = Annotated[str, Path(min_length=1, max_length=128)]


class UserOut(BaseModel):
    username: str
    email: str
    admin: bool
    entity: str
    created_at: float
    active: bool = Field(description="False once an admin deactivated the user.")
    has_password: bool = Field(description="The user can sign in with a password.")
    active_keys: int = Field(description="API keys that are not revoked.")


class UserList(BaseModel):
    items: list[UserOut]


class NewUser(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    email: Annotated[str, Field(max_length=255)] = ""
    admin: bool = False
    password: Annotated[str | None, Field(max_length=1024)] = Field(
        None, description="Optional: lets the user sign in to the web UI with a password.")


class ApiKeyOut(BaseModel):
    id: int
    hint: str = Field(description="The key's last four characters.")
    label: str
    created_at: float
    last_used_at: float | None = Field(description="Noted at most about once a minute.")
    revoked_at: float | None
    active: bool


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class NewKey(BaseModel):
    label: Annotated[str, Field(max_length=64)] = ""


class CreatedKey(BaseModel):
    api_key: str = Field(description="The new key. Shown this once; it is stored hashed.")
    key: ApiKeyOut


class CreatedUser(CreatedKey):
    user: UserOut


class UserChange(BaseModel):
    active: bool = Field(description="False deactivates the user: its keys and password stop "
                                     "working. True reactivates it.")


class PasswordSet(BaseModel):
    password: Annotated[str | None, Field(max_length=1024)] = Field(
        description="The new password; null removes it (keys only).")


def user_out(a: UserAccount) -> UserOut:
    return UserOut(username=a.username, email=a.email, admin=a.is_admin, entity=a.entity,
                   created_at=a.created_at, active=a.active, has_password=a.has_password,
                   active_keys=a.active_keys)


def key_out(k: ApiKeyRecord) -> ApiKeyOut:
    return ApiKeyOut(id=k.id, hint=k.hint, label=k.label, created_at=k.created_at,
                     last_used_at=k.last_used_at, revoked_at=k.revoked_at, active=k.active)


async def _account(runtime: Runtime, username: str) -> UserAccount:
    account = await anyio.to_thread.run_sync(runtime.store.get_account, username)
    if account is None:
        raise NotFound(f"no user named {username!r}")
    return account


@router.get("", response_model=UserList)
async def list_users(request: Request, _admin: Admin) -> UserList:
    runtime = runtime_of(request)
    accounts = await anyio.to_thread.run_sync(lambda: runtime.store.list_users(limit=10_000))
    return UserList(items=[user_out(a) for a in accounts])


@router.post("", response_model=CreatedUser, status_code=201)
async def create_user(body: NewUser, request: Request, _admin: Admin) -> CreatedUser:
    """Create a user (and its entity of the same name) with a first API key, shown once."""
    runtime = runtime_of(request)
    name = check_name("user", body.username)
    password_hash = None
    if body.password:
        password_hash = await anyio.to_thread.run_sync(hash_password,
                                                       check_strength(body.password))
    key = generate_key()
    await anyio.to_thread.run_sync(lambda: runtime.store.create_user(
        name, email=body.email.strip(), is_admin=body.admin,
        api_key=(hash_key(key), key_hint(key)), password_hash=password_hash))
    account = await _account(runtime, name)
    record = await anyio.to_thread.run_sync(runtime.store.api_key_for_hash, hash_key(key))
    assert record is not None
    return CreatedUser(api_key=key, key=key_out(record), user=user_out(account))


@router.get("/{username}", response_model=UserOut)
async def get_user(username: Username, request: Request, _admin: Admin) -> UserOut:
    return user_out(await _account(runtime_of(request), username))


@router.patch("/{username}", response_model=UserOut,
              responses={409: {"description": "An admin cannot deactivate themselves."}})
async def change_user(username: Username, body: UserChange, request: Request, admin: Admin
                      ) -> UserOut:
    """Deactivate or reactivate a user."""
    runtime = runtime_of(request)
    account = await _account(runtime, username)
    if account.id == admin.id and not body.active:
        raise Conflict("you cannot deactivate yourself; another admin can")
    changed = await anyio.to_thread.run_sync(runtime.store.set_user_active, account.id,
                                             body.active, time.time())
    runtime.forget_user(account.id)
    return user_out(changed)


@router.put("/{username}/password", response_model=UserOut)
async def set_password(username: Username, body: PasswordSet, request: Request, _admin: Admin
                       ) -> UserOut:
    """Set (or, with null, remove) a user's password."""
    runtime = runtime_of(request)
    account = await _account(runtime, username)
    new_hash = None
    if body.password is not None:
        new_hash = await anyio.to_thread.run_sync(hash_password, check_strength(body.password))
    await anyio.to_thread.run_sync(runtime.store.set_password, account.id, new_hash)
    return user_out(await _account(runtime, username))


@router.get("/{username}/keys", response_model=ApiKeyList)
async def list_keys(username: Username, request: Request, _admin: Admin) -> ApiKeyList:
    runtime = runtime_of(request)
    account = await _account(runtime, username)
    keys = await anyio.to_thread.run_sync(runtime.store.list_api_keys, account.id)
    return ApiKeyList(items=[key_out(k) for k in keys])


@router.post("/{username}/keys", response_model=CreatedKey, status_code=201)
async def create_key(username: Username, body: NewKey, request: Request, _admin: Admin
                     ) -> CreatedKey:
    """A new API key for the user, shown once."""
    runtime = runtime_of(request)
    account = await _account(runtime, username)
    key = generate_key()
    record = await anyio.to_thread.run_sync(
        lambda: runtime.store.add_api_key(account.id, hash_key(key), key_hint(key),
                                          label=body.label.strip()))
    return CreatedKey(api_key=key, key=key_out(record))


@router.delete("/{username}/keys/{key_id}", response_model=ApiKeyOut,
               responses={409: {"description": "It is the admin's own last working key."}})
async def revoke_key(username: Username, key_id: int, request: Request, admin: Admin
                     ) -> ApiKeyOut:
    """Revoke a key: it stops authenticating at once (on other replicas within 10 s)."""
    runtime = runtime_of(request)
    account = await _account(runtime, username)
    keys = await anyio.to_thread.run_sync(runtime.store.list_api_keys, account.id)
    target = next((k for k in keys if k.id == key_id), None)
    if target is None:
        raise NotFound(f"user {username!r} has no API key {key_id}")
    if account.id == admin.id and target.active and sum(k.active for k in keys) <= 1:
        raise Conflict("this is your last working API key; make another one before you "
                       "revoke it")
    revoked = await anyio.to_thread.run_sync(runtime.store.revoke_api_key, key_id, time.time())
    runtime.forget_key(revoked.key_hash)
    return key_out(revoked)
