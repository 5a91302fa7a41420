from __future__ import annotations

import pytest

from runyard.domain import ids
from runyard.domain.names import check_name, display_name, new_run_id
from runyard.errors import BadRequest
from runyard.stores.keys import check_file_name, run_file_key


@pytest.mark.parametrize("name", ["a.txt", "media/images/x_1.png", "code/g.py", "ü/ß.txt"])
def test_good_file_names(name: str) -> None:
    assert check_file_name(name) == name
    assert run_file_key(7, name) == f"runs/7/files/{name}"


@pytest.mark.parametrize("name", ["", "../x", "a/../../x", "/etc/passwd", "\\\\server\\x",
                                  "C:/x", "a\x00b", "a//b", "./a", "a/.", "x" * 513,
                                  "notes.txt ", "dir /a.txt"])
def test_bad_file_names(name: str) -> None:
    with pytest.raises(BadRequest):
        check_file_name(name)


@pytest.mark.parametrize("name", ["", "a/b", "a?b", "a#b", "..", "x" * 129, "a\x00", " a", "a "])
def test_bad_entity_project_run_names(name: str) -> None:
    with pytest.raises(BadRequest):
        check_name("project", name)


def test_display_names_and_run_ids() -> None:
    assert display_name(4).endswith("-5")
    assert len(display_name(0).split("-")) == 3
    run_id = new_run_id()
    assert len(run_id) == 8
    assert run_id.isalnum()


def test_ids_round_trip_and_reject_other_types() -> None:
    encoded = ids.encode("Run", 42)
    assert ids.decode("Run", encoded) == 42
    with pytest.raises(BadRequest):
        ids.decode("Project", encoded)
    with pytest.raises(BadRequest):
        ids.decode("Run", "not-base64!")
