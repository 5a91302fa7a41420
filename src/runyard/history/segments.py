"""History segments: many history lines as one compressed value.

The per-step rows a client sends (wandb-history.jsonl lines, their exact text) are stored a
request at a time as one segment: line numbers, steps, runtimes, timestamps and texts. A
segment has two compressed parts, so that positions (line numbers and steps, for sampling)
are read without inflating the texts:

    header   magic, count, flags, length of the index part
    index    zstd(line-number deltas | step deltas | runtime, timestamp | presence bits)
    texts    zstd(text lengths | UTF-8 texts)                           (RYS1)
             or size, zstd(text lengths), the texts as runyard.history.digits (RYS2)
             or size, zstd(text lengths), size, keys (a JSON list), CRC-32 of the texts,
             the texts as runyard.history.digits stored against guesses from those keys'
             values (RYS3)

Numeric columns are delta-coded (floats on their bit patterns, so exactly) and
byte-shuffled (the n-th byte of every value together) before compression, so slowly
changing integers and floats cost a few bits per line. Zstandard at level 1 compresses a
typical training log about 6x, several times faster than zlib does.

Segments of short lines (a few metrics per step) are also tried as a template and columns of
digit runs (runyard.history.digits): there the step and clocks are most of each line's text,
and as columns they cost almost nothing (a line of one metric: 14 bytes become 7). The
smaller of the two forms is kept. Long lines are not tried: their numbers are mostly metric
values, noise that the plain form already stores near its entropy, and the digit columns
cost time in proportion to the text.

Once a segment's lines are sealed into chunks, which hold every metric's values as floats,
its digit runs are stored as differences to guesses from those floats (``sealed``,
runyard.history.predict): the values' noise is then stored once, in the chunks (a line of
one noisy metric: 7 bytes become under 1). Reading such a segment's texts takes those
values (``keys_of`` names the metrics); ``unsealed`` turns it back into the plain digit form
before its chunks change. The texts' checksum tells a reader whose chunk values are not
the ones the segment was sealed against (read after another transaction rewrote them):
it raises ``StaleValues`` instead of returning other texts.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from runyard.history import digits, zstd
from runyard.history.planes import from_planes, to_planes

MAGIC = b"RYS1"
MAGIC_DIGITS = b"RYS2"
MAGIC_SEALED = b"RYS3"
_MAGICS = (MAGIC, MAGIC_DIGITS, MAGIC_SEALED)
#: Segments whose lines average at most this many bytes are also tried as digit columns.
DIGITS_MAX_LINE = 256
_SIZE = struct.Struct("<I")
_HEADER = struct.Struct("<4sII")  # magic, count, index length
#: Zstandard levels for segments written on ingest and for compacted ones.
FAST = 1
COMPACT = 1

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class StaleValues(ValueError):
    """A sealed segment read with other values than it was sealed against."""


@dataclass(frozen=True, slots=True)
class Positions:
    """The index part of a segment: one entry per line, in line order."""

    line_nos: I64
    steps: I64
    runtimes: F64
    timestamps: F64
    has_runtime: npt.NDArray[np.bool_]
    has_timestamp: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.line_nos)


def _float_sums(deltas: npt.NDArray[np.generic]) -> F64:
    with np.errstate(over="ignore"):
        return np.cumsum(deltas, dtype=np.int64).view(np.float64)


def short_lines(texts: Sequence[str]) -> bool:
    """Whether ``texts`` are short enough for the digit forms (RYS2, RYS3) to be tried."""
    return bool(texts) and sum(map(len, texts)) <= DIGITS_MAX_LINE * len(texts)


def encode(line_nos: Sequence[int], steps: Sequence[int], runtimes: Sequence[float | None],
           timestamps: Sequence[float | None], texts: Sequence[str], *,
           level: int = FAST, try_digits: bool = True) -> bytes:
    """One segment of ``len(texts)`` lines (sorted by line number, no duplicates). Without
    ``try_digits`` only the plain form is made (lines about to be sealed: ``sealed`` tries
    the digit forms then)."""
    count = len(texts)
    # One table, one numpy pass: line numbers, steps and the two floats' bit patterns,
    # delta-coded along each row (wrapping, so exact).
    table = np.empty((4, count), np.int64)
    table[0] = np.asarray(line_nos, np.int64)
    table[1] = np.asarray(steps, np.int64)
    table[2:] = np.array([[0.0 if r is None else r for r in runtimes],
                          [0.0 if t is None else t for t in timestamps]],
                         np.float64).reshape(2, count).view(np.int64)
    with np.errstate(over="ignore"):
        deltas = np.diff(table, axis=1, prepend=np.zeros((4, 1), np.int64))
    present = np.array([[r is not None for r in runtimes], [t is not None for t in timestamps]],
                       np.bool_).reshape(2, count)
    index = (deltas.astype("<i8").view(np.uint8).reshape(4, count, 8).transpose(0, 2, 1)
             .tobytes() + np.packbits(present, axis=1).tobytes())
    encoded = [t.encode("utf-8") for t in texts]
    lengths = np.fromiter((len(b) for b in encoded), np.uint32, count).astype("<u4")
    packed_index = zstd.compress(index, level)
    joined = b"".join(encoded)
    packed_texts = zstd.compress(to_planes(lengths) + joined, level)
    magic = MAGIC
    if try_digits and count and len(joined) <= DIGITS_MAX_LINE * count:
        columns = digits.encode(joined, lengths.astype(np.int64), level)
        if columns is not None:
            packed_lengths = zstd.compress(to_planes(lengths), level)
            if _SIZE.size + len(packed_lengths) + len(columns) < len(packed_texts):
                magic = MAGIC_DIGITS
                packed_texts = _SIZE.pack(len(packed_lengths)) + packed_lengths + columns
    return _HEADER.pack(magic, count, len(packed_index)) + packed_index + packed_texts


def _header(payload: bytes) -> tuple[int, int]:
    magic, count, index_length = _HEADER.unpack_from(payload)
    if magic not in _MAGICS:
        raise ValueError("not a history segment")
    return int(count), int(index_length)


def positions(payload: bytes) -> Positions:
    count, index_length = _header(payload)
    start = _HEADER.size
    raw = zstd.decompress(payload[start:start + index_length])
    size = count * 8
    view = memoryview(raw)
    lines = np.cumsum(from_planes(view[:size], "<i8", count), dtype=np.int64)
    steps = np.cumsum(from_planes(view[size:2 * size], "<i8", count), dtype=np.int64)
    rt = _float_sums(from_planes(view[2 * size:3 * size], "<i8", count))
    ts = _float_sums(from_planes(view[3 * size:4 * size], "<i8", count))
    bits = (count + 7) // 8
    has_rt = np.unpackbits(np.frombuffer(raw, np.uint8, bits, 4 * size), count=count)
    has_ts = np.unpackbits(np.frombuffer(raw, np.uint8, bits, 4 * size + bits), count=count)
    return Positions(lines, steps, rt, ts, has_rt.astype(np.bool_), has_ts.astype(np.bool_))


def _parts(payload: bytes) -> tuple[int, I64, list[str], int, memoryview]:
    """A digit-form segment's line count, text lengths, guessed keys, the texts' CRC-32
    (sealed ones), digits payload."""
    count, index_length = _header(payload)
    view = memoryview(payload)
    start = _HEADER.size + index_length
    (size,) = _SIZE.unpack_from(payload, start)
    start += _SIZE.size
    lengths = from_planes(zstd.decompress(view[start:start + size]), "<u4",
                          count).astype(np.int64)
    start += size
    keys: list[str] = []
    crc = 0
    if payload[:4] == MAGIC_SEALED:
        (size,) = _SIZE.unpack_from(payload, start)
        start += _SIZE.size
        try:
            keys = json.loads(bytes(view[start:start + size]))
        except ValueError:
            raise ValueError("corrupt history segment") from None
        (crc,) = _SIZE.unpack_from(payload, start + size)
        start += size + _SIZE.size
    return count, lengths, keys, crc, view[start:]


def keys_of(payload: bytes) -> list[str]:
    """The metrics whose values reading this segment's texts takes (none but in RYS3)."""
    return _parts(payload)[2] if payload[:4] == MAGIC_SEALED else []


