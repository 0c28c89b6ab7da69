"""Write expressions.json: one case per row of the table below, expectations written by hand.

    python conformance/policy/generate_expressions.py

Each row is a condition, the request's ``args``, and what the condition is: ``T`` (true),
``F`` (false) or ``E:<phrase>`` (an evaluation error whose message contains the phrase). The
case puts the condition in a ``deny`` rule of a policy whose default is ``allow``, so true and
error both deny (an error fails closed: the rule counts as matched, errored) and false allows.
Rows marked ``L:<phrase>`` are conditions the policy must refuse to load. The expectations come
from the CEL specification and docs/conditions.md, never from running an evaluator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("expressions.json")

ASTRAL = "\U0001f600"  # one code point, two UTF-16 units, four UTF-8 bytes
COMBINING = "e\u0301"  # e + COMBINING ACUTE ACCENT: two code points, not normalised
NFC = "\u00e9"

# (name, condition, args, outcome)
ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    # -- equality and ordering, every kind --------------------------------------------------------
    ("eq-string", "args.s == 'abc'", {"s": "abc"}, "T"),
    ("ne-string", "args.s != 'abc'", {"s": "abd"}, "T"),
    ("eq-string-case-sensitive", "args.s == 'ABC'", {"s": "abc"}, "F"),
    ("lt-string-codepoint", "args.s < 'b'", {"s": "a"}, "T"),
    ("lt-string-uppercase-first", "args.s < 'a'", {"s": "Z"}, "T"),
    ("le-string-equal", "args.s <= 'abc'", {"s": "abc"}, "T"),
    ("gt-string-prefix", "args.s > 'ab'", {"s": "abc"}, "T"),
    ("ge-string", "args.s >= 'b'", {"s": "a"}, "F"),
    ("eq-bool", "args.b == true", {"b": True}, "T"),
    ("lt-bool", "args.b < true", {"b": False}, "T"),
    ("ge-bool", "args.b >= true", {"b": False}, "F"),
    ("eq-null", "args.x == null", {"x": None}, "T"),
    ("eq-null-vs-string", "args.x == null", {"x": "a"}, "F"),
    ("ne-null-vs-number", "args.x != null", {"x": 0}, "T"),
    ("lt-null", "args.x < 1", {"x": None}, "E:no such overload"),
    ("eq-list", "args.l == [1, 'a', null]", {"l": [1, "a", None]}, "T"),
    ("eq-list-size-differs", "args.l == [1, 2]", {"l": [1, 2, 3]}, "F"),
    ("eq-list-order", "args.l == [2, 1]", {"l": [1, 2]}, "F"),
    ("eq-list-kind-error", "args.l == [1, 2]", {"l": [1, "2"]}, "E:different kinds"),
    ("eq-map", "args.m == {'a': 1, 'b': [true]}", {"m": {"b": [True], "a": 1}}, "T"),
    ("eq-map-keys-differ", "args.m == {'a': 1}", {"m": {"b": 1}}, "F"),
    ("eq-map-value-kind", "args.m == {'a': 1}", {"m": {"a": "1"}}, "E:different kinds"),
    ("eq-nested", "args.m.x[1].y == 'z'", {"m": {"x": [{}, {"y": "z"}]}}, "T"),
    ("lt-list", "args.l < [2]", {"l": [1]}, "E:no such overload"),
    ("eq-string-vs-bool", "args.s == true", {"s": "true"}, "E:different kinds"),
    ("ne-string-vs-int", "args.s != 1", {"s": "1"}, "E:different kinds"),
    # -- numbers --------------------------------------------------------------------------------
    ("int-eq-double", "args.n == 1.0", {"n": 1}, "T"),
    ("double-lt-int", "args.d < 3", {"d": 2.5}, "T"),
    ("int-2-53-vs-double", "args.n == 9007199254740992.0", {"n": 9007199254740992}, "T"),
    ("int-2-53-plus-1-vs-double", "args.n == 9007199254740992.0", {"n": 9007199254740993}, "F"),
    ("int-2-53-plus-1-gt-double", "args.n > 9007199254740992.0", {"n": 9007199254740993}, "T"),
    ("int-max", "args.n == 9223372036854775807", {"n": 9223372036854775807}, "T"),
    ("int-min", "args.n == -9223372036854775808", {"n": -9223372036854775808}, "T"),
    ("int-max-plus-one", "args.n + 1 > 0", {"n": 9223372036854775807}, "E:overflow"),
    ("int-min-minus-one", "args.n - 1 < 0", {"n": -9223372036854775808}, "E:overflow"),
    ("int-min-negated", "-args.n > 0", {"n": -9223372036854775808}, "E:overflow"),
    ("int-mul-overflow", "args.n * 2 > 0", {"n": 4611686018427387904}, "E:overflow"),
    ("int-min-div-minus-one", "args.n / -1 > 0", {"n": -9223372036854775808}, "E:overflow"),
    ("int-div-truncates", "args.n / 2 == -3", {"n": -7}, "T"),
    ("int-mod-sign", "args.n % 3 == -1", {"n": -7}, "T"),
    ("int-div-zero", "args.n / 0 == 1", {"n": 1}, "E:division by zero"),
    ("int-mod-zero", "args.n % 0 == 1", {"n": 1}, "E:by zero"),
    ("double-div-zero-infinite", "args.d / 0.0 > 1e308", {"d": 1.0}, "T"),
    ("double-nan-not-equal", "args.d / args.d == args.d / args.d", {"d": 0.0}, "F"),
    ("double-nan-ne", "args.d / args.d != args.d / args.d", {"d": 0.0}, "T"),
    ("double-nan-not-less", "args.d / args.d < 1.0", {"d": 0.0}, "F"),
    ("negative-zero-equals-zero", "args.d == 0.0", {"d": -0.0}, "T"),
    ("negative-zero-equals-int-zero", "args.d == 0", {"d": -0.0}, "T"),
    ("double-1e308", "args.d == 1e308", {"d": 1e308}, "T"),
    ("double-1e308-overflows-to-inf", "args.d * 10.0 > 1e308", {"d": 1e308}, "T"),
    ("double-smallest-subnormal", "args.d > 0.0", {"d": 5e-324}, "T"),
    ("double-inexact-sum", "0.1 + args.d == 0.3", {"d": 0.2}, "F"),
    ("int-plus-double", "args.n + 1.5 > 0.0", {"n": 1}, "E:no such overload"),
    ("double-mod", "args.d % 2.0 == 1.0", {"d": 3.0}, "E:no such overload"),
    ("unary-minus-double", "-args.d == -2.5", {"d": 2.5}, "T"),
    ("int-hex-literal", "args.n == 0xFF", {"n": 255}, "T"),
    ("int-negative-hex", "args.n == -0x10", {"n": -16}, "T"),
    ("double-exponent-literal", "args.d == 2.5e-3", {"d": 0.0025}, "T"),
    ("double-leading-dot", "args.d == .5", {"d": 0.5}, "T"),
    # -- conversions ------------------------------------------------------------------------------
    ("int-of-double-truncates", "int(args.d) == -1", {"d": -1.9}, "T"),
    ("int-of-string", "int(args.s) == -42", {"s": "-42"}, "T"),
    ("int-of-string-plus", "int(args.s) == 7", {"s": "+7"}, "T"),
    ("int-of-string-space", "int(args.s) == 1", {"s": " 1"}, "E:not a decimal integer"),
    ("int-of-string-fraction", "int(args.s) == 1", {"s": "1.5"}, "E:not a decimal integer"),
    ("int-of-string-too-big", "int(args.s) > 0", {"s": "9223372036854775808"}, "E:out of the int range"),
    ("int-of-double-2-63", "int(args.d) > 0", {"d": 9223372036854775807.0}, "E:out of the int range"),
    # cel-spec conversions/int/double_int_min_range: the bounds are exclusive at both ends
    ("int-of-double-minus-2-63", "int(args.d) < 0", {"d": -9223372036854775808.0}, "E:out of the int range"),
    (
        "int-of-double-next-to-minus-2-63",
        "int(args.d) == -9223372036854774784",
        {"d": -9223372036854774784.0},
        "T",
    ),
    ("int-of-nan", "int(args.d / args.d) == 0", {"d": 0.0}, "E:out of the int range"),
    ("int-of-bool", "int(args.b) == 1", {"b": True}, "E:no such overload"),
    ("double-of-int", "double(args.n) == 3.0", {"n": 3}, "T"),
    ("double-of-string", "double(args.s) == 1000.0", {"s": "1e3"}, "T"),
    ("double-of-bad-string", "double(args.s) == 1.0", {"s": "one"}, "E:"),
    ("string-of-int", "string(args.n) == '-5'", {"n": -5}, "T"),
    ("string-of-double", "string(args.d) == '1e+06'", {"d": 1e6}, "T"),
    ("string-of-double-small", "string(args.d) == '2.5'", {"d": 2.5}, "T"),
    ("string-of-bool", "string(args.b) == 'true'", {"b": True}, "T"),
    ("string-of-list", "string(args.l) == '[]'", {"l": []}, "E:no such overload"),
    ("string-of-null", "string(args.x) == 'null'", {"x": None}, "E:no such overload"),
    # -- strings and unicode ------------------------------------------------------------------------
    ("size-ascii", "size(args.s) == 3", {"s": "abc"}, "T"),
    ("size-astral", "size(args.s) == 1", {"s": ASTRAL}, "T"),
    ("size-combining", "size(args.s) == 2", {"s": COMBINING}, "T"),
    ("combining-not-normalised", "args.s == '\u00e9'", {"s": COMBINING}, "F"),
    ("nfc-equal", "args.s == '\u00e9'", {"s": NFC}, "T"),
    ("size-nul", "size(args.s) == 3", {"s": "a\u0000b"}, "T"),
    ("nul-escape-literal", "args.s == 'a\\u0000b'", {"s": "a\u0000b"}, "T"),
    ("nul-contains", "args.s.contains('\\x00')", {"s": "ab\u0000"}, "T"),
    ("astral-escape", "args.s == '\\U0001F600'", {"s": ASTRAL}, "T"),
    ("astral-literal", f"args.s == '{ASTRAL}'", {"s": ASTRAL}, "T"),
    ("astral-starts-with", f"args.s.startsWith('{ASTRAL}')", {"s": ASTRAL + "x"}, "T"),
    ("astral-order-by-codepoint", "args.s > '\\uffff'", {"s": ASTRAL}, "T"),
    ("contains", "args.s.contains('lo w')", {"s": "hello world"}, "T"),
    ("contains-empty", "args.s.contains('')", {"s": ""}, "T"),
    ("starts-with", "args.s.startsWith('/etc/')", {"s": "/etc/shadow"}, "T"),
    ("ends-with", "args.s.endsWith('@external.com')", {"s": "a@external.com.evil"}, "F"),
    ("contains-non-string", "args.s.contains('a')", {"s": ["a"]}, "E:no such overload"),
    ("lower-ascii", "args.s.lowerAscii() == 'drop'", {"s": "DROP"}, "T"),
    ("lower-ascii-leaves-non-ascii", "args.s.lowerAscii() == '\u00c9a'", {"s": "\u00c9A"}, "T"),
    ("upper-ascii", "args.s.upperAscii() == 'DROP'", {"s": "drop"}, "T"),
    ("string-concat", "args.a + args.b == 'ab'", {"a": "a", "b": "b"}, "T"),
    ("string-plus-int", "args.a + 1 == 'a1'", {"a": "a"}, "E:no such overload"),
    ("string-index", "args.s[0] == 'a'", {"s": "abc"}, "E:cannot index"),
    ("escape-newline", "args.s == 'a\\nb'", {"s": "a\nb"}, "T"),
    ("escape-octal", "args.s == '\\101'", {"s": "A"}, "T"),
    ("escape-hex", "args.s == '\\x41'", {"s": "A"}, "T"),
    ("raw-string", "args.s == r'\\d'", {"s": "\\d"}, "T"),
    ("triple-quoted", "args.s == '''a\nb'''", {"s": "a\nb"}, "T"),
    ("double-quoted", 'args.s == "it\'s"', {"s": "it's"}, "T"),
    # -- regular expressions (RE2) ----------------------------------------------------------------
    ("matches-search", "args.s.matches('x')", {"s": "bob@x.com"}, "T"),
    ("matches-anchored", "args.s.matches('^x$')", {"s": "bob@x.com"}, "F"),
    ("matches-case-insensitive", "args.s.matches('(?i)^DROP')", {"s": "drop table"}, "T"),
    ("matches-function-form", "matches(args.s, '^[0-9]+$')", {"s": "12345"}, "T"),
    ("matches-astral-dot", "args.s.matches('^.$')", {"s": ASTRAL}, "T"),
    ("matches-nested-quantifier-linear", "args.s.matches('^(a+)+$')", {"s": "a" * 5000 + "b"}, "F"),
    ("matches-dynamic-pattern", "args.s.matches(args.p)", {"s": "abc", "p": "b+"}, "T"),
    ("matches-dynamic-invalid", "args.s.matches(args.p)", {"s": "abc", "p": "("}, "E:"),
    ("matches-non-string", "args.s.matches('a')", {"s": 1}, "E:no such overload"),
    # -- lists, maps, membership --------------------------------------------------------------------
    ("in-list", "args.s in ['a', 'b']", {"s": "b"}, "T"),
    ("not-in-list", "args.s not in ['a', 'b']", {"s": "c"}, "T"),
    ("in-list-mixed-found", "args.s in [1, 'admin']", {"s": "admin"}, "T"),
    ("in-list-mixed-not-found", "args.s in [1, 'admin']", {"s": "user"}, "E:different kinds"),
    ("in-list-null", "args.x in ['a']", {"x": None}, "F"),
    ("in-map-keys", "args.s in {'a': 1}", {"s": "a"}, "T"),
    ("in-map-int-key", "args.n in {'a': 1}", {"n": 1}, "E:different kinds"),
    ("in-string", "args.s in 'abc'", {"s": "a"}, "E:"),
    ("in-args-list", "'rm' in args.l", {"l": ["ls", "rm"]}, "T"),
    ("list-index", "args.l[1] == 'b'", {"l": ["a", "b"]}, "T"),
    ("list-index-out-of-range", "args.l[2] == 'b'", {"l": ["a", "b"]}, "E:"),
    ("list-index-negative", "args.l[-1] == 'b'", {"l": ["a", "b"]}, "E:"),
    ("list-index-double", "args.l[1.0] == 'b'", {"l": ["a", "b"]}, "E:"),
    ("map-index", "args.m['content-type'] == 'json'", {"m": {"content-type": "json"}}, "T"),
    ("map-index-missing", "args.m['x'] == 1", {"m": {}}, "E:"),
    ("list-concat", "args.a + args.b == [1, 2]", {"a": [1], "b": [2]}, "T"),
    ("size-list", "size(args.l) == 3", {"l": [1, 2, 3]}, "T"),
    ("size-map-method", "args.m.size() == 2", {"m": {"a": 1, "b": 2}}, "T"),
    ("size-number", "size(args.n) == 1", {"n": 1}, "E:no such overload"),
    ("has-present", "has(args.cc)", {"cc": None}, "T"),
    ("has-absent", "has(args.cc)", {}, "F"),
    ("has-nested-absent-parent", "has(args.a.b)", {}, "E:"),
    ("has-on-list", "has(args.l.x)", {"l": []}, "E:"),
    ("missing-field", "args.missing == 'x'", {}, "E:"),
    ("missing-field-ne", "args.missing != 'x'", {}, "E:"),
    ("field-of-string", "args.s.x == 1", {"s": "a"}, "E:"),
    # -- macros ---------------------------------------------------------------------------------
    ("exists-true", "args.l.exists(x, x > 2)", {"l": [1, 3]}, "T"),
    ("exists-empty", "args.l.exists(x, x > 2)", {"l": []}, "F"),
    ("exists-error-then-true", "args.l.exists(x, x > 2)", {"l": ["a", 3]}, "T"),
    ("exists-error-only", "args.l.exists(x, x > 2)", {"l": ["a", 1]}, "E:no such overload"),
    ("all-true", "args.l.all(x, x > 0)", {"l": [1, 2]}, "T"),
    ("all-empty", "args.l.all(x, x > 0)", {"l": []}, "T"),
    ("all-false-wins-over-error", "args.l.all(x, x > 0)", {"l": ["a", 0]}, "F"),
    ("all-error", "args.l.all(x, x > 0)", {"l": ["a", 1]}, "E:no such overload"),
    ("exists-one-true", "args.l.exists_one(x, x == 1)", {"l": [1, 2]}, "T"),
    ("exists-one-two", "args.l.exists_one(x, x == 1)", {"l": [1, 1]}, "F"),
    ("map-macro", "args.l.map(x, x * 2) == [2, 4]", {"l": [1, 2]}, "T"),
    ("map-filter-macro", "args.l.map(x, x > 1, x * 10) == [20]", {"l": [1, 2]}, "T"),
    ("filter-macro", "args.l.filter(x, x % 2 == 0) == [2]", {"l": [1, 2, 3]}, "T"),
    ("exists-over-map-keys", "args.m.exists(k, k == 'b')", {"m": {"a": 1, "b": 2}}, "T"),
    ("nested-macros", "args.l.exists(a, a.exists(b, b == 'x'))", {"l": [["y"], ["x"]]}, "T"),
    ("macro-on-string", "args.s.exists(c, c == 'a')", {"s": "abc"}, "E:"),
    ("macro-on-opaque", "args.o.exists(k, true)", {"o": {"$opaque": "collections.deque"}}, "E:"),
    # -- logic ------------------------------------------------------------------------------------
    ("and-short-circuit-left-false", "args.b && args.missing == 1", {"b": False}, "F"),
    ("and-error-then-false", "args.missing == 1 && args.b", {"b": False}, "F"),
    ("or-error-then-true", "args.missing == 1 || args.b", {"b": True}, "T"),
    ("or-error-then-false", "args.missing == 1 || args.b", {"b": False}, "E:"),
    ("and-word-spelling", "args.a == 1 and args.b == 2", {"a": 1, "b": 2}, "T"),
    ("or-word-spelling", "args.a == 1 or args.b == 2", {"a": 0, "b": 2}, "T"),
    ("not-word-python-precedence", "not args.s == 'drop'", {"s": "read"}, "T"),
    ("not-bang", "!args.b", {"b": False}, "T"),
    ("not-non-bool", "!args.n", {"n": 0}, "E:"),
    ("and-non-bool", "args.n && true", {"n": 1}, "E:"),
    ("ternary", "args.n > 0 ? args.s == 'pos' : args.s == 'neg'", {"n": -1, "s": "neg"}, "T"),
    ("ternary-non-bool-condition", "args.n ? true : false", {"n": 1}, "E:"),
    ("condition-not-bool", "args.n + 1", {"n": 1}, "E:"),
    ("and-word-inside-string", "args.s == 'this and that'", {"s": "this and that"}, "T"),
    # -- opaque values ------------------------------------------------------------------------------
    ("opaque-eq", "args.o == 'x'", {"o": {"$opaque": "bytes"}}, "E:"),
    ("opaque-size", "size(args.o) > 0", {"o": {"$opaque": "bytes"}}, "E:"),
    ("opaque-in-list", "args.o in ['x']", {"o": {"$bytes": 3}}, "E:"),
    ("opaque-has", "has(args.o)", {"o": {"$opaque": "bytes"}}, "T"),
    ("opaque-with-other-keys-is-a-map", "args.o.a == 1", {"o": {"$opaque": "x", "a": 1}}, "T"),
    # -- nesting and limits (evaluation) ------------------------------------------------------------
    ("deep-request-path", "args" + ".a" * 30 + " == 1", {}, "T"),  # args filled in below
    ("deep-request-path-past-end", "args" + ".a" * 31 + " == 1", {}, "E:"),
    ("nesting-47-parentheses", "(" * 46 + "args.n == 1" + ")" * 46, {"n": 1}, "T"),
    ("eval-steps-limit", "args.l.all(a, args.l.all(b, args.l.all(c, true)))", {"l": list(range(50))}, "E:"),
]

# Nest a value 30 maps deep for the deep-request-path row.
_deep: Any = 1
for _ in range(30):
    _deep = {"a": _deep}
ROWS = [(n, c, (_deep if n.startswith("deep-request-path") else a), o) for n, c, a, o in ROWS]

LOAD_ERRORS: list[tuple[str, str, str]] = [
    ("nesting-past-limit", "(" * 60 + "args.n == 1" + ")" * 60, "max_nesting"),
    ("long-arithmetic-chain-nests", " + ".join(["args.n"] * 60) + " > 0", "max_nesting"),
    ("source-past-limit", "args.s == '" + "a" * 4100 + "'", "max_source_length"),
    ("ast-nodes-past-limit", "args.n in [" + ", ".join(["1"] * 1100) + "]", "max_ast_nodes"),
    (
        "macros-past-limit",
        "args.l.exists(a, a.exists(b, b.exists(c, c.exists(d, true))))",
        "max_comprehension_nesting",
    ),
    ("uint-literal", "args.n == 1u", "unsigned"),
    ("bytes-literal", "args.s == b'x'", "bytes"),
    ("int-literal-out-of-range", "args.n == 9223372036854775808", "range"),
    ("unknown-function", "timestamp(args.t) > 0", "unknown function"),
    ("unknown-method", "args.s.split(',') == []", "unknown method"),
    ("map-literal-int-key", "args.m == {1: 'a'}", "map keys must be strings"),
    ("map-literal-duplicate-key", "args.m == {'a': 1, 'a': 2}", "duplicate"),
    ("reserved-word", "args.n == var", "reserved"),
    ("leading-dot", ".args.n == 1", "cannot start with"),
    ("message-construction", "Foo{a: 1} == args.m", "unexpected"),
    ("invalid-regex", "args.s.matches('(')", "regular expression"),
    ("empty-list-in", "args.s in []", "always false"),
    ("nul-outside-string", "args.n == 1\u0000", "unexpected"),
]


def _request(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": {"type": "call", "tool": "tool"},
        "args": args,
        "agent": {"id": "agent-1"},
        "context": {},
        "stage": "pre_tool",
    }


def _expect(outcome: str, policy: str) -> dict[str, Any]:
    base = {"rate_limited": False}
    if outcome == "T":
        return {
            **base,
            "effect": "deny",
            "allowed": False,
            "rule": "r",
            "policy": policy,
            "matched": ["r"],
            "errored": [],
            "error_count": 0,
        }
    if outcome == "F":
        return {
            **base,
            "effect": "allow",
            "allowed": True,
            "rule": None,
            "policy": policy,
            "matched": [],
            "errored": [],
            "error_count": 0,
        }
    phrase = outcome.removeprefix("E:")
    expect = {
        **base,
        "effect": "deny",
        "allowed": False,
        "rule": "r",
        "policy": policy,
        "matched": ["r"],
        "errored": ["r"],
        "error_rules": ["r"],
        "error_count": 1,
    }
    if phrase:
        expect["errors_contain"] = [phrase]
    return expect


def main() -> None:
    cases: list[dict[str, Any]] = []
    names = set()
    for name, condition, args, outcome in ROWS:
        assert name not in names, name
        names.add(name)
        policy = f"expr-{name}"
        cases.append(
            {
                "name": f"expr-{name}",
                "policies": [
                    {
                        "apiVersion": "governance.toolkit/v1",
                        "name": policy,
                        "default_action": "allow",
                        "rules": [{"name": "r", "condition": condition, "action": "deny"}],
                    }
                ],
                "steps": [{"request": _request(args), "expect": _expect(outcome, policy)}],
            }
        )
    for name, condition, phrase in LOAD_ERRORS:
        assert name not in names, name
        names.add(name)
        cases.append(
            {
                "name": f"load-{name}",
                "policies": [
                    {
                        "apiVersion": "governance.toolkit/v1",
                        "name": f"load-{name}",
                        "default_action": "allow",
                        "rules": [{"name": "r", "condition": condition, "action": "deny"}],
                    }
                ],
                "expect_load_error": {"path": "rules[0].condition", "contains": phrase},
            }
        )
    doc = {
        "description": (
            "Every operator, function and macro, unicode (astral characters, combining marks, NUL), number "
            "edges (2^53, -0.0, 1e308, int vs double, int64 bounds), nesting and the size limits: one deny rule "
            "per case, default allow, so true and error deny and false allows. Generated by "
            "generate_expressions.py from a hand-written table."
        ),
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT.name}")


if __name__ == "__main__":
    main()
