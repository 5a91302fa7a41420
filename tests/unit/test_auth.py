from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runyard.auth.keys import (
    generate_key,
    hash_key,
    is_well_formed,
    key_from_authorization,
    key_hint,
)
from runyard.auth.signing import UrlSigner
from runyard.errors import Forbidden, Unauthorized
from runyard.stores.metadata.base import UserRecord
from runyard.stores.metadata.sql import schema


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


def test_requests_with_one_new_key_share_one_lookup(tmp_path: Path) -> None:
    """A client's streams start together: one database lookup of their key, not one each."""
    from runyard.runtime import Runtime
    from runyard.settings import Settings

    runtime = Runtime(Settings(data_dir=tmp_path))
    runtime.store.open()
    try:
        schema.upgrade(runtime.store.engine)  # type: ignore[attr-defined]
        key = generate_key()
        runtime.store.create_user("alice", api_key=(hash_key(key), key_hint(key)))
        calls: list[str] = []
        look_up = runtime.store.user_for_key

        def counted(digest: str) -> UserRecord | None:
            calls.append(digest)
            time.sleep(0.05)  # a slow database: the others arrive meanwhile
            return look_up(digest)

        runtime.store.user_for_key = counted  # type: ignore[method-assign]
        with ThreadPoolExecutor(16) as pool:
            users = list(pool.map(lambda _: runtime.authenticate(key), range(16)))
        assert {u.username for u in users} == {"alice"}
        assert len(calls) == 1
        with pytest.raises(Unauthorized):
            runtime.authenticate(generate_key())
    finally:
        runtime.store.close()
