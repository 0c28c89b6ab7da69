"""Map each character of a YAML scalar's value back to its index in the source text.

A condition's compile error has an offset into the condition's *value*; the user needs the line
and column in their *file*. Plain and quoted scalars fold line breaks and resolve escapes, and
block scalars strip indentation, so the value and the source differ. We rebuild the value from
the source by YAML's rules, keeping each character's source index, and only trust the result when
it equals PyYAML's value exactly.
"""

from __future__ import annotations

import yaml

__all__ = ["scalar_indexes"]

_BREAKS = "\r\n\x85\u2028\u2029"

# Double-quoted escapes as PyYAML reads them; used to map condition offsets back to the file.
_ESCAPES = {
    "0": "\0",
    "a": "\x07",
    "b": "\x08",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\x0b",
    "f": "\x0c",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _break_length(text: str, i: int) -> int:
    return 2 if text.startswith("\r\n", i) else 1


def _normal_break(ch: str) -> str:
    return "\n" if ch in "\r\n\x85" else ch


def scalar_indexes(text: str, node: yaml.ScalarNode) -> list[int] | None:
    """For every character of the scalar's value, its index in `text`; None if we cannot tell.

    We rebuild the value from the source by YAML's folding and escaping rules, keeping each
    character's source index, and only trust the result when it equals PyYAML's value exactly;
    otherwise the caller falls back to the scalar's start.
    """
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):
        return _block_indexes(text, start, end, node.value)
    if node.style in ("'", '"'):
        rebuilt = _flow_indexes(text, start + 1, end - 1, node.style)
    elif node.style is None:
        rebuilt = _flow_indexes(text, start, end, "")
    else:
        return None
    if rebuilt is None or rebuilt[0] != node.value:
        return None
    return rebuilt[1]


def _flow_indexes(text: str, start: int, end: int, quote: str) -> tuple[str, list[int]] | None:
    r"""Rebuild a plain or quoted scalar: line breaks fold into spaces, escapes become characters.

    A character made by an escape (``\\n``, ``\\u00e9``, ``''``) maps to its first source character,
    so positions inside double-quoted strings with escapes point at the escape itself.
    """
    chars: list[str] = []
    indexes: list[int] = []
    pending: list[int] = []  # whitespace that is content only if more content follows on the line

    def emit(ch: str, at: int) -> None:
        chars.append(ch)
        indexes.append(at)

    def skip_blank_lines(i: int) -> int:
        # Leading whitespace of continuation lines is dropped; each further empty line is a break.
        while i < end:
            c = text[i]
            if c in " \t":
                i += 1
            elif c in _BREAKS:
                emit(_normal_break(c), i)
                i += _break_length(text, i)
            else:
                break
        return i

    i = start
    while i < end:
        ch = text[i]
        if ch in _BREAKS:
            pending.clear()  # whitespace before a line break is not content
            first, first_at = _normal_break(ch), i
            i += _break_length(text, i)
            before = len(chars)
            i = skip_blank_lines(i)
            if first != "\n":
                chars.insert(before, first)
                indexes.insert(before, first_at)
            elif len(chars) == before:
                emit(" ", first_at)  # a single line break folds into a space
            continue
        if ch in " \t":
            pending.append(i)
            i += 1
            continue
        for at in pending:
            emit(text[at], at)
        pending.clear()
        if quote == "'" and ch == "'":
            if not text.startswith("''", i):
                return None
            emit("'", i)
            i += 2
        elif quote == '"' and ch == "\\":
            if i + 1 >= end:
                return None
            code = text[i + 1]
            if code in _ESCAPES:
                emit(_ESCAPES[code], i)
                i += 2
            elif code in _HEX_ESCAPES:
                digits = text[i + 2 : i + 2 + _HEX_ESCAPES[code]]
                if len(digits) != _HEX_ESCAPES[code] or not all(
                    c in "0123456789abcdefABCDEF" for c in digits
                ):
                    return None
                emit(chr(int(digits, 16)), i)
                i += 2 + len(digits)
            elif code in _BREAKS:
                # An escaped line break joins the lines without a space.
                i = skip_blank_lines(i + 1 + _break_length(text, i + 1))
            else:
                return None
        else:
            emit(ch, i)
            i += 1
    for at in pending:
        emit(text[at], at)
    return "".join(chars), indexes


def _block_indexes(text: str, start: int, end: int, value: str) -> list[int] | None:
    """Map a literal (``|``) or folded (``>``) block scalar's value back to its source lines."""
    i = start
    while i < end and text[i] not in _BREAKS:
        i += 1  # the header: indicator, chomping and indentation indicators, comment
    if i >= end:
        return [] if not value else None
    i += _break_length(text, i)
    lines: list[tuple[int, int]] = []
    while i < end:
        j = i
        while j < end and text[j] not in _BREAKS:
            j += 1
        lines.append((i, j))
        i = j + _break_length(text, j) if j < end else end
    # The indentation is whatever the first content line has beyond the value's own leading
    # spaces (this also covers an explicit indentation indicator such as `|2`).
    first = next((ln for ln in lines if text[ln[0] : ln[1]].strip(" ")), None)
    indent = 0
    if first is not None:
        body = value.lstrip(_BREAKS)
        if not body:
            return None
        source_lead = len(text[first[0] : first[1]]) - len(text[first[0] : first[1]].lstrip(" "))
        indent = source_lead - (len(body) - len(body.lstrip(" ")))
        if indent < 0:
            return None
    # The literal reading of the lines, with the source index of every character; each line
    # break maps to the end of its line.
    lit_chars: list[str] = []
    lit_indexes: list[int] = []
    for line_start, line_end in lines:
        for k in range(line_start + indent, line_end):
            lit_chars.append(text[k])
            lit_indexes.append(k)
        lit_chars.append("\n")
        lit_indexes.append(line_end)
    # Align the value with that reading: folding turns some line breaks into spaces or drops them.
    out: list[int] = []
    j = 0
    for ch in value:
        while True:
            if j >= len(lit_chars):
                return None
            lit = lit_chars[j]
            if lit == ch or (lit == "\n" and ch in " \u2028\u2029"):
                out.append(lit_indexes[j])
                j += 1
                break
            if lit == "\n":
                j += 1
                continue
            return None
    return out
