"""Every piece of syntax: literals, strings, operators and precedence, member access."""

from __future__ import annotations

import math

import pytest

from agent_os._cel import compile_condition

from .conftest import ev, syntax_error

# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        ("0x1F", 31),
        ("0XfF", 255),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("-0x8000000000000000", -(2**63)),
        ("-5", -5),
        ("--5", 5),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("1.5e+2", 150.0),
        (".5", 0.5),
        (".5e1", 5.0),
        ("-2.5", -2.5),
        ("-9.3e18", -9.3e18),
        ("-1e308", -1e308),
    ],
)
def test_number_literals(source: str, value: object) -> None:
    result = ev(source)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("9223372036854775808", 0, "out of range"),
        ("-9223372036854775809", 1, "out of range"),
        ("0x8000000000000000", 0, "out of range"),
        ("x == 99999999999999999999", 5, "out of range"),
        ("1e400", 0, "out of range"),
        ("1u", 1, "unsigned integers"),
        ("0x10U", 4, "unsigned integers"),
        ("args.amount > 5u", 15, "unsigned integers"),
        ("0x", 0, "hexadecimal digits"),
        ("1e", 1, "exponent"),
        ("1e+", 1, "exponent"),
    ],
)
def test_bad_numbers(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.message
    assert error.offset == offset


def test_dot_without_digits_is_not_a_double() -> None:
    error = syntax_error("1.")
    assert error.offset == 2
    assert "field or method name" in error.message


# -- strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("'abc'", "abc"),
        ('"abc"', "abc"),
        ("'it''s'", None),  # two adjacent literals are not one string: checked separately
        ("'say \"hi\"'", 'say "hi"'),
        ('"it\'s"', "it's"),
        ("'''one\ntwo'''", "one\ntwo"),
        ('"""a "quoted" word"""', 'a "quoted" word'),
        ("'''it's'''", "it's"),
        (r"r'\n\d'", "\\n\\d"),
        (r'R"\t"', "\\t"),
        (r"r'''a\b'''", "a\\b"),
        ("''", ""),
    ],
)
def test_string_literals(source: str, value: str | None) -> None:
    if value is None:
        syntax_error(source)
        return
    assert ev(source) == value


@pytest.mark.parametrize(
    ("escape", "char"),
    [
        (r"\a", "\a"),
        (r"\b", "\b"),
        (r"\f", "\f"),
        (r"\n", "\n"),
        (r"\r", "\r"),
        (r"\t", "\t"),
        (r"\v", "\v"),
        (r"\\", "\\"),
        (r"\'", "'"),
        (r"\"", '"'),
        (r"\`", "`"),
        (r"\?", "?"),
        (r"\x41", "A"),
        (r"\X41", "A"),
        (r"\u00e9", "é"),
        (r"\U0001F600", "\U0001f600"),
        (r"\101", "A"),
        (r"\000", "\0"),
        (r"\377", "\u00ff"),
    ],
)
def test_escapes(escape: str, char: str) -> None:
    assert ev(f"'{escape}'") == char
    assert ev(f'"{escape}"') == char
    assert ev(f"'''{escape}'''") == char


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("'abc", 0, "unterminated string literal"),
        ("x == 'abc", 5, "unterminated string literal"),
        ("'''abc''", 0, "unterminated string literal"),
        ("'ab\ncd'", 0, "unterminated string literal"),
        (r"'a\qb'", 2, "invalid escape sequence `\\q`"),
        (r"'\x4'", 1, "2 hexadecimal digits"),
        (r"'\u12'", 1, "4 hexadecimal digits"),
        (r"'\U0011FFFF'", 1, "beyond the last Unicode character"),
        (r"'\ud800'", 1, "surrogate"),
        (r"'\18'", 1, "octal escape"),
        (r"'\4'", 1, "invalid escape"),
        ("'\\", 1, "unterminated"),
        ("b'abc'", 0, "bytes literals are not supported"),
        ('B"abc"', 0, "bytes literals are not supported"),
        ("rb'abc'", 0, "bytes literals are not supported"),
        ("bR'abc'", 0, "bytes literals are not supported"),
    ],
)
def test_bad_strings(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.message
    assert error.offset == offset


def test_raw_string_keeps_backslashes_but_not_its_quote() -> None:
    assert ev(r"r'\'") == "\\"  # the quote closes the raw string
    assert ev(r"r'a\x41'") == "a\\x41"


def test_string_with_operator_words_stays_literal() -> None:
    assert ev("'a or b and not c'") == "a or b and not c"
    assert ev("args.to == 'x or y'") is False
    activation = {"args": {"to": "x or y and not z"}}
    assert ev("args.to == 'x or y and not z'", activation) is True
    assert ev("args.to.contains(' and not ')", activation) is True
    assert ev('args.to != "x || y"', activation) is True


# -- other literals, lists, maps ---------------------------------------------------------------


def test_keyword_literals() -> None:
    assert ev("true") is True
    assert ev("false") is False
    assert ev("null") is None


def test_lists() -> None:
    assert ev("[]") == []
    assert ev("[1, 'a', null, true, 1.5]") == [1, "a", None, True, 1.5]
    assert ev("[1, 2,]") == [1, 2]
    assert ev("[[1], [2, [3]]]") == [[1], [2, [3]]]
    assert ev("[args.amount, action.type]") == [150, "send_email"]


def test_maps() -> None:
    assert ev("{}") == {}
    assert ev("{'a': 1, 'b': [2]}") == {"a": 1, "b": [2]}
    assert ev("{'a': 1,}") == {"a": 1}
    assert ev("{action.type: args.amount}") == {"send_email": 150}
    assert ev("{'a': 1}.a") == 1
    assert ev("{'a': {'b': 2}}['a'].b") == 2


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("{1: 'a'}", 1, "map keys must be strings"),
        ("{true: 'a'}", 1, "map keys must be strings"),
        ("{'a': 1, 'a': 2}", 9, "duplicate map key `a`"),
        ("{'a' 1}", 5, "expected `:` after the map key"),
        ("{'a': 1 'b': 2}", 8, "expected `,` or `}`"),
        ("[1 2]", 3, "expected `,` or `]` in the list started at column 1"),
        ("[1, 2", 5, "expected `,` or `]`"),
    ],
)
def test_bad_collections(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.message
    assert error.offset == offset


# -- member access ------------------------------------------------------------------------------


def test_field_paths_and_indexing(activation: dict[str, object]) -> None:
    assert ev("action.type") == "send_email"
    assert ev("action['type']") == "send_email"
    assert ev("args.nested.deep.value") == 7
    assert ev("args['nested']['deep'].value") == 7
    assert ev("args.tags[0]") == "a"
    assert ev("args.tags[2]") == "c"
    assert ev("args.items[1].name") == "y"
    assert ev("args['weird-key']") == "w"
    assert ev("[10, 20][1]") == 20
    assert ev("args.tags[args.items[0].price - 9]") == "b"


def test_words_after_a_dot_are_field_names() -> None:
    assert ev("args.not") == "n"
    assert ev("args.in") == "i"
    assert ev("args.if") == "f"
    assert ev("args.not == 'n' and args.in == 'i'") is True


@pytest.mark.parametrize(
    "word",
    [
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ],
)
def test_reserved_words_are_not_identifiers(word: str) -> None:
    error = syntax_error(f"args.amount > 1 && {word} == 1")
    assert error.offset == 19
    assert f"`{word}` is a reserved word" in error.message
    assert syntax_error(f"[1].exists({word}, true)").offset == 11
    assert syntax_error(f"{word}(1)").offset == 0


def test_in_is_not_an_identifier() -> None:
    error = syntax_error("in == 1")
    assert error.offset == 0


def test_leading_dot_is_refused() -> None:
    assert syntax_error(".action.type == 'x'").offset == 0


# -- operators and precedence --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("100 / 10 / 5", 2),
        ("7 % 4 * 2", 6),
        ("-2 * 3", -6),
        ("-(2 + 3)", -5),
        ("1 + 2 * 3 == 7", True),
        ("1 < 2 == true", True),  # relations are left-associative
        ("true || false && false", True),  # && binds tighter than ||
        ("(true || false) && false", False),
        ("!true == false", True),  # ! binds tightly: (!true) == false
        ("!(true == false)", True),
        ("!!true", True),
        ("true ? 1 : 2", 1),
        ("false ? 1 : 2", 2),
        ("true ? 1 : false ? 2 : 3", 1),  # right-associative
        ("false ? 1 : true ? 2 : 3", 2),
        ("false ? 1 : false ? 2 : 3", 3),
        ("1 == 1 ? 'y' : 'n'", "y"),
        ("true || false ? 'y' : 'n'", "y"),
        ("2 in [1, 2] == true", True),
        ("'a' + 'b' == 'ab'", True),
        ("[1] + [2] == [1, 2]", True),
    ],
)
def test_precedence(source: str, value: object) -> None:
    assert ev(source) == value


