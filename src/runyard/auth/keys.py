"""API keys: generated with a CSPRNG, shown once, stored only as a SHA-256 hash.

Keys carry 238 bits of randomness, so an unsalted fast hash is enough to make a leaked
database useless for logging in (the same reasoning as GitHub's token storage).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import string

KEY_PREFIX = "local-"
_ALPHABET = string.ascii_letters + string.digits


def generate_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_hint(key: str) -> str:
    return key[-4:]


def is_well_formed(key: str) -> bool:
    """The client's own local check: optional ``prefix-``, then >= 40 of [A-Za-z0-9_]."""
    body = key.rsplit("-", 1)[-1]
    return len(body) >= 40 and all(c in _ALPHABET or c == "_" for c in body)


def key_from_authorization(header: str | None) -> str | None:
    """The API key in ``Basic base64(api:KEY)`` (what the client sends) or ``Bearer KEY``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, sep, key = decoded.partition(":")
    return key if sep and key else None
