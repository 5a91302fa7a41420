"""Sealing many metrics at once gives, for each metric, the very bytes that sealing it alone
gives: the same summary, aggregates and raw points, NaN and infinities included."""

from __future__ import annotations

import numpy as np
import pytest

from runyard.history import chunks, codec
from runyard.history.buckets import Entries


@pytest.mark.parametrize("lines", [1, 2, 4, 5, 31, 32, 33, 100, 1024])
def test_columns_sealed_together_equal_columns_sealed_alone(lines: int) -> None:
    rng = np.random.default_rng(lines)
    matrix = rng.normal(size=(lines, 8))
    matrix[rng.random(size=matrix.shape) < 0.1] = np.nan
    matrix[rng.random(size=matrix.shape) < 0.05] = np.inf
    matrix[rng.random(size=matrix.shape) < 0.05] = -np.inf
    # Columns of short decimals (a runtime, a counter), stored as their digits.
    matrix[:, 6] = np.round(np.arange(lines) * 0.013, 3)
    matrix[:, 7] = np.arange(lines) * 3.0
    steps = np.sort(rng.integers(0, 10**9, lines)).astype(np.int64)
    times = (1.7e9 + np.arange(lines) * 0.37).astype(np.float64)
    if lines > 3:
        times[2] = np.nan
    sealed = chunks.payloads(steps, times, matrix, 32)
    assert len(sealed) == matrix.shape[1]
    for k, payload in enumerate(sealed):
        points = Entries.from_points(steps, matrix[:, k].copy(), times)
        assert payload.summary == points.group(len(points)).to_bytes()
        assert payload.lod == points.group(32).to_bytes()
        assert payload.points == codec.encode(steps, matrix[:, k].copy(), times)
        back = Entries.from_bytes(payload.lod)
        assert int(back.count.sum()) == lines
        back_steps, back_values, back_times = codec.decode(payload.points)
        assert back_steps.tolist() == steps.tolist()
        assert back_values.tobytes() == matrix[:, k].tobytes()
        assert back_times.tobytes() == times.tobytes()


def test_payloads_decoded_together_equal_each_decoded_alone() -> None:
    """A chart reads a thousand chunks' pyramids in one pass (``from_many_bytes``): it must
    give what decoding each and concatenating gives, for payloads of different sizes, of
    the plain form (a few entries) and of the older uncompressed form."""
    rng = np.random.default_rng(7)
    raws: list[bytes] = []
    expected: list[Entries] = []
    step = 0
    for size in (9, 9, 1, 300, 9, 3, 0, 9):
        steps = np.arange(step, step + size, dtype=np.int64)
        step += size
        values = rng.normal(size=size)
        values[::7] = np.nan
        entries = Entries.from_points(steps, values, steps * 0.5).group(2)
        expected.append(entries)
        raws.append(entries.to_bytes())
    old = expected[1]  # a chunk written before compression: 80 plain bytes an entry
    raws[1] = b"".join(getattr(old, f).astype("<i8" if f in ("first_step", "last_step", "count",
                                                             "finite") else "<f8").tobytes()
                       for f in ("first_step", "last_step", "time", "min", "max", "first",
                                 "last", "count", "finite", "sum"))
    together = Entries.from_many_bytes(raws)
    alone = Entries.concat([Entries.from_bytes(raw) for raw in raws])
    want = Entries.concat(expected)
    for name in ("first_step", "last_step", "time", "min", "max", "first", "last", "count",
                 "finite", "sum"):
        np.testing.assert_array_equal(getattr(together, name), getattr(want, name))
        np.testing.assert_array_equal(getattr(alone, name), getattr(want, name))
    assert len(Entries.from_many_bytes([])) == 0
