"""Evaluation semantics: CEL's strict typing, equality within a kind, error propagation.

Comparisons across kinds and opaque values have their own file, test_cel_kinds.py."""

from __future__ import annotations

import math
from typing import Any

import pytest

from agent_os._cel import CelEvalError, compile_condition

from .conftest import base_activation, ev, ev_error

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

# -- missing data fails closed -------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "args.missing",
        "args.missing == 1",
        "args.missing != 1",
        "args.missing != 'x'",
        "args.missing not in ['a']",
        "!(args.missing in ['a'])",
        "not args.missing == 'x'",
        "args.missing > 1",
        "args.nested.nope.value == 1",
        "args['missing'] == 1",
        "action.type == 'send_email' && args.missing == 1",
        "args.missing == 1 || false",
    ],
)
def test_missing_key_is_an_error_never_false(source: str) -> None:
    message = ev_error(source)
    assert "no such key" in message


def test_missing_key_message_names_the_path() -> None:
    assert ev_error("args.amount == 1", {"args": {}}) == "no such key `amount` in `args`"
    assert ev_error("args.nested.nope.value") == "no such key `nope` in `args.nested`"
    assert ev_error("args['weird-key'].x") == "cannot select `x`: `args['weird-key']` is a string, not a map"


def test_missing_variable_is_an_error() -> None:
    assert ev_error("result == 1") == "variable `result` is not set in this request"
    assert ev_error("result.status == 'ok'") == "variable `result` is not set in this request"
    assert ev("result.status == 'ok'", {**base_activation(), "result": {"status": "ok"}}) is True


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("args.to.domain", "is a string, not a map"),
        ("args.tags.first", "is a list, not a map"),
        ("args.amount.value", "is an int, not a map"),
        ("args.nothing.value", "is a null, not a map"),
        ("args.items[0].nope", "no such key `nope`"),
        ("args.tags[0].x", "cannot select `x` on a string"),
        ("[1][0].x", "cannot select `x` on an int"),
    ],
)
def test_selecting_on_a_non_map_is_an_error(source: str, fragment: str) -> None:
    assert fragment in ev_error(source)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("args.tags[3]", "index `3` is out of range for a list of size 3"),
        ("args.tags[-1]", "index `-1` is out of range"),
        ("args.tags['0']", "`args.tags` is a list, not a map"),
        ("args.tags[args.to]", "a list index must be an int, got string"),
        ("args.tags[1.0]", "a list index must be an int, got double"),
        ("args.tags[true]", "a list index must be an int, got bool"),
        ("args.to[0]", "cannot index a string"),
        ("args.amount[0]", "cannot index an int"),
        ("args[1]", "no such key `1`"),
        ("args[args.tags]", "no such key"),
    ],
)
def test_bad_indexing_is_an_error(source: str, fragment: str) -> None:
    assert fragment in ev_error(source)


def test_activation_must_be_a_mapping() -> None:
    program = compile_condition("action.type == 'x'")
    for bad in (None, [], "action", 1):
        with pytest.raises(CelEvalError, match="activation must be a mapping"):
            program.evaluate_bool(bad)  # type: ignore[arg-type]
    macro = compile_condition("args.tags.exists(t, t == 'a')")
    with pytest.raises(CelEvalError, match="activation must be a mapping"):
        macro.evaluate_bool(None)  # type: ignore[arg-type]


# -- equality ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 == 1.0", True),
        ("1.0 == 1", True),
        ("1 != 1.5", True),
        ("true == true", True),
        ("true != false", True),
        ("null == null", True),
        ("null == 0", False),
        ("null == false", False),
        ("null == ''", False),
        ("null != []", True),
        ("[1, 2] == [1, 2.0]", True),
        ("[1, 2] == [2, 1]", False),
        ("[1] == [1, 1]", False),
        ("[[1, 'a']] == [[1.0, 'a']]", True),
        ("[null] == [null]", True),
        ("[null] == [1]", False),
        ("{'a': 1} == {'a': 1.0}", True),
        ("{'a': 1, 'b': 2} == {'b': 2, 'a': 1}", True),
        ("{'a': 1} == {'b': 1}", False),
        ("{'a': 1} == {'a': 1, 'b': 2}", False),
        ("'abc' == 'abc'", True),
        ("'é' == '\\u00e9'", True),
        ("0.0 == -0.0", True),
    ],
)
def test_equality_within_a_kind(source: str, value: bool) -> None:
    assert ev(source) is value


