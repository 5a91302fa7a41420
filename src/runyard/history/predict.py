"""Guesses of a history text's digit runs from the metric values the chunks already hold.

A sealed line's metric values are stored twice: as digits in the line's text (the segment,
the source of truth) and as floats in its metric's chunk (for charts). Noise costs the same
in both (a loss of 17 significant digits: some 7 bytes each time). Here the digits are
guessed from the float: for ``"loss":1.2345678901234567`` the integer run ``1`` is
``floor(|v|)`` and the fraction run is ``|v| - floor(|v|)`` times ``10**16``, rounded; the
segment keeps only the difference between each run and its guess (nearly always zero), so
the noise is stored once.

Nothing here has to be right to be exact: a wrong guess costs space, never a byte of text.
It has to be the same when reading as when writing, on any machine: the guesses use only
IEEE double operations that every platform rounds the same way (no long double, no fused
multiply-add, no transcendental functions), and an exact product (Dekker's) where a plain
one would round.

Only top-level keys whose name holds no digit or escape, with a value written in plain
positional notation (``12``, ``-0.5``, ``3.25``) or with an exponent (``1.25e-07``,
``1.7643e+09``), are guessed; other runs keep their digits. A line's keys may come in any
order (wandb-core writes them so): lines of few shapes are parsed shape by shape, others
searched with one regular expression.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

MARK = 0x01
#: Lines of a segment share few shapes; with more distinct shapes than this, no guessing.
MAX_SHAPES = 256
#: Digits per run (runyard.history.digits cuts longer runs): a fraction of more digits is
#: two runs, its first 18 digits and the rest.
RUN = 18
#: Role of a guessed run: a number's integer part (the mantissa's, before an exponent), its
#: fraction digits, or the first and second run of a fraction longer than RUN digits.
INT, FRAC, FRAC_HIGH, FRAC_LOW = 1, 2, 3, 4

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
#: A guessable run: its index in its line, key, role, the exponent's run (or -1) and sign.
Field = tuple[int, str, int, int, int]
Part = tuple[I64, F64, int, I64, I64]  # runs, their values, role, exponent runs and signs

_QUOTE, _BACKSLASH, _COLON, _MINUS, _POINT = 0x22, 0x5C, 0x3A, 0x2D, 0x2E
_OPEN, _CLOSE = frozenset(b"{["), frozenset(b"}]")
_SPACE = frozenset(b" \t\r\n")
_END = frozenset(b",}") | _SPACE
_EXPONENT = frozenset(b"eE")
_SIGNS = frozenset(b"+-")
_DIGITS = re.compile(rb"[0-9]+")
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two halves
#: Powers of ten as Python's parser rounds them (correctly, the same on every platform;
#: a libm's pow need not be): exact up to 10**22.
_POW10 = np.array([float(f"1e{k}") for k in range(309)])


def fields(shape: bytes) -> list[Field]:
    """The guessable runs of one line's template (its text with every digit run replaced
    by MARK): (run index in the line, key, role, index of the exponent's run or -1, the
    exponent's sign: -1, 1, or 0 without one)."""
    out: list[Field] = []
    n, i, depth, run = len(shape), 0, 0, 0
    key: str | None = None
    while i < n:
        c = shape[i]
        if key is not None and c not in _SPACE:
            i, run, found = _value(shape, i, run, key, out)
            key = None
            if found:
                continue
        if c == _QUOTE:
            j, clean = i + 1, True
            while j < n and shape[j] != _QUOTE:
                if shape[j] == MARK:
                    run, clean = run + 1, False
                elif shape[j] == _BACKSLASH:
                    clean = False
                    j += 1
                    if j < n and shape[j] == MARK:
                        run += 1
                j += 1
            text = shape[i + 1:j]
            i = j + 1
            if depth != 1:
                continue
            k = i
            while k < n and shape[k] in _SPACE:
                k += 1
            if k < n and shape[k] == _COLON:
                key = text.decode("utf-8", "replace") if clean else None
                i = k + 1
            continue
        if c == MARK:
            run += 1
        elif c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        i += 1
    return out


def _value(shape: bytes, i: int, run: int, key: str, out: list[Field]
           ) -> tuple[int, int, bool]:
    """The value starting at ``i`` (after ``key``'s colon). A number in plain or
    exponent notation (``-12``, ``0.25``, ``1.5e-07``, ``2e+09``) has its runs noted and the
    result is (the index past it, the run count past it, True); anything else gives
    (i, run, False), and the caller scans it as any text."""
    n = len(shape)
    j = i + 1 if shape[i] == _MINUS else i
    if j >= n or shape[j] != MARK:
        return i, run, False
    j += 1
    fraction = 0
    if j + 1 < n and shape[j] == _POINT and shape[j + 1] == MARK:
        j += 1
        while j < n and shape[j] == MARK:
            fraction, j = fraction + 1, j + 1
        if fraction > 2:
            return i, run, False
    exponent, sign = -1, 0
    if j < n and shape[j] in _EXPONENT:
        k = j + 1
        sign = -1 if k < n and shape[k] == _MINUS else 1
        k += k < n and shape[k] in _SIGNS
        if k >= n or shape[k] != MARK:
            return i, run, False
        exponent, j = run + 1 + fraction, k + 1
    if j < n and shape[j] not in _END:
        return i, run, False
    out.append((run, key, INT, exponent, sign))
    if fraction == 1:
        out.append((run + 1, key, FRAC, exponent, sign))
    elif fraction == 2:
        out.extend(((run + 1, key, FRAC_HIGH, exponent, sign),
                    (run + 2, key, FRAC_LOW, exponent, sign)))
    return j, run + 1 + fraction + (exponent >= 0), True


def guesses(template: bytes, lengths: I64, per_line: I64, widths: I64, values: I64,
            table: Mapping[str, F64]) -> I64 | None:
    """Per digit run (in text order), its guess (0 where none), or None when nothing is
    guessed. ``template``: the texts with every run replaced by MARK, back to back;
    ``lengths``: the texts' byte lengths; ``per_line``: runs per text; ``widths``: each
    run's digit count; ``values``: each run's stored value (exponents are never guessed,
    so theirs are their own); ``table``: per key, its value on each line (in text order)."""
    holes = len(widths)
    if not holes or not table:
        return None
    first = np.cumsum(per_line) - per_line
    total = np.concatenate([[0], np.cumsum(widths)])
    digit_bytes = total[first + per_line] - total[first]
    shape_lengths = lengths - digit_bytes + per_line
    ends = np.cumsum(shape_lengths)
    if len(ends) and int(ends[-1]) != len(template):
        return None
    shapes = _shapes(template, ends - shape_lengths, shape_lengths)
    parts: list[Part] = []
    if shapes is None:  # keys in any order (wandb-core writes a line's keys so): search them
        parts = _searched(template, ends, values, widths, table)
    else:
        for shape, lines in shapes.items():
            for run, key, role, exponent, sign in fields(shape):
                column = table.get(key)
                if column is not None:
                    parts.append((first[lines] + run, column[lines], role,
                                  first[lines] + exponent if exponent >= 0 else lines * 0 - 1,
                                  np.full(len(lines), sign, np.int64)))
    if not parts:
        return None
    with np.errstate(all="ignore"):  # unusable values are masked out below
        return _guessed(holes, widths, values, parts)


def _guessed(holes: int, widths: I64, values: I64, parts: list[Part]) -> I64:
    at = np.concatenate([p[0] for p in parts])
    value = np.abs(np.concatenate([p[1] for p in parts]))
    value = np.where(np.isfinite(value) & (value < 1e18), value, np.inf)
    role = np.concatenate([np.full(len(p[0]), p[2], np.int64) for p in parts])
    exp_at = np.concatenate([p[3] for p in parts])
    sign = np.concatenate([p[4] for p in parts])
    out = np.zeros(holes, np.int64)
    # The number as a double-double high + low: |v|, or the mantissa before an exponent:
    # |v| * 10**e for "e-<e>" (exactly), |v| / 10**e for "e+<e>" (and the division's rest).
    high, low = value, np.zeros(len(value))
    scaled = exp_at >= 0
    if scaled.any():
        power = np.where(scaled, values[np.maximum(exp_at, 0)], 0)
        usable = scaled & (power >= 0) & (power <= 308) & np.isfinite(value)
        factor = _POW10[np.where(usable, power, 0)]
        finite = np.where(np.isfinite(value), value, 0.0)
        times_high, times_low = _product(finite, factor)
        quotient = finite / factor
        back_high, back_low = _product(quotient, factor)
        rest = ((finite - back_high) - back_low) / factor
        down = sign < 0
        high = np.where(scaled, np.where(down, times_high, quotient), high)
        low = np.where(scaled, np.where(down, times_low, rest), low)
        value = np.where(scaled & ~usable, np.inf, high)
    ok = np.isfinite(value) & (value < 1e18) & np.isfinite(low)
    high, low = np.where(ok, high, 0.0), np.where(ok, low, 0.0)
    whole, frac_high = _floor(high, low)
    put = ok & (role == INT)
    out[at[put]] = whole[put].astype(np.int64)
    width = widths[at]
    put = ok & (role == FRAC) & (width <= RUN)
    out[at[put]] = _rounded(frac_high[put], low[put], width[put])
    split = ok & ((role == FRAC_HIGH) | (role == FRAC_LOW))
    if split.any():
        p_high, p_low = _product(frac_high, _POW10[RUN])
        p_low = p_low + low * _POW10[RUN]
        first_run, rest = _floor(p_high, p_low)
        put = split & (role == FRAC_HIGH)
        out[at[put]] = first_run[put].astype(np.int64)
        put = split & (role == FRAC_LOW) & (width <= RUN)
        out[at[put]] = _rounded(rest[put], p_low[put], width[put])
    return out


def _key_forms(keys: Iterable[str]) -> dict[bytes, list[tuple[str, tuple[int, ...],
                                                                 tuple[int, ...]]]]:
    """Per template form of a key as JSON writes it (its digit runs as MARK), the keys of
    that form with their runs' values and widths (``layer1/loss``: ``layer\\x01/loss``, 1, 1).
    Keys that JSON escapes, or with a run longer than RUN digits, are left out."""
    forms: dict[bytes, list[tuple[str, tuple[int, ...], tuple[int, ...]]]] = {}
    for key in keys:
        text = json.dumps(key, ensure_ascii=False)[1:-1].encode("utf-8")
        runs = _DIGITS.findall(text)
        if b"\\" in text or any(len(r) > RUN for r in runs):
            continue
        forms.setdefault(_DIGITS.sub(b"\x01", text), []).append(
            (key, tuple(int(r) for r in runs), tuple(len(r) for r in runs)))
    return forms


@functools.lru_cache(maxsize=64)
def _pattern(forms: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """``"<a key form>": <number>``: the key, then the marks of the integer part, of one or
    two fraction runs, and an exponent's sign and run."""
    names = b"|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(b'"(' + names + b')":[ \\t\\r\\n]*-?(\x01)(?:\\.(\x01)(\x01)?)?'
                      b"(?:[eE]([+-]?)(\x01))?(?=[,}\\s]|\\Z)")


def _searched(template: bytes, ends: I64, values: I64, widths: I64, table: Mapping[str, F64]
              ) -> list[Part]:
    """The guessable runs of the table's keys wherever they are in the lines (any key
    order, any number of shapes), found by one regular expression over the template."""
    forms = _key_forms(table)
    if not forms:
        return []
    found = [(m.start(1), m.group(1), m.start(2), m.start(3), m.start(4), m.start(6),
              m.group(5))
             for m in _pattern(tuple(forms)).finditer(template)]
    if not found:
        return []
    marks = np.flatnonzero(np.frombuffer(template, np.uint8) == MARK)
    where = np.array([(f[0], f[2], f[3], f[4], f[5]) for f in found], np.int64)
    hole = np.searchsorted(marks, where)  # a mark's position -> its run's index
    key_hole = hole[:, 0]  # the key's first run, when the key has runs
    line = np.searchsorted(ends, where[:, 1], side="right")
    exp_at = np.where(where[:, 4] >= 0, hole[:, 4], -1)
    names = [f[1] for f in found]
    signs = np.array([0 if f[6] is None else -1 if f[6] == b"-" else 1 for f in found],
                     np.int64)
    parts: list[Part] = []
    for form, members in forms.items():
        of_form = np.flatnonzero(np.fromiter((n == form for n in names), np.bool_,
                                             len(names)))
        if not len(of_form):
            continue
        for key, run_values, run_widths in members:
            chosen = of_form
            for j, (value, width) in enumerate(zip(run_values, run_widths, strict=True)):
                at = key_hole[chosen] + j
                chosen = chosen[(values[at] == value) & (widths[at] == width)]
            if not len(chosen):
                continue
            column = table[key][line[chosen]]
            parts.append((hole[chosen, 1], column, INT, exp_at[chosen], signs[chosen]))
            one = chosen[(where[chosen, 2] >= 0) & (where[chosen, 3] < 0)]
            two = chosen[where[chosen, 3] >= 0]
            for rows, index, role in ((one, 2, FRAC), (two, 2, FRAC_HIGH), (two, 3, FRAC_LOW)):
                if len(rows):
                    parts.append((hole[rows, index], table[key][line[rows]], role,
                                   exp_at[rows], signs[rows]))
    return parts


def _shapes(template: bytes, starts: I64, lengths: I64) -> dict[bytes, I64] | None:
    """The lines of each distinct line template; None past MAX_SHAPES. The first line's
    shape, usually every line's, is matched in one pass."""
    if not len(starts):
        return {}
    first = template[:int(lengths[0])]
    same = lengths == lengths[0]
    if same.any():
        raw = np.frombuffer(template, np.uint8)
        where = np.flatnonzero(same)
        grid = raw[starts[where][:, None] + np.arange(int(lengths[0]))[None, :]]
        same[where] = (grid == np.frombuffer(first, np.uint8)[None, :]).all(axis=1)
    found: dict[bytes, list[int]] = {}
    rest = np.flatnonzero(~same)
    for line, a, b in zip(rest.tolist(), starts[rest].tolist(),
                          (starts[rest] + lengths[rest]).tolist(), strict=True):
        members = found.get(template[a:b])
        if members is None:
            if len(found) >= MAX_SHAPES - 1:
                return None
            members = found[template[a:b]] = []
        members.append(line)
    out = {first: np.flatnonzero(same)}
    for shape, members in found.items():
        out[shape] = np.asarray(members, np.int64)
    return out


def _product(a: F64, b: F64) -> tuple[F64, F64]:
    """``a * b`` as an unevaluated sum high + low, exactly (Dekker's two-product)."""
    high = a * b
    a_high, a_low = _halves(a)
    b_high, b_low = _halves(b)
    low = a_low * b_low - (((high - a_high * b_high) - a_low * b_high) - a_high * b_low)
    return high, np.where(np.isfinite(low), low, 0.0)


def _halves(x: F64) -> tuple[F64, F64]:
    c = _SPLIT * x
    high = c - (c - x)
    return high, x - high


def _floor(high: F64, low: F64) -> tuple[F64, F64]:
    """floor(high + low), and what is left above it as high' (+ the same low)."""
    whole = np.floor(high)
    whole = whole - ((whole == high) & (low < 0))
    return whole, high - whole


def _rounded(high: F64, low: F64, width: I64) -> I64:
    """(high + low) * 10**width rounded to the nearest integer (high + low < 1)."""
    p_high, p_low = _product(high, _POW10[width])
    near = np.rint(p_high)
    rest = np.rint((p_high - near) + (p_low + low * _POW10[width]))
    out: I64 = near.astype(np.int64) + rest.astype(np.int64)
    return out
