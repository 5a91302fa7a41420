"""Parts: a chunk's points grown by appending payloads, each compressed on its own.

A metric's chunk takes in the next seals' points (``series.MERGE_LINES``). Re-encoding the
whole chunk at every seal would cost the ingest path several times its sealing work
(measured: a third of W2's throughput); instead each seal's points payload is appended as
it was encoded:

    RYP1 | u32 parts | u32 length x parts | the parts, in order

A payload that does not begin with the mark is one part (every payload written before).
Readers decode each part and concatenate, in order.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

MAGIC = b"RYP1"
_COUNT = struct.Struct("<4sI")
_LENGTH = struct.Struct("<I")


def split(payload: bytes) -> list[bytes]:
    """The parts of ``payload``: itself when it is not a container."""
    if not payload.startswith(MAGIC):
        return [payload]
    try:
        _magic, count = _COUNT.unpack_from(payload)
        lengths = struct.unpack_from(f"<{count}I", payload, _COUNT.size)
    except struct.error:
        raise ValueError("corrupt parts container") from None
    at = _COUNT.size + _LENGTH.size * count
    if at + sum(lengths) != len(payload):
        raise ValueError("corrupt parts container")
    out = []
    view = memoryview(payload)
    for length in lengths:
        out.append(bytes(view[at:at + length]))
        at += length
    return out


def join(payloads: Sequence[bytes]) -> bytes:
    """One container of every part of ``payloads`` (containers are flattened)."""
    flat = [part for payload in payloads for part in split(payload)]
    return (_COUNT.pack(MAGIC, len(flat)) + struct.pack(f"<{len(flat)}I", *map(len, flat))
            + b"".join(flat))