@pytest.mark.parametrize(
    ("value", "literal", "equal"),
    [
        (True, "true", True),
        (False, "true", False),
        (1.0, "1", True),
        (1, "1.0", True),
        ("1", "'1'", True),
        (None, "null", True),
        (0, "null", False),
        (False, "null", False),
        ("", "null", False),
        ([], "null", False),
        ({}, "null", False),
        ([1], "[1]", True),
        ({"a": 1}, "{'a': 1}", True),
        (float("nan"), "1.0", False),
        (2**53 + 1, "9007199254740992.0", False),  # compared exactly, not through a double
        (2**70, "1.0", False),
    ],
)
def test_equality_against_request_values(value: Any, literal: str, equal: bool) -> None:
    activation = {"args": {"v": value}}
    for source in (f"args.v == {literal}", f"{literal} == args.v", f"[args.v] == [{literal}]"):
        assert ev(source, activation) is equal, source
    for source in (f"args.v != {literal}", f"{literal} != args.v"):
        assert ev(source, activation) is (not equal), source


def test_nan_is_not_equal_to_itself() -> None:
    activation = {"args": {"v": float("nan")}}
    assert ev("args.v == args.v", activation) is False
    assert ev("args.v != args.v", activation) is True
    assert ev("args.v in [args.v]", activation) is False


# -- ordering ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2.5", True),
        ("2.5 >= 3", False),
        ("'a' < 'b'", True),
        ("'B' < 'a'", True),  # code point order
        ("'ab' > 'a'", True),
        ("false < true", True),
        ("true <= true", True),
        ("args.amount > 100", True),
        ("100 < args.amount", True),
        ("args.amount >= 150", True),
        ("args.amount <= 149", False),
        ("args.price < 10", True),
        ("args.price > args.amount", False),
        ("action.type > 'a'", True),
        ("'z' > action.type", True),
        ("args.flag > false", True),
        ("9223372036854775807 > 9223372036854775806.0", False),  # the double rounds up to 2**63
    ],
)
def test_ordering(source: str, value: bool) -> None:
    assert ev(source) is value


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("'5000' > 1000", "no such overload: string > int"),
        ("args.amount_str > 1000", "no such overload: string > int"),
        ("1000 < args.amount_str", "no such overload: string > int"),
        ("args.amount_str >= 1000.0", "no such overload: string >= double"),
        ("null < 1", "no such overload: null < int"),
        ("args.nothing > 0", "no such overload: null > int"),
        ("true > 0", "no such overload: bool > int"),
        ("args.flag < 1", "no such overload: bool < int"),
        ("'a' < 1", "no such overload: string < int"),
        ("action.type < 1", "no such overload: string < int"),
        ("[1] < [2]", "no such overload: list < list"),
        ("{} > {}", "no such overload: map > map"),
        ("args.amount > 'a'", "no such overload: int > string"),
        ("args.amount > args.to", "no such overload: int > string"),
        ("args.amount <= args.tags", "no such overload: int <= list"),
        ("args.flag >= 'x'", "no such overload: bool >= string"),
    ],
)
def test_ordering_across_types_is_an_error(source: str, message: str) -> None:
    assert ev_error(source) == message


# -- membership ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("action.type in ['send_email', 'x']", True),
        ("action.type in ['x', 'y']", False),
        ("action.type not in ['x', 'y']", True),
        ("'a' in args.tags", True),
        ("'z' in args.tags", False),
        ("1 in [1.0, 2]", True),
        ("1.0 in [1]", True),
        ("args.flag in [true]", True),
        ("args.flag in [false, null]", False),
        ("args.amount in [150.0]", True),
        ("args.nothing in [null]", True),
        ("args.nothing in [0, false, '']", False),
        ("null in {'a': 1}", False),
        ("'a' in [null, 'a']", True),
        ("'b' in [null, 'a']", False),
        ("[1] in [[1], [2]]", True),
        ("{'a': 1} in [{'a': 1.0}]", True),
        ("args.tags in [['a', 'b', 'c']]", True),
        ("'tenant' in context", True),
        ("'nope' in context", False),
        ("1 in {}", False),
        ("'a' in {'a': 1}", True),
        ("action.type in [args.to, 'send_email']", True),
    ],
)
def test_in(source: str, value: bool) -> None:
    assert ev(source) is value


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("'a' in 'abc'", "no such overload: string in string"),
        ("'a' in action.type", "no such overload: string in string"),
        ("1 in 1", "no such overload: int in int"),
        ("'a' in args.nothing", "no such overload: string in null"),
        ("'a' not in args.amount", "no such overload: string in int"),
    ],
)
def test_in_on_a_non_container_is_an_error(source: str, message: str) -> None:
    assert ev_error(source) == message


