"""max_eval_bytes: one evaluation cannot build more than its budget of strings, lists and maps.

Issue 6: ``args.items.map(i, args.s + args.s)`` with a 1M-character string allocated 1.9 GiB.
The tests attack each operation that builds a value, check the documented accounting exactly at
the boundary, and measure with tracemalloc (bytes, not time) that the attack stays bounded.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from agent_os._cel import DEFAULT_LIMITS, CelEvalError, CelLimits, compile_condition

BUDGET_ERROR = "limit max_eval_bytes"


def _run(source: str, limit: int | None = None, **args: Any) -> Any:
    limits = DEFAULT_LIMITS if limit is None else CelLimits(max_eval_bytes=limit)
    return compile_condition(source, limits=limits).evaluate({"args": args})


def _over(source: str, limit: int | None = None, **args: Any) -> None:
    with pytest.raises(CelEvalError, match=BUDGET_ERROR):
        _run(source, limit, **args)


def test_default_budget() -> None:
    assert DEFAULT_LIMITS.max_eval_bytes == 16 * 1024 * 1024
    with pytest.raises(TypeError):
        CelLimits(max_eval_bytes=True)
    with pytest.raises(ValueError, match="at least 1"):
        CelLimits(max_eval_bytes=0)


def test_the_reported_attack_is_refused_with_bounded_memory() -> None:
    program = compile_condition("size(args.items.map(i, args.s + args.s)) > 0")
    activation = {"args": {"items": list(range(1000)), "s": "x" * 1_000_000}}
    tracemalloc.start()
    try:
        with pytest.raises(CelEvalError, match=BUDGET_ERROR):
            program.evaluate_bool(activation)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the budget is 16 MiB of built values; before, this evaluation grew by about 1.9 GiB
    assert peak < 32 * 1024 * 1024


@pytest.mark.parametrize(
    ("source", "args"),
    [
        ("size(args.items.map(i, args.s + args.s)) > 0", {"items": list(range(300)), "s": "a" * 100_000}),
        ("args.items.exists(i, args.s.lowerAscii() == '')", {"items": list(range(300)), "s": "A" * 100_000}),
        ("args.items.exists(i, args.s.upperAscii() == '')", {"items": list(range(300)), "s": "a" * 100_000}),
        ("size(args.items.map(i, args.items + args.items)) > 0", {"items": list(range(3000)), "s": ""}),
        ("size(args.items.map(i, args.items.map(j, j))) > 0", {"items": list(range(300)), "s": ""}),
        ("size(args.items.map(i, args.items.filter(j, true))) > 0", {"items": list(range(300)), "s": ""}),
        (
            "size(args.items.map(i, [i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i])) > 0",
            {"items": list(range(10_000)), "s": ""},
        ),
        (
            "size(args.items.map(i, {'a': i, 'b': i, 'c': i, 'd': i})) > 0",
            {"items": list(range(10_000)), "s": ""},
        ),
        ("size(args.items.map(i, string(i) + args.s)) > 0", {"items": list(range(2000)), "s": "a" * 10_000}),
    ],
    ids=["concat", "lower", "upper", "list-concat", "map", "filter", "list-literal", "map-literal", "string"],
)
def test_every_building_operation_is_charged(source: str, args: dict[str, Any]) -> None:
    # within max_eval_steps, plain elements reach hundreds of KB: a smaller budget shows the charge
    _over(source, 500_000, **args)
    # the same shapes on small data are fine
    small = {key: value[:10] for key, value in args.items()}
    assert compile_condition(source).evaluate({"args": small}) in (True, False)


@pytest.mark.parametrize(
    ("source", "args", "cost"),
    [
        ("args.a + args.b", {"a": "abc", "b": "defg"}, 7),
        ("args.a + args.b", {"a": "é", "b": "€"}, 5),  # UTF-8 bytes: 2 + 3
        ("args.a + args.b", {"a": "\U0001f600", "b": ""}, 4),
        ("args.a.lowerAscii()", {"a": "ABCDE"}, 5),
        ("string(args.a)", {"a": 12345}, 5),
        ("args.l + args.l", {"l": [1, 2, 3]}, 48),
        ("[args.a, args.a]", {"a": 1}, 16),
        ("{'k': args.a}", {"a": 1}, 16),
        ("args.l.map(x, x)", {"l": [1, 2, 3]}, 24),
        ("args.l.filter(x, x > 1)", {"l": [1, 2, 3]}, 16),
        ("args.l.map(x, x > 1, x)", {"l": [1, 2, 3]}, 16),
        ("args.l.map(x, args.a + args.a)", {"l": [1, 2], "a": "xy"}, 2 * (4 + 8)),
    ],
)
def test_accounting_at_the_boundary(source: str, args: dict[str, Any], cost: int) -> None:
    _run(source, cost, **args)
    _over(source, cost - 1, **args)


@pytest.mark.parametrize(
    "source",
    [
        "args.x in ['drop', 'delete'] || true",
        "args.x == 'a' + 'b' || true",
        "size([1, 2, 3]) == 3",
        "{'a': 1}.a == 1",
        "'abc'.upperAscii() == 'ABC'",
        "string(12) == '12'",
        "args.s.contains('x') || true",
        "size(args.s) > 0",
        "args.s == args.s",
        "args.l.exists(x, x == 1) || true",
        "args.l.all(x, x > 0)",
    ],
)
def test_reading_and_constants_cost_nothing(source: str) -> None:
    # values read from the request exist already; constants are built when the policy loads
    assert _run(source, 1, x="a", s="s" * 1000, l=[1, 2, 3]) is True


def test_the_budget_is_per_evaluation() -> None:
    program = compile_condition("size(args.a + args.a) == 8", limits=CelLimits(max_eval_bytes=8))
    for _ in range(3):
        assert program.evaluate_bool({"args": {"a": "abcd"}}) is True


def test_an_over_budget_operand_is_absorbed_like_any_error() -> None:
    source = "size(args.l.map(x, args.a + args.a)) > 0"
    args = {"l": list(range(100)), "a": "x" * 100}
    _over(source, 1000, **args)
    assert _run(f"false && {source}", 1000, **args) is False
    assert _run(f"{source} || true", 1000, **args) is True
