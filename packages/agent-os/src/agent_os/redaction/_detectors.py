"""The secret and personal-data detectors: where in a text each kind of secret is.

Every detector is a linear-time pattern (no nested quantifiers, bounded repeats) plus, where the
format has one, a check that real values pass and look-alikes fail: a card number must pass the
Luhn checksum and have a card-network prefix, a JWT's header must decode to a JSON object naming
an ``alg``, an AWS key id uses base32 characters only. Near misses (UUIDs, git SHAs, truncated
keys, order numbers, dates) are deliberately not matched; `tests/redaction` holds both corpora.

Shapes are the providers' published ones (as of 2026): OpenAI ``sk-``/``sk-proj-``, Anthropic
``sk-ant-api03-``, AWS ``AKIA``/``ASIA`` ids and 40-character secrets next to their name, GitHub
``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``/``github_pat_``, GitLab ``glpat-`` and siblings,
Slack ``xox?-`` tokens and webhook URLs, Stripe ``sk_``/``rk_``/``whsec_``, Google ``AIza`` keys
and ``GOCSPX-`` OAuth secrets, PEM private keys.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from agt_core import REDACTION_DETECTORS, RedactionDetector

__all__ = ["DETECTORS", "SECRET_KEY_NAMES", "Span", "find_spans", "secret_key_kind"]


class Span(NamedTuple):
    """One secret found in a text: ``text[start:end]`` is of kind `detector`."""

    start: int
    end: int
    detector: RedactionDetector


_Check = Callable[[re.Match[str]], tuple[int, int] | None]


def _whole(m: re.Match[str]) -> tuple[int, int] | None:
    return m.span()


def _group(name: str) -> _Check:
    def check(m: re.Match[str]) -> tuple[int, int] | None:
        return m.span(name)

    return check


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Issuer prefixes of the card networks (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro).
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|35|30[0-5]|36|38|62|50|5[6-9]|6[0-9]")


def _card(m: re.Match[str]) -> tuple[int, int] | None:
    raw = m.group(0)
    digits = raw.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits):
        return None
    # One kind of separator, if any: "4111 1111-1111 1111" is not how a card number is written.
    if " " in raw and "-" in raw:
        return None
    if len(set(digits)) == 1:
        return None
    return m.span() if _luhn_ok(digits) else None


def _b64url_json(segment: str) -> object:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None


def _jwt(m: re.Match[str]) -> tuple[int, int] | None:
    header = _b64url_json(m.group("header"))
    if isinstance(header, dict) and isinstance(header.get("alg"), str):
        return m.span()
    return None


def _phone(m: re.Match[str]) -> tuple[int, int] | None:
    digits = sum(ch.isdigit() for ch in m.group(0))
    return m.span() if 8 <= digits <= 15 else None


def _aws_secret(m: re.Match[str]) -> tuple[int, int] | None:
    value = m.group("secret")
    # A 40-character AWS secret mixes cases and digits; 40 hex digits next to the name are a hash.
    if value.isdigit() or re.fullmatch(r"[0-9a-f]{40}", value):
        return None
    return m.span("secret")


_B = r"(?<![A-Za-z0-9_\-])"  # not preceded by a token character
_E = r"(?![A-Za-z0-9_\-])"  # not followed by one

# Order matters only for ties (the same start): the more specific detector first.
_PATTERNS: tuple[tuple[RedactionDetector, str, _Check], ...] = (
    (
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?!-----END)[\s\S]){0,20000}(?:-----END (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----|$)",
        _whole,
    ),
    ("anthropic_api_key", _B + r"sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_\-]{80,200}" + _E, _whole),
    (
        "openai_api_key",
        _B
        + r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{40,250}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48})"
        + _E,
        _whole,
    ),
    ("aws_access_key", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}(?![A-Z0-9])", _whole),
    (
        "aws_secret_key",
        r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"']?\s{0,3}[:=]\s{0,3}[\"']?"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        _aws_secret,
    ),
    (
        "github_token",
        _B + r"(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _E,
        _whole,
    ),
    ("gitlab_token", _B + r"gl(?:pat|dt|rt|ptt|ft|soat|cbt|imt)-[A-Za-z0-9_\-]{20,64}" + _E, _whole),
    (
        "slack_token",
        _B
        + r"(?:xox[abposre]-[0-9]{6,15}-[A-Za-z0-9\-]{8,200}|xapp-\d-[A-Z0-9]{8,15}-\d{6,15}-[a-f0-9]{32,80})"
        + _E
        + r"|https://hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/[A-Za-z0-9]{16,40}",
        _whole,
    ),
    (
        "stripe_key",
        _B + r"(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,250}|whsec_[A-Za-z0-9]{24,64})" + _E,
        _whole,
    ),
    ("google_api_key", _B + r"(?:AIza[0-9A-Za-z_\-]{35}|GOCSPX-[A-Za-z0-9_\-]{28})" + _E, _whole),
    (
        "jwt",
        _B
        + r"(?P<header>eyJ[A-Za-z0-9_\-]{8,2000})\.eyJ[A-Za-z0-9_\-]{4,8000}\.[A-Za-z0-9_\-]{16,2000}"
        + _E,
        _jwt,
    ),
    (
        "url_password",
        r"\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:/?#@\[\]]{1,256}:(?P<password>[^\s/?#@]{1,256})@",
        _group("password"),
    ),
    (
        "credit_card",
        r"(?<![\d.\-/])(?:\d{4}[ \-]?){2}\d{4}[ \-]?\d{1,7}(?![\d\-/]|\.\d)|(?<![\d.\-/])\d{4}[ \-]?\d{6}[ \-]?\d{5}(?![\d\-/]|\.\d)",
        _card,
    ),
    (
        "email",
        # Not right after `/`: `scheme://user@host` names a URL's user, not a mailbox.
        r"(?<![A-Za-z0-9._%+\-/])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
        _whole,
    ),
    (
        "phone_number",
        r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,4}\)?){2,5}(?![\w])"
        r"|(?<![\w(])\(?[2-9]\d{2}\)?[ .\-][2-9]\d{2}[ .\-]\d{4}(?![\w\-])",
        _phone,
    ),
)

# Cheap substring tests run before each pattern: most texts hold none of these, and then no
# pattern runs at all. Each hint is implied by its pattern (a match always contains it).
_DIGIT_RUN = re.compile(r"\d[\d \-.()]{6,}\d")
_HINTS: dict[RedactionDetector, Callable[[str, str], bool]] = {
    "private_key": lambda t, low: "PRIVATE KEY" in t,
    "anthropic_api_key": lambda t, low: "sk-ant-" in t,
    "openai_api_key": lambda t, low: "sk-" in t,
    "aws_access_key": lambda t, low: any(p in t for p in ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")),
    "aws_secret_key": lambda t, low: "secret" in low,
    "github_token": lambda t, low: any(
        p in t for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
    ),
    "gitlab_token": lambda t, low: "gl" in t and "-" in t,
    "slack_token": lambda t, low: "xox" in t or "xapp-" in t or "hooks.slack.com" in t,
    "stripe_key": lambda t, low: "_live_" in t or "_test_" in t or "whsec_" in t,
    "google_api_key": lambda t, low: "AIza" in t or "GOCSPX-" in t,
    "jwt": lambda t, low: "eyJ" in t,
    "url_password": lambda t, low: "://" in t,
    "email": lambda t, low: "@" in t,
    "credit_card": lambda t, low: _DIGIT_RUN.search(t) is not None,
    "phone_number": lambda t, low: _DIGIT_RUN.search(t) is not None,
}

# Every hint above in one pattern: a text it does not match holds no secret of any kind.
_ANY_HINT = re.compile(
    r"PRIVATE KEY|sk-|AKIA|ASIA|ABIA|ACCA|A3T|(?i:secret)|gh[pousr]_|github_pat_|gl[a-z]{1,4}-|xox|xapp-"
    r"|hooks\.slack\.com|_live_|_test_|whsec_|AIza|GOCSPX-|eyJ|://|@|\d[\d \-.()]{6,}\d"
)

DETECTORS: tuple[RedactionDetector, ...] = REDACTION_DETECTORS
"""Every detector's name (``secret_field`` works on mapping keys, not on text)."""