# -- arithmetic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 + 2", 3),
        ("1 - 5", -4),
        ("6 * 7", 42),
        ("7 / 2", 3),
        ("-7 / 2", -3),  # truncates toward zero
        ("7 / -2", -3),
        ("-7 / -2", 3),
        ("7 % 3", 1),
        ("-7 % 3", -1),  # sign of the dividend
        ("7 % -3", 1),
        ("-7 % -3", -1),
        ("1.5 + 1.0", 2.5),
        ("1.0 / 4.0", 0.25),
        ("3.0 * 2.0", 6.0),
        ("'ab' + 'cd'", "abcd"),
        ("[1] + ['a']", [1, "a"]),
        ("[] + []", []),
        ("args.amount * 2", 300),
        ("9223372036854775807 - 1", INT64_MAX - 1),
        ("-9223372036854775807 - 1", INT64_MIN),
        ("-9223372036854775808 / 2", INT64_MIN // 2),
        ("-(-9223372036854775807)", INT64_MAX),
    ],
)
def test_arithmetic(source: str, value: object) -> None:
    result = ev(source)
    assert result == value
    assert type(result) is type(value)


def test_double_division_follows_ieee() -> None:
    assert ev("1.0 / 0.0") == math.inf
    assert ev("-1.0 / 0.0") == -math.inf
    assert ev("1.0 / -0.0") == -math.inf
    assert math.isnan(ev("0.0 / 0.0"))
    assert ev("1e308 * 10.0") == math.inf
    assert ev("1.0 / 0.0 > 1e308") is True


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("9223372036854775807 + 1", "integer overflow in `+`"),
        ("-9223372036854775808 - 1", "integer overflow in `-`"),
        ("9223372036854775807 * 2", "integer overflow in `*`"),
        ("-9223372036854775808 / -1", "integer overflow in `/`"),
        ("-(-9223372036854775808)", "integer overflow in `-`"),
        ("1 / 0", "division by zero"),
        ("1 % 0", "modulus by zero"),
        ("args.amount / (args.amount - 150)", "division by zero"),
        ("1 + 1.0", "no such overload: int + double"),
        ("1.0 * 2", "no such overload: double * int"),
        ("args.amount + args.price", "no such overload: int + double"),
        ("5.0 % 2.0", "no such overload: double % double"),
        ("'a' + 1", "no such overload: string + int"),
        ("'a' * 2", "no such overload: string * int"),
        ("[1] + 1", "no such overload: list + int"),
        ("true + true", "no such overload: bool + bool"),
        ("null + null", "no such overload: null + null"),
        ("{} + {}", "no such overload: map + map"),
        ("-'a'", "no such overload: -string"),
        ("-true", "no such overload: -bool"),
        ("-args.tags", "no such overload: -list"),
        ("args.amount_str + 1", "no such overload: string + int"),
    ],
)
def test_arithmetic_errors(source: str, message: str) -> None:
    assert ev_error(source) == message


def test_ints_beyond_int64_in_requests_only_fail_on_arithmetic() -> None:
    activation = {"args": {"big": 2**70}}
    assert ev("args.big > 1", activation) is True
    assert ev("args.big == 1", activation) is False
    assert ev("args.big in [1, 2]", activation) is False
    assert ev_error("args.big + 0", activation) == "integer overflow in `+`"
    assert ev_error("args.big * 1", activation) == "integer overflow in `*`"


# -- logical operators ---------------------------------------------------------------------------

ERR = "args.missing == 1"


