"""Exact answers and messages the rest of the suite left unchecked.

Each test here kills mutants that survived a mutation-testing run of the engine
(packages/agent-os/mutation): operands read from the request (not folded into constants when the
policy loads), boundaries of the integer conversions, and the text of errors.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

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
