"""The request builder's fast paths and type checks, attacked where mutation testing found them untested.

Run against the mutants of ``agent_os._request_builder`` by
``packages/agent-os/mutation/run_mutation.py kernel``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os import RequestLimits, to_json_data
from agent_os._request_builder import RequestBuilder
from agt_core import MAX_SAFE_INTEGER, RequestError


def two(a: Any = None, b: Any = None) -> None:
    """A tool whose scalar arguments take the builder's fast path."""


SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-MAX_SAFE_INTEGER - 2, -MAX_SAFE_INTEGER + 2),
    st.integers(MAX_SAFE_INTEGER - 2, MAX_SAFE_INTEGER + 2),
    st.integers(-5, 5),
    st.text(alphabet="abc", max_size=8),
)


def refused(builder: RequestBuilder, kwargs: dict[str, Any]) -> bool:
    try:
        builder.build((), kwargs)
    except RequestError:
        return True
    return False


class Wrapped(str):
    """A str subclass: the fast path leaves it to the full reading, which judges it as plain text."""


@settings(max_examples=200)
@given(
    a=st.text(alphabet="abc", max_size=8),
    b=st.text(alphabet="abc", max_size=8),
    chars=st.integers(2, 14),
    length=st.integers(1, 6),
    items=st.integers(1, 4),
)
def test_the_scalar_fast_path_refuses_exactly_what_the_limits_say(
    a: str, b: str, chars: int, length: int, items: int
) -> None:
    limits = RequestLimits(max_total_chars=chars, max_string_length=length, max_items=items)
    builder = RequestBuilder(two, "t", {"id": "x"}, {}, RequestLimits(), check_types=False)
    builder.limits = limits  # for the arguments only: the fixed agent facts would not fit
    # The limits as documented: every string and key counts its code points, every value counts
    # one (the args object and its two values).
    expected = len(a) > length or len(b) > length or len(a) + len(b) + 2 > chars or items < 3
    assert refused(builder, {"a": a, "b": b}) == expected
    # The same strings as a subclass take the full reading, which must agree.
    assert refused(builder, {"a": Wrapped(a), "b": Wrapped(b)}) == expected


@pytest.mark.parametrize(
    "value", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1]
)
def test_the_scalar_fast_path_refuses_the_integers_json_cannot_carry(value: int) -> None:
    builder = RequestBuilder(two, "t", {"id": "x"}, {}, RequestLimits(), check_types=False)
    assert refused(builder, {"a": value}) == (abs(value) > MAX_SAFE_INTEGER)


def test_the_scalar_fast_path_counts_the_names_of_every_argument() -> None:
    builder = RequestBuilder(two, "t", {"id": "x"}, {}, RequestLimits(), check_types=False)
    builder.limits = RequestLimits(max_total_chars=1)  # "a" and "b": two characters of keys
    assert refused(builder, {"a": [None], "b": None})  # the full reading refuses
    assert refused(builder, {"a": None, "b": None})


def test_the_scalar_fast_path_counts_argument_names() -> None:
    limits = RequestLimits(max_total_chars=8)
    builder = RequestBuilder(two, "t", {"id": "x"}, {}, limits, check_types=False)
    assert builder.build((), {"a": "xyz", "b": "xyz"})[0]["args"] == {"a": "xyz", "b": "xyz"}  # 8 chars
    with pytest.raises(RequestError, match="more than 8 characters"):
        builder.build((), {"a": "xyzw", "b": "xyz"})  # 9 with the names


def test_errors_inside_views_and_mapping_objects_name_where_they_are() -> None:
    with pytest.raises(RequestError, match=r"at `args\.k\[1\]`"):
        to_json_data({"k": {"x": 1, "y": float("nan")}.values()})
    with pytest.raises(RequestError, match=r"`args\.m\.bad`"):
        to_json_data({"m": Frozen({"ok": 1, "bad": float("inf")})})


class Frozen(Mapping[str, Any]):
    """A read-only mapping that is not a dict: read through its own iteration."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_mapping_objects_that_are_not_dicts_are_judged_by_their_items() -> None:
    assert to_json_data({"m": Frozen({"b": [1, 2], "a": "x"})}) == {"m": {"b": [1, 2], "a": "x"}}


def ints(values: list[int]) -> None:
    """A tool with a parameterised list annotation."""


def counts(values: dict[str, int]) -> None:
    """A tool with a parameterised dict annotation."""


def maybe(value: int | None) -> None:
    """A tool with a union annotation."""


@pytest.mark.parametrize(
    ("fn", "good", "bad"),
    [
        (ints, [1, 2, 3], [1, "2"]),
        (ints, [], [1.5]),
        (counts, {"a": 1}, {"a": "1"}),
        (counts, {}, {"a": True}),
        (maybe, None, "1"),
        (maybe, 3, 3.0),
    ],
)
def test_parameterised_annotations_check_their_items(fn: Any, good: Any, bad: Any) -> None:
    builder = RequestBuilder(fn, "t", {"id": "x"}, {}, RequestLimits())
    name = next(iter(builder.signature.parameters))
    assert builder.build((), {name: good})[0]["args"] == {name: good}
    with pytest.raises(
        RequestError, match=f"argument `{name}` is `{type(bad).__name__}` where the tool declares"
    ):
        builder.build((), {name: bad})
