"""historyKeys type names per history row, cached by the row's shape."""

from __future__ import annotations

from runyard.domain.filestream import key_types


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
