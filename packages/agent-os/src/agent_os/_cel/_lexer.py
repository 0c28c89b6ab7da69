"""Turns condition source text into tokens.

Besides CEL's own tokens it recognises ``and``, ``or`` and ``not`` as operator words (the spelling
of policies written for other engines). Any word that directly follows ``.`` is a field name,
whatever it spells, so ``args.not`` or ``args.in`` select the keys ``not`` and ``in``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_os._cel._errors import CelSyntaxError

__all__ = ["Token", "describe", "tokenize"]

_INT64_LIMIT = 2**63  # literals up to this are accepted; the parser range-checks with the sign

# Words with a meaning of their own outside a field selection.
_WORD_KINDS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "in": "in",
    "and": "and",
    "or": "or",
    "not": "not",
}

_OPERATORS_2 = frozenset({"==", "!=", "<=", ">=", "&&", "||"})
_OPERATORS_1 = frozenset("<>!+-*/%?:.,[](){}")

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}

_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | _DIGITS
_WHITESPACE = frozenset(" \t\n\r\f")


@dataclass(frozen=True, slots=True)
class Token:
    """One token.

    Attributes:
        kind: ``int``, ``double``, ``string``, ``ident``, ``true``, ``false``, ``null``, ``in``,
            ``and``, ``or``, ``not``, ``eof``, or the operator text itself (``==``, ``(``…).
        value: The literal value for literals, the name for identifiers, else the text.
        offset: 0-based offset of the token's first character.
    """

    kind: str
    value: Any
    offset: int


def describe(token: Token) -> str:
    """Names a token for an error message."""
    if token.kind == "eof":
        return "the end of the condition"
    if token.kind == "string":
        return "a string literal"
    if token.kind in ("int", "double"):
        return f"the number `{token.value}`"
    return f"`{token.value}`"


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str, offset: int) -> CelSyntaxError:
        return CelSyntaxError(message, offset, self.src)

    def run(self) -> list[Token]:
        src = self.src
        n = len(src)
        while True:
            self.skip_space()
            if self.pos >= n:
                self.tokens.append(Token("eof", "", n))
                return self.tokens
            start = self.pos
            c = src[start]
            if c in _IDENT_START:
                self.word(start)
            elif c in _DIGITS or (c == "." and start + 1 < n and src[start + 1] in _DIGITS):
                self.number(start)
            elif c in "'\"":
                self.string(start, raw=False)
            else:
                two = src[start : start + 2]
                if two in _OPERATORS_2:
                    self.pos += 2
                    self.tokens.append(Token(two, two, start))
                elif c in _OPERATORS_1:
                    self.pos += 1
                    self.tokens.append(Token(c, c, start))
                elif c == "=":
                    raise self.error("unexpected `=`: compare with `==`", start)
                elif c in "&|":
                    raise self.error(f"unexpected `{c}`: write `{c}{c}`", start)
                else:
                    raise self.error(f"unexpected character `{c}`", start)

    def skip_space(self) -> None:
        src = self.src
        n = len(src)
        while self.pos < n:
            c = src[self.pos]
            if c in _WHITESPACE:
                self.pos += 1
            elif src.startswith("//", self.pos):
                end = src.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            else:
                return

    def word(self, start: int) -> None:
        src = self.src
        end = start
        while end < len(src) and src[end] in _IDENT_CHARS:
            end += 1
        text = src[start:end]
        if end < len(src) and src[end] in "'\"":
            prefix = text.lower()
            if prefix == "r":
                self.pos = end
                self.string(start, raw=True)
                return
            if prefix in ("b", "rb", "br"):
                raise self.error("bytes literals are not supported; use a string", start)
        self.pos = end
        after_dot = bool(self.tokens) and self.tokens[-1].kind == "."
        kind = "ident" if after_dot else _WORD_KINDS.get(text, "ident")
        value: Any = text
        if kind == "true":
            value = True
        elif kind == "false":
            value = False
        elif kind == "null":
            value = None
        self.tokens.append(Token(kind, value, start))

    def number(self, start: int) -> None:
        src = self.src
        n = len(src)
        pos = start
        if src.startswith(("0x", "0X"), pos):
            pos += 2
            digits_start = pos
            while pos < n and src[pos] in _HEX:
                pos += 1
            if pos == digits_start:
                raise self.error("expected hexadecimal digits after `0x`", start)
            self.reject_unsigned(pos)
            self.pos = pos
            self.tokens.append(
                Token("int", self.check_int(int(src[digits_start:pos], 16), start, pos), start)
            )
            return
        is_double = False
        while pos < n and src[pos] in _DIGITS:
            pos += 1
        if pos + 1 < n and src[pos] == "." and src[pos + 1] in _DIGITS:
            is_double = True
            pos += 1
            while pos < n and src[pos] in _DIGITS:
                pos += 1
        if pos < n and src[pos] in "eE":
            exp = pos + 1
            if exp < n and src[exp] in "+-":
                exp += 1
            if exp >= n or src[exp] not in _DIGITS:
                raise self.error("expected digits in the exponent of the number", pos)
            is_double = True
            pos = exp
            while pos < n and src[pos] in _DIGITS:
                pos += 1
        text = src[start:pos]
        if is_double:
            value = float(text)
            if value in (float("inf"), float("-inf")):
                raise self.error(f"double literal `{text}` is out of range", start)
            if pos < n and src[pos] in "uU":
                raise self.error(f"unexpected `{src[pos]}` after the number `{text}`", pos)
            self.pos = pos
            self.tokens.append(Token("double", value, start))
            return
        self.reject_unsigned(pos)
        self.pos = pos
        self.tokens.append(Token("int", self.check_int(int(text), start, pos), start))

    def check_int(self, value: int, start: int, end: int) -> int:
        if value > _INT64_LIMIT:
            raise self.error(f"integer literal `{self.src[start:end]}` is out of range", start)
        return value

    def reject_unsigned(self, pos: int) -> None:
        if pos < len(self.src) and self.src[pos] in "uU":
            raise self.error("unsigned integers (`1u`) are not supported; use a plain int", pos)

    def string(self, start: int, *, raw: bool) -> None:
        src = self.src
        n = len(src)
        quote_pos = self.pos
        quote = src[quote_pos]
        triple = src.startswith(quote * 3, quote_pos)
        closing = quote * 3 if triple else quote
        pos = quote_pos + len(closing)
        parts: list[str] = []
        while True:
            if pos >= n:
                raise self.error("unterminated string literal", start)
            c = src[pos]
            if src.startswith(closing, pos):
                pos += len(closing)
                break
            if not triple and c in "\r\n":
                raise self.error("unterminated string literal (use ''' or \"\"\" for multi-line text)", start)
            if c == "\\" and not raw:
                text, pos = self.escape(pos)
                parts.append(text)
                continue
            parts.append(c)
            pos += 1
        self.pos = pos
        self.tokens.append(Token("string", "".join(parts), start))

    def escape(self, pos: int) -> tuple[str, int]:
        src = self.src
        if pos + 1 >= len(src):
            raise self.error("unterminated string literal", pos)
        c = src[pos + 1]
        simple = _SIMPLE_ESCAPES.get(c)
        if simple is not None:
            return simple, pos + 2
        if c in "xX":
            return self.code_point_escape(pos, 2), pos + 4
        if c == "u":
            return self.code_point_escape(pos, 4), pos + 6
        if c == "U":
            return self.code_point_escape(pos, 8), pos + 10
        if c in "0123":
            digits = src[pos + 1 : pos + 4]
            if len(digits) == 3 and all(d in "01234567" for d in digits):
                return chr(int(digits, 8)), pos + 4
            raise self.error("octal escape needs three digits, like `\\101`", pos)
        raise self.error(f"invalid escape sequence `\\{c}`", pos)

    def code_point_escape(self, pos: int, width: int) -> str:
        digits = self.src[pos + 2 : pos + 2 + width]
        seq = self.src[pos : pos + 2 + width]
        if len(digits) != width or any(d not in _HEX for d in digits):
            raise self.error(f"escape `\\{self.src[pos + 1]}` needs {width} hexadecimal digits", pos)
        code = int(digits, 16)
        if 0xD800 <= code <= 0xDFFF:
            raise self.error(f"escape `{seq}` is a surrogate, not a character", pos)
        if code > 0x10FFFF:
            raise self.error(f"escape `{seq}` is beyond the last Unicode character", pos)
        return chr(code)


def tokenize(source: str) -> list[Token]:
    """Splits ``source`` into tokens, ending with an ``eof`` token.

    Raises:
        CelSyntaxError: On text that is not a token.
    """
    return _Lexer(source).run()
