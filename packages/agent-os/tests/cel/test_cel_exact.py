"""Exact answers and messages the rest of the suite left unchecked.

Each test here kills mutants that survived a mutation-testing run of the engine
(packages/agent-os/mutation): operands read from the request (not folded into constants when the
policy loads), boundaries of the integer conversions, and the text of errors.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from agent_os._cel import CelEvalError, CelLimits, CelSyntaxError, compile_condition

from .conftest import ev, ev_error

SURROGATE = "cannot match a string that is not valid Unicode (lone surrogate)"


def _args(**values: Any) -> dict[str, Any]:
    return {"args": values}


@pytest.mark.parametrize(
    ("source", "a", "b", "value"),
    [
        ("args.a < args.b", 1, 1, False),
        ("args.a < args.b", 1, 2, True),
        ("args.a <= args.b", 2, 2, True),
        ("args.a <= args.b", 3, 2, False),
        ("args.a > args.b", 2, 2, False),
        ("args.a > args.b", 3, 2.5, True),
        ("args.a >= args.b", 2, 2.0, True),
        ("args.a >= args.b", 1, 2, False),
        ("args.a < args.b", "a", "b", True),
        ("args.a >= args.b", False, True, False),
    ],
)
def test_ordering_between_request_values(source: str, a: Any, b: Any, value: bool) -> None:
    assert ev(source, _args(a=a, b=b)) is value


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ("<", "no such overload: string < int"),
        ("<=", "no such overload: string <= int"),
        (">", "no such overload: string > int"),
        (">=", "no such overload: string >= int"),
    ],
)
def test_ordering_errors_between_request_values(op: str, message: str) -> None:
    assert ev_error(f"args.a {op} args.b", _args(a="5", b=5)) == message


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("args.x - args.y", 1.0),
        ("args.y - args.x", -1.0),
        ("args.x / args.y", 2.5 / 1.5),
        ("-args.x", -2.5),
        ("args.i / args.j", -3),
        ("args.j / args.i", 0),
        ("-args.i / args.j", 3),
        ("args.i % args.j", 1),
        ("-args.i % args.j", -1),
        ("args.zero / args.j", 0),
        ("args.zero % args.j", 0),
    ],
)
def test_arithmetic_on_request_values(source: str, value: Any) -> None:
    activation = _args(x=2.5, y=1.5, i=7, j=-2, zero=0)
    assert ev(source, activation) == value


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("0.5 / 0.0", math.inf),
        ("args.h / 0.0", math.inf),
        ("args.h / -0.0", -math.inf),
        ("-args.h / 0.0", -math.inf),
    ],
)
def test_division_of_a_fraction_by_zero(source: str, value: float) -> None:
    assert ev(source, _args(h=0.5)) == value


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("args.s - args.s", "no such overload: string - string"),
        ("args.s / args.s", "no such overload: string / string"),
        ("args.s % args.s", "no such overload: string % string"),
        ("args.h % args.i", "no such overload: double % int"),
        ("args.i % args.h", "no such overload: int % double"),
        ("args.h - args.i", "no such overload: double - int"),
        ("args.h / args.i", "no such overload: double / int"),
    ],
)
def test_arithmetic_errors_name_the_operator(source: str, message: str) -> None:
    assert ev_error(source, _args(s="a", h=1.5, i=2)) == message


def test_conditional_with_a_condition_from_the_request() -> None:
    assert ev("args.flag ? args.a : args.b", _args(flag=False, a=1, b=2)) == 2
    assert ev("args.flag ? args.a : args.b", _args(flag=True, a=1, b=2)) == 1
    assert "must be a bool" in ev_error("args.flag ? 1 : 2", _args(flag=0))


def test_membership_in_a_list_from_the_request() -> None:
    activation = _args(x="a", l=["a", "b"], m=["c"])
    assert ev("args.x in args.l", activation) is True
    assert ev("args.x not in args.l", activation) is False
    assert ev("args.x not in args.m", activation) is True


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("int('9223372036854775807')", 2**63 - 1),
        ("int('-9223372036854775808')", -(2**63)),
        ("int('00000000000000000000042')", 42),
        ("string(0.0)", "0"),
        ("string(-0.0)", "-0"),
        ("string(args.zero)", "0"),
    ],
)
def test_conversion_boundaries(source: str, value: Any) -> None:
    assert ev(source, _args(zero=0.0)) == value


@pytest.mark.parametrize(
    "text",
    ["9223372036854775808", "-9223372036854775809", "12345678901234567890123", "1" * 5000],
)
def test_int_of_a_long_decimal_is_out_of_range(text: str) -> None:
    assert ev_error("int(args.t)", _args(t=text)) == f"int() of `{text}` is out of the int range"


def test_matching_a_lone_surrogate_names_the_problem() -> None:
    activation = _args(s="a\ud800b", p="a")
    assert ev_error("args.s.matches('a')", activation) == SURROGATE
    assert ev_error("args.s.matches(args.p)", activation) == SURROGATE
    assert ev_error("matches(args.s, args.p)", activation) == SURROGATE


def test_regex_memory_budgets() -> None:
    # a policy author's literal pattern gets RE2's 8 MiB; a pattern from the request gets 1 MiB
    large = r"\pL{100}"
    assert compile_condition(f"args.s.matches(r'{large}')").evaluate_bool(_args(s="a" * 100)) is True
    message = ev_error("args.s.matches(args.p)", _args(s="a", p=large))
    # the reason is left out at evaluation time: both evaluators must put the same text in the decision
    assert message == f"invalid regular expression `{large}`"
    assert ev_error("args.s.matches(args.p)", _args(s="a", p="(")) == "invalid regular expression `(`"


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("args.n <= 150", True),
        ("args.n <= 149", False),
        ("args.n < 150", False),
        ("args.n >= 150", True),
        ("args.n > 150", False),
        ("150 >= args.n", True),
    ],
)
def test_ordering_against_a_literal_at_the_boundary(source: str, value: bool) -> None:
    assert ev(source, _args(n=150)) is value


def test_ordering_against_a_literal_names_the_operator() -> None:
    for op in ("<", "<=", ">", ">="):
        assert ev_error(f"args.n {op} 1", _args(n="1")) == f"no such overload: string {op} int"


def test_a_condition_that_reads_a_bool() -> None:
    program = compile_condition("args.flag")
    assert program.evaluate_bool(_args(flag=False)) is False
    assert program.evaluate_bool(_args(flag=True)) is True


def test_map_literals_with_keys_from_the_request() -> None:
    assert ev("{args.k: 1}", _args(k="a")) == {"a": 1}
    assert ev_error("{args.k: 1}", _args(k=1)) == "map keys must be strings, got int"
    assert ev_error("{args.a: 1, args.b: 2}", _args(a="x", b="x")) == "duplicate map key `x`"


def test_syntax_error_position_on_a_later_line() -> None:
    error = CelSyntaxError("m", 7, "ab\ncd\nefg")
    assert (error.line, error.column) == (3, 2)


def test_limits_floors_and_messages() -> None:
    assert CelLimits(max_nesting=1, max_comprehension_nesting=0).max_nesting == 1
    with pytest.raises(ValueError, match=r"^CelLimits.max_nesting must be at least 1, got `0`$"):
        CelLimits(max_nesting=0)
    with pytest.raises(TypeError, match=r"^CelLimits.max_eval_bytes must be an int, got `1.5`$"):
        CelLimits(max_eval_bytes=1.5)  # type: ignore[arg-type]


def test_activation_that_is_not_a_mapping() -> None:
    with pytest.raises(CelEvalError) as info:
        compile_condition("args.x == 1").evaluate_bool([])  # type: ignore[arg-type]
    assert info.value.message == "the activation must be a mapping of variable names to values"


def test_has_needs_a_field_selection() -> None:
    with pytest.raises(CelSyntaxError) as info:
        compile_condition("has(args)")
    assert info.value.message == "has() takes a field selection, like `has(args.amount)`"


@pytest.mark.parametrize(
    "source",
    [
        "args.l.exists(x, false)",
        "args.l.all(x, true)",
        "args.l.exists_one(x, false)",
        "size(args.l.map(x, x)) > 0",
        "size(args.l.map(x, true, x)) > 0",
        "size(args.l.filter(x, true)) > 0",
    ],
)
def test_every_macro_counts_steps_up_to_the_limit(source: str) -> None:
    program = compile_condition(source, limits=CelLimits(max_eval_steps=3))
    assert program.evaluate_bool(_args(l=[1, 2, 3])) in (True, False)
    with pytest.raises(CelEvalError) as info:
        program.evaluate_bool(_args(l=[1, 2, 3, 4]))
    assert info.value.message == "condition exceeded 3 macro iterations (limit max_eval_steps)"
