"""Generated conditions and requests: evaluation only ever raises CelEvalError, compilation only
CelSyntaxError, and the specialised fast paths agree with the general ones."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent_os._cel import CelEvalError, CelLimits, CelSyntaxError, compile_condition

FUZZ = settings(max_examples=700, database=None, deadline=None, suppress_health_check=list(HealthCheck))

# -- JSON requests ---------------------------------------------------------------------------------

KEYS = st.sampled_from(["x", "y", "z", "type", "l", "not", "a b"])
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["a", "1", "5000", "true", "\ud800", "é", "@x.com", "a@x.com"]),
    # the request builder's stand-ins for values it could not convert
    st.sampled_from([{"$opaque": "collections.deque"}, {"$opaque": "bytes"}, {"$bytes": 3}]),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def activations(draw: st.DrawFn) -> dict[str, Any]:
    activation: dict[str, Any] = {}
    for name in ("action", "args", "agent", "context", "stage", "result"):
        if draw(st.integers(min_value=0, max_value=5)) > 0:
            activation[name] = draw(st.one_of(st.dictionaries(KEYS, JSON, max_size=5), JSON))
    return activation


# -- expressions -----------------------------------------------------------------------------------

ATOMS = st.sampled_from(
    [
        "action.type",
        "action['type']",
        "args.x",
        "args.y",
        "args.x.y",
        "args.l",
        "args.l[0]",
        "args['a b']",
        "args.not",
        "context",
        "stage",
        "result",
        "agent.z",
        "1",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "0.0",
        "1e308",
        "'a'",
        "''",
        "'5000'",
        "'\\u00e9'",
        "true",
        "false",
        "null",
        "[]",
        "[1, 'a', null]",
        "{}",
        "{'x': 1}",
    ]
)

UNARY = [
    "!{}",
    "-{}",
    "not {}",
    "({})",
    "size({})",
    "int({})",
    "double({})",
    "string({})",
    "{}.size()",
    "{}.lowerAscii()",
    "{}.upperAscii()",
    "has({}.x)",
    "{}.x",
    "{}[0]",
    "{}['x']",
    "[{}]",
    "{{'k': {}}}",
]
BINARY = [
    "{} == {}",
    "{} != {}",
    "{} < {}",
    "{} <= {}",
    "{} > {}",
    "{} >= {}",
    "{} in {}",
    "{} not in {}",
    "{} + {}",
    "{} - {}",
    "{} * {}",
    "{} / {}",
    "{} % {}",
    "{} && {}",
    "{} || {}",
    "{} and {}",
    "{} or {}",
    "{}.contains({})",
    "{}.startsWith({})",
    "{}.endsWith({})",
    "{}.matches({})",
    "matches({}, {})",
    "{}[{}]",
    "[{}, {}]",
    "{{'a': {}, 'b': {}}}",
]
MACROS = ["{}.exists(v, {})", "{}.all(v, {})", "{}.exists_one(v, {})", "{}.map(v, {})", "{}.filter(v, {})"]


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0].format(t[1])),
        st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: t[0].format(t[1], t[2])),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(st.sampled_from(MACROS), inner, inner).map(
            lambda t: t[0].format(t[1], t[2].replace("args.x", "v", 1))
        ),
        st.tuples(inner, st.sampled_from(["'^a'", "'a|b'", "'.*'", "args.x"])).map(
            lambda t: f"{t[0]}.matches({t[1]})"
        ),
    )


EXPRESSIONS = st.recursive(ATOMS, _extend, max_leaves=10)


@FUZZ
@given(EXPRESSIONS, activations())
def test_evaluation_only_raises_cel_eval_error(source: str, activation: dict[str, Any]) -> None:
    try:
        program = compile_condition(source)
    except CelSyntaxError:
        return
    for evaluate in (program.evaluate, program.evaluate_bool):
        try:
            evaluate(activation)
        except CelEvalError as exc:
            # every failure is a precise CEL error, never a translated Python accident
            assert not exc.message.startswith("unexpected "), (source, exc.message)
            assert "\n" not in exc.message


@settings(FUZZ, max_examples=300)
@given(EXPRESSIONS, activations())
def test_evaluation_is_deterministic(source: str, activation: dict[str, Any]) -> None:
    try:
        program = compile_condition(source)
    except CelSyntaxError:
        return

    def outcome() -> tuple[str, Any]:
        try:
            return ("value", repr(program.evaluate(activation)))
        except CelEvalError as exc:
            return ("error", exc.message)

    assert outcome() == outcome()


SOURCE_CHARS = st.sampled_from(
    [
        *list("abcdefnotrisu_xyz0123456789.,:?!=<>&|+-*/%()[]{}'\"\\ \n#`@"),
        "action",
        "args",
        " and ",
        " or ",
        " not ",
        " in ",
        "exists",
        "(v, ",
        "'''",
        "r'",
        "0x",
        "1e",
        "u",
        "has(",
        "size(",
        ".matches(",
        "true",
        "null",
        "\\u",
        "\\x",
        "//",
    ]
)


@FUZZ
@given(st.lists(SOURCE_CHARS, max_size=40).map("".join), activations())
def test_compilation_only_raises_cel_syntax_error(source: str, activation: dict[str, Any]) -> None:
    try:
        program = compile_condition(source, limits=CelLimits(max_nesting=12, max_eval_steps=1000))
    except CelSyntaxError as exc:
        assert 0 <= exc.offset <= len(source)
        assert "\n" not in exc.message
        return
    try:
        program.evaluate(activation)
    except CelEvalError as exc:
        assert not exc.message.startswith("unexpected "), (source, exc.message)


# -- fast paths agree with the general paths --------------------------------------------------------

LITERALS = st.one_of(
    st.sampled_from(
        [
            "'a'",
            "''",
            "'1'",
            "1",
            "0",
            "-1",
            "1.0",
            "0.0",
            "-0.0",
            "2.5",
            "true",
            "false",
            "null",
            "9223372036854775807",
            "[1]",
            "['a']",
            "{'a': 1}",
            "[]",
        ]
    ),
)
VALUES = st.one_of(
    JSON_SCALARS,
    st.sampled_from([[1], ["a"], {"a": 1}, [], {}, [True], [1.0]]),
)


def _outcome(source: str, activation: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = compile_condition(source).evaluate(activation)
    except CelEvalError:
        return ("error", None)
    if isinstance(value, float) and math.isnan(value):
        return ("value", "nan")
    return ("value", value)


@FUZZ
@given(VALUES, LITERALS, st.sampled_from(["==", "!="]))
def test_equality_fast_paths(value: Any, literal: str, op: str) -> None:
    activation = {"action": {"type": value}, "args": {"v": value}}
    general = _outcome(f"[args.v] {op} [{literal}]", activation)
    for source in (
        f"action.type {op} {literal}",  # inlined two-step path
        f"args['v'] {op} {literal}",
        f"{literal} {op} args.v",
        f"args.v {op} ({literal})",
    ):
        assert _outcome(source, activation) == general, source


@FUZZ
@given(VALUES, st.lists(LITERALS, min_size=1, max_size=4), st.booleans())
def test_membership_fast_paths(value: Any, literals: list[str], negate: bool) -> None:
    activation = {"action": {"type": value}, "args": {"v": value}}
    items = ", ".join(literals)
    op = "not in" if negate else "in"
    general = _outcome(f"{'!' if negate else ''}[{items}].exists(e, [e] == [args.v])", activation)
    for source in (f"action.type {op} [{items}]", f"args.v {op} [{items}]", f"args.v {op} [{items}] + []"):
        assert _outcome(source, activation) == general, source


@FUZZ
@given(VALUES, VALUES, st.sampled_from(["<", "<=", ">", ">="]))
def test_ordering_fast_paths(value: Any, other: Any, op: str) -> None:
    mirror = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
    activation = {"args": {"v": value, "w": other}}
    general = _outcome(f"args.v {op} args.w", activation)
    assert _outcome(f"args.w {mirror} args.v", activation) == general
    literal = _literal(other)
    if literal is not None:
        assert _outcome(f"args.v {op} {literal}", activation) == general
        assert _outcome(f"{literal} {mirror} args.v", activation) == general


def _literal(value: Any) -> str | None:
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int and -(2**63) <= value < 2**63:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    if value is None:
        return "null"
    if type(value) is str and value.isascii() and value.isalnum():
        return f"'{value}'"
    return None


@FUZZ
@given(
    VALUES,
    st.sampled_from(["'a'", "''", "'@x.com'", "args.w"]),
    st.sampled_from(["contains", "startsWith", "endsWith", "matches"]),
    VALUES,
)
def test_string_method_fast_paths(value: Any, arg: str, method: str, other: Any) -> None:
    activation = {"args": {"v": value, "w": other if arg == "args.w" else "x"}}
    literal_form = _outcome(f"args.v.{method}({arg})", activation)
    dynamic_form = _outcome(f"args.v.{method}({arg} + '')", activation) if arg != "args.w" else literal_form
    assert literal_form == dynamic_form
    assume(literal_form[0] == "value")
    assert literal_form[1] in (True, False)
