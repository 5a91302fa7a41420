"""Passwords: stored only as a salted scrypt hash, compared in constant time.

A stored hash reads ``scrypt$N$r$p$SALT$HASH`` (salt and hash in unpadded URL-safe base64),
so the cost can be raised later without breaking hashes already stored: ``verify`` reads the
parameters from the stored text, and ``needs_rehash`` says when a hash is weaker than now.

Sign-in also verifies against a dummy hash when the user does not exist, so the time an
answer takes does not tell which usernames exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from runyard.errors import BadRequest

SCHEME = "scrypt"
#: 2**14 x 8 x 1: 16 MiB of memory and about 50 ms per hash on one core.
N, R, P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024

MIN_LENGTH = 8
MAX_LENGTH = 1024


def check_strength(password: str) -> str:
    """The password, or BadRequest when it is too short or too long."""
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise BadRequest(f"a password may have at most {MAX_LENGTH} characters")
    return password


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=_MAXMEM, dklen=length)


def hash_password(password: str) -> str:
    """A new salted hash of ``password`` (a fresh random salt each call)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _derive(password, salt, N, R, P, _HASH_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``. A missing or unreadable hash is False,
    after the same work as a real check (no timing difference)."""
    parsed = _parse(stored) if stored else None
    if parsed is None:
        hmac.compare_digest(_derive(password, _DUMMY_SALT, N, R, P, _HASH_BYTES), _DUMMY_HASH)
        return False
    n, r, p, salt, expected = parsed
    actual = _derive(password, salt, n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed[:3] != (N, R, P)


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or not (1 <= r <= 64 and 1 <= p <= 16) or 128 * n * r > _MAXMEM // 2:
        return None  # not a power of two, or a cost that would stall the server
    if not salt or not digest:
        return None
    return n, r, p, salt, digest


_DUMMY_SALT = b"runyard-dummy-salt"
_DUMMY_HASH = bytes(_HASH_BYTES)
