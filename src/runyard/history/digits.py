"""History texts as a template and columns of digit runs, exactly.

A training log's lines differ almost only in their numbers: ``{"_step":41,"loss":0.8374...}``
then ``{"_step":42,"loss":0.8251...}``. Compressing the texts as they are stores every number
as its decimal characters (Zstandard finds no pattern in them: about 14 bytes per line of one
metric). Here each maximal run of ASCII digits (split every 18 digits, so that it fits an
int64) becomes one *hole*: the text keeps a marker byte in its place, and the hole's value and
width (its digit count, so that leading zeros come back) go into integer columns. Lines with
the same number of holes form a matrix whose columns are the same field line after line (a
step, a runtime's fraction, a metric's digits); a column that changes slowly is stored as
differences to the line before (steps and clocks then cost almost nothing). The signs, points
and exponents stay in the template, which repeats from line to line and compresses to nearly
nothing.

Nothing is parsed or rounded: decoding writes every hole's digits back, zero-padded to its
width, so the texts come back byte for byte. A text holding the marker byte (never in JSON:
control characters must be escaped there) is not encoded this way; the caller stores it as
it is.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from runyard.history import predict, zstd
from runyard.history.planes import from_planes, to_planes

#: Stands for a hole in the template (JSON text never holds a raw control character).
MARK = 0x01
#: At most this many digits per hole: 10**18 - 1 fits an int64.
MAX_WIDTH = 18
_HEADER = struct.Struct("<III")  # lines, holes, template bytes
_FRAMES = struct.Struct("<9I")  # sizes: the metadata frame, then one per value byte plane
_POW10 = 10 ** np.arange(MAX_WIDTH + 1, dtype=np.int64)
_DIGIT_0 = ord("0")

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def encode(data: bytes, lengths: npt.NDArray[np.int64], level: int,
           table: Mapping[str, F64] | None = None) -> bytes | None:
    """``data`` = the lines' UTF-8 texts back to back, ``lengths`` their byte lengths.

    Returns the compressed form, or None when a text holds the marker byte or no digits
    (then the plain texts are the better form). With ``table`` (per metric, its value on
    each line), runs are stored as their difference to ``runyard.history.predict``'s
    guesses from it; None then also when nothing could be guessed."""
    raw = np.frombuffer(data, np.uint8)
    if not len(raw) or (raw == MARK).any():
        return None
    is_digit = (raw - np.uint8(_DIGIT_0)) < 10  # wraps below '0'
    where = np.flatnonzero(is_digit)
    if not len(where):
        return None
    starts = np.zeros(len(raw), np.bool_)
    starts[where] = True
    starts[1:] &= ~is_digit[:-1]
    line_ends = np.cumsum(lengths)
    line_starts = (line_ends - lengths)[lengths > 0]
    starts[line_starts] = is_digit[line_starts]  # a run never joins two lines
    # Runs longer than MAX_WIDTH are cut into several holes.
    run_of_digit = np.cumsum(starts[where]) - 1
    run_first = where[starts[where]]
    hole_begins = (where - run_first[run_of_digit]) % MAX_WIDTH == 0
    hole_starts = where[hole_begins]
    hole_of_digit = np.cumsum(hole_begins) - 1
    widths = np.bincount(hole_of_digit).astype(np.int64)
    ends = hole_starts + widths
    exponents = ends[hole_of_digit] - where - 1
    contributions = (raw[where] - np.uint8(_DIGIT_0)).astype(np.int64) * _POW10[exponents]
    values = np.add.reduceat(contributions, np.flatnonzero(hole_begins))

    keep = ~is_digit
    keep[hole_starts] = True
    marked = raw.copy()
    marked[hole_starts] = MARK
    template = marked[keep].tobytes()

    line_of_hole = np.searchsorted(line_ends, hole_starts, side="right")
    per_line = np.bincount(line_of_hole, minlength=len(lengths)).astype(np.int64)
    if table is not None:
        guessed = predict.guesses(template, lengths, per_line, widths, values, table)
        if guessed is None:
            return None
        values = values - guessed
    order, groups = _grouping(per_line)
    value_planes, width_planes, flags = _columns(values, widths, per_line, order, groups,
                                                       level)
    header = _HEADER.pack(len(lengths), len(values), len(template))
    meta = per_line.astype("<u4").tobytes() + flags + width_planes + template
    # Each byte plane of the values is its own frame: a plane of high bytes (mostly equal)
    # and one of low bytes (noise) compress best apart.
    frames = [zstd.compress(meta, level), *(zstd.compress(value_planes[k * len(values):
                                                                      (k + 1) * len(values)],
                                                         level) for k in range(8))]
    return header + _FRAMES.pack(*map(len, frames)) + b"".join(frames)


def decode(payload: bytes | memoryview, lengths: I64 | None = None,
           table: Mapping[str, F64] | None = None) -> bytes:
    """The texts back to back, byte for byte (the caller splits them by their lengths).
    A payload encoded with a ``table`` needs the same table, and the texts' lengths."""
    try:
        return _decode(payload, lengths, table)
    except (ValueError, IndexError, struct.error):
        raise ValueError("corrupt history texts") from None


