"""has(), size(), string methods, RE2 matching, conversions and the list macros."""

from __future__ import annotations

import pytest

from agent_os._cel import CelEvalError, CelLimits, compile_condition

from .conftest import base_activation, ev, ev_error, syntax_error

# -- has() ---------------------------------------------------------------------------------------


def test_has() -> None:
    assert ev("has(args.amount)") is True
    assert ev("has(args.missing)") is False
    assert ev("has(args.nothing)") is True  # present with a null value
    assert ev("has(args.nested.deep)") is True
    assert ev("has(args.nested.deep.value)") is True
    assert ev("has(args.nested.deep.other)") is False
    assert ev("has(args.items[0].name)") is True
    assert ev("has({'a': 1}.a)") is True
    assert ev("has(result.status)", {"result": {"status": 1}}) is True
    assert ev("!has(args.missing) || args.missing > 1") is True


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("has(args.missing.deeper)", "no such key `missing` in `args`"),
        ("has(args.to.domain)", "has() needs a map before `.domain`, got string"),
        ("has(args.tags.x)", "has() needs a map before `.x`, got list"),
        ("has(result.status)", "variable `result` is not set"),
    ],
)
def test_has_errors_when_the_operand_errors(source: str, fragment: str) -> None:
    assert fragment in ev_error(source)


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("has(args)", 4, "has() takes a field selection"),
        ("has(args['a'])", 4, "has() takes a field selection"),
        ("has(1)", 4, "has() takes a field selection"),
        ("has(args.a, args.b)", 0, "`has` takes 1 argument, got 2"),
        ("args.has(a)", 5, "`has` is a function, not a method: write `has(x.field)`"),
    ],
)
def test_has_syntax(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.message
    assert error.offset == offset


# -- size and strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("size('abc')", 3),
        ("'abc'.size()", 3),
        ("size('héllo')", 5),  # code points, not bytes
        ("size('\\U0001F600')", 1),
        ("size(args.tags)", 3),
        ("args.tags.size()", 3),
        ("size(context)", 1),
        ("size({})", 0),
        ("size([])", 0),
        ("args.to.contains('@ext')", True),
        ("args.to.contains('')", True),
        ("args.to.contains('EXT')", False),
        ("args.to.startsWith('bob@')", True),
        ("args.to.startsWith('@')", False),
        ("args.to.endsWith('@external.com')", True),
        ("args.to.endsWith('@internal.com')", False),
        ("args.to.endsWith(context.tenant)", False),
        ("'acme.com'.endsWith(context.tenant + '.com')", True),
        ("'ÀBC def'.lowerAscii()", "Àbc def"),  # only ASCII letters change
        ("'àbc DEF'.upperAscii()", "àBC DEF"),
        ("'MiXeD'.lowerAscii()", "mixed"),
        ("'MiXeD'.upperAscii()", "MIXED"),
        ("action.type.upperAscii() == 'SEND_EMAIL'", True),
    ],
)
def test_size_and_strings(source: str, value: object) -> None:
    assert ev(source) == value


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("size(1)", "no such overload: size(int)"),
        ("args.amount.size()", "no such overload: size(int)"),
        ("size(null)", "no such overload: size(null)"),
        ("args.amount.contains('1')", "no such overload: int.contains(string)"),
        ("args.to.contains(1)", "no such overload: string.contains(int)"),
        ("args.tags.contains('a')", "no such overload: list.contains(string)"),
        ("args.nothing.startsWith('a')", "no such overload: null.startsWith(string)"),
        ("args.amount.endsWith('0')", "no such overload: int.endsWith(string)"),
        ("args.to.endsWith(args.amount)", "no such overload: string.endsWith(int)"),
        ("args.amount.lowerAscii()", "no such overload: int.lowerAscii()"),
        ("args.tags.upperAscii()", "no such overload: list.upperAscii()"),
    ],
)
def test_string_functions_on_non_strings(source: str, message: str) -> None:
    assert ev_error(source) == message


