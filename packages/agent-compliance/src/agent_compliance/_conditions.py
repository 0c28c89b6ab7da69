"""Conservative facts about CEL condition text, for lints.

agent-os owns the CEL engine and keeps its parser private, so these helpers read only shapes
they can be sure of: top-level ``&&`` operands, ``path == literal`` and ``path in [literals]``
equalities, constant conditions, and literal regex patterns. Anything else yields no fact, so a
lint built on them can miss a problem but never invents one.
"""

from __future__ import annotations

import re

__all__ = [
    "constant_value",
    "equality_facts",
    "impossible_regex_reason",
    "normalized",
    "regex_literals",
    "top_level_conjuncts",
]

_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_SCALAR = rf"(?:{_STRING}|-?[0-9]+(?:\.[0-9]+)?|true|false|null)"
_EQ_LEFT = re.compile(rf"^({_PATH})\s*==\s*({_SCALAR})$")
_EQ_RIGHT = re.compile(rf"^({_SCALAR})\s*==\s*({_PATH})$")
_IN_LIST = re.compile(rf"^({_PATH})\s+in\s+\[\s*((?:{_SCALAR})(?:\s*,\s*(?:{_SCALAR}))*)\s*,?\s*\]$")
_SCALAR_ITEM = re.compile(_SCALAR)
_MATCHES = re.compile(rf"\bmatches\s*\(\s*(?:{_PATH}\s*,\s*)?(r?)({_STRING})\s*\)")


def normalized(condition: str) -> str:
    """The condition with whitespace outside string literals collapsed, for comparing texts."""
    out: list[str] = []
    quote: str | None = None
    escaped = False
    for ch in condition.strip():
        if quote is not None:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(ch)
    return "".join(out).strip()


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced_inner(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced_inner(text: str) -> bool:
    depth = 0
    quote: str | None = None
    escaped = False
    for ch in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _split_top(text: str) -> tuple[list[str], bool]:
    """Split at top-level ``&&``/``and``; also say whether a top-level ``||``/``or``/``?`` occurs."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    escaped = False
    start = 0
    other = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            if text.startswith("&&", i):
                parts.append(text[start:i])
                i += 2
                start = i
                continue
            if text.startswith("||", i) or ch == "?":
                other = True
            word = re.match(r"(and|or)\b", text[i:])
            if word and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_.")):
                if word.group(1) == "and":
                    parts.append(text[start:i])
                    i += 3
                    start = i
                    continue
                other = True
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts], other


def top_level_conjuncts(condition: str) -> list[str] | None:
    """The top-level ``&&`` operands, or None when the condition has a top-level ``||`` or ``?:``."""
    parts, other = _split_top(_strip_parens(condition))
    if other:
        return None
    return [_strip_parens(p) for p in parts]


def constant_value(condition: str) -> bool | None:
    """True or False when the condition is the literal ``true`` or ``false``; otherwise None."""
    text = _strip_parens(normalized(condition))
    if text == "true":
        return True
    if text == "false":
        return False
    return None


def _literal(text: str) -> str:
    """A canonical form of a scalar literal, so ``'a'`` and ``"a"`` compare equal."""
    if text[:1] in "'\"":
        return "s:" + _unescape(text[1:-1])
    return "v:" + text


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: m.group(1) if m.group(1) in "\\'\"" else m.group(0), body)


def equality_facts(condition: str) -> dict[str, set[str]] | None:
    """``path -> allowed literals`` implied by the top-level conjuncts, or None when unknown.

    A path constrained twice keeps the intersection; an empty set means the condition can never
    hold. Literals are compared in canonical form (``'a'`` equals ``"a"``).
    """
    parts = top_level_conjuncts(condition)
    if parts is None:
        return None
    facts: dict[str, set[str]] = {}
    for part in parts:
        allowed: set[str] | None = None
        path: str | None = None
        if m := _EQ_LEFT.match(part):
            path, allowed = m.group(1), {_literal(m.group(2))}
        elif m := _EQ_RIGHT.match(part):
            path, allowed = m.group(2), {_literal(m.group(1))}
        elif m := _IN_LIST.match(part):
            path, allowed = m.group(1), {_literal(x.group(0)) for x in _SCALAR_ITEM.finditer(m.group(2))}
        if path is None or allowed is None:
            continue
        facts[path] = facts[path] & allowed if path in facts else allowed
    return facts


def regex_literals(condition: str) -> list[tuple[int, str]]:
    """``(offset in condition, pattern)`` for every ``matches`` call with a literal pattern."""
    found = []
    for m in _MATCHES.finditer(condition):
        raw, literal = m.group(1), m.group(2)
        body = literal[1:-1]
        found.append((m.start(2), body if raw else _unescape(body)))
    return found


def impossible_regex_reason(pattern: str) -> str | None:
    """Why `pattern` can match no text at all, when that is certain; otherwise None.

    RE2 without the ``m`` flag: ``$`` matches only at the end of the text and ``^`` only at its
    start, so ``a$b`` or ``a^b`` (outside a class, unescaped, not next to ``|`` or a group edge)
    cannot match.
    """
    if "(?" in pattern and "m" in pattern.split("(?", 1)[1].split(")", 1)[0]:
        return None
    in_class = False
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "$" and i + 1 < n and (pattern[i + 1].isalnum() or pattern[i + 1] in "_/-"):
            return f"`$` at offset {i} ends the text, but `{pattern[i + 1]}` must follow it"
        elif ch == "^" and i > 0 and (pattern[i - 1].isalnum() or pattern[i - 1] in "_/-"):
            prev_escaped = i >= 2 and pattern[i - 2] == "\\"
            if not prev_escaped:
                return f"`^` at offset {i} starts the text, but `{pattern[i - 1]}` must come before it"
        i += 1
    return None
