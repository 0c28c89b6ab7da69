"""Compile-time checks, limits, the and/or/not spellings, and the public API surface."""

from __future__ import annotations

import dataclasses

import pytest

import agent_os._cel as cel
from agent_os._cel import (
    DEFAULT_LIMITS,
    VARIABLES,
    CelEvalError,
    CelLimits,
    CelSyntaxError,
    compile_condition,
)

from .conftest import base_activation, ev, ev_error, syntax_error

# -- unknown variables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "offset", "name"),
    [
        ("acton.type == 'x'", 0, "acton"),
        ("action.type == 'x' && arg.amount > 1", 22, "arg"),
        ("[1, 2].exists(x, y > 1)", 17, "y"),
        ("x", 0, "x"),
        ("has(agnet.id)", 4, "agnet"),
        ("size(contxt)", 5, "contxt"),
    ],
)
def test_unknown_variable(source: str, offset: int, name: str) -> None:
    error = syntax_error(source)
    assert error.offset == offset
    assert error.message.startswith(
        f"unknown variable `{name}`; conditions can use action, args, agent, context, stage, result, sql, k8s"
    )


def test_unknown_variable_exact_message() -> None:
    assert syntax_error("acton.type == 'x'").message == (
        "unknown variable `acton`; conditions can use action, args, agent, context, stage, result, sql, k8s"
    )


def test_every_variable_is_usable() -> None:
    assert frozenset({"action", "args", "agent", "context", "stage", "result", "sql", "k8s"}) == VARIABLES
    for name in VARIABLES:
        assert compile_condition(f"{name} == null").variables == frozenset({name})


