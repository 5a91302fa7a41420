"""A grown chunk's columns: payloads appended as parts read back as one column."""

from __future__ import annotations

import numpy as np
import pytest

from runyard.history import chunks, codec, parts
from runyard.history.buckets import Entries


def test_split_and_join_round_trip_and_flatten() -> None:
    assert parts.split(b"RYC3 plain payload") == [b"RYC3 plain payload"]
    once = parts.join([b"a", b"bc"])
    assert parts.split(once) == [b"a", b"bc"]
    assert parts.split(parts.join([once, b"", b"def"])) == [b"a", b"bc", b"", b"def"]


@pytest.mark.parametrize("bad", [parts.MAGIC, parts.join([b"abc"])[:-1],
                                 parts.join([b"abc"]) + b"x"])
def test_a_corrupt_container_is_refused(bad: bytes) -> None:
    with pytest.raises(ValueError, match="corrupt"):
        parts.split(bad)


def _column(n: int, first_step: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = np.arange(first_step, first_step + n, dtype=np.int64)
    values = rng.normal(1, 0.1, n)
    values[::17] = np.nan
    values[5] = np.inf
    times = 1.7e9 + steps * 0.25
    return steps, values, times


def test_grown_points_lod_and_summary_equal_the_whole_column_s() -> None:
    pieces = [_column(1024, 0, 1), _column(1024, 1024, 2), _column(300, 2048, 3)]
    made = []
    lod: bytes | None = None
    for s, v, t in pieces:  # each seal's aggregates re-encoded after the earlier ones
        (payload,) = chunks.payloads(s, t, v.reshape(-1, 1), 128, [lod])
        made.append(payload)
        lod = payload.lod
    points = parts.join([p.points for p in made])
    summary = made[0].summary
    for p in made[1:]:
        (summary,) = chunks.merge_summaries([summary], [p.summary])

    steps = np.concatenate([p[0] for p in pieces])
    values = np.concatenate([p[1] for p in pieces])
    times = np.concatenate([p[2] for p in pieces])
    got_steps, got_values, got_times = codec.decode(points)
    assert np.array_equal(got_steps, steps)
    assert np.array_equal(got_values.view(np.int64), values.view(np.int64))  # bit for bit
    assert np.array_equal(got_times, times)

    raw = Entries.from_points(steps, values, times)
    # Seals of whole groups: the same bytes as the whole column's aggregates at once.
    (at_once,) = chunks.payloads(steps, times, values.reshape(-1, 1), 128)
    assert lod == at_once.lod
    grouped = Entries.from_bytes(lod)
    assert grouped.count.tolist() == [128] * 8 + [128] * 8 + [128, 128, 44]
    assert int(grouped.count.sum()) == len(steps)
    whole = Entries.from_bytes(summary)
    expected = raw.group_at(np.zeros(1, np.int64))
    for field in ("first_step", "last_step", "count", "finite", "min", "max", "time"):
        assert getattr(whole, field).tolist() == getattr(expected, field).tolist(), field
    assert whole.sum[0] == pytest.approx(expected.sum[0], rel=1e-12)
    assert np.isnan(whole.first[0])
    assert whole.last[0] == values[-1]


def test_only_whole_chunk_summaries_merge() -> None:
    a = Entries.from_points(*[np.asarray(x) for x in ([1, 2], [3.0, 4.0], [0.0, 1.0])])
    b = Entries.from_points(*[np.asarray(x) for x in ([5], [1.0], [2.0])])
    (merged,) = chunks.merge_summaries([a.group(2).to_bytes()], [b.to_bytes()])
    whole = Entries.from_bytes(merged)
    assert whole.count.tolist() == [3]
    assert whole.min.tolist() == [1.0]
    assert whole.max.tolist() == [4.0]
    assert whole.last_step.tolist() == [5]
    with pytest.raises(ValueError, match="summary"):
        chunks.merge_summaries([a.to_bytes()], [b.to_bytes()])  # two entries, not one


def test_aggregates_grow_per_column_whatever_each_earlier_length() -> None:
    """Columns whose chunks hold different numbers of groups (three of the same: undone
    together), one with none (a new chunk), short earlier chunks stored as plain columns:
    each column's aggregates are its earlier ones followed by the new ones."""
    rng = np.random.default_rng(5)
    earlier = [rng.normal(0, 1, n) for n in (1024, 300, 100, 1024, 1024)]
    old_lods = [chunks.payloads(np.arange(len(v), dtype=np.int64), np.zeros(len(v)),
                                v.reshape(-1, 1), 128)[0].lod for v in earlier]
    steps = np.arange(5000, 5256, dtype=np.int64)
    matrix = rng.normal(0, 1, (256, 6))
    made = chunks.payloads(steps, np.ones(256), matrix, 128, [*old_lods, None])
    for k in range(5):
        got = Entries.from_bytes(made[k].lod)
        before = Entries.from_bytes(old_lods[k])
        assert got.count.tolist() == [*before.count.tolist(), 128, 128]
        assert got.first_step.tolist() == [*before.first_step.tolist(), 5000, 5128]
        assert got.max.tolist()[-1] == matrix[128:, k].max()
        assert got.min.tolist()[:-2] == before.min.tolist()
        assert got.sum.tolist()[:-2] == before.sum.tolist()
    assert Entries.from_bytes(made[5].lod).count.tolist() == [128, 128]
