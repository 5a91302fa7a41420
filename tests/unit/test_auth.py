from __future__ import annotations

import base64

import pytest

from runyard.auth.keys import generate_key, hash_key, is_well_formed, key_from_authorization
from runyard.auth.signing import UrlSigner
from runyard.errors import Forbidden


def test_generated_keys_pass_the_clients_own_check_and_differ() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(is_well_formed(k) and k.startswith("local-") for k in keys)
    assert not is_well_formed("local-short")


def test_keys_are_stored_as_sha256() -> None:
    key = generate_key()
    assert hash_key(key) != key
    assert len(hash_key(key)) == 64


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"api:local-abc").decode(), "local-abc"),
        ("basic " + base64.b64encode(b"user:k:with:colons").decode(), "k:with:colons"),
        ("Bearer local-xyz", "local-xyz"),
        ("Basic !!!notbase64", None),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
        ("Digest abc", None),
        ("", None),
        (None, None),
    ],
)
def test_key_from_authorization(header: str | None, expected: str | None) -> None:
    assert key_from_authorization(header) == expected


def test_signed_urls_verify_expire_and_bind_method_and_key() -> None:
    signer = UrlSigner(b"x" * 32, ttl_seconds=60)
    url = signer.sign("PUT", "runs/1/files/a.txt", "http://h", now=1000.0)
    assert url.startswith("http://h/storage/runs/1/files/a.txt?exp=1060&sig=")
    sig = url.rsplit("sig=", 1)[1]
    signer.verify("PUT", "runs/1/files/a.txt", "1060", sig, now=1059.0)
    with pytest.raises(Forbidden, match="expired"):
        signer.verify("PUT", "runs/1/files/a.txt", "1060", sig, now=1061.0)
    with pytest.raises(Forbidden, match="signature"):
        signer.verify("GET", "runs/1/files/a.txt", "1060", sig, now=1000.0)
    with pytest.raises(Forbidden, match="signature"):
        signer.verify("PUT", "runs/1/files/b.txt", "1060", sig, now=1000.0)
    with pytest.raises(Forbidden, match="signature"):
        signer.verify("PUT", "runs/1/files/a.txt", "1061", sig, now=1000.0)
    with pytest.raises(Forbidden, match="not signed"):
        signer.verify("PUT", "runs/1/files/a.txt", None, None)


def test_signer_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        UrlSigner(b"short", 60)