@pytest.mark.parametrize(
    ("source", "value"),
    [
        (f"false && {ERR}", False),
        (f"{ERR} && false", False),
        (f"true || {ERR}", True),
        (f"{ERR} || true", True),
        (f"{ERR} && {ERR} && false", False),
        (f"{ERR} || {ERR} || true", True),
        (f"true && {ERR} && false && true", False),
        (f"false || {ERR} || true || false", True),
        ("'x' && false", False),
        ("false && 'x'", False),
        ("1 || true", True),
        ("true || 1", True),
        (f"{ERR} and false", False),
        (f"{ERR} or true", True),
    ],
)
def test_logical_operators_absorb_errors_commutatively(source: str, value: bool) -> None:
    assert ev(source) is value


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (f"true && {ERR}", "no such key"),
        (f"{ERR} && true", "no such key"),
        (f"false || {ERR}", "no such key"),
        (f"{ERR} || false", "no such key"),
        (f"{ERR} && {ERR}", "no such key"),
        (f"true && true && {ERR}", "no such key"),
        (f"{ERR} && 'x'", "no such key"),
        (f"'x' && {ERR}", "`&&` needs bool operands, got string"),
        ("true && 1", "`&&` needs bool operands, got int"),
        ("1 && true", "`&&` needs bool operands, got int"),
        ("false || 'x'", "`||` needs bool operands, got string"),
        ("null || false", "`||` needs bool operands, got null"),
        ("true && true && 1", "`&&` needs bool operands, got int"),
        ("false || false || []", "`||` needs bool operands, got list"),
        ("!1", "no such overload: !int"),
        ("!args.to", "no such overload: !string"),
        ("not args.amount", "no such overload: !int"),
        ("args.amount ? 1 : 2", "the condition of `?:` must be a bool, got int"),
        (f"{ERR} ? 1 : 2", "no such key"),
    ],
)
def test_logical_errors(source: str, fragment: str) -> None:
    assert fragment in ev_error(source)


def test_conditional_evaluates_only_the_chosen_branch() -> None:
    assert ev(f"true ? 1 : {ERR}") == 1
    assert ev(f"false ? {ERR} : 2") == 2
    assert ev(f"args.amount > 100 ? 'big' : {ERR}") == "big"


# -- results -------------------------------------------------------------------------------------


def test_evaluate_bool_requires_a_bool() -> None:
    for source, kind in (
        ("args.amount", "int"),
        ("action.type", "string"),
        ("[true]", "list"),
        ("null", "null"),
    ):
        with pytest.raises(CelEvalError, match=f"must evaluate to a bool, got {kind}"):
            compile_condition(source).evaluate_bool(base_activation())
    assert compile_condition("args.flag").evaluate_bool(base_activation()) is True
    assert compile_condition("args.flag ? true : false").evaluate_bool(base_activation()) is True
    with pytest.raises(CelEvalError, match="got string"):
        compile_condition("args.flag ? 'yes' : false").evaluate_bool(base_activation())


def test_evaluate_returns_copies_of_containers() -> None:
    program = compile_condition("[1, [2], {'a': [3]}]")
    first = program.evaluate({})
    first[1].append("mutated")
    first[2]["a"].clear()
    assert program.evaluate({}) == [1, [2], {"a": [3]}]
    activation = base_activation()
    tags = compile_condition("args.tags").evaluate(activation)
    tags.append("x")
    assert activation["args"]["tags"] == ["a", "b", "c"]


def test_deeply_nested_request_data_is_an_eval_error() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    activation = {"args": {"a": deep, "b": deep}}
    with pytest.raises(CelEvalError, match="nests too deeply"):
        compile_condition("args.a == args.b").evaluate_bool(activation)
    # the error is absorbed like any other by a false conjunct
    assert compile_condition("args.a == args.b && false").evaluate_bool(activation) is False
    with pytest.raises(CelEvalError, match="nests too deeply"):
        compile_condition("args.a").evaluate(activation)


def test_unsupported_python_types_fail_closed() -> None:
    activation = {"args": {"t": (1, 2), "s": {1, 2}, "b": b"x"}}
    assert "unsupported Python type tuple" in ev_error("args.t == [1, 2]", activation)
    assert "unsupported Python type tuple" in ev_error("args.t == null", activation)
    assert "unsupported Python type tuple" in ev_error("size(args.t)", activation)
    assert "unsupported Python type bytes" in ev_error("args.b.startsWith('x')", activation)
    assert "unsupported Python type set" in ev_error("args.s > 1", activation)