# -- matches (RE2) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("args.to.matches('@external\\\\.com$')", True),
        ("args.to.matches('external')", True),  # unanchored search
        ("args.to.matches('^external')", False),
        ("args.to.matches(r'^[a-z]+@[a-z.]+$')", True),
        ("matches(args.to, 'bob')", True),
        ("matches('abc', '^a.c$')", True),
        ("'héllo'.matches('^h.llo$')", True),  # `.` is a code point
        ("'ABC'.matches('(?i)abc')", True),
        ("args.to.matches(context.tenant)", False),
        ("'acme corp'.matches(context.tenant)", True),
        ("args.to.matches('')", True),
    ],
)
def test_matches(source: str, value: bool) -> None:
    assert ev(source) is value


def test_catastrophic_backtracking_pattern_finishes() -> None:
    # exponential in a backtracking engine; linear in RE2
    program = compile_condition("args.s.matches('(a+)+$')")
    assert program.evaluate_bool({"args": {"s": "a" * 5000 + "b"}}) is False
    program = compile_condition("args.s.matches('(a+)+b')")
    assert program.evaluate_bool({"args": {"s": "a" * 5000 + "b"}}) is True
    program = compile_condition("args.s.matches('^(a+)+$')")
    assert program.evaluate_bool({"args": {"s": "a" * 5000 + "b"}}) is False
    dynamic = compile_condition("args.s.matches(args.p)")
    assert dynamic.evaluate_bool({"args": {"s": "a" * 5000 + "!", "p": "^(a|a)*$"}}) is False


@pytest.mark.parametrize(
    ("source", "offset"),
    [
        ("args.to.matches('(')", 16),
        ("matches(args.to, '[a-')", 17),
        ("args.to.matches('(?<=a)b')", 16),  # look-behind: Python re has it, RE2 does not
        ("args.to.matches('(a)\\\\1')", 16),  # back-reference
        ("args.to.matches('a' + '(')", 16),  # constant patterns are checked too
    ],
)
def test_invalid_literal_pattern_is_a_compile_error(source: str, offset: int) -> None:
    error = syntax_error(source)
    assert error.message.startswith("invalid regular expression")
    assert error.offset == offset


def test_invalid_dynamic_pattern_is_an_eval_error() -> None:
    for _ in range(2):  # the second time comes from the pattern cache
        message = ev_error("args.to.matches(args.p)", {"args": {"to": "x", "p": "("}})
        assert message.startswith("invalid regular expression `(`")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("args.amount.matches('1')", "no such overload: int.matches(string)"),
        ("matches(args.amount, '1')", "no such overload: int.matches(string)"),
        ("args.to.matches(args.amount)", "no such overload: string.matches(int)"),
    ],
)
def test_matches_on_non_strings(source: str, message: str) -> None:
    assert ev_error(source) == message


def test_matches_on_a_lone_surrogate_is_an_eval_error() -> None:
    activation = {"args": {"s": "a\ud800b"}}
    assert "not valid Unicode" in ev_error("args.s.matches('a')", activation)
    assert "not valid Unicode" in ev_error("args.s.matches(args.s)", {"args": {"s": "\ud800"}})


