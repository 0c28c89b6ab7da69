"""Kinds: comparing values of different kinds is an error, opaque values cannot be inspected.

Both are deliberate deviations from CEL (docs/conditions.md, "Deliberate deviations from CEL"):
with heterogeneous equality a deny rule ``args.n == 5`` is bypassed by ``n="5"``, and a
request builder's stand-in for bytes or a deque passes ``==`` and ``exists()`` deny rules. Each
test here attacks one of those paths; a reference implementation written from the documented
rules checks the engine on generated values.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os._cel import CelEvalError, compile_condition, index_key, is_opaque, key_kind, kind_of

from .conftest import ev, ev_error

DEQUE = {"$opaque": "collections.deque"}
BYTES = {"$opaque": "bytes"}
BYTES_OLD = {"$bytes": 11}
OPAQUES = [DEQUE, BYTES, BYTES_OLD, (1, 2), b"x"]  # the last two: Python values that are not JSON


def _ev(source: str, **args: Any) -> Any:
    return compile_condition(source).evaluate({"args": args, "action": {"type": "t", "tool": "t"}})


def _error(source: str, **args: Any) -> str:
    with pytest.raises(CelEvalError) as info:
        _ev(source, **args)
    return info.value.message


# -- kinds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("a", "string"),
        (1, "number"),
        (1.5, "number"),
        (True, "bool"),
        (None, "null"),
        ([], "list"),
        ({}, "map"),
        ({"a": 1}, "map"),
        ({"$opaque": "x", "b": 1}, "map"),  # more than the one key: an ordinary map
        ({"$other": "x"}, "map"),
        (DEQUE, "opaque"),
        (BYTES, "opaque"),
        (BYTES_OLD, "opaque"),
        ({"$opaque": 7}, "opaque"),
        ((1,), "opaque"),
        (b"x", "opaque"),
        ({1, 2}, "opaque"),
    ],
)
def test_kind_of(value: Any, kind: str) -> None:
    assert kind_of(value) == kind
    assert is_opaque(value) is (kind == "opaque" and type(value) is dict)


# -- the bypasses of issue 6 -------------------------------------------------------------------------


def test_a_string_does_not_slip_past_a_number_test() -> None:
    for source in ("args.n == 5", "5 == args.n", "args.n != 5", "args.n in [5, 6]", "args.n not in [5]"):
        assert "different kinds" in _error(source, n="5"), source
    assert _ev("args.n == 5", n=5.0) is True


def test_bytes_do_not_slip_past_a_string_test() -> None:
    for path in (BYTES, BYTES_OLD):
        for source in (
            "args.path == '/etc/shadow'",
            "args.path != '/etc/shadow'",
            "args.path in ['/etc/shadow']",
            "args.path.startsWith('/etc/')",
            "args.path.matches('shadow')",
            "size(args.path) > 0",
        ):
            _error(source, path=path)


def test_opaque_values_do_not_pass_exists_deny_rules() -> None:
    # before: the macro walked the stand-in's key, "$opaque", and found nothing to deny
    for cmds in (DEQUE, BYTES, BYTES_OLD):
        message = _error("args.cmds.exists(c, c.startsWith('rm'))", cmds=cmds)
        assert "opaque" in message
    assert _ev("args.cmds.exists(c, c.startsWith('rm'))", cmds=["ls", "rm -rf /"]) is True


# -- every operator, every opaque value ------------------------------------------------------------

OPAQUE_CONDITIONS = [
    "args.v == 'x'",
    "'x' == args.v",
    "args.v != 'x'",
    "args.v == null",
    "null != args.v",
    "args.v == 1",
    "args.v == true",
    "args.v == {'$opaque': 'bytes'}",
    "args.v == args.v",
    "args.v != args.v",
    "[args.v] == [args.v]",
    "{'k': args.v} == {'k': args.v}",
    "args.v < 1",
    "args.v >= 'a'",
    "args.v in ['x', 1]",
    "args.v in ['x']",
    "args.v in [1, 2]",
    "args.v not in ['x']",
    "args.v in [null]",
    "args.v in {'a': 1}",
    "'$opaque' in args.v",
    "'$bytes' in args.v",
    "1 in args.v",
    "args.v.exists(k, true)",
    "args.v.all(k, false)",
    "args.v.exists_one(k, true)",
    "size(args.v.map(k, k)) == 1",
    "size(args.v.filter(k, true)) == 1",
    "size(args.v) == 1",
    "args.v.size() == 1",
    "has(args.v.x)",
    "args.v['$opaque'] == 'bytes'",
    "args.v['$bytes'] == 11",
    "args.v.x == 1",
    "args.v[0] == 1",
    "[args.v].exists(e, e == 'x')",
    "[1, args.v].all(e, e == 1)",
    "string(args.v) == 'x'",
    "int(args.v) == 1",
    "args.v.startsWith('x')",
]


@pytest.mark.parametrize("source", OPAQUE_CONDITIONS)
@pytest.mark.parametrize("value", OPAQUES, ids=["deque", "bytes", "bytes-old", "tuple", "raw-bytes"])
def test_every_operation_on_an_opaque_value_is_an_error(source: str, value: Any) -> None:
    program = compile_condition(source)
    with pytest.raises(CelEvalError):
        program.evaluate_bool({"args": {"v": value}})


def test_opaque_errors_say_why() -> None:
    assert _error("args.v == 'x'", v=DEQUE) == (
        "cannot compare an opaque value `collections.deque`: conditions cannot inspect it"
    )
    assert _error("args.v['$opaque'] == 'x'", v=BYTES) == (
        "cannot select `$opaque`: `args.v` is an opaque value `bytes`, which conditions cannot inspect"
    )
    assert "opaque value `bytes`" in _error("size(args.v) > 1", v=BYTES_OLD)
    assert "opaque value `bytes`" in _error("args.v.exists(k, true)", v=BYTES_OLD)
    assert "opaque" in _error("'$opaque' in args.v", v=DEQUE)
    assert "opaque" in _error("args.v in ['x']", v=DEQUE)
    assert "opaque" in _error("args.v > 1", v=DEQUE)


def test_what_may_be_done_with_an_opaque_value() -> None:
    # presence, passing it around, and a map with more keys than the stand-in's one
    assert _ev("has(args.v)", v=DEQUE) is True
    assert _ev("size([args.v, args.v]) == 2", v=DEQUE) is True
    assert _ev("args.v['$opaque'] == 'x'", v={"$opaque": "x", "y": 1}) is True
    assert _ev("'$opaque' in args.v", v={"$opaque": "x", "y": 1}) is True
    # an error absorbed by && / || like any other
    assert _ev("args.v == 'x' && false", v=DEQUE) is False
    assert _ev("args.v == 'x' || true", v=DEQUE) is True


def test_opaque_result_at_post_tool() -> None:
    program = compile_condition("result == 'secret'")
    with pytest.raises(CelEvalError, match="opaque"):
        program.evaluate_bool({"result": DEQUE})
    # a two-step path is inlined as plain subscripts: not when a step is a stand-in's key
    for source in ("result['$opaque'] == 'x'", "result['$opaque'] != 'x'", "result['$opaque'] in ['x']"):
        with pytest.raises(CelEvalError, match="opaque"):
            compile_condition(source).evaluate_bool({"result": DEQUE})
    with pytest.raises(CelEvalError, match="opaque"):
        compile_condition("result['$bytes'] > 0").evaluate_bool({"result": BYTES_OLD})


# -- cross-kind comparisons ---------------------------------------------------------------------------

SAMPLES: dict[str, list[Any]] = {
    "string": ["5", ""],
    "number": [5, 5.0, 0],
    "bool": [True, False],
    "null": [None],
    "list": [[5], []],
    "map": [{"a": 5}, {}],
}


@pytest.mark.parametrize("left", sorted(SAMPLES))
@pytest.mark.parametrize("right", sorted(SAMPLES))
def test_equality_across_every_pair_of_kinds(left: str, right: str) -> None:
    for x in SAMPLES[left]:
        for y in SAMPLES[right]:
            for source in ("args.x == args.y", "args.x != args.y", "[args.x] == [args.y]"):
                if left == right or "null" in (left, right):
                    assert type(_ev(source, x=x, y=y)) is bool
                else:
                    assert "different kinds" in _error(source, x=x, y=y), (source, x, y)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("[1, 'a'] == [1, 'b']", False),
        ("[1, 'a'] == ['1', 'b']", False),  # 'a' and 'b' differ: unequal whatever the first pair
        ("['1', 'b'] == [1, 'a']", False),
        ("{'a': 1, 'b': 'x'} == {'a': '1', 'b': 'y'}", False),
        ("[1, 2] == ['1']", False),  # sizes differ
        ("{'a': 1} == {'b': '1'}", False),  # keys differ
        ("'a' in [1, 'a']", True),  # an equal element decides
        ("'a' in ['a', 1]", True),
        ("null in [1, 'a']", False),
        ("'a' in [null]", False),
        ("1 in {}", False),
        ("[] == []", True),
        ("{} == {}", True),
    ],
)
def test_a_definite_answer_beats_a_comparison_that_cannot_be_made(source: str, value: bool) -> None:
    assert ev(source) is value


@pytest.mark.parametrize(
    "source",
    [
        "[1, 'a'] == ['1', 'a']",
        "{'a': 1} == {'a': '1'}",
        "[[1]] == [['1']]",
        "'b' in [1, 'a']",
        "5 in ['a']",
        "true in [1]",
        "1 in [true]",
        "[1] in ['a']",
        "1 in {'a': 1}",
        "true in {'true': 1}",
        "'1' == 1",
        "true == 1",
        "[] == {}",
        "1 != '1'",
    ],
)
def test_comparisons_that_cannot_be_made(source: str) -> None:
    assert "different kinds" in ev_error(source)


# -- a reference implementation of the documented rules, against the engine -------------------------


class _Incomparable(Exception):
    pass


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "opaque" if len(value) == 1 and ("$opaque" in value or "$bytes" in value) else "map"
    return "opaque"


def _reference_eq(x: Any, y: Any) -> bool:
    """docs/conditions.md, "Typing", read literally."""
    kx, ky = _kind(x), _kind(y)
    if "opaque" in (kx, ky):
        raise _Incomparable
    if "null" in (kx, ky):
        return kx == ky
    if kx != ky:
        raise _Incomparable
    if kx == "list":
        if len(x) != len(y):
            return False
        return _reference_pairs(list(zip(x, y, strict=True)))
    if kx == "map":
        if set(x) != set(y):
            return False
        return _reference_pairs([(x[k], y[k]) for k in x])
    return bool(x == y)


def _reference_pairs(pairs: list[tuple[Any, Any]]) -> bool:
    outcomes = []
    for a, b in pairs:
        try:
            outcomes.append(_reference_eq(a, b))
        except _Incomparable:
            outcomes.append(None)
    if False in outcomes:
        return False
    if None in outcomes:
        raise _Incomparable
    return True


def _reference_in(x: Any, container: Any) -> bool:
    kind = _kind(container)
    if kind not in ("list", "map") or _kind(x) == "opaque":
        raise _Incomparable
    outcomes = []
    for item in container:
        try:
            outcomes.append(_reference_eq(x, item))
        except _Incomparable:
            outcomes.append(None)
    if True in outcomes:
        return True
    if None in outcomes:
        raise _Incomparable
    return False


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0.0, 1.0, 2.5, -0.0, math.inf]),
    st.sampled_from(["", "a", "1", "true"]),
    st.sampled_from([DEQUE, BYTES, BYTES_OLD]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "$opaque"]), inner, max_size=2),
    ),
    max_leaves=6,
)


def _engine(source: str, x: Any, y: Any) -> tuple[str, Any]:
    try:
        return ("value", compile_condition(source).evaluate({"args": {"x": x, "y": y}}))
    except CelEvalError:
        return ("error", None)


def _spec(function: Any, x: Any, y: Any) -> tuple[str, Any]:
    try:
        return ("value", function(x, y))
    except _Incomparable:
        return ("error", None)


@settings(max_examples=500, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, VALUES)
def test_equality_and_membership_follow_the_documented_rules(x: Any, y: Any) -> None:
    assert _engine("args.x == args.y", x, y) == _spec(_reference_eq, x, y)
    expected = _spec(_reference_eq, x, y)
    negated = ("value", not expected[1]) if expected[0] == "value" else expected
    assert _engine("args.x != args.y", x, y) == negated
    assert _engine("args.x in args.y", x, y) == _spec(_reference_in, x, y)


def _literal(value: Any) -> str | None:
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    if type(value) is str:
        return repr(value)
    return None


@settings(max_examples=500, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, st.lists(SCALARS.filter(lambda v: _literal(v) is not None), min_size=1, max_size=3))
def test_literal_fast_paths_follow_the_documented_rules(x: Any, literals: list[Any]) -> None:
    texts = [t for t in (_literal(v) for v in literals) if t is not None]
    activation = {"action": {"type": x}, "args": {"x": x}}

    def run(source: str) -> tuple[str, Any]:
        try:
            return ("value", compile_condition(source).evaluate(activation))
        except CelEvalError:
            return ("error", None)

    assert run(f"action.type == {texts[0]}") == _spec(_reference_eq, x, literals[0])
    assert run(f"args.x == {texts[0]}") == _spec(_reference_eq, x, literals[0])
    assert run(f"{texts[0]} == args.x") == _spec(_reference_eq, literals[0], x)
    membership = _spec(_reference_in, x, literals)
    assert run(f"action.type in [{', '.join(texts)}]") == membership
    assert run(f"args.x in [{', '.join(texts)}]") == membership
    negated = ("value", not membership[1]) if membership[0] == "value" else membership
    assert run(f"args.x not in [{', '.join(texts)}]") == negated


@pytest.mark.parametrize("value", ["a", "", 1, 1.5, -0.0, True, False, None])
def test_key_kind_names_the_kind_of_the_values_behind_an_index_key(value: Any) -> None:
    # the rule index groups rules by the kind a request value must have to skip them
    assert key_kind(index_key(value)) == kind_of(value)
