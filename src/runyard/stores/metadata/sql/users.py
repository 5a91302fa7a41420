"""Users and API keys of the SQL metadata store: keys, revocation, deactivation, passwords."""

from __future__ import annotations

import contextlib
import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from runyard.errors import NotFound, RunyardError
from runyard.stores.metadata.base import ApiKeyRecord, UserAccount, UserRecord
from runyard.stores.metadata.sql import models as m

#: A key's ``last_used_at`` is written at most this often (seconds): authentication is
#: cached by the server, and a write per request would cost more than the date is worth.
LAST_USED_RESOLUTION = 60.0


class SqlUsersMixin:
    if TYPE_CHECKING:
        def _tx(self, *, write: bool = False) -> AbstractContextManager[Session]: ...

    # keys --------------------------------------------------------------------------------
    def add_api_key(self, user_id: int, key_hash: str, hint: str, *, label: str = ""
                    ) -> ApiKeyRecord:
        with self._tx(write=True) as s:
            if s.get(m.User, user_id) is None:
                raise NotFound(f"no user with id {user_id}")
            row = m.ApiKey(user_id=user_id, key_hash=key_hash, hint=hint, label=label[:64],
                           created_at=time.time())
            s.add(row)
            s.flush()
            return _key_record(row)

    def user_for_key(self, key_hash: str) -> UserRecord | None:
        with self._tx() as s:
            row = s.execute(
                select(m.User.id, m.User.username, m.User.email, m.User.is_admin, m.Entity.name,
                       m.ApiKey.id, m.ApiKey.last_used_at)
                .join(m.Entity, m.Entity.id == m.User.entity_id)
                .join(m.ApiKey, m.ApiKey.user_id == m.User.id)
                .where(m.ApiKey.key_hash == key_hash, m.ApiKey.revoked_at.is_(None),
                       m.User.disabled_at.is_(None))
            ).first()
        if row is None:
            return None
        now = time.time()
        if row[6] is None or row[6] < now - LAST_USED_RESOLUTION:
            with contextlib.suppress(RunyardError), self._tx(write=True) as s:
                s.execute(update(m.ApiKey).where(
                    m.ApiKey.id == row[5],
                    or_(m.ApiKey.last_used_at.is_(None),
                        m.ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
                ).values(last_used_at=now))
        return UserRecord(int(row[0]), str(row[1]), str(row[2]), bool(row[3]), str(row[4]))

    def list_api_keys(self, user_id: int) -> list[ApiKeyRecord]:
        with self._tx() as s:
            rows = s.scalars(select(m.ApiKey).where(m.ApiKey.user_id == user_id)
                             .order_by(m.ApiKey.created_at.desc(), m.ApiKey.id.desc())).all()
            return [_key_record(r) for r in rows]

    def api_key_for_hash(self, key_hash: str) -> ApiKeyRecord | None:
        with self._tx() as s:
            row = s.scalar(select(m.ApiKey).where(m.ApiKey.key_hash == key_hash))
            return _key_record(row) if row is not None else None

    def revoke_api_key(self, key_id: int, now: float) -> ApiKeyRecord:
        with self._tx(write=True) as s:
            row = s.get(m.ApiKey, key_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no API key with id {key_id}")
            if row.revoked_at is None:
                row.revoked_at = now
            return _key_record(row)

    # users -------------------------------------------------------------------------------
    def list_users(self, *, limit: int = 1000, offset: int = 0) -> list[UserAccount]:
        with self._tx() as s:
            rows = s.execute(_account_select().order_by(m.User.username)
                             .limit(limit).offset(offset)).all()
            return [_account(r) for r in rows]

    def get_account(self, username: str) -> UserAccount | None:
        with self._tx() as s:
            row = s.execute(_account_select().where(m.User.username == username)).first()
            return _account(row) if row else None

    def set_user_active(self, user_id: int, active: bool, now: float) -> UserAccount:
        with self._tx(write=True) as s:
            user = s.get(m.User, user_id, with_for_update=True)
            if user is None:
                raise NotFound(f"no user with id {user_id}")
            if active:
                user.disabled_at = None
            elif user.disabled_at is None:
                user.disabled_at = now
            s.flush()
            row = s.execute(_account_select().where(m.User.id == user_id)).one()
            return _account(row)

    def set_password(self, user_id: int, password_hash: str | None) -> None:
        with self._tx(write=True) as s:
            user = s.get(m.User, user_id, with_for_update=True)
            if user is None:
                raise NotFound(f"no user with id {user_id}")
            user.password_hash = password_hash

    def password_hash_for(self, username: str) -> tuple[UserRecord, str] | None:
        with self._tx() as s:
            row = s.execute(
                select(m.User.id, m.User.username, m.User.email, m.User.is_admin, m.Entity.name,
                       m.User.password_hash)
                .join(m.Entity, m.Entity.id == m.User.entity_id)
                .where(m.User.username == username, m.User.disabled_at.is_(None),
                       m.User.password_hash.is_not(None))
            ).first()
        if row is None:
            return None
        return (UserRecord(int(row[0]), str(row[1]), str(row[2]), bool(row[3]), str(row[4])),
                str(row[5]))


def _account_select() -> Any:
    active_keys = (
        select(func.count()).where(m.ApiKey.user_id == m.User.id, m.ApiKey.revoked_at.is_(None))
        .scalar_subquery()
    )
    return select(m.User.id, m.User.username, m.User.email, m.User.is_admin, m.Entity.name,
                  m.User.created_at, m.User.disabled_at, m.User.password_hash.is_not(None),
                  active_keys).join(m.Entity, m.Entity.id == m.User.entity_id)


def _account(row: Any) -> UserAccount:
    return UserAccount(id=int(row[0]), username=str(row[1]), email=str(row[2]),
                       is_admin=bool(row[3]), entity=str(row[4]), created_at=float(row[5]),
                       active=row[6] is None, has_password=bool(row[7]),
                       active_keys=int(row[8] or 0))


def _key_record(row: m.ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(id=int(row.id), user_id=int(row.user_id), key_hash=row.key_hash,
                        hint=row.hint, label=row.label or "", created_at=float(row.created_at),
                        last_used_at=row.last_used_at, revoked_at=row.revoked_at)
