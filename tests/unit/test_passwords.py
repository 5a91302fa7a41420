"""Password hashing: salted scrypt, constant-time verify, parameters read from the hash."""

from __future__ import annotations

import base64
import hashlib

import pytest

from runyard.auth import passwords
from runyard.errors import BadRequest


def test_hash_then_verify() -> None:
    stored = passwords.hash_password("correct horse battery staple")
    assert passwords.verify_password("correct horse battery staple", stored)


def test_wrong_password_is_refused() -> None:
    stored = passwords.hash_password("correct horse battery staple")
    assert not passwords.verify_password("correct horse battery stapler", stored)
    assert not passwords.verify_password("", stored)
    assert not passwords.verify_password("Correct horse battery staple", stored)


def test_same_password_gets_different_salts_and_hashes() -> None:
    a = passwords.hash_password("same password")
    b = passwords.hash_password("same password")
    assert a != b
    salt_a, salt_b = a.split("$")[4], b.split("$")[4]
    assert salt_a != salt_b
    assert passwords.verify_password("same password", a)
    assert passwords.verify_password("same password", b)


def test_the_hash_does_not_contain_the_password() -> None:
    stored = passwords.hash_password("plain-text-secret")
    assert "plain-text-secret" not in stored
    assert stored.startswith("scrypt$16384$8$1$")


def test_hash_is_scrypt_of_the_salt() -> None:
    """The stored text is what hashlib.scrypt gives for its own salt and parameters."""
    stored = passwords.hash_password("pässwörd ✓")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert scheme == "scrypt"

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    expected = hashlib.scrypt("pässwörd ✓".encode(), salt=unb64(salt), n=int(n), r=int(r),
                              p=int(p), maxmem=64 * 1024 * 1024, dklen=len(unb64(digest)))
    assert expected == unb64(digest)


def test_other_parameters_verify_and_need_rehash() -> None:
    """A hash made with other (cheaper) parameters still verifies, and asks to be redone."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"old password", salt=salt, n=2**10, r=8, p=1, dklen=32)
    b64 = base64.urlsafe_b64encode
    stored = (f"scrypt$1024$8$1${b64(salt).rstrip(b'=').decode()}$"
              f"{b64(digest).rstrip(b'=').decode()}")
    assert passwords.verify_password("old password", stored)
    assert not passwords.verify_password("new password", stored)
    assert passwords.needs_rehash(stored)
    assert not passwords.needs_rehash(passwords.hash_password("x" * 8))


@pytest.mark.parametrize("stored", [
    None, "", "plain", "bcrypt$10$abc", "scrypt$16384$8$1$c2FsdA",
    "scrypt$1000$8$1$c2FsdA$aGFzaA",  # N not a power of two
    "scrypt$1073741824$8$1$c2FsdA$aGFzaA",  # a cost that would stall the server
    "scrypt$x$8$1$c2FsdA$aGFzaA", "scrypt$16384$8$1$$aGFzaA",
])
def test_unreadable_hashes_never_match(stored: str | None) -> None:
    assert not passwords.verify_password("anything", stored)


@pytest.mark.parametrize(("password", "ok"), [
    ("", False), ("1234567", False), ("12345678", True), ("x" * 1024, True), ("x" * 1025, False),
])
def test_strength(password: str, ok: bool) -> None:
    if ok:
        assert passwords.check_strength(password) == password
    else:
        with pytest.raises(BadRequest):
            passwords.check_strength(password)
