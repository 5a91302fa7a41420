"""Raw points come back bit for bit, whether a column is stored as decimal digits or as bit
patterns, and chunks written by earlier versions are still read."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from runyard.history import codec, zstd


def _roundtrip(steps: list[int], values: list[float], times: list[float]) -> bytes:
    s = np.array(steps, np.int64)
    v = np.array(values, np.float64)
    t = np.array(times, np.float64)
    payload = codec.encode(s, v, t)
    back_s, back_v, back_t = codec.decode(payload)
    assert back_s.tolist() == steps
    assert back_v.tobytes() == v.tobytes()
    assert back_t.tobytes() == t.tobytes()
    return payload


@pytest.mark.parametrize("values", [
    [0.001 * i for i in range(100)],  # float arithmetic: not all short decimals
    [round(0.001 * i, 3) for i in range(100)],
    [float(i) for i in range(100)],
    [1.5, -0.0, 2.0],  # -0.0 is not an integer over a power of ten, bit for bit
    [1.0, float("nan"), 2.0],
    [float("inf"), 1.0],
    [2.0**53, 2.0**53 + 2],  # beyond exact integers
    [1e300, -1e-300, 5e-324],
    [0.1234567, 123456.123456],
    [0.1] * 17 + [0.1234567],  # the first rows would allow 1 place; the rest needs more
])
def test_columns_come_back_bit_for_bit(values: list[float]) -> None:
    n = len(values)
    _roundtrip(list(range(0, 3 * n, 3)), values, [1.7e9 + i * 0.01 for i in range(n)])


def test_clocks_and_counters_cost_almost_nothing() -> None:
    n = 1024
    runtimes = [round(i * 0.01, 2) for i in range(n)]
    times = [round(1764470000.0 + i * 0.001, 3) for i in range(n)]
    payload = _roundtrip(list(range(n)), runtimes, times)
    assert codec.decimal_places(np.array([runtimes, times]).T) == [2, 3]
    assert len(payload) < n // 4  # under 2 bits per point for all three columns
    noise = np.random.default_rng(1).normal(size=n).tolist()
    assert len(_roundtrip(list(range(n)), noise, times)) > 6 * n  # noise stays noise


def test_chunks_of_earlier_versions_are_read() -> None:
    steps = np.array([3, 5, 9], np.int64)
    values = np.array([0.5, np.nan, -2.0])
    times = np.array([1.7e9, 1.7e9 + 0.25, 1.7e9 + 0.5])

    def shuffled(a: np.ndarray) -> bytes:
        return a.view(np.uint8).reshape(-1, 8).T.tobytes()

    body = (shuffled(np.diff(steps, prepend=np.int64(0)).astype("<i8"))
            + shuffled(values.astype("<f8"))
            + shuffled(np.diff(times, prepend=np.float64(0)).astype("<f8")))
    old = struct.pack("<4sI", b"RYC2", 3) + zstd.compress(body, 1)
    back_s, back_v, back_t = codec.decode(old)
    assert back_s.tolist() == [3, 5, 9]
    assert np.array_equal(back_v, values, equal_nan=True)
    assert np.allclose(back_t, times)
    with pytest.raises(ValueError, match="not a history chunk"):
        codec.decode(b"XXXX" + old[4:])