# -- conversions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("int(42)", 42),
        ("int(1.9)", 1),
        ("int(-1.9)", -1),
        ("int('123')", 123),
        ("int('-123')", -123),
        ("int('+7')", 7),
        ("int('9223372036854775807')", 2**63 - 1),
        ("int(args.amount_str) > 1000", True),
        ("int(-9223372036854774784.0)", -(2**63) + 1024),  # the double next to -2**63
        ("double(2)", 2.0),
        ("double(1.5)", 1.5),
        ("double('1.5')", 1.5),
        ("double('1e3')", 1000.0),
        ("double('-.5')", -0.5),
        ("double(args.amount_str) > 1000.0", True),
        ("string('a')", "a"),
        ("string(42)", "42"),
        ("string(-7)", "-7"),
        ("string(true)", "true"),
        ("string(false)", "false"),
        ("string(1.5)", "1.5"),
        ("string(100.0)", "100"),
        ("string(123456.0)", "123456"),
        ("string(1e6)", "1e+06"),
        ("string(1234567.0)", "1.234567e+06"),
        ("string(0.0001)", "0.0001"),
        ("string(0.00001)", "1e-05"),
        ("string(-2.5e-7)", "-2.5e-07"),
        ("string(0.1)", "0.1"),
        ("string(1.0 / 0.0)", "+Inf"),
        ("string(-1.0 / 0.0)", "-Inf"),
        ("string(0.0 / 0.0)", "NaN"),
        ("string(-0.0)", "-0"),
        ("string(args.amount) + '!'", "150!"),
    ],
)
def test_conversions(source: str, value: object) -> None:
    result = ev(source)
    assert result == value
    assert type(result) is type(value)


def test_double_of_special_strings() -> None:
    assert ev("double('inf')") == float("inf")
    assert ev("double('-Infinity')") == float("-inf")
    assert ev("string(double('nan'))") == "NaN"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("int('1.5')", "not a decimal integer"),
        ("int(' 1')", "not a decimal integer"),
        ("int('1_000')", "not a decimal integer"),
        ("int('')", "not a decimal integer"),
        ("int('-')", "not a decimal integer"),
        ("int('٣')", "not a decimal integer"),  # a non-ASCII digit
        ("int('0x10')", "not a decimal integer"),
        ("int('9223372036854775808')", "out of the int range"),
        ("int(1e19)", "out of the int range"),
        ("int(9223372036854775807.0)", "out of the int range"),  # the double is 2**63
        # CEL's bounds are exclusive at both ends (cel-spec conversions/int/double_int_min_range)
        ("int(-9223372036854775808.0)", "out of the int range"),
        ("int(1.0 / 0.0)", "out of the int range"),
        ("int(0.0 / 0.0)", "out of the int range"),
        ("int(true)", "no such overload: int(bool)"),
        ("int(null)", "no such overload: int(null)"),
        ("int([1])", "no such overload: int(list)"),
        ("double('abc')", "not a number"),
        ("double(' 1.5')", "not a number"),
        ("double('1_0')", "not a number"),
        ("double('')", "not a number"),
        ("double(true)", "no such overload: double(bool)"),
        ("double(args.nothing)", "no such overload: double(null)"),
        ("string(null)", "no such overload: string(null)"),
        ("string(args.tags)", "no such overload: string(list)"),
        ("string(context)", "no such overload: string(map)"),
    ],
)
def test_conversion_errors(source: str, fragment: str) -> None:
    assert fragment in ev_error(source)


def test_double_of_a_huge_request_int() -> None:
    assert "out of the double range" in ev_error("double(args.big)", {"args": {"big": 10**400}})


# -- macros ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("args.tags.exists(t, t == 'b')", True),
        ("args.tags.exists(t, t == 'z')", False),
        ("[].exists(t, t == 1)", False),
        ("args.tags.all(t, size(t) == 1)", True),
        ("args.tags.all(t, t == 'a')", False),
        ("[].all(t, false)", True),
        ("args.tags.exists_one(t, t == 'a')", True),
        ("['a', 'a'].exists_one(t, t == 'a')", False),
        ("args.tags.exists_one(t, t == 'z')", False),
        ("args.items.map(i, i.price)", [10, 200]),
        ("args.items.map(i, i.price > 100, i.name)", ["y"]),
        ("args.tags.map(t, t + t)", ["aa", "bb", "cc"]),
        ("args.items.filter(i, i.price > 5).size()", 2),
        ("args.tags.filter(t, t != 'b')", ["a", "c"]),
        ("args.items.exists(i, i.price > 100 && i.name == 'y')", True),
        ("context.exists(k, k == 'tenant')", True),  # maps iterate their keys
        ("context.all(k, k.startsWith('t'))", True),
        ("{'a': 1, 'b': 2}.map(k, k)", ["a", "b"]),
        ("{'a': 1, 'b': 2}.filter(k, k == 'b')", ["b"]),
        ("args.items.exists(i, args.tags.exists(t, t == i.name))", False),
        ("[['a'], ['b', 'x']].exists(l, l.exists(s, s == 'x'))", True),
        ("[1, 2, 3].map(x, x * 2).filter(y, y > 2)", [4, 6]),
        ("[1, 2].exists(x, [3, 4].exists(y, x + y == 6))", True),
    ],
)
def test_macros(source: str, value: object) -> None:
    assert ev(source) == value


