"""Sealed segments: digit runs stored against guesses from the chunks' floats come back
byte for byte, whatever the texts and whatever the floats (a wrong guess costs space only),
and a training log's values are stored nearly for free."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from runyard.history import digits, predict, segments

M = b"\x01"


def test_fields_find_top_level_numbers_only() -> None:
    shape = (b'{"_step":' + M + b',"loss":-' + M + b"." + M + b', "a' + M + b'":' + M
             + b',"s":"x' + M + b'","e":' + M + b"." + M + b"e-" + M + b',"d":{"x":' + M
             + b'},"z" : ' + M + b',"q\\"":' + M + b',"big":' + M + b"e+" + M
             + b',"long":' + M + b"." + M + M + b"}")
    assert predict.fields(shape) == [
        (0, "_step", predict.INT, -1, 0), (1, "loss", predict.INT, -1, 0),
        (2, "loss", predict.FRAC, -1, 0), (6, "e", predict.INT, 8, -1),
        (7, "e", predict.FRAC, 8, -1), (10, "z", predict.INT, -1, 0),
        (12, "big", predict.INT, 13, 1), (14, "long", predict.INT, -1, 0),
        (15, "long", predict.FRAC_HIGH, -1, 0), (16, "long", predict.FRAC_LOW, -1, 0)]


def _segment(texts: list[str]) -> bytes:
    n = len(texts)
    return segments.encode(list(range(n)), list(range(n)), [None] * n, [None] * n, texts)


@pytest.mark.parametrize("form", ["repr", "17g", "6f"])
def test_a_noisy_metric_is_stored_once(form: str) -> None:
    """Its digits cost a third or less once guessed (signs, magnitudes and digit counts
    that vary from line to line are what is left)."""
    rng = random.Random(1)
    values = np.array([rng.gauss(0, 1) * 10 ** rng.randint(-3, 3) for _ in range(4096)])
    fmt = {"repr": repr, "17g": lambda v: f"{v:.17g}", "6f": lambda v: f"{v:.6f}"}[form]
    texts = [f'{{"_step":{i},"loss":{fmt(float(v))}}}' for i, v in enumerate(values)]
    plain = _segment(texts)
    table = {"loss": np.array([float(fmt(float(v))) for v in values])}
    sealed = segments.sealed(plain, table)
    assert sealed is not None
    assert sealed[:4] == segments.MAGIC_SEALED
    assert segments.keys_of(sealed) == ["loss"]
    assert segments.texts(sealed, table) == texts
    assert len(sealed) * 3 < len(plain)
    assert segments.unsealed(sealed, table) == plain or segments.texts(
        segments.unsealed(sealed, table)) == texts


def _awkward_line(i: int, rng: random.Random) -> str:
    v = rng.choice([0.0, -0.0, 1e16, 1e-7, 123456789012345678901234.0, 2.5, -3,
                    rng.uniform(-1e6, 1e6), rng.random(), float(rng.getrandbits(60))])
    pieces = [f'"_step":{i}', f'"v":{json.dumps(v)}', f'"w" : {rng.randint(-10**19, 10**19)}',
              f'"k{i % 3}":{rng.random()}', f'"s":"{rng.randint(0, 999)}é"',
              '"n":NaN' if i % 5 == 0 else '"n":Infinity', f'"v":{rng.random()}',
              f'"d":{{"v":{rng.random()}}}', f'"long":0.{rng.getrandbits(80)}']
    rng.shuffle(pieces)
    return "{" + ",".join(pieces) + "}"


@pytest.mark.parametrize("seed", range(6))
def test_any_text_with_any_table_comes_back_exactly(seed: int) -> None:
    """Wrong, missing, NaN or huge floats in the table, duplicate keys, keys with digits,
    numbers longer than a run: guesses may be wrong, the texts never are."""
    rng = random.Random(seed)
    texts = [_awkward_line(i, rng) for i in range(rng.randint(1, 600))]
    n = len(texts)
    tables = [
        {"v": np.array([rng.uniform(-1e6, 1e6) for _ in range(n)]),
         "w": np.full(n, math.nan), "long": np.full(n, 1e300), "k0": np.zeros(n)},
        {"v": np.array([rng.choice([math.inf, -0.0, 5e-324, 9.9e17, 1e18]) for _ in range(n)])},
    ]
    plain = _segment(texts)
    for table in tables:
        joined = "".join(texts).encode()
        lengths = np.array([len(t.encode()) for t in texts], np.int64)
        columns = digits.encode(joined, lengths, 1, table)
        if columns is not None:
            assert digits.decode(columns, lengths, table) == joined
        sealed = segments.sealed(plain, table)
        if sealed is not None:
            assert segments.texts(sealed, table) == texts
            assert segments.texts(segments.unsealed(sealed, table)) == texts


def test_a_sealed_segment_needs_its_table() -> None:
    texts = [f'{{"_step":{i},"loss":{1 / (i + 3)!r}}}' for i in range(500)]
    table = {"loss": np.array([1 / (i + 3) for i in range(500)])}
    sealed = segments.sealed(_segment(texts), table)
    assert sealed is not None
    with pytest.raises(ValueError, match="metrics' values"):
        segments.texts(sealed)


def test_only_digit_form_segments_are_sealed() -> None:
    metrics = ",".join(f'"m{k}":{random.random()}' for k in range(40))
    long_lines = [f'{{"_step":{i},{metrics}}}' for i in range(50)]
    plain = _segment(long_lines)
    assert plain[:4] == segments.MAGIC
    assert segments.sealed(plain, {"m1": np.zeros(50)}) is None
    assert segments.sealed(_segment(['{"a":"b"}'] * 10), {"a": np.zeros(10)}) is None


def test_other_values_than_sealed_against_are_refused() -> None:
    """A reader that got chunks rewritten after it read the segment gets StaleValues (and
    reads again), never other texts."""
    texts = [f'{{"_step":{i},"loss":{1 / (i + 3)!r}}}' for i in range(500)]
    table = {"loss": np.array([1 / (i + 3) for i in range(500)])}
    sealed = segments.sealed(_segment(texts), table)
    assert sealed is not None
    other = {"loss": table["loss"].copy()}
    other["loss"][8] += 1e-9  # 1/11: 17 digits
    with pytest.raises(segments.StaleValues):
        segments.texts(sealed, other)
    with pytest.raises(segments.StaleValues):
        segments.unsealed(sealed, other)


def test_keys_in_any_order_as_wandb_core_writes_them() -> None:
    """wandb-core writes a line's keys in a random order, and clocks with an exponent
    (``1.7643e+09``): lines then have hundreds of shapes, searched instead of parsed, and
    keys with digits are told apart by their digits."""
    rng = random.Random(3)
    n = 3000
    table = {"loss": np.array([rng.gauss(1, 0.1) for _ in range(n)]),
             "lr": np.array([3e-4 * rng.random() ** 4 for _ in range(n)]),
             "layer1/grad": np.array([rng.random() for _ in range(n)]),
             "layer2/grad": np.array([-rng.random() for _ in range(n)])}
    texts = []
    for i in range(n):
        items = [f'"{k}":{float(v[i])!r}' for k, v in table.items()]
        items += [f'"_step":{i}', f'"_timestamp":{(1.7e9 + i * 0.37) / 1e9!r}e+09']
        rng.shuffle(items)
        texts.append("{" + ",".join(items) + "}")
    lines = list(range(n))
    stamps = [float(f"{(1.7e9 + i * 0.37) / 1e9!r}e+09") for i in lines]
    plain = segments.encode(lines, lines, [None] * n, stamps, texts, try_digits=False)
    sealed = segments.sealed(plain, table)
    assert sealed is not None
    assert segments.texts(sealed, table) == texts
    assert len(sealed) * 2 < len(plain)
