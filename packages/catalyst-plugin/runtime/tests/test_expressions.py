"""The helpers compiled expressions call: ``item_at``, an index under ``| default``."""

from __future__ import annotations

import pytest

from catalyst_runtime import item_at


def test_an_item_that_exists_is_read_as_an_index_reads_it() -> None:
    assert item_at(["a", "b"], 0) == "a"
    assert item_at(["a", "b"], -1) == "b"
    assert item_at("héllo", 1) == "é"
    assert item_at({"k": 1, 2: "two"}, 2) == "two"
    assert item_at([None], 0) is None


def test_no_such_item_is_none_past_either_end_or_for_a_missing_key() -> None:
    assert item_at(["a", "b"], 2) is None
    assert item_at(["a", "b"], -3) is None
    assert item_at([], 0) is None
    assert item_at("ab", 5) is None
    assert item_at({"k": 1}, "missing") is None


def test_a_wrong_kind_of_index_still_fails() -> None:
    with pytest.raises(TypeError):
        item_at(["a"], "a")
    with pytest.raises(TypeError):
        item_at(None, 0)