def test_comments_and_whitespace() -> None:
    assert ev("action.type == 'send_email' // the mailer\n  && args.amount > 100") is True
    assert ev("\taction.type\r\n==\f'send_email'") is True


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("action.type = 'x'", 12, "compare with `==`"),
        ("a & b", 2, "write `&&`"),
        ("a | b", 2, "write `||`"),
        ("action.type == 'x' #", 19, "unexpected character `#`"),
        ("(action.type == 'x'", 19, "expected `)` to close the parenthesis opened at column 1"),
        ("size(args.tags", 14, "expected `)` to close the call started at column 1"),
        ("args.to.endsWith('x'", 20, "expected `)` to close the call started at column 9"),
        ("args.tags[0", 11, "expected `]` to close the index started at column 10"),
        ("true ? 1", 8, "expected `:` in the conditional started at column 6"),
        ("action.type ==", 14, "unexpected end of the condition"),
        ("action.type == 'x' 'y'", 19, "expected an operator or the end of the condition"),
        ("action.", 7, "expected a field or method name after `.`"),
        ("action.'type'", 7, "expected a field or method name after `.`"),
        ("== 1", 0, "expected a value"),
        ("", 0, "unexpected end of the condition"),
        ("()", 1, "expected a value"),
        ("f(1,)", 4, "expected a value"),
    ],
)
def test_parse_errors(source: str, offset: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.message
    assert error.offset == offset
    assert error.message == error.message.strip()
    assert not error.message.endswith(".")
    assert error.message[0].islower() or error.message[0] == "`"


def test_error_positions_on_later_lines() -> None:
    source = "action.type == 'x' &&\n  size(args.tags"
    error = syntax_error(source)
    assert error.offset == len(source)
    assert "started at line 2, column 3" in error.message
    assert (error.line, error.column) == (2, 17)


def test_unary_minus_on_member_is_not_folded() -> None:
    assert ev("-args.amount") == -150
    assert ev("-1.5 * 2.0") == -3.0
    assert math.isclose(ev("-.5"), -0.5)


def test_program_source_and_repr() -> None:
    program = compile_condition("action.type == 'x'")
    assert program.source == "action.type == 'x'"
    assert "action.type" in repr(program)
