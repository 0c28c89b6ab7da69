"""field_paths, conjunct_count, pins and index_key, and the property that makes pins safe."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os._cel import CelEvalError, Pin, compile_condition, index_key, kind_of

from .conftest import base_activation

# -- field paths and conjuncts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        ("action.type in ['drop', 'delete']", {("action", "type")}),
        ("action['type'] == 'x'", {("action", "type")}),
        ("args.to.endsWith('@x.com') && args.amount > 1", {("args", "to"), ("args", "amount")}),
        ("args.a.b.c == 1", {("args", "a", "b", "c")}),
        ("args['a'].b['c'] == 1", {("args", "a", "b", "c")}),
        ("args.items[0].name == 'x'", {("args", "items")}),
        ("args.items.exists(i, i.price > args.limit)", {("args", "items"), ("args", "limit")}),
        ("has(args.amout)", {("args", "amout")}),
        ("size(args) > 0 && stage == 'pre_tool'", set()),
        ("{'a': args.x}.a == context.y", {("args", "x"), ("context", "y")}),
        ("args[action.type] == 1", {("action", "type")}),
        ("result.status == 200 || agent.id == 'a'", {("result", "status"), ("agent", "id")}),
        ("true", set()),
    ],
)
def test_field_paths(source: str, paths: set[tuple[str, ...]]) -> None:
    assert compile_condition(source).field_paths == frozenset(paths)


def test_variables() -> None:
    program = compile_condition("args.items.exists(i, i.owner == agent.id) && stage == 'pre_tool'")
    assert program.variables == frozenset({"args", "agent", "stage"})


@pytest.mark.parametrize(
    ("source", "count"),
    [
        ("true", 1),
        ("args.b == 1", 1),
        ("args.a == 1 && args.b == 2", 2),
        ("args.a == 1 and args.b == 2 and args.c == 3", 3),
        ("args.a == 1 && (args.b == 2 && args.c == 3)", 3),
        ("(args.a == 1 && args.b == 2) || args.c == 3", 1),
        ("args.a == 1 || args.b == 2 && args.c == 3", 1),
        ("!(args.a == 1 && args.b == 2)", 1),
        ("args.a == 1 && args.b == 2 ? true : false", 1),
    ],
)
def test_conjunct_count(source: str, count: int) -> None:
    assert compile_condition(source).conjunct_count == count


# -- pins ----------------------------------------------------------------------------------------


def _pins(source: str) -> tuple[Pin, ...]:
    return compile_condition(source).pins


def test_pins_of_the_seed_policy() -> None:
    assert _pins("action.type in ['drop', 'delete', 'truncate']") == (
        Pin(("action", "type"), frozenset({"drop", "delete", "truncate"})),
    )
    assert _pins("action.type == 'send_email'") == (Pin(("action", "type"), frozenset({"send_email"})),)


@pytest.mark.parametrize(
    ("source", "path", "literals"),
    [
        ("'x' == action.type", ("action", "type"), ["x"]),
        ("action['type'] == 'x'", ("action", "type"), ["x"]),
        ("stage == 'pre_tool'", ("stage",), ["pre_tool"]),
        ("args.n == 1", ("args", "n"), [1]),
        ("args.n == 1.0", ("args", "n"), [1.0]),
        ("args.n == -1", ("args", "n"), [-1]),
        ("args.n == -2.5", ("args", "n"), [-2.5]),
        ("args.b == true", ("args", "b"), [True]),
        ("args.b == null", ("args", "b"), [None]),
        ("args.a.b.c in ['x', 1, true, null]", ("args", "a", "b", "c"), ["x", 1, True, None]),
        ("args.tool == 'a' && args.amount > 100", ("args", "tool"), ["a"]),
        ("args.amount > 100 && args.tool == 'a'", ("args", "tool"), ["a"]),
    ],
)
def test_pin_shapes(source: str, path: tuple[str, ...], literals: list[Any]) -> None:
    assert _pins(source) == (Pin(path, frozenset(index_key(v) for v in literals)),)


def test_several_pins() -> None:
    pins = _pins("action.type == 'a' && args.mode in ['x', 'y'] && agent.id == 'bot' && args.n > 1")
    assert pins == (
        Pin(("action", "type"), frozenset({"a"})),
        Pin(("args", "mode"), frozenset({"x", "y"})),
        Pin(("agent", "id"), frozenset({"bot"})),
    )


@pytest.mark.parametrize(
    "source",
    [
        "action.type == 'a' || action.type == 'b'",
        "action.type != 'a'",
        "action.type not in ['a']",
        "!(action.type == 'a')",
        "not action.type == 'a'",
        "!(action.type in ['a'])",
        "args.x == args.y",
        "args.x in args.list",
        "args.x in [args.y]",
        "args.x in ['a', args.y]",
        "args.x in [['a']]",
        "args.x == ['a']",
        "args.x == {'a': 1}",
        "args.items[0].name == 'x'",
        "args[action.type] == 'x'",
        "size(args.x) == 1",
        "args.x + 'a' == 'ba'",
        "args.items.exists(i, i.name == 'x')",
        "args.flag ? action.type == 'a' : false",
        "(action.type == 'a') == true",
        "'a' == 'a'",
        "args.x == 1 + 1",
    ],
)
def test_no_pins(source: str) -> None:
    assert _pins(source) == ()


def test_pin_excludes() -> None:
    (pin,) = _pins("action.type in ['drop', 'delete']")
    assert pin.excludes({"action": {"type": "read"}}) is True
    assert pin.excludes({"action": {"type": "drop"}}) is False
    assert pin.excludes({"action": {"type": None}}) is True  # null equals no string, no error
    # other kinds cannot be compared with strings: the conjunct errors, the rule must run
    assert pin.excludes({"action": {"type": 1}}) is False
    assert pin.excludes({"action": {"type": True}}) is False
    assert pin.excludes({"action": {"type": ["drop"]}}) is False
    assert pin.excludes({"action": {"type": {"drop": 1}}}) is False
    assert pin.excludes({"action": {"type": {"$opaque": "collections.deque"}}}) is False
    assert pin.excludes({"action": {"type": {"$bytes": 4}}}) is False
    assert pin.excludes({"action": {"type": b"drop"}}) is False
    assert pin.excludes({"action": {}}) is False  # missing: evaluate (it errors)
    assert pin.excludes({"action": "drop"}) is False
    assert pin.excludes({}) is False
    (number,) = _pins("args.n == 1")
    assert number.kinds == {"number"}
    assert number.excludes({"args": {"n": 1.0}}) is False
    assert number.excludes({"args": {"n": 2}}) is True
    assert number.excludes({"args": {"n": math.nan}}) is True
    assert number.excludes({"args": {"n": True}}) is False
    assert number.excludes({"args": {"n": "1"}}) is False  # the bypass a pin must not open
    (null,) = _pins("args.n == null")
    assert null.kinds == frozenset()
    assert null.excludes({"args": {"n": "x"}}) is True
    assert null.excludes({"args": {"n": [1]}}) is True
    assert null.excludes({"args": {"n": {"$opaque": "x"}}}) is False
    (mixed,) = _pins("args.n in ['a', 1, null]")
    assert mixed.kinds == {"string", "number"}
    assert mixed.excludes({"args": {"n": None}}) is False  # null is a literal here
    assert mixed.excludes({"args": {"n": "b"}}) is False  # 'b' vs 1 errors
    (opaque_path,) = _pins("args.n['$opaque'] == 'x'")
    assert opaque_path.excludes({"args": {"n": {"$opaque": "y"}}}) is False


# -- index_key -----------------------------------------------------------------------------------


def test_index_key() -> None:
    assert index_key("a") == "a"
    assert index_key(1) == index_key(1.0)
    assert hash(index_key(1)) == hash(index_key(1.0))
    assert index_key(0) == index_key(-0.0)
    assert index_key(True) != index_key(1)
    assert index_key(False) != index_key(0)
    assert index_key(True) != index_key(False)
    assert index_key(True) == index_key(True)
    assert index_key(None) is not None
    assert index_key(None) != index_key(0)
    assert index_key(None) != index_key("null")
    assert index_key("1") != index_key(1)
    assert index_key("true") != index_key(True)
    assert index_key([1]) is None
    assert index_key({"a": 1}) is None
    assert index_key((1,)) is None
    assert index_key(b"x") is None
    nan = index_key(math.nan)
    assert nan != index_key(math.nan)


SCALARS = st.one_of(
    st.sampled_from(["a", "b", "1", "true", "", "null"]),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([1.0, 0.0, -0.0, 2.5, math.nan, math.inf, 2.0**63]),
    st.integers(min_value=2**62, max_value=2**64),
    st.booleans(),
    st.none(),
)


@settings(max_examples=400, database=None, deadline=None)
@given(SCALARS, SCALARS)
def test_index_key_agrees_with_cel_equality(x: Any, y: Any) -> None:
    activation = {"args": {"x": x, "y": y}}
    try:
        equal = compile_condition("args.x == args.y").evaluate_bool(activation)
    except CelEvalError:
        # different kinds: never equal keys either
        assert index_key(x) != index_key(y)
        assert kind_of(x) != kind_of(y)
        return
    assert (index_key(x) == index_key(y)) is equal


# -- the pin property ----------------------------------------------------------------------------

PATHS = {
    "action.type": ("action", "type"),
    "args.x": ("args", "x"),
    "args['y'].z": ("args", "y", "z"),
    "stage": ("stage",),
}
LITERALS = ["'a'", "'b'", "'1'", "1", "1.0", "2", "-1", "0", "0.0", "true", "false", "null", "2.5"]
OTHER_CONJUNCTS = [
    "args.missing == 1",
    "1 / 0 == 1",
    "args.x > 5",
    "args.x.startsWith('a')",
    "args.x != 'a'",
    "action.type not in ['a']",
    "args.l.exists(e, e == args.x)",
    "size(args.l) > 1",
    "'x' && true",
    "args.x",
    "result.ok == true",
    "true",
    "args.y.z == action.type",
    "args.l.all(e, e.q == 1)",
]
VALUES = st.one_of(
    st.sampled_from(["a", "b", "1", "", "true"]),
    st.integers(min_value=-1, max_value=3),
    st.sampled_from([1.0, 2.5, 0.0, -0.0, math.nan]),
    st.booleans(),
    st.none(),
    st.lists(st.sampled_from(["a", 1]), max_size=2),
    st.dictionaries(st.sampled_from(["z", "q"]), st.sampled_from(["a", 1]), max_size=2),
    st.sampled_from([{"$opaque": "collections.deque"}, {"$bytes": 3}]),
)


@st.composite
def pinned_conditions(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(sorted(PATHS)))
        literals = draw(st.lists(st.sampled_from(LITERALS), min_size=1, max_size=4))
        if len(literals) == 1 and draw(st.booleans()):
            parts.append(f"{path} == {literals[0]}" if draw(st.booleans()) else f"{literals[0]} == {path}")
        else:
            parts.append(f"{path} in [{', '.join(literals)}]")
    parts += draw(st.lists(st.sampled_from(OTHER_CONJUNCTS), max_size=3))
    return " && ".join(draw(st.permutations(parts)))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    activation: dict[str, Any] = {"action": {}, "args": {"y": {}}}
    if draw(st.booleans()):
        activation["action"]["type"] = draw(VALUES)
    if draw(st.booleans()):
        activation["args"]["x"] = draw(VALUES)
    if draw(st.booleans()):
        activation["args"]["y"]["z"] = draw(VALUES)
    else:
        activation["args"]["y"] = draw(st.sampled_from([{}, [], "y", None]))
    if draw(st.booleans()):
        activation["args"]["l"] = draw(st.lists(VALUES, max_size=3))
    if draw(st.booleans()):
        activation["stage"] = draw(VALUES)
    return activation


@settings(max_examples=1500, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pinned_conditions(), requests())
def test_a_pin_that_excludes_a_request_means_the_condition_is_false(
    source: str, activation: dict[str, Any]
) -> None:
    program = compile_condition(source)
    assert program.pins, source
    if any(pin.excludes(activation) for pin in program.pins):
        assert program.evaluate_bool(activation) is False
    else:
        # a pin that does not exclude says nothing; evaluating must still be well-behaved
        with contextlib.suppress(CelEvalError):
            program.evaluate_bool(activation)


def test_pin_with_an_erroring_conjunct_before_it() -> None:
    program = compile_condition("args.missing > 1 && action.type == 'a'")
    activation = {"action": {"type": "b"}, "args": {}}
    assert program.pins[0].excludes(activation)
    assert program.evaluate_bool(activation) is False
    # ... and the same condition errors when the pin does not exclude (fail closed)
    with pytest.raises(CelEvalError):
        program.evaluate_bool({"action": {"type": "a"}, "args": {}})


def test_pin_with_an_over_budget_macro_before_it() -> None:
    program = compile_condition("args.l.all(x, args.l.all(y, true)) && action.type == 'a'")
    activation = {"action": {"type": "b"}, "args": {"l": list(range(1000))}}
    assert program.pins[0].excludes(activation)
    assert program.evaluate_bool(activation) is False


def test_base_activation_has_no_pins_surprises() -> None:
    program = compile_condition("action.type == 'send_email' && args.to.endsWith('@external.com')")
    assert not program.pins[0].excludes(base_activation())
    assert program.evaluate_bool(base_activation()) is True
