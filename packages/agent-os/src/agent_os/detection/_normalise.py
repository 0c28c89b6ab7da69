"""Layer 1: normalisation. Undo what hides an instruction from a keyword rule, say what was undone.

The text is split into *segments*, each a form the rules read:

* ``text``: the visible text, NFKC, case-folded, invisible characters dropped, accents stripped,
  look-alike letters mapped to Latin (see `_text`);
* ``tags``: the ASCII that Unicode tag characters spell (invisible when rendered);
* ``base64@N``, ``hex@N``, ``url``, ``html``: payloads decoded from those encodings (N is the
  offset where the encoded run starts), themselves normalised and decoded again, to a bounded depth;
* ``rot13``: the visible text with ROT13 undone (rules firing there mean the text was encoded).

Every step is bounded (depth, number of payloads, decoded size), so an input cannot make the
detector do unbounded work.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import urllib.parse
from dataclasses import dataclass

from agent_os.detection._models import Reason
from agent_os.detection._text import decoded_tags, fold, hidden_in, skeleton_token, strip_marks, visible

__all__ = ["Limits", "Segment", "normalise", "plain_form"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work one scan may do.

    Attributes:
        max_chars: Longest text accepted; a longer one is an error (never silently truncated).
        max_depth: How many encodings deep payloads are decoded (base64 inside hex inside ...).
        max_payloads: Most decoded payloads kept per text.
        max_decoded_chars: Most characters of decoded payloads kept per text, all payloads together.
    """

    max_chars: int = 200_000
    max_depth: int = 3
    max_payloads: int = 32
    max_decoded_chars: int = 65_536


@dataclass(frozen=True, slots=True)
class Segment:
    """One form of the text the rules read.

    Attributes:
        where: Which form: ``text``, ``tags``, ``rot13``, ``base64@12``, ``base64@12/hex@0``, ...
        form: The matching form (folded, accents stripped, look-alikes mapped).
        hidden: Whether the form was hidden from a reader (encoded, invisible, ROT13).
    """

    where: str
    form: str
    hidden: bool


def plain_form(text: str) -> str:
    """What a rule reads without normalisation: case-folded, whitespace collapsed."""
    return " ".join(text.casefold().split())


_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"'}
)


_WORD = re.compile(r"[^\W\d_]+")


def _matching_form(text: str) -> tuple[str, list[str]]:
    folded = strip_marks(fold(text))
    if folded.isascii():
        return folded, []
    folded = folded.translate(_QUOTES)
    letters = [ch for ch in folded if ch.isalpha()]
    latin_text = sum(ch.isascii() for ch in letters) * 2 >= len(letters)
    mixed: list[str] = []

    def word(match: re.Match[str]) -> str:
        mapped, was_mixed = skeleton_token(match.group(0), latin_text=latin_text)
        if was_mixed:
            mixed.append(match.group(0))
        return mapped

    return _WORD.sub(word, folded), mixed


_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){6,}|(?:[0-9A-Fa-f]{2}[ :]?){8,}")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});")


def _readable(data: bytes) -> str | None:
    """`data` as text when it is mostly printable UTF-8 with letters in it (binary is not a payload)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 6:
        return None
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if printable < 0.95 * len(text) or letters < 0.4 * len(text):
        return None
    return text


def _base64(run: str) -> str | None:
    body = run.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    altchars = b"-_" if ("-" in body or "_" in body) else None
    try:
        data = base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(data)


def _hex(run: str) -> str | None:
    digits = re.sub(r"\\x|[ :]", "", run)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _readable(bytes.fromhex(digits))
    except ValueError:
        return None


def _payloads(text: str) -> list[tuple[str, str]]:
    """Decoded payloads in `text`: (kind@offset, text), in order of appearance."""
    found: list[tuple[str, str]] = []
    for match in _HEX.finditer(text):
        decoded = _hex(match.group(0))
        if decoded is not None:
            found.append((f"hex@{match.start()}", decoded))
    for match in _BASE64.finditer(text):
        run = match.group(0)
        # a run of hex digits is read as hex above; a word run (no digits, no case mix) is prose
        if all(ch in "0123456789abcdefABCDEF" for ch in run.rstrip("=")):
            continue
        decoded = _base64(run)
        if decoded is not None:
            found.append((f"base64@{match.start()}", decoded))
    if len(_PERCENT.findall(text)) >= 3:
        decoded_url = urllib.parse.unquote(text.replace("+", " "))
        if decoded_url != text:
            found.append(("url", decoded_url))
    if len(_ENTITY.findall(text)) >= 3:
        decoded_html = html.unescape(text)
        if decoded_html != text:
            found.append(("html", decoded_html))
    return found


def normalise(text: str, limits: Limits = Limits()) -> tuple[tuple[Segment, ...], tuple[Reason, ...]]:
    """The forms of `text` the rules read, and what normalising it found.

    Returns:
        The segments (``text`` first) and the normalisation reasons (hidden characters, look-alike
        letters, decoded payloads). Reasons here weigh nothing on their own, except a hidden
        tag-character payload (invisible text has no honest use outside emoji flags).
    """
    segments: list[Segment] = []
    reasons: list[Reason] = []
    budget = [limits.max_payloads, limits.max_decoded_chars]

    def visit(raw: str, where: str, depth: int, hidden: bool) -> None:
        invisible = sorted({f"U+{ord(ch):04X}" for ch in hidden_in(raw)})
        tags = decoded_tags(raw, skip_flags=True) if invisible else ""
        shown = visible(raw)
        form, mixed = _matching_form(shown)
        segments.append(Segment(where, form, hidden))
        if invisible:
            reasons.append(
                Reason(
                    layer="normalise",
                    rule="hidden-characters",
                    where=where,
                    weight=0.0,
                    excerpt=", ".join(invisible[:8]) + (" ..." if len(invisible) > 8 else ""),
                )
            )
        if mixed:
            reasons.append(
                Reason(
                    layer="normalise",
                    rule="homoglyphs",
                    where=where,
                    weight=0.0,
                    excerpt=" ".join(mixed[:5])[:80],
                )
            )
        if tags.strip():
            reasons.append(
                Reason(layer="normalise", rule="tag-payload", where=where, weight=0.6, excerpt=tags[:80])
            )
            visit(tags, f"{where}/tags" if where != "text" else "tags", depth + 1, True)
        if depth >= limits.max_depth:
            return
        nfkc_visible = " ".join(shown.split())
        for kind, decoded in _payloads(nfkc_visible):
            if budget[0] <= 0 or budget[1] < len(decoded):
                reasons.append(
                    Reason(
                        layer="normalise",
                        rule="decode-limit",
                        where=where,
                        weight=0.0,
                        excerpt=f"more payloads than the limits allow; {kind} and later ones not read",
                    )
                )
                return
            budget[0] -= 1
            budget[1] -= len(decoded)
            place = kind if where == "text" else f"{where}/{kind}"
            reasons.append(
                Reason(
                    layer="normalise", rule="encoded-payload", where=place, weight=0.0, excerpt=decoded[:80]
                )
            )
            visit(decoded, place, depth + 1, True)

    visit(text, "text", 0, False)
    rot = codecs.decode(visible(text), "rot13")
    segments.append(Segment("rot13", _matching_form(rot)[0], True))
    return tuple(segments), tuple(reasons)