def _decode(payload: bytes | memoryview, lengths: I64 | None,
            table: Mapping[str, F64] | None) -> bytes:
    lines, holes, template_size = _HEADER.unpack_from(payload)
    sizes = _FRAMES.unpack_from(payload, _HEADER.size)
    at = _HEADER.size + _FRAMES.size
    frames = []
    for size in sizes:
        frames.append(zstd.decompress(payload[at:at + size]))
        at += size
    body = memoryview(frames[0])
    per_line = np.frombuffer(body, "<u4", lines).astype(np.int64)
    # The grouping of lines by hole count follows from the counts, as when encoding.
    order, groups = _grouping(per_line)
    at = lines * 4
    columns = sum(h for h, _n in groups)
    flags = np.frombuffer(body, np.bool_, columns, at)
    at += columns
    width_planes = np.frombuffer(body, np.uint8, holes, at)
    at += holes
    template = np.frombuffer(body, np.uint8, template_size, at)
    value_planes = np.frombuffer(b"".join(frames[1:]), np.uint8, holes * 8)
    values, widths = _uncolumns(value_planes, width_planes, flags, per_line, order, groups,
                                 holes)
    if table is not None:
        if lengths is None:
            raise ValueError("guessed runs need the texts' lengths")
        guessed = predict.guesses(template.tobytes(), lengths, per_line, widths, values,
                                   table)
        if guessed is None:
            raise ValueError("corrupt history texts")
        values = values + guessed

    marks = np.flatnonzero(template == MARK)
    if len(marks) != holes:
        raise ValueError("corrupt history texts")
    grow = np.zeros(len(template), np.int64)
    grow[marks] = widths - 1
    shift = np.cumsum(grow) - grow
    out = np.empty(len(template) + int(grow.sum()), np.uint8)
    plain = template != MARK
    out[(np.arange(len(template)) + shift)[plain]] = template[plain]
    hole_at = marks + shift[marks]
    total = int(widths.sum())
    owner = np.repeat(np.arange(holes), widths)
    place = np.arange(total) - np.repeat(np.cumsum(widths) - widths, widths)
    exponent = widths[owner] - 1 - place
    digits = (values[owner] // _POW10[exponent]) % 10
    out[hole_at[owner] + place] = (digits + _DIGIT_0).astype(np.uint8)
    return out.tobytes()


def _grouping(per_line: I64) -> tuple[I64, list[tuple[int, int]]]:
    """Lines ordered by their hole count (stable), and the groups as (holes, lines)."""
    order = np.argsort(per_line, kind="stable")
    counts, sizes = np.unique(per_line, return_counts=True)
    return order, [(int(h), int(n)) for h, n in zip(counts, sizes, strict=True) if h]


def _hole_index(per_line: I64, order: I64, groups: list[tuple[int, int]]) -> list[I64]:
    """For each group, the (lines x holes) matrix of indexes into the holes' text order."""
    first = np.cumsum(per_line) - per_line
    lines = order[per_line[order] > 0]
    out: list[I64] = []
    at = 0
    for holes, count in groups:
        members = lines[at:at + count]
        at += count
        out.append(first[members][:, None] + np.arange(holes, dtype=np.int64)[None, :])
    return out


def _columns(values: I64, widths: I64, per_line: I64, order: I64,
             groups: list[tuple[int, int]], level: int) -> tuple[bytes, bytes, bytes]:
    """Holes grouped into matrices and written column by column: values as byte planes
    (the n-th byte of every value together), a column of slowly changing values as
    differences to the line before."""
    value_parts: list[I64] = []
    width_parts: list[I64] = []
    flags: list[bool] = []
    for index in _hole_index(per_line, order, groups):
        matrix = values[index]
        deltas = np.diff(matrix, axis=0, prepend=np.zeros((1, matrix.shape[1]), np.int64))
        use = np.array([_smaller(deltas[:, j], matrix[:, j], level)
                        for j in range(matrix.shape[1])], np.bool_)
        flags.extend(bool(u) for u in use)
        chosen = np.where(use[None, :], deltas, matrix)
        value_parts.append(chosen.T.reshape(-1))
        width_parts.append(widths[index].T.reshape(-1))
    stacked = np.concatenate(value_parts) if value_parts else np.zeros(0, np.int64)
    planes = to_planes(stacked)
    width_bytes = (np.concatenate(width_parts) if width_parts else np.zeros(0, np.int64)
                   ).astype(np.uint8).tobytes()
    return planes, width_bytes, bytes(flags)


def _smaller(deltas: I64, column: I64, level: int) -> bool:
    """Whether a column compresses smaller as differences (a counter, a clock) than as it
    is (a cycle, a value that rarely changes, noise): decided by trying both."""
    if not deltas.any() or not column.any():
        return bool(not deltas.any())
    return (len(zstd.compress(to_planes(deltas), level))
            < len(zstd.compress(to_planes(column), level)))


def _uncolumns(planes: U8, width_bytes: U8, flags: npt.NDArray[np.bool_], per_line: I64,
               order: I64, groups: list[tuple[int, int]], holes: int) -> tuple[I64, I64]:
    stacked = from_planes(planes, "<i8", holes).astype(np.int64)
    widths_in = width_bytes.astype(np.int64)
    values = np.empty(holes, np.int64)
    widths = np.empty(holes, np.int64)
    at = column = 0
    for index in _hole_index(per_line, order, groups):
        count_lines, count_holes = index.shape
        size = count_lines * count_holes
        block = stacked[at:at + size].reshape(count_holes, count_lines).T
        use = flags[column:column + count_holes]
        if use.any():
            block = block.copy()
            block[:, use] = np.cumsum(block[:, use], axis=0, dtype=np.int64)
        values[index] = block
        widths[index] = widths_in[at:at + size].reshape(count_holes, count_lines).T
        at += size
        column += count_holes
    return values, widths
