"""Blob keys and user-supplied file names: one place that decides what is safe."""

from __future__ import annotations

from runyard.errors import BadRequest

MAX_NAME_LENGTH = 512


def check_file_name(name: str) -> str:
    """A run file name as the client sends it: relative, no '..', no NUL, no backslash tricks."""
    if not isinstance(name, str) or not name:
        raise BadRequest("file name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"file name is longer than {MAX_NAME_LENGTH} characters")
    if "\x00" in name:
        raise BadRequest("file name contains a NUL byte")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise BadRequest(f"file name must be relative: {name!r}")
    parts = name.replace("\\", "/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise BadRequest(f"file name has an empty, '.' or '..' part: {name!r}")
    if any(part != part.rstrip(" ") for part in parts):
        # MySQL compares names padded with spaces: "a.txt" and "a.txt " would collide.
        raise BadRequest(f"file name has a part ending in a space: {name!r}")
    return name


def check_key(key: str) -> str:
    """A storage key: the same rules as a file name (keys are built from checked names)."""
    return check_file_name(key)


def run_file_key(run_id: int, name: str) -> str:
    return f"runs/{run_id}/files/{check_file_name(name)}"