def _own_values(payload: bytes) -> dict[str, F64]:
    """The values a segment holds itself, in its index: every line's step and clocks."""
    where = positions(payload)
    return {"_step": where.steps.astype(np.float64),
            "_runtime": np.where(where.has_runtime, where.runtimes, np.nan),
            "_timestamp": np.where(where.has_timestamp, where.timestamps, np.nan)}


def _sealed_texts(payload: bytes, table: Mapping[str, F64] | None) -> tuple[I64, bytes]:
    _count, lengths, keys, crc, columns = _parts(payload)
    if keys and table is None:
        raise ValueError("a sealed history segment is read with its metrics' values")
    body = digits.decode(columns, lengths, {**(table or {}), **_own_values(payload)})
    if zlib.crc32(body) != crc:
        raise StaleValues("a sealed history segment read with other values")
    return lengths, body


def sealed(payload: bytes, table: Mapping[str, F64], *, level: int = COMPACT
           ) -> bytes | None:
    """``payload`` in the smallest digit form: its runs stored as differences to guesses
    from ``table`` (per metric, its value on each line, in line order; every line covered)
    and from the segment's own steps and clocks (RYS3), or as they are (RYS2); None when
    neither is smaller or the lines are long (see ``encode``)."""
    magic = payload[:4]
    if magic == MAGIC_DIGITS:
        count, lengths, _keys, _crc, body = _parts(payload)
        joined = digits.decode(body)
    elif magic == MAGIC:
        count, index_length = _header(payload)
        raw = zstd.decompress(payload[_HEADER.size + index_length:])
        lengths = from_planes(raw[:count * 4], "<u4", count).astype(np.int64)
        joined = raw[count * 4:]
        if len(joined) > DIGITS_MAX_LINE * count:
            return None
    else:
        return None
    start = _HEADER.size + _header(payload)[1]
    index = payload[4:start]
    packed_lengths = zstd.compress(to_planes(lengths.astype("<u4")), level)
    head = index + _SIZE.pack(len(packed_lengths)) + packed_lengths
    best = payload
    columns = digits.encode(joined, lengths, level, {**table, **_own_values(payload)})
    if columns is not None:
        keys = json.dumps(sorted(table)).encode("utf-8")
        best = min(best, MAGIC_SEALED + head + _SIZE.pack(len(keys)) + keys
                   + _SIZE.pack(zlib.crc32(joined)) + columns, key=len)
    if magic == MAGIC and (columns is None or len(best) * 2 > len(payload)):
        plain = digits.encode(joined, lengths, level)
        if plain is not None:
            best = min(best, MAGIC_DIGITS + head + plain, key=len)
    return best if best is not payload else None


