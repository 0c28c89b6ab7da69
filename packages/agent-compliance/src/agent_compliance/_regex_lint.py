"""Why a regular expression can match no text at all, for `agt policy lint` (AGT-L005)."""

from __future__ import annotations

__all__ = ["impossible_regex_reason"]


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
