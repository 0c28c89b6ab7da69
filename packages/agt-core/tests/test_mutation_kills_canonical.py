"""Canonical JSON's C-encoder fast path, built afresh so that mutation testing can reach it.

`agt_core._canonical` builds its C encoder once, at import. mutmut forks every mutant's worker
from a process that has already imported the module, so mutants of `_make_fast_dumps` could never
be killed through `canonical_json`. This differential test builds the fast encoder again and
compares it with the pure-Python reference path on plain data (the only data it is given).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agt_core import MAX_SAFE_INTEGER
from agt_core._canonical import _encode, _is_plain, _make_fast_dumps

ASCII_KEYS = st.text(alphabet=st.characters(max_codepoint=127), max_size=6)
PLAIN = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(ASCII_KEYS, inner, max_size=4)
    ),
    max_leaves=16,
)
FAST = _make_fast_dumps()


def reference(value: Any) -> str:
    parts: list[str] = []
    _encode(value, parts, 0)
    return "".join(parts)


@settings(max_examples=200)
@given(value=PLAIN)
def test_the_fast_encoder_writes_exactly_what_the_reference_path_writes(value: Any) -> None:
    assert _is_plain(value)
    assert _make_fast_dumps()(value) == FAST(value) == reference(value)


def test_the_fast_encoder_sorts_keys_and_escapes_minimally() -> None:
    value = {"b": [1, {"z": None, "a": True}], "a": 'q"\\\u2028\x1f\u00e9', "": -7}
    expected = '{"":-7,"a":"q\\"\\\\\u2028\\u001f\u00e9","b":[1,{"a":true,"z":null}]}'
    assert _make_fast_dumps()(value) == reference(value) == expected
