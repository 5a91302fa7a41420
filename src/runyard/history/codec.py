"""Chunk payloads: delta-coded steps and times, byte-shuffled, compressed columns
(Zstandard; chunks written before it used zlib and are still read)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

from runyard.history import zstd

MAGIC = b"RYC2"
_ZLIB_MAGIC = b"RYC1"
_HEADER = struct.Struct("<4sI")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _shuffle(raw: bytes, width: int) -> bytes:
    """Group the n-th byte of every value together: similar bytes compress far better."""
    if not raw:
        return raw
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width).T.tobytes()


def _unshuffle(raw: bytes, width: int) -> bytes:
    if not raw:
        return raw
    return np.frombuffer(raw, dtype=np.uint8).reshape(width, -1).T.tobytes()


def encode(steps: I64, values: F64, times: F64) -> bytes:
    count = len(steps)
    step_deltas = np.diff(steps, prepend=np.int64(0)).astype("<i8")
    time_deltas = np.diff(times, prepend=np.float64(0)).astype("<f8")
    body = (_shuffle(step_deltas.tobytes(), 8) + _shuffle(values.astype("<f8").tobytes(), 8)
            + _shuffle(time_deltas.tobytes(), 8))
    return header(count) + zstd.compress(body, 1)


def header(count: int) -> bytes:
    return _HEADER.pack(MAGIC, count)


def decode(payload: bytes) -> tuple[I64, F64, F64]:
    magic, count = _HEADER.unpack_from(payload)
    if magic == MAGIC:
        body = zstd.decompress(payload[_HEADER.size:])
    elif magic == _ZLIB_MAGIC:
        body = zlib.decompress(payload[_HEADER.size:])
    else:
        raise ValueError("not a history chunk")
    size = count * 8
    steps = np.cumsum(np.frombuffer(_unshuffle(body[:size], 8), dtype="<i8"), dtype=np.int64)
    values = np.frombuffer(_unshuffle(body[size:2 * size], 8), dtype="<f8").astype(np.float64)
    times = np.cumsum(np.frombuffer(_unshuffle(body[2 * size:], 8), dtype="<f8"),
                      dtype=np.float64)
    return steps, values, times
