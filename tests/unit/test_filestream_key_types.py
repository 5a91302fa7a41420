"""historyKeys type names per history row, cached by the row's shape."""

from __future__ import annotations

from runyard.domain.filestream import key_types
from runyard.stores.metadata.base import StreamLine


def test_plain_rows_share_one_answer_whatever_their_key_order() -> None:
    first, plain = key_types({"_step": 1, "loss": 0.5, "acc": 2})
    again, _ = key_types({"acc": 1.5, "_step": 2, "loss": 3})  # Go's random map order
    assert plain is True
    assert first == {"_step": "number", "loss": "number", "acc": "number"}
    assert again is first


def test_other_rows_name_each_type() -> None:
    types, plain = key_types({"_step": 1, "ok": True, "name": "x", "none": None,
                              "xs": [1], "img": {"_type": "image-file", "path": "a.png"},
                              "nested": {"a": 1}})
    assert plain is False
    assert types == {"_step": "number", "ok": "bool", "name": "string", "none": "nil",
                     "xs": "list", "img": "image-file", "nested": "map"}
    assert key_types({"b": True})[0] == {"b": "bool"}
    assert key_types({"n": 1})[0] == {"n": "number"}  # not the cached {"b": ...} of a bool
    assert key_types({}) == ({}, True)


def test_pending_values_follow_each_rows_key_order() -> None:
    from runyard.stores.metadata.sql.pending import PendingValues

    def line(no: int, row: dict[str, float]) -> StreamLine:
        keys, plain = key_types(row)
        return StreamLine(line_no=no, text="", step=no, runtime=None, timestamp=None,
                          keys=keys, values=row, plain=plain)

    for rows in ([{"a": 1.0, "b": 2.0}, {"b": 4.0, "a": 3.0}, {"a": 5.0, "b": 6.0}],
                 [{"a": 1.0}, {"a": 2.0}], [{}, {}]):
        pending = PendingValues()
        pending.add(7, 0, [line(i, r) for i, r in enumerate(rows)], stamp=1)
        block = pending.block(7, 0, len(rows))
        assert block is not None
        keys, _steps, _times, matrix = block
        assert [[r[k] for k in keys] for r in rows] == matrix.tolist()


def test_key_statistics_count_every_line_and_keep_any_key() -> None:
    """historyKeys statistics across requests, with a key orjson cannot write (a lone
    surrogate, which only the json fallback parses) and a NaN line."""
    import json

    from runyard.domain.filestream import parse_request
    from runyard.stores.metadata.sql.streams import merge_key_stats

    def batch(*rows: str) -> list[StreamLine]:
        return parse_request({"files": {"wandb-history.jsonl": {
            "offset": 0, "content": list(rows)}}}).history

    first = merge_key_stats("", batch('{"_step": 0, "loss": 1.5}', '{"_step": 1, "loss": 2}',
                                      '{"\\ud800k": "x", "loss": NaN}'))
    again = merge_key_stats(first, batch('{"loss": "high", "\\ud800k": 1}'))
    assert json.loads(again) == {"_step": {"number": 2}, "loss": {"number": 3, "string": 1},
                                 "\ud800k": {"string": 1, "number": 1}}