@pytest.mark.parametrize(
    ("source", "value"),
    [
        # exists: a true element decides even if another element errored
        ("[{'a': 1}, {}].exists(x, x.a == 1)", True),
        ("[{}, {'a': 1}].exists(x, x.a == 1)", True),
        ("['x', 1].exists(x, x == 1 || x > 0)", True),
        # all: a false element decides even if another element errored
        ("[{}, {'a': 2}].all(x, x.a == 1)", False),
        ("[{'a': 2}, {}].all(x, x.a == 1)", False),
    ],
)
def test_exists_and_all_absorb_errors(source: str, value: bool) -> None:
    assert ev(source) is value


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("[{}, {'a': 2}].exists(x, x.a == 1)", "no such key `a`"),
        ("[{}, {'a': 1}].all(x, x.a == 1)", "no such key `a`"),
        ("[1, 2].exists(x, 'y')", "the predicate of `exists` must be a bool, got string"),
        ("[1, 2].all(x, 1)", "the predicate of `all` must be a bool, got int"),
        ("[{'a': 1}, {}].exists_one(x, x.a == 1)", "no such key `a`"),
        ("[1].exists_one(x, x)", "the predicate of `exists_one` must be a bool, got int"),
        ("[{'a': 1}, {}].map(x, x.a)", "no such key `a`"),
        ("[1].filter(x, 1)", "the predicate of `filter` must be a bool, got int"),
        ("[1].map(x, x, x)", "the predicate of `map` must be a bool, got int"),
        ("args.to.exists(c, c == 'b')", "`exists` needs a list or a map, got string"),
        ("args.amount.all(c, true)", "`all` needs a list or a map, got int"),
        ("args.nothing.map(c, c)", "`map` needs a list or a map, got null"),
        ("args.missing.exists(c, true)", "no such key `missing`"),
    ],
)
def test_macro_errors(source: str, fragment: str) -> None:
    assert fragment in ev_error(source)


def test_macro_variable_binding_is_per_evaluation() -> None:
    program = compile_condition("args.tags.exists(t, t == action.type)")
    assert program.evaluate_bool({"args": {"tags": ["a"]}, "action": {"type": "a"}}) is True
    assert program.evaluate_bool({"args": {"tags": ["a"]}, "action": {"type": "b"}}) is False
    # an extra activation key named like the macro variable changes nothing
    assert program.evaluate_bool({"args": {"tags": ["a"]}, "action": {"type": "a"}, "t": "zzz"}) is True