_COMPILED: dict[RedactionDetector, tuple[re.Pattern[str], _Check]] = {
    name: (re.compile(pattern), check) for name, pattern, check in _PATTERNS
}
_ORDER = {name: i for i, (name, _, _) in enumerate(_PATTERNS)}

# Mapping keys whose string value is a secret whatever it looks like (compared case-folded, `-` as `_`).
SECRET_KEY_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "bearer_token",
        "token",
        "authorization",
        "private_key",
        "secret_key",
        "aws_secret_access_key",
        "session_token",
        "cookie",
        "set_cookie",
    }
)
_SECRET_SUFFIXES = ("_password", "_passwd", "_secret", "_api_key", "_apikey", "_token", "_private_key")


def secret_key_kind(key: str) -> bool:
    """Whether a mapping key names a secret (``password``, ``api_key``, ``x_auth_token``, ...)."""
    folded = key.casefold().replace("-", "_")
    return folded in SECRET_KEY_NAMES or folded.endswith(_SECRET_SUFFIXES)


def _matches(text: str, detectors: tuple[RedactionDetector, ...]) -> Iterator[Span]:
    low = text.lower()
    for name in detectors:
        compiled = _COMPILED.get(name)
        if compiled is None or not _HINTS[name](text, low):
            continue
        pattern, check = compiled
        for m in pattern.finditer(text):
            span = check(m)
            if span is not None and span[1] > span[0]:
                yield Span(span[0], span[1], name)


def find_spans(text: str, detectors: tuple[RedactionDetector, ...] = DETECTORS) -> list[Span]:
    """Where `text` holds secrets, as non-overlapping spans in order.

    Overlapping finds are merged into one span (the union: redacting a little more never leaks),
    named after the earliest-starting find, the more specific detector on a tie.
    """
    if _ANY_HINT.search(text) is None:
        return []
    found = sorted(_matches(text, detectors), key=lambda s: (s.start, _ORDER[s.detector], -s.end))
    # `user:password@host` also reads as an email from the password on: the URL's host stays.
    passwords = {s.start for s in found if s.detector == "url_password"}
    if passwords:
        found = [s for s in found if not (s.detector == "email" and s.start in passwords)]
    merged: list[Span] = []
    for span in found:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.detector)
            continue
        merged.append(span)
    return merged
