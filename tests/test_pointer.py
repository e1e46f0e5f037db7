"""harness.pointer: the one place the Python side builds, splits and follows JSON pointers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.pointer import ABSENT, escape, join, parts, resolve, unescape


@given(st.text())
def test_escape_round_trips(key: str) -> None:
    assert unescape(escape(key)) == key
    assert "/" not in escape(key)


def test_join_and_parts() -> None:
    assert join("steps", 3, "a/b~c") == "/steps/3/a~1b~0c"
    assert parts("/steps/3/a~1b~0c") == ["steps", "3", "a/b~c"]
    assert parts("") == [] and parts("/") == [""]
    with pytest.raises(ValueError, match="starts with '/'"):
        parts("steps/3")


def test_resolve_follows_rfc_6901() -> None:
    doc = {"a/b": [10, {"c": None}], "": 1}
    assert resolve(doc, "/a~1b/0") == 10
    assert resolve(doc, "/a~1b/1/c") is None  # present null
    assert resolve(doc, "/a~1b/1/d") is ABSENT
    assert resolve(doc, "/a~1b/01") is ABSENT  # no leading zeros
    assert resolve(doc, "/a~1b/2") is ABSENT and resolve(doc, "/a~1b/x") is ABSENT
    assert resolve(doc, "/") == 1 and resolve(doc, "") is doc
