"""History segments give back every line exactly: texts byte for byte, steps, line numbers,
runtimes and wall times bit for bit (missing ones stay missing)."""

from __future__ import annotations

import math
import random
import struct

import pytest

from runyard.history import segments


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_lines_come_back_exactly() -> None:
    rng = random.Random(7)
    count = 3000
    line_nos = sorted(rng.sample(range(10**6), count))
    steps = [rng.choice([i, 2**63 - 1 - i, 0]) for i in range(count)]
    runtimes = [None if i % 7 == 0 else rng.choice([i * 0.01, -0.0, math.inf, math.nan, 1e308])
                for i in range(count)]
    stamps = [None if i % 5 == 0 else 1.7e9 + i * 0.013 + rng.random() * 1e-6
              for i in range(count)]
    texts = [f'{{"_step": {s}, "loss": {rng.random()!r}, "name": "é\\n{i}"}}'
             if i % 3 else '{"x":\n1}' for i, s in enumerate(steps)]
    blob = segments.encode(line_nos, steps, runtimes, stamps, texts, level=segments.COMPACT)
    where = segments.positions(blob)
    assert segments.texts(blob) == texts
    assert where.line_nos.tolist() == line_nos
    assert where.steps.tolist() == steps
    assert segments.count_of(blob) == count
    for i in range(count):
        assert bool(where.has_runtime[i]) == (runtimes[i] is not None)
        assert bool(where.has_timestamp[i]) == (stamps[i] is not None)
        if runtimes[i] is not None:
            assert _bits(where.runtimes[i]) == _bits(runtimes[i])  # type: ignore[arg-type]
        if stamps[i] is not None:
            assert _bits(where.timestamps[i]) == _bits(stamps[i])  # type: ignore[arg-type]


def test_an_empty_segment_and_a_foreign_blob() -> None:
    blob = segments.encode([], [], [], [], [])
    assert segments.texts(blob) == []
    assert len(segments.positions(blob)) == 0
    with pytest.raises(ValueError, match="not a history segment"):
        segments.texts(b"RYC1" + blob[4:])


def test_training_logs_compress_well() -> None:
    """A typical line (step, runtime, wall time, a noisy loss) costs well under its text."""
    rng = random.Random(3)
    texts = [f'{{"_step":{i},"_runtime":{i * 0.01:.3f},"_timestamp":{1.7e9 + i * 0.01:.3f},'
             f'"loss":{2.5 / (1 + i) ** 0.5 + rng.gauss(0, 0.05):.17g}}}' for i in range(4096)]
    blob = segments.encode(range(4096), range(4096), [i * 0.01 for i in range(4096)],
                           [1.7e9 + i * 0.01 for i in range(4096)], texts,
                           level=segments.COMPACT)
    raw = sum(len(t) for t in texts)
    assert len(blob) < raw / 3
