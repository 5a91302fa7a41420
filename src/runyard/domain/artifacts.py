"""Artifacts: names, aliases, blob keys and manifests. Pure logic, no I/O.

Artifact files are stored once per content, under ``artifacts/md5/<hex md5>``; the client
names them by base64 MD5, so both spellings meet here. A manifest is the JSON file the
client uploads last (``wandb_manifest.json``); committing an artifact reads it back, checks
it against the digests the client declared and records its entries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from runyard.errors import BadRequest
from runyard.stores.keys import check_file_name

BLOB_PREFIX = "artifacts/md5/"
MANIFEST_PREFIX = "artifacts/manifests/"
MAX_NAME_LENGTH = 128
MAX_ALIAS_LENGTH = 128
MAX_DIGEST_LENGTH = 128
#: A manifest larger than this is refused (it is read into memory to be checked).
MAX_MANIFEST_BYTES = 256 * 1024 * 1024

_HEX_MD5 = re.compile(r"[0-9a-f]{32}")
_VERSION_ALIAS = re.compile(r"v(0|[1-9][0-9]{0,8})")
_FORBIDDEN_IN_NAME = set("/\\:#?%\x00\n\r\t")
_DIGEST_HEADER = b"wandb-artifact-manifest-v1\n"

LATEST = "latest"
STATES = ("PENDING", "COMMITTED", "DELETED")


# names and aliases -----------------------------------------------------------------------
def check_artifact_name(kind: str, value: object) -> str:
    """An artifact (collection) or type name: 1..128 characters, no path or alias syntax."""
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_LENGTH:
        raise BadRequest(f"artifact {kind} must be 1 to {MAX_NAME_LENGTH} characters")
    if value != value.strip() or any(c in _FORBIDDEN_IN_NAME for c in value):
        raise BadRequest(f"artifact {kind} {value!r} contains a character that is not allowed")
    if value in (".", ".."):
        raise BadRequest(f"artifact {kind} {value!r} is not allowed")
    return value


def version_index_of(alias: str) -> int | None:
    """``v3`` -> 3; None for any other alias."""
    match = _VERSION_ALIAS.fullmatch(alias)
    return int(match.group(1)) if match else None


def check_alias(value: object) -> str:
    """A custom alias (``latest`` included); version aliases ``vN`` are computed, not set."""
    if not isinstance(value, str) or not value or len(value) > MAX_ALIAS_LENGTH:
        raise BadRequest(f"an alias must be 1 to {MAX_ALIAS_LENGTH} characters")
    if value != value.strip() or any(c in _FORBIDDEN_IN_NAME for c in value):
        raise BadRequest(f"alias {value!r} contains a character that is not allowed")
    if version_index_of(value) is not None:
        raise BadRequest(f"alias {value!r} is reserved: version aliases are given by the server")
    return value


def split_name(name: str) -> tuple[str, str]:
    """``"collection:alias"`` -> (collection, alias); no alias means ``latest``."""
    collection, sep, alias = name.partition(":")
    return collection, (alias if sep and alias else LATEST)


# digests and keys ------------------------------------------------------------------------
def b64_md5_to_hex(value: object) -> str:
    """The client's base64 MD5 as lowercase hex; BadRequest when it is not 16 bytes."""
    if not isinstance(value, str):
        raise BadRequest("md5 must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"md5 {value!r} is not base64") from None
    if len(raw) != 16:
        raise BadRequest(f"md5 {value!r} is not 16 bytes")
    return raw.hex()


def hex_to_b64(md5_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(md5_hex)).decode()


def blob_key(md5_hex: str) -> str:
    if not _HEX_MD5.fullmatch(md5_hex):
        raise ValueError(f"not a hex md5: {md5_hex!r}")
    return BLOB_PREFIX + md5_hex


def md5_of_blob_key(key: str) -> str | None:
    """The hex md5 a content-addressed key names; None for any other key."""
    if not key.startswith(BLOB_PREFIX):
        return None
    rest = key[len(BLOB_PREFIX):]
    return rest if _HEX_MD5.fullmatch(rest) else None


def is_hex_md5(value: str) -> bool:
    return bool(_HEX_MD5.fullmatch(value))


def manifest_key(artifact_id: int, name: str) -> str:
    return f"{MANIFEST_PREFIX}{artifact_id}/{check_file_name(name)}"


def b64_md5_of(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - checksum


# manifests -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One ``contents`` entry. Stored files have ``md5_hex``; references have ``ref``."""

    path: str
    digest: str
    size: int | None
    ref: str | None
    md5_hex: str | None
    birth_artifact_id: str | None


def parse_manifest(data: bytes) -> list[ManifestEntry]:
    """Entries of a version-1 manifest, in path order; BadRequest on anything malformed."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the artifact manifest is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise BadRequest("the artifact manifest must be a version 1 manifest")
    contents = doc.get("contents")
    if not isinstance(contents, dict):
        raise BadRequest("the artifact manifest has no 'contents' object")
    return [_entry(path, raw) for path, raw in sorted(contents.items())]


def _entry(path: str, raw: Any) -> ManifestEntry:
    check_file_name(path)
    if not isinstance(raw, dict):
        raise BadRequest(f"manifest entry {path!r} is not an object")
    digest = raw.get("digest")
    if not isinstance(digest, str) or not digest:
        raise BadRequest(f"manifest entry {path!r} has no digest")
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise BadRequest(f"manifest entry {path!r} has an invalid size")
    ref = raw.get("ref")
    if ref is not None and (not isinstance(ref, str) or not ref):
        raise BadRequest(f"manifest entry {path!r} has an invalid ref")
    birth = raw.get("birthArtifactID")
    if birth is not None and not isinstance(birth, str):
        raise BadRequest(f"manifest entry {path!r} has an invalid birthArtifactID")
    md5_hex = None
    if ref is None:
        md5_hex = b64_md5_to_hex(digest)
        if size is None:
            raise BadRequest(f"manifest entry {path!r} has no size")
    return ManifestEntry(path, digest, size, ref, md5_hex, birth)


def manifest_digest(entries: list[ManifestEntry]) -> str:
    """The artifact digest the client computes (MANIFEST_MD5): header, then sorted entries."""
    hasher = hashlib.md5(_DIGEST_HEADER)  # noqa: S324 - the client's content digest
    for entry in sorted(entries, key=lambda e: e.path):
        hasher.update(f"{entry.path}:{entry.digest}\n".encode())
    return hasher.hexdigest()
