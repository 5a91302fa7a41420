"""Chunk payloads: a metric's raw points (steps, values, wall times) as compressed columns.

Steps are stored as differences to the point before. A column of floats that are all short
decimals (a runtime in seconds with three decimals, a wall time in milliseconds, an integer
counter logged as a float) is stored as those decimals' integer digits, as differences: a
clock then costs almost nothing. Any other float column is stored as its bit patterns (wall
times as differences of them). Every column comes back bit for bit. Columns are
byte-shuffled (the n-th byte of every value together) and compressed with Zstandard.

Formats read: RYC3 (this one), RYC2 (floats as they are, times as float differences, zstd)
and RYC1 (the same with zlib); a grown chunk holds several payloads (runyard.history.parts).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

from runyard.history import parts, zstd
from runyard.history.planes import from_planes, to_planes

MAGIC = b"RYC3"
_ZSTD_MAGIC = b"RYC2"
_ZLIB_MAGIC = b"RYC1"
_HEADER = struct.Struct("<4sI")
_SCALES = struct.Struct("<bb")  # decimal places of the values and of the times; -1: bits
#: At most this many decimal places are tried (10**6: microseconds).
MAX_PLACES = 6
_SAMPLE = 16
_SIZE = struct.Struct("<I")
_LOW_PLANES = 6
_EXACT_INT = 2.0**53

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _exact_at(matrix: F64, places: int) -> npt.NDArray[np.bool_]:
    """Per column: whether every value is exactly an integer over 10**places (bit for bit,
    so -0.0, NaN and infinities are not)."""
    scale = 10.0**places
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.rint(matrix * scale)
        ok = np.abs(scaled) < _EXACT_INT
        # Through int64, as decoding does (which also drops the sign of a zero).
        back = np.where(ok, scaled, 0.0).astype(np.int64).astype(np.float64) / scale
    same = back.view(np.int64) == np.ascontiguousarray(matrix).view(np.int64)
    return np.asarray((same & ok).all(axis=0))


def decimal_places(matrix: F64) -> list[int]:
    """Per column of ``matrix`` (points x columns), the fewest decimal places (0 to
    MAX_PLACES) that hold every value exactly, or -1. A few leading rows rule most noise
    columns out before the whole matrix is checked."""
    width = matrix.shape[1]
    places = [-1] * width
    if not matrix.shape[0]:
        return places
    sample = matrix[:_SAMPLE]
    open_columns = np.ones(width, np.bool_)
    start = [-1] * width
    for p in range(MAX_PLACES + 1):
        hit = _exact_at(sample, p) & open_columns
        for column_index in np.flatnonzero(hit).tolist():
            start[column_index] = p
        open_columns &= ~hit
        if not open_columns.any():
            break
    for k in range(width):
        if start[k] < 0:
            continue
        column = matrix[:, k:k + 1]
        for p in range(start[k], MAX_PLACES + 1):
            if _exact_at(column, p)[0]:
                places[k] = p
                break
    return places


def column_bytes(column: F64, places: int, *, as_deltas: bool) -> bytes:
    """One float column as shuffled int64s: decimal digits as differences, or bit patterns
    (as differences when ``as_deltas``, for clocks)."""
    if places >= 0:
        digits = np.rint(column * 10.0**places).astype(np.int64)
        ints = np.diff(digits, prepend=np.int64(0))
    else:
        bits = np.ascontiguousarray(column).view(np.int64)
        ints = np.diff(bits, prepend=np.int64(0)) if as_deltas else bits
    return to_planes(ints)


def _column(raw: bytes, places: int, *, as_deltas: bool) -> F64:
    ints = from_planes(raw, "<i8", len(raw) // 8).astype(np.int64)
    if places >= 0:
        return np.cumsum(ints, dtype=np.int64).astype(np.float64) / 10.0**places
    with np.errstate(over="ignore"):
        bits = np.cumsum(ints, dtype=np.int64) if as_deltas else ints
    return bits.view(np.float64)


def step_bytes(steps: I64) -> bytes:
    return to_planes(np.diff(steps, prepend=np.int64(0)))


def payload(count: int, value_places: int, time_places: int, steps: bytes, values: bytes,
            times: bytes) -> bytes:
    """A chunk from its columns' bytes (``step_bytes`` and ``column_bytes``).

    Two frames: the steps, the times and the values' two high byte planes (sign, exponent:
    nearly constant), then the values' six low planes (for most metrics, noise). Apart,
    each gets the entropy coding its bytes need: together, the noise sets the code for all.
    """
    low = count * _LOW_PLANES
    head = zstd.compress(steps + times + values[low:], 1)
    return (_HEADER.pack(MAGIC, count) + _SCALES.pack(value_places, time_places)
            + _SIZE.pack(len(head)) + head + zstd.compress(values[:low], 1))


def encode(steps: I64, values: F64, times: F64) -> bytes:
    value_places, time_places = decimal_places(np.column_stack([values, times]))
    return payload(len(steps), value_places, time_places, step_bytes(steps),
                   column_bytes(values, value_places, as_deltas=False),
                   column_bytes(times, time_places, as_deltas=True))


def decode(payload: bytes) -> tuple[I64, F64, F64]:
    """(steps, values, wall times) of a payload, or of every part of a grown chunk
    (runyard.history.parts), in order."""
    pieces = parts.split(payload)
    if len(pieces) == 1:
        return _decode_one(pieces[0])
    decoded = [_decode_one(piece) for piece in pieces]
    return (np.concatenate([d[0] for d in decoded]), np.concatenate([d[1] for d in decoded]),
            np.concatenate([d[2] for d in decoded]))


def _decode_one(payload: bytes) -> tuple[I64, F64, F64]:
    magic, count = _HEADER.unpack_from(payload)
    size = count * 8
    if magic == MAGIC:
        value_places, time_places = _SCALES.unpack_from(payload, _HEADER.size)
        at = _HEADER.size + _SCALES.size
        (head_size,) = _SIZE.unpack_from(payload, at)
        at += _SIZE.size
        head = zstd.decompress(payload[at:at + head_size])
        low = zstd.decompress(payload[at + head_size:])
        steps = np.cumsum(from_planes(head[:size], "<i8", count), dtype=np.int64)
        values = _column(low + head[2 * size:], value_places, as_deltas=False)
        times = _column(head[size:2 * size], time_places, as_deltas=True)
        return steps, values, times
    if magic == _ZSTD_MAGIC:
        body = zstd.decompress(payload[_HEADER.size:])
    elif magic == _ZLIB_MAGIC:
        body = zlib.decompress(payload[_HEADER.size:])
    else:
        raise ValueError("not a history chunk")
    steps = np.cumsum(from_planes(body[:size], "<i8", count), dtype=np.int64)
    values = from_planes(body[size:2 * size], "<f8", count).astype(np.float64)
    times = np.cumsum(from_planes(body[2 * size:], "<f8", count), dtype=np.float64)
    return steps, values, times