# -- empty `in` lists ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("action.type in []", 15, "`in []` is always false"),
        ("action.type not in []", 19, "`not in []` is always true"),
        ("args.amount > 1 && action.type in [ ]", 34, "`in []` is always false"),
        ("!(action.type in [])", 17, "`in []` is always false"),
        ("[1].exists(x, x in [])", 19, "`in []` is always false"),
    ],
)
def test_empty_in_list_literal_is_refused(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert error.offset == offset
    assert error.message.startswith(fragment)


def test_in_an_empty_list_from_the_request_is_fine() -> None:
    assert ev("action.type in args.empty", {"action": {"type": "x"}, "args": {"empty": []}}) is False
    assert ev("action.type in [] + args.tags") is False


# -- limits ----------------------------------------------------------------------------------------


def test_default_limits() -> None:
    assert CelLimits() == DEFAULT_LIMITS
    assert DEFAULT_LIMITS.max_source_length == 4096
    assert DEFAULT_LIMITS.max_ast_nodes == 1024
    assert DEFAULT_LIMITS.max_nesting == 48
    assert DEFAULT_LIMITS.max_comprehension_nesting == 3
    assert DEFAULT_LIMITS.max_eval_steps == 100_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_nesting = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_nesting": 0}, ValueError),
        ({"max_ast_nodes": -1}, ValueError),
        ({"max_comprehension_nesting": -1}, ValueError),
        ({"max_eval_steps": True}, TypeError),
        ({"max_source_length": 1.5}, TypeError),
    ],
)
def test_limits_are_validated(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        CelLimits(**kwargs)  # type: ignore[arg-type]


def test_source_length_limit() -> None:
    limits = CelLimits(max_source_length=20)
    assert compile_condition("action.type == 'abc'", limits=limits)  # exactly 20
    error = syntax_error_with("action.type == 'abcd'", limits)
    assert error.offset == 20
    assert "limit max_source_length" in error.message
    error = syntax_error("'" + "a" * 5000 + "'")
    assert "longer than 4096 characters" in error.message


def syntax_error_with(source: str, limits: CelLimits) -> CelSyntaxError:
    with pytest.raises(CelSyntaxError) as info:
        compile_condition(source, limits=limits)
    return info.value


def test_node_count_limit() -> None:
    limits = CelLimits(max_ast_nodes=10)
    compile_condition("[1, 2, 3, 4, 5, 6, 7, 8, 9]", limits=limits)  # 9 literals + the list
    error = syntax_error_with("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", limits)
    assert "more than 10 syntax nodes (limit max_ast_nodes)" in error.message
    assert error.offset == 0  # the list, the 11th node
    alternatives = " || ".join("stage == 1" for _ in range(290))
    assert len(alternatives) < 4096
    error = syntax_error(alternatives)
    assert "limit max_ast_nodes" in error.message


def test_nesting_limit_on_parentheses() -> None:
    limits = CelLimits(max_nesting=5)
    assert compile_condition("((((1))))", limits=limits).evaluate({}) == 1  # 5 levels
    error = syntax_error_with("(((((1)))))", limits)
    assert error.offset == 5
    assert "nests deeper than 5 levels (limit max_nesting)" in error.message


@pytest.mark.parametrize(
    "source",
    [
        "(" * 5000 + "1" + ")" * 5000,
        "[" * 5000 + "]" * 5000,
        "size(" * 3000 + "1" + ")" * 3000,
        "!" * 4000 + "true",
        "-" * 4000 + "1",
        "not " * 1000 + "true",
        "{'a': " * 1000 + "1" + "}" * 1000,
        "args" + ".a" * 2000,
        "args" + "[0]" * 1000,
        "1" + " + 1" * 1000,
        "true ? 1 : " * 500 + "2",
        "args.to" + ".lowerAscii()" * 500,
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_crash(source: str) -> None:
    error = syntax_error(source)
    assert "limit max_nesting" in error.message or "limit max_" in error.message


def test_long_flat_chains_do_not_count_as_nesting() -> None:
    alternatives = " || ".join(f"action.type == 'a{i}'" for i in range(150))
    program = compile_condition(alternatives)
    assert program.evaluate_bool({"action": {"type": "a149"}}) is True
    assert program.evaluate_bool({"action": {"type": "b"}}) is False
    conjuncts = " && ".join(f"args.amount > {i}" for i in range(100))
    assert compile_condition(conjuncts).conjunct_count == 100
    assert compile_condition("action.type in [" + ", ".join(f"'a{i}'" for i in range(500)) + "]")


def test_comprehension_nesting_limit() -> None:
    three = "[[[1]]].all(a, a.all(b, b.all(c, c > 0)))"
    assert ev(three) is True
    four = "[[[[1]]]].all(a, a.all(b, b.all(c, c.all(d, d > 0))))"
    error = syntax_error(four)
    assert error.offset == four.index("c.all") + 2
    assert "macros nest deeper than 3 levels (limit max_comprehension_nesting)" in error.message
    no_macros = CelLimits(max_comprehension_nesting=0)
    error = syntax_error_with("args.tags.exists(t, true)", no_macros)
    assert error.offset == 10
    # macros side by side are not nested
    assert compile_condition(
        "[1].all(a, true) && [1].all(b, true)", limits=CelLimits(max_comprehension_nesting=1)
    )


# -- and / or / not spellings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "symbols"),
    [
        (
            "action.type == 'send_email' and args.amount > 100",
            "action.type == 'send_email' && args.amount > 100",
        ),
        ("action.type == 'x' or args.amount > 100", "action.type == 'x' || args.amount > 100"),
        ("not action.type == 'x'", "!(action.type == 'x')"),
        ("not action.type == 'send_email'", "!(action.type == 'send_email')"),
        ("not args.flag", "!args.flag"),
        ("not not args.flag", "!!args.flag"),
        ("not args.amount > 100 and args.flag", "!(args.amount > 100) && args.flag"),
        ("args.flag and not args.amount < 100", "args.flag && !(args.amount < 100)"),
        ("not action.type in ['a', 'b']", "!(action.type in ['a', 'b'])"),
        ("action.type not in ['a', 'b']", "!(action.type in ['a', 'b'])"),
        ("action.type not in ['send_email']", "!(action.type in ['send_email'])"),
        ("not action.type not in ['send_email']", "!!(action.type in ['send_email'])"),
        ("true or false and false", "true || false && false"),
        ("(true or false) and false", "(true || false) && false"),
        ("not false or true", "!false || true"),
        ("not (false or true)", "!(false || true)"),
        ("not args.amount + 50 == 200", "!(args.amount + 50 == 200)"),
        ("not true ? 1 : 2", "!true ? 1 : 2"),
        ("args.flag ? not args.flag : true", "args.flag ? !args.flag : true"),
        ("size([not false, true and false])", "size([!false, true && false])"),
        ("args.tags.exists(t, not t == 'a')", "args.tags.exists(t, !(t == 'a'))"),
        (
            "args.not == 'n' and args.in == 'i' or args.if == 'f'",
            "args['not'] == 'n' && args['in'] == 'i' || true",
        ),
    ],
)
def test_word_spellings_match_symbols(words: str, symbols: str) -> None:
    assert ev(words) == ev(symbols)
    assert compile_condition(words).conjunct_count == compile_condition(symbols).conjunct_count


def test_not_is_python_precedence_while_bang_is_cel_precedence() -> None:
    # `!` binds to the operand: (!true) == false is true
    assert ev("!true == false") is True
    # `not` negates the whole relation: not (true == false) is true as well, but differently:
    assert ev("not true == true") is False  # not (true == true)
    assert ev("!true == true") is False  # (!true) == true
    assert ev("not false == true") is True  # not (false == true)
    assert ev("!false == true") is True
    # the difference shows on non-bool operands
    assert ev("not args.amount == 1") is True  # not (150 == 1)
    assert ev_error("!args.amount == 1") == "no such overload: !int"


def test_not_in_with_missing_field_is_an_error() -> None:
    assert "no such key" in ev_error("args.missing not in ['a']")
    assert "no such key" in ev_error("not args.missing == 'a'")
    assert "no such key" in ev_error("not args.missing in ['a']")


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("args.amount == not args.flag", 15, "unexpected `not` here"),
        ("args.amount + not 1", 14, "unexpected `not` here"),
        ("!not args.flag", 1, "unexpected `not` here"),
        ("args.tags not args.flag", 14, "expected `in` after `not`"),
        ("args.tags not", 13, "expected `in` after `not`"),
        ("and args.flag", 0, "expected a value, found `and`"),
        ("args.flag or", 12, "unexpected end of the condition"),
        ("args.flag and and", 14, "expected a value, found `and`"),
        ("not", 3, "unexpected end of the condition"),
    ],
)
def test_word_operator_errors(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.message
    assert error.offset == offset


def test_words_inside_strings_stay_literal() -> None:
    activation = {"args": {"q": "cats and dogs or not"}}
    assert ev("args.q == 'cats and dogs or not'", activation) is True
    assert ev('args.q.startsWith("cats and")', activation) is True
    assert ev("'not' in ['not', 'and']", activation) is True
    assert ev("args.q.contains(' or ') and not args.q.contains(' xor ')", activation) is True
    assert compile_condition("args.q == 'a or b'").conjunct_count == 1
    assert compile_condition("args.q == 'a and b'").conjunct_count == 1
    assert compile_condition("args.q == '''x and\ny'''").conjunct_count == 1


def test_word_operators_must_be_whole_words() -> None:
    # `android`, `order`, `nothing` are identifiers (and so unknown variables), not operators
    for source, name in (("android", "android"), ("order", "order"), ("nothing", "nothing")):
        assert syntax_error(source).message.startswith(f"unknown variable `{name}`")
    assert ev("args.nothing == null") is True


# -- API surface -----------------------------------------------------------------------------------


def test_all_is_sorted_and_matches_exports() -> None:
    # ruff's isort-style order (RUF022): constants, then classes, then functions
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(cel.__all__) == sorted(cel.__all__, key=kind)
    public = {name for name in dir(cel) if not name.startswith("_")}
    assert public == set(cel.__all__)
    assert set(cel.__all__) == {
        "DEFAULT_LIMITS",
        "VARIABLES",
        "CelEvalError",
        "CelLimits",
        "CelSyntaxError",
        "Pin",
        "Program",
        "compile_condition",
        "index_key",
        "is_opaque",
        "key_kind",
        "kind_of",
    }


def test_compile_is_cached_per_source_and_limits() -> None:
    a = compile_condition("action.type == 'cache-me'")
    assert compile_condition("action.type == 'cache-me'") is a
    other = compile_condition("action.type == 'cache-me'", limits=CelLimits(max_nesting=47))
    assert other is not a
    assert compile_condition("action.type == 'cache-me'", limits=CelLimits()) is a


def test_compile_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        compile_condition(True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a CelLimits"):
        compile_condition("true", limits={"max_nesting": 1})  # type: ignore[arg-type]


def test_errors_survive_pickling() -> None:
    import pickle

    error = syntax_error("acton.type")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.offset, copy.line, copy.column) == (error.message, 0, 1, 1)
    eval_copy = pickle.loads(pickle.dumps(CelEvalError("no such key `a`")))
    assert eval_copy.message == "no such key `a`"


def test_error_attributes() -> None:
    error = syntax_error("action.type == 'x' &&\n  acton.type")
    assert isinstance(error, Exception)
    assert error.message == str(error)
    assert (error.offset, error.line, error.column) == (24, 2, 3)
    program = compile_condition("args.missing")
    with pytest.raises(CelEvalError) as info:
        program.evaluate(base_activation())
    assert info.value.message == str(info.value) == "no such key `missing` in `args`"


def test_programs_are_immutable() -> None:
    program = compile_condition("action.type == 'immutable'")
    with pytest.raises(AttributeError, match="immutable"):
        program.pins = ()  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del program.source  # type: ignore[misc]
    with pytest.raises(AttributeError):
        program.extra = 1  # type: ignore[attr-defined]
    assert program.pins[0].keys == frozenset({"immutable"})
