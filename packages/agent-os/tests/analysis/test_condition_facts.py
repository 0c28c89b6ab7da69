"""condition_facts: what a condition certainly says, read with the evaluator's own parser."""

from __future__ import annotations

import pytest

from agent_os import condition_facts


def test_paths_constant_equalities_and_patterns() -> None:
    facts = condition_facts("action.type in ['drop', 'delete'] && args.n == 5 && matches(args.p, '^a$b')")
    assert facts.paths == {"action.type", "args.n", "args.p"}
    assert facts.constant is None
    assert facts.equalities is not None
    assert set(facts.equalities["action.type"]) == {"drop", "delete"}
    assert facts.equalities["args.n"] == (5,)
    assert facts.regex_patterns == ("^a$b",)


@pytest.mark.parametrize(("text", "constant"), [("true", True), ("(false)", False), ("args.x == true", None)])
def test_constant_only_for_the_literal(text: str, constant: bool | None) -> None:
    assert condition_facts(text).constant is constant


def test_a_field_pinned_twice_keeps_what_both_allow() -> None:
    both = condition_facts("action.type == 'a' && action.type in ['a', 'b']")
    assert both.equalities == {"action.type": ("a",)}
    assert condition_facts("action.type == 'a' && action.type == 'b'").equalities == {"action.type": ()}


def test_nothing_is_pinned_under_a_top_level_or_or_conditional() -> None:
    assert condition_facts("action.type == 'x' || action.type == 'y'").equalities is None
    assert condition_facts("args.a ? action.type == 'x' : false").equalities is None
    # An || inside one operand of && does not hide the other operands' pins.
    assert condition_facts("(args.a || args.b) && action.type == 'x'").equalities == {"action.type": ("x",)}


def test_quotes_and_strings_that_look_like_operators_are_read_as_cel_reads_them() -> None:
    # The hand-written splitter this replaces had to track quotes; the parser simply knows.
    facts = condition_facts("args.q == 'a && b' && action.type == \"drop\"")
    assert facts.equalities == {"args.q": ("a && b",), "action.type": ("drop",)}


def test_booleans_numbers_and_null_stay_apart() -> None:
    facts = condition_facts("args.v in [1, true, null]")
    assert facts.equalities is not None
    values = facts.equalities["args.v"]
    assert len(values) == 3
    assert sorted(map(repr, values)) == ["1", "None", "True"]


def test_shape_ignores_spacing_and_parentheses_only() -> None:
    assert condition_facts("args.x  ==  1").shape == condition_facts("(args.x == 1)").shape
    assert condition_facts("args.x == 1").shape != condition_facts("args.x == 2").shape
    assert condition_facts("args.x == 'a'").shape == condition_facts('args.x == "a"').shape


def test_a_condition_that_does_not_parse_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="does not parse"):
        condition_facts("args.x ==")