def unsealed(payload: bytes, table: Mapping[str, F64] | None, *, level: int = COMPACT
             ) -> bytes:
    """A sealed segment back in the plain digit form (``table`` as when it was sealed)."""
    if payload[:4] != MAGIC_SEALED:
        return payload
    lengths, body = _sealed_texts(payload, table)
    columns = digits.encode(body, lengths, level)
    if columns is None:
        raise ValueError("corrupt history segment")
    start = _HEADER.size + _header(payload)[1]
    (size,) = _SIZE.unpack_from(payload, start)
    return MAGIC_DIGITS + payload[4:start + _SIZE.size + size] + columns


def texts(payload: bytes, table: Mapping[str, F64] | None = None) -> list[str]:
    """The lines' texts; a sealed segment (RYS3) needs ``table`` as when it was sealed."""
    count, index_length = _header(payload)
    start = _HEADER.size + index_length
    if payload[:4] == MAGIC_SEALED:
        lengths, body = _sealed_texts(payload, table)
    elif payload[:4] == MAGIC_DIGITS:
        count, lengths, _keys, _crc, columns = _parts(payload)
        body = digits.decode(columns, lengths)
    else:
        raw = zstd.decompress(payload[start:])
        lengths = from_planes(raw[:count * 4], "<u4", count).astype(np.int64)
        body = raw[count * 4:]
    ends = np.cumsum(lengths)
    bounds = ends.tolist()
    starts = [0, *bounds[:-1]] if bounds else []
    if body.isascii():  # the usual case: byte offsets are character offsets
        text = body.decode("ascii")
        return [text[a:b] for a, b in zip(starts, bounds, strict=True)]
    return [body[a:b].decode("utf-8") for a, b in zip(starts, bounds, strict=True)]


def count_of(payload: bytes) -> int:
    return _header(payload)[0]
