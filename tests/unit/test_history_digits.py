"""Texts as a template and digit columns (runyard.history.digits) come back byte for byte,
and segments of short lines use them only where they are smaller."""

from __future__ import annotations

import random

import numpy as np
import pytest

from runyard.history import digits, segments


def _roundtrip(texts: list[str]) -> bytes | None:
    encoded = [t.encode("utf-8") for t in texts]
    data = b"".join(encoded)
    payload = digits.encode(data, np.array([len(b) for b in encoded], np.int64), 1)
    if payload is not None:
        assert digits.decode(payload) == data
    return payload


def _training_log(count: int, rng: random.Random) -> list[str]:
    start = 1764470000.0
    return [f'{{"_step":{i},"_runtime":{i * 0.01:.3f},"_timestamp":{start + i * 0.01:.3f},'
            f'"loss":{2.5 / (1 + i / 5000) + rng.gauss(0, 0.05):.17g}}}' for i in range(count)]


def test_a_training_log_comes_back_exactly_at_half_the_size() -> None:
    texts = _training_log(4096, random.Random(1))
    payload = _roundtrip(texts)
    assert payload is not None
    plain = sum(len(t) for t in texts)
    # The step and both clocks cost almost nothing as columns: about the value's 7 bytes.
    assert len(payload) < 8.5 * len(texts) < plain / 10


@pytest.mark.parametrize("texts", [
    ["007", "0", "-0.0", "1e-05", "00000000000000000000000000000000000000001"],
    ["9" * 18, "9" * 19, "1" + "0" * 36, "123456789012345678901234567890.5"],
    ["", "{}", "", "x"],
    ["é1ü22", "日本3", "\\u00e9 4", "a1b2c3d4e5f6g7h8i9j0"],
    ["12", "34", "5", "", "67"],  # digit runs that would join across line ends
    ['{"a":[1,2,3],"b":{"c":-4.5e+300}}', '{"_step":1}', '{"x":"2024-01-02T03:04:05Z"}'],
])
def test_edge_cases_come_back_exactly(texts: list[str]) -> None:
    _roundtrip(texts)


def test_random_texts_come_back_exactly() -> None:
    rng = random.Random(5)
    alphabet = "0123456789.-e+\"{}:,abc é"
    for _ in range(200):
        count = rng.randint(1, 40)
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
                 for _ in range(count)]
        _roundtrip(texts)


def test_lines_with_different_fields_keep_their_order() -> None:
    rng = random.Random(2)
    texts = [f'{{"_step":{i},"loss":{rng.random()}}}' if i % 7 else
             f'{{"_step":{i},"eval/acc":{rng.random()},"eval/n":{rng.randint(0, 10**30)}}}'
             for i in range(1000)]
    assert _roundtrip(texts) is not None


def test_texts_without_digits_or_with_the_marker_are_left_alone() -> None:
    assert _roundtrip(["abc", "{}"]) is None
    assert _roundtrip(["a\x011", "2"]) is None
    assert _roundtrip([]) is None


def test_a_segment_keeps_the_smaller_form() -> None:
    narrow = _training_log(2000, random.Random(3))
    blob = segments.encode(list(range(2000)), list(range(2000)), [None] * 2000, [None] * 2000,
                           narrow)
    assert blob[:4] == segments.MAGIC_DIGITS
    assert segments.texts(blob) == narrow
    # Long lines are not tried (noise-like values: the plain form is as small, and faster).
    wide = ["{" + ",".join(f'"m{j}":{random.random()!r}' for j in range(30)) + "}"
            for _ in range(50)]
    blob = segments.encode(list(range(50)), list(range(50)), [None] * 50, [None] * 50, wide)
    assert blob[:4] == segments.MAGIC
    assert segments.texts(blob) == wide
    # Short lines that compress better as they are (one line repeated) stay plain.
    same = ['{"a":1}'] * 500
    blob = segments.encode(list(range(500)), [0] * 500, [None] * 500, [None] * 500, same)
    assert segments.texts(blob) == same


def test_a_corrupt_payload_is_an_error() -> None:
    payload = _roundtrip(_training_log(100, random.Random(4)))
    assert payload is not None
    with pytest.raises(ValueError, match="corrupt"):
        digits.decode(payload[:-20])
    with pytest.raises(ValueError, match="corrupt"):
        digits.decode(payload[:30])
