"""Differential tests: each hand-built fast path against the slow, obvious one."""

from __future__ import annotations

import inspect
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os import RequestLimits
from agent_os._request_builder import RequestBuilder
from agt_core import canonical_json

# Text that exercises escaping and key order: quotes, backslashes, controls, non-ASCII, astral.
TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
KEYS = st.one_of(TEXT, st.sampled_from(["a", "b", "action", "z", "é", "\U0001f600", "\ue000", "A"]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


def tool(action: Any = None, target: Any = None, options: Any = None, count: Any = 0) -> None:
    """A tool whose request the builder assembles by hand."""


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=TEXT.filter(bool),
    action=st.one_of(st.none(), TEXT, st.fixed_dictionaries({"type": TEXT}, optional={"x": JSON})),
    target=JSON,
    options=JSON,
    agent=st.dictionaries(KEYS.filter(lambda k: k != "id"), JSON, max_size=3),
    context=st.dictionaries(KEYS, JSON, max_size=3),
)
def test_hand_assembled_request_json_is_the_canonical_json_of_the_request(
    name: str, action: Any, target: Any, options: Any, agent: dict[str, Any], context: dict[str, Any]
) -> None:
    builder = RequestBuilder(
        tool, name, {**agent, "id": "agent-1"}, context, RequestLimits(), check_types=False
    )
    request, request_json, _ = builder.build((), {"action": action, "target": target, "options": options})
    if request_json is not None:
        assert request_json == canonical_json(request)
    positional, positional_json, _ = builder.build((action, target), {"options": options})
    assert positional == request
    if positional_json is not None:
        assert positional_json == canonical_json(positional)


def f_plain(a: Any, b: Any = 2, c: Any = 3) -> None: ...
def f_kwonly(a: Any, *, b: Any, c: Any = 3) -> None: ...
def f_posonly(a: Any, /, b: Any = 2, **rest: Any) -> None: ...
def f_star(a: Any, *more: Any, c: Any = 3, **rest: Any) -> None: ...
def f_none() -> None: ...


class Holder:
    def method(self, a: Any, b: Any = 2) -> None: ...


SIGNATURES = [f_plain, f_kwonly, f_posonly, f_star, f_none, Holder().method]
NAMES = st.sampled_from(["a", "b", "c", "d", "more", "rest", "self"])


@settings(max_examples=300)
@given(
    fn=st.sampled_from(SIGNATURES),
    args=st.lists(st.integers(0, 9), max_size=4),
    kwargs=st.dictionaries(NAMES, st.integers(0, 9), max_size=3),
)
def test_bind_agrees_with_inspect_signature_bind(fn: Any, args: list[int], kwargs: dict[str, int]) -> None:
    builder = RequestBuilder(fn, "t", {"id": "x"}, {}, RequestLimits(), check_types=False)
    signature = inspect.signature(fn)
    try:
        expected_bound = signature.bind(*args, **kwargs)
    except TypeError:
        expected_error = True
    else:
        expected_error = False
    try:
        got = builder.bind(tuple(args), dict(kwargs))
    except TypeError:
        assert expected_error, (fn.__name__, args, kwargs)
        return
    except Exception as exc:  # a **kwargs key shadowing a named parameter is refused, not merged
        assert type(exc).__name__ == "RequestError"
        assert not expected_error
        return
    assert not expected_error, (fn.__name__, args, kwargs, got)
    expected_bound.apply_defaults()
    expected: dict[str, Any] = {}
    for name, value in expected_bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            expected.update(value)
        else:
            expected[name] = value
    assert got == expected


@settings(max_examples=200)
@given(value=st.dictionaries(KEYS, JSON, max_size=5))
def test_plain_json_fast_path_agrees_with_the_full_reading(value: dict[str, Any]) -> None:
    from agent_os._request_builder import _Budget, _freeze, to_json_data
    from agt_core import RequestError

    limits = RequestLimits(max_items=40, max_total_chars=60)
    try:
        slow = _freeze(value, _Budget(limits), 0, "x", set())[0]
    except RequestError:
        slow = RequestError
    try:
        fast = to_json_data(value, limits, where="x")
    except RequestError:
        fast = RequestError
    assert fast == slow
    if fast is not RequestError:
        assert fast is not value  # a copy: later changes to the caller's data cannot reach the request


# Every ASCII character, controls, quotes and backslashes included: what the scalar fast path admits.
ASCII_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=12),
)


def scalar_tool(c_arg: Any, b_arg: Any, a_arg: Any = None, z: Any = 0) -> None:
    """Parameters whose sorted order differs from their declared order."""


@settings(max_examples=300)
@given(c_arg=ASCII_SCALARS, a_arg=ASCII_SCALARS, b_arg=ASCII_SCALARS, z=ASCII_SCALARS, default=st.booleans())
def test_the_scalar_fast_path_writes_the_canonical_json_of_the_args(
    c_arg: Any, a_arg: Any, b_arg: Any, z: Any, default: bool
) -> None:
    builder = RequestBuilder(scalar_tool, "t", {"id": "agent-1"}, {}, RequestLimits(), check_types=False)
    kwargs = (
        {"c_arg": c_arg, "b_arg": b_arg}
        if default
        else {"c_arg": c_arg, "a_arg": a_arg, "b_arg": b_arg, "z": z}
    )
    judged, args_json = builder._scalars(builder.bind((), kwargs))
    assert judged is not None and args_json is not None  # the fast path took it
    assert args_json == canonical_json(judged)
    request, request_json, _ = builder.build((), kwargs)
    assert request_json == canonical_json(request)
