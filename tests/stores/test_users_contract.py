"""Contract of the user and API-key part of the metadata store port, on every adapter.

Keys: creation with a label, listing, revocation (a revoked key authenticates no more),
``last_used_at``; users: listing with active-key counts, deactivation and reactivation,
password hashes (stored and returned as given; hashing is the caller's job).
"""

from __future__ import annotations

import time

import pytest

from runyard.auth.keys import generate_key, hash_key, key_hint
from runyard.errors import Conflict, NotFound
from runyard.stores.metadata.base import SESSION_KEY_LABEL, MetadataStore, UserRecord


def new_key(store: MetadataStore, user: UserRecord, label: str = "") -> tuple[str, int]:
    key = generate_key()
    record = store.add_api_key(user.id, hash_key(key), key_hint(key), label=label)
    return key, record.id


def test_add_api_key_returns_its_record(metadata_store: MetadataStore) -> None:
    alice = metadata_store.create_user("alice")
    before = time.time()
    key = generate_key()
    record = metadata_store.add_api_key(alice.id, hash_key(key), key_hint(key), label="ci")
    assert record.user_id == alice.id
    assert record.hint == key[-4:]
    assert record.label == "ci"
    assert record.key_hash == hash_key(key)
    assert before - 1 <= record.created_at <= time.time() + 1
    assert record.revoked_at is None
    assert record.active
    assert record.last_used_at is None
    assert metadata_store.api_key_for_hash(hash_key(key)) == record
    assert metadata_store.api_key_for_hash(hash_key(generate_key())) is None


def test_add_api_key_for_a_missing_user_is_not_found(metadata_store: MetadataStore) -> None:
    with pytest.raises(NotFound):
        metadata_store.add_api_key(987654, "0" * 64, "abcd")


def test_list_api_keys_newest_first_and_only_the_users_own(
        metadata_store: MetadataStore) -> None:
    alice = metadata_store.create_user("alice")
    bob = metadata_store.create_user("bob")
    _, first = new_key(metadata_store, alice, "first")
    _, second = new_key(metadata_store, alice, "second")
    new_key(metadata_store, bob, "bob's")
    keys = metadata_store.list_api_keys(alice.id)
    assert [k.id for k in keys] == [second, first]
    assert [k.label for k in keys] == ["second", "first"]
    assert metadata_store.list_api_keys(123456) == []


def test_create_user_with_a_key_lists_that_key(metadata_store: MetadataStore) -> None:
    key = generate_key()
    carol = metadata_store.create_user("carol", api_key=(hash_key(key), key_hint(key)))
    [record] = metadata_store.list_api_keys(carol.id)
    assert record.hint == key_hint(key)
    assert record.label == ""


def test_revoked_key_authenticates_no_more(metadata_store: MetadataStore) -> None:
    alice = metadata_store.create_user("alice")
    key, key_id = new_key(metadata_store, alice)
    other, _ = new_key(metadata_store, alice)
    assert metadata_store.user_for_key(hash_key(key)) == alice
    revoked = metadata_store.revoke_api_key(key_id, 1_800_000_000.5)
    assert revoked.revoked_at == 1_800_000_000.5
    assert not revoked.active
    assert metadata_store.user_for_key(hash_key(key)) is None
    assert metadata_store.user_for_key(hash_key(other)) == alice  # the others still work
    # revoking again changes nothing, not even the date
    again = metadata_store.revoke_api_key(key_id, 1_900_000_000.0)
    assert again.revoked_at == 1_800_000_000.5
    [listed] = [k for k in metadata_store.list_api_keys(alice.id) if k.id == key_id]
    assert listed.revoked_at == 1_800_000_000.5


def test_revoke_a_missing_key_is_not_found(metadata_store: MetadataStore) -> None:
    with pytest.raises(NotFound):
        metadata_store.revoke_api_key(424242, time.time())