def test_macros_in_concurrent_evaluations() -> None:
    from concurrent.futures import ThreadPoolExecutor

    program = compile_condition("args.items.all(i, i.owner == agent.id)")

    def run(n: int) -> bool:
        agent = f"agent-{n % 7}"
        owner = agent if n % 2 else "someone-else"
        activation = {"args": {"items": [{"owner": owner}] * 50}, "agent": {"id": agent}}
        return program.evaluate_bool(activation) is bool(n % 2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(run, range(400)))


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("args.tags.exists(t.x, true)", 17, "the first argument of `exists` must be a variable name"),
        ("args.tags.all('t', true)", 14, "the first argument of `all` must be a variable name"),
        ("args.tags.exists(t)", 10, "`exists` takes 2 arguments, got 1"),
        ("args.tags.map(t)", 10, "`map` takes 2 or 3 arguments, got 1"),
        ("args.tags.map(t, t, t, t)", 10, "`map` takes 2 or 3 arguments, got 4"),
        ("args.tags.filter(t, t, t)", 10, "`filter` takes 2 arguments, got 3"),
        ("args.tags.exists(args, true)", 17, "macro variable `args` would hide the variable"),
        ("args.tags.exists(t, [t].exists(t, true))", 31, "macro variable `t` would hide the variable"),
        ("args.tags.exists(t, true) && t == 'a'", 29, "unknown variable `t`"),
        (
            "args.tags.exists(t, u == 'a')",
            20,
            "unknown variable `u`; conditions can use action, args, agent, context, stage, result, sql, k8s, t",
        ),
        ("exists(args.tags, t, true)", 0, "`exists` is a method: write `value.exists(…)`"),
    ],
)
def test_macro_syntax_errors(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.message
    assert error.offset == offset


def test_macro_iterations_are_bounded_per_evaluation() -> None:
    limits = CelLimits(max_eval_steps=100)
    program = compile_condition("args.l.all(x, args.l.all(y, true))", limits=limits)
    assert program.evaluate_bool({"args": {"l": list(range(9))}}) is True  # 9 + 81 = 90 steps
    with pytest.raises(CelEvalError, match="exceeded 100 macro iterations"):
        program.evaluate_bool({"args": {"l": list(range(10))}})  # 10 + 100 = 110 steps
    # the budget is per evaluation: it starts again at zero
    assert program.evaluate_bool({"args": {"l": list(range(9))}}) is True


def test_default_iteration_budget_stops_quadratic_blowup() -> None:
    program = compile_condition("args.l.exists(x, args.l.exists(y, x + y < 0))")
    with pytest.raises(CelEvalError, match="limit max_eval_steps"):
        program.evaluate_bool({"args": {"l": list(range(1000))}})


def test_unknown_functions_and_methods() -> None:
    error = syntax_error("action.type == 'x' && lower(args.to) == 'a'")
    assert error.offset == 22
    assert error.message.startswith("unknown function `lower`; functions are has, size")
    error = syntax_error("args.to.lower() == 'a'")
    assert error.offset == 8
    assert error.message.startswith("unknown method `lower`; methods are size, contains")
    error = syntax_error("contains(args.to, 'a')")
    assert error.message == "`contains` is a method: write `value.contains(…)`"
    error = syntax_error("args.to.int()")
    assert error.message == "`int` is a function, not a method: write `int(value)`"
    assert syntax_error("action(1)").message.startswith("unknown function `action`")


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("size()", 0, "`size` takes 1 argument, got 0"),
        ("size(1, 2)", 0, "`size` takes 1 argument, got 2"),
        ("'a'.size(1)", 4, "`size` takes 0 arguments, got 1"),
        ("args.to.startsWith()", 8, "`startsWith` takes 1 argument, got 0"),
        ("args.to.endsWith('a', 'b')", 8, "`endsWith` takes 1 argument, got 2"),
        ("args.to.matches()", 8, "`matches` takes 1 argument, got 0"),
        ("matches(args.to)", 0, "`matches` takes 2 arguments, got 1"),
        ("args.to.lowerAscii(1)", 8, "`lowerAscii` takes 0 arguments, got 1"),
        ("int()", 0, "`int` takes 1 argument, got 0"),
        ("string(1, 2)", 0, "`string` takes 1 argument, got 2"),
    ],
)
def test_wrong_argument_counts(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert error.message == fragment
    assert error.offset == offset


def test_base_activation_is_untouched_by_macros() -> None:
    activation = base_activation()
    compile_condition("args.tags.exists(t, t == 'a')").evaluate_bool(activation)
    assert activation == base_activation()
