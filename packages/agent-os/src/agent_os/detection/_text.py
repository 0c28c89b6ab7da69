"""Character-level normalisation shared by the injection detector and the MCP tool scanner.

Text that reaches a model can hide instructions from the person reading it: Unicode tag
characters (U+E0000-E007F) spell ASCII that renders as nothing, zero-width and bidirectional
controls split words so keyword filters miss them, and look-alike letters from other scripts
(Cyrillic ``о`` for Latin ``o``) do the same. These functions undo that, deterministically.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "TAGS",
    "decoded_tags",
    "fold",
    "hidden_in",
    "is_hidden",
    "skeleton_token",
    "strip_marks",
    "visible",
]

# Unicode tag characters spell invisible ASCII; variation selectors can carry hidden bytes; the
# rest are zero-width, joiner, bidirectional and other format controls, and private-use code points.
TAGS = range(0xE0000, 0xE0080)
_VARIATION = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))
_BLACK_FLAG = "\U0001f3f4"  # emoji subdivision flags (England, Scotland, Wales) are tag sequences after it


def is_hidden(ch: str) -> bool:
    """Whether `ch` renders as nothing (format control, tag, variation selector, private use, filler)."""
    code = ord(ch)
    if 0xE0000 <= code < 0xE0080 or 0xFE00 <= code < 0xFE10 or 0xE0100 <= code < 0xE01F0:
        return True
    return unicodedata.category(ch) in ("Cf", "Co") or ch in "\u115f\u1160\u3164\uffa0"


def hidden_in(text: str) -> list[str]:
    """The hidden characters of `text`, in order (ASCII has none: the common case costs one check)."""
    if text.isascii():
        return []
    return [ch for ch in text if ch > "\x7f" and is_hidden(ch)]


def visible(text: str) -> str:
    """`text` without its hidden characters."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if ch <= "\x7f" or not is_hidden(ch))


def decoded_tags(text: str, *, skip_flags: bool = False) -> str:
    """The ASCII that tag characters in `text` spell (empty when there are none).

    With `skip_flags`, tag runs that follow U+1F3F4 (emoji subdivision flags, e.g. England's)
    are left out: they are how those flags are written, not hidden text.
    """
    out: list[str] = []
    in_flag = False
    previous = ""
    for ch in text:
        code = ord(ch)
        if code in TAGS:
            if skip_flags and (previous == _BLACK_FLAG or in_flag):
                in_flag = code != 0xE007F  # CANCEL TAG ends the flag
            else:
                out.append(chr(code - 0xE0000))
        else:
            in_flag = False
        previous = ch
    return "".join(out)


def fold(text: str) -> str:
    """NFKC, case-folded, invisible characters dropped, whitespace collapsed."""
    if text.isascii():  # NFKC leaves ASCII as it is, and ASCII has no hidden characters
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(visible(folded).split())


def strip_marks(text: str) -> str:
    """Accents on Latin letters removed (``précédentes`` -> ``precedentes``); the text stays NFC.

    Marks on other scripts stay: in Cyrillic ``й`` and in Japanese ``が`` they make another letter.
    """
    if text.isascii():
        return text
    out: list[str] = []
    base = ""
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch):
            if base.isascii() and base.isalpha():
                continue
        else:
            base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


# Lower-case letters of other scripts that look like a Latin letter (after case folding).
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i",
    "ј": "j", "к": "k", "ӏ": "l", "м": "m", "п": "n", "о": "o", "р": "p", "ԛ": "q", "г": "r",
    "ѕ": "s", "т": "t", "у": "y", "ѵ": "v", "ԝ": "w", "х": "x", "ү": "y", "ь": "b", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "ϲ": "c", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    # Armenian, Latin extensions
    "օ": "o", "ս": "u", "հ": "h", "ı": "i", "ȷ": "j", "ℓ": "l", "ɑ": "a", "ꞵ": "b",
}  # fmt: skip
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)


def skeleton_token(token: str, *, latin_text: bool) -> tuple[str, bool]:
    """A token with look-alike letters mapped to Latin, and whether it mixed scripts.

    A token is mapped when it mixes Latin letters with look-alikes (``іgnоre``), or, in a text
    that is mostly Latin (`latin_text`), when every letter in it is a look-alike (``оѕ``); words
    of a text written in another script (``все``) are left alone, so rules for that language
    still read them.
    """
    if token.isascii():
        return token, False
    letters = [ch for ch in token if ch.isalpha()]
    latin = any(ch.isascii() for ch in letters)
    confusable = [ch in _CONFUSABLES for ch in letters]
    if latin and any(confusable):
        return token.translate(_CONFUSABLE_TABLE), True
    if latin_text and letters and all(confusable):
        return token.translate(_CONFUSABLE_TABLE), False
    return token, False