def test_use_of_a_key_is_noted(metadata_store: MetadataStore) -> None:
    alice = metadata_store.create_user("alice")
    key, key_id = new_key(metadata_store, alice)
    before = time.time()
    assert metadata_store.user_for_key(hash_key(key)) == alice
    [record] = metadata_store.list_api_keys(alice.id)
    assert record.last_used_at is not None
    assert before - 1 <= record.last_used_at <= time.time() + 1


def test_list_users_counts_active_keys(metadata_store: MetadataStore) -> None:
    bob = metadata_store.create_user("bob", email="bob@example.com", is_admin=True)
    alice = metadata_store.create_user("alice", password_hash="scrypt$stub")
    new_key(metadata_store, alice)
    _, revoked = new_key(metadata_store, alice)
    new_key(metadata_store, alice, SESSION_KEY_LABEL)
    metadata_store.revoke_api_key(revoked, time.time())
    users = metadata_store.list_users()
    assert [u.username for u in users] == ["alice", "bob"]
    a, b = users
    assert (a.id, a.entity, a.active_keys, a.has_password, a.active, a.is_admin) == (
        alice.id, "alice", 2, True, True, False)
    assert (b.id, b.email, b.active_keys, b.has_password, b.is_admin) == (
        bob.id, "bob@example.com", 0, False, True)
    assert a.created_at > 0
    assert metadata_store.get_account("alice") == a
    assert metadata_store.get_account("nobody") is None
    assert [u.username for u in metadata_store.list_users(limit=1, offset=1)] == ["bob"]


def test_deactivated_user_keys_fail_until_reactivated(metadata_store: MetadataStore) -> None:
    alice = metadata_store.create_user("alice", password_hash="scrypt$stub")
    key, _ = new_key(metadata_store, alice)
    account = metadata_store.set_user_active(alice.id, False, time.time())
    assert not account.active
    assert account.active_keys == 1
    assert metadata_store.user_for_key(hash_key(key)) is None
    assert metadata_store.password_hash_for("alice") is None
    # still listed, and still found by name (an admin must find it to reactivate it)
    assert metadata_store.get_user("alice") == alice
    assert not metadata_store.list_users()[0].active
    account = metadata_store.set_user_active(alice.id, True, time.time())
    assert account.active
    assert metadata_store.user_for_key(hash_key(key)) == alice
    assert metadata_store.password_hash_for("alice") == (alice, "scrypt$stub")


def test_reactivation_keeps_revoked_keys_revoked(metadata_store: MetadataStore) -> None:
    alice = metadata_store.create_user("alice")
    key, key_id = new_key(metadata_store, alice)
    metadata_store.revoke_api_key(key_id, time.time())
    metadata_store.set_user_active(alice.id, False, time.time())
    metadata_store.set_user_active(alice.id, True, time.time())
    assert metadata_store.user_for_key(hash_key(key)) is None


def test_set_user_active_for_a_missing_user_is_not_found(metadata_store: MetadataStore) -> None:
    with pytest.raises(NotFound):
        metadata_store.set_user_active(55555, False, time.time())


def test_password_hash_set_read_and_removed(metadata_store: MetadataStore) -> None:
    alice = metadata_store.create_user("alice")
    assert metadata_store.password_hash_for("alice") is None  # no password yet
    metadata_store.set_password(alice.id, "scrypt$16384$8$1$c2FsdA$aGFzaA")
    assert metadata_store.password_hash_for("alice") == (
        alice, "scrypt$16384$8$1$c2FsdA$aGFzaA")
    assert metadata_store.password_hash_for("ALICE") is None  # names are exact
    assert metadata_store.password_hash_for("nobody") is None
    metadata_store.set_password(alice.id, None)
    assert metadata_store.password_hash_for("alice") is None
    with pytest.raises(NotFound):
        metadata_store.set_password(99999, "x")


def test_create_user_with_a_password_hash(metadata_store: MetadataStore) -> None:
    dave = metadata_store.create_user("dave", email="d@example.com", password_hash="h1")
    assert metadata_store.password_hash_for("dave") == (dave, "h1")
    with pytest.raises(Conflict):
        metadata_store.create_user("dave", password_hash="h2")
    assert metadata_store.password_hash_for("dave") == (dave, "h1")
