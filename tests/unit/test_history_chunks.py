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
