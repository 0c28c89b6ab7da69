"""RFC 8785 (JSON Canonicalization Scheme) serialisation and SHA-256 digests.

Everything the toolkit hashes or signs goes through `canonical_json`, so that every language
SDK produces the same bytes for the same data: object keys sorted by UTF-16 code units, no
insignificant whitespace, strings escaped minimally, numbers written as ECMAScript writes a
double. Values outside the I-JSON data model (NaN, infinities, large integers that would
change when read as a double, non-string keys, lone surrogates, arbitrary objects) have no
canonical form and raise `CanonicalJSONError` rather than being coerced.

An integer beyond ±(2**53 - 1) is accepted only when its decimal digits are exactly what
ECMAScript writes for a double (``10**20``, ``2**53``), i.e. when reading it as a double and
writing that back gives the same digits. That keeps canonical text idempotent: RFC 8785 writes
the double 1e20 as ``100000000000000000000``, ``json.loads`` reads that back as an int, and it
must canonicalise to the same text again (audit verification depends on it). Any other large
integer, such as ``2**53 + 1``, would silently become a different number in every language that
reads JSON numbers as doubles, so it is refused.

Most data we hash (requests, decisions) holds no floats and only ASCII keys. For that data
Python's C JSON encoder already writes exactly the RFC 8785 bytes, so we check the value once
and use it; anything else takes the pure-Python path.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import math
from collections.abc import Callable
from typing import Any

from agt_core._errors import CanonicalJSONError

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "canonical_json_bytes", "content_hash", "sha256_hex"]

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 256


def _reject(value: Any) -> Any:
    raise TypeError(f"value of type `{type(value).__name__}` has no JSON form")


def _make_fast_dumps() -> Callable[[Any], str]:
    # Build CPython's C encoder once: JSONEncoder.encode would rebuild it on every call, which
    # costs as much as the encoding of a typical request. Only values `_is_plain` accepts reach it,
    # so it never sees floats, cycles or non-string keys.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - interpreters without the C accelerator
        return json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
        ).encode
    encode = make(None, _reject, json.encoder.encode_basestring, None, ":", ",", True, False, False)

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


_fast_dumps = _make_fast_dumps()


def canonical_json(value: Any) -> str:
    """Return the RFC 8785 canonical JSON text of `value`.

    Args:
        value: JSON data: dict (str keys), list or tuple, str, int, float, bool or None.

    Raises:
        CanonicalJSONError: if `value` holds anything without a canonical JSON form.
    """
    text = _text(value)
    # A lone surrogate can sit in a Python str but has no UTF-8 form, so the text would not be
    # hashable. ASCII text cannot hold one, which keeps the common case to one fast scan.
    if not text.isascii():
        _utf8(text)
    return text


def canonical_json_bytes(value: Any) -> bytes:
    """Return the UTF-8 bytes of `canonical_json(value)`.

    Raises:
        CanonicalJSONError: if `value` holds anything without a canonical JSON form.
    """
    return _utf8(_text(value))


def _text(value: Any) -> str:
    """The canonical text, possibly holding lone surrogates (checked by the callers)."""
    if _is_plain(value):
        return _fast_dumps(value)
    parts: list[str] = []
    _encode(value, parts, 0)
    return "".join(parts)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError(
            f"string holds a lone surrogate `U+{ord(text[exc.start]):04X}`, which has no UTF-8 form"
        ) from exc


def sha256_hex(data: bytes | str) -> str:
    """Return the lowercase hex SHA-256 of `data` (str is encoded as UTF-8).

    Raises:
        CanonicalJSONError: if `data` is a str holding a lone surrogate.
    """
    if isinstance(data, str):
        data = _utf8(data)
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """Return ``sha256:<hex>`` of the canonical JSON of `value`: the toolkit's content address."""
    return "sha256:" + hashlib.sha256(canonical_json_bytes(value)).hexdigest()


def _is_plain(value: Any) -> bool:
    """True when the C encoder writes `value` exactly as RFC 8785 does (no floats, ASCII keys, safe ints).

    Walks the value level by level without recursion: this runs on every audited call, and a
    function call per node would cost more than the encoding itself.
    """
    level = [value]
    depth = 0
    while level:
        below: list[Any] = []
        for v in level:
            t = type(v)
            if t is str or t is bool or v is None:
                continue
            if t is int:
                if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                    return False
            elif t is dict:
                for k in v:
                    if type(k) is not str or not k.isascii():
                        return False
                below.extend(v.values())
            elif t is list or t is tuple:
                below.extend(v)
            else:
                return False
        if below:
            depth += 1
            # Containers nested past _MAX_DEPTH are refused; _encode raises the error for them.
            if depth > _MAX_DEPTH:
                return False
        level = below
    return True


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str], depth: int) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(_format_int(int(value)))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, (dict, list, tuple)) and depth >= _MAX_DEPTH:
        raise CanonicalJSONError(f"value nests deeper than {_MAX_DEPTH} levels")
    elif isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise CanonicalJSONError(f"object key `{k!r}` is not a string")
        out.append("{")
        first = True
        for k in sorted(value, key=_utf16_key):
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            _encode(value[k], out, depth + 1)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out, depth + 1)
        out.append("]")
    else:
        raise CanonicalJSONError(f"value of type `{type(value).__name__}` has no JSON form")


def _format_int(value: int) -> str:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    # Beyond 2**53 - 1 only integers a double holds and ECMAScript writes digit for digit have a
    # canonical form (see the module docstring). float() first: it bounds the size, and str() of
    # an integer past 4300 digits raises.
    try:
        as_double = float(value)
    except OverflowError:
        raise CanonicalJSONError(
            f"integer of `{value.bit_length()}` bits is beyond the largest JSON number",
            help="pass large identifiers as strings",
        ) from None
    text = format_number(as_double)
    if text != str(value):
        raise CanonicalJSONError(
            f"integer `{value}` is beyond ±(2**53 - 1) and is not the exact JSON form of a double",
            help="pass large identifiers as strings",
        )
    return text


def format_number(value: float) -> str:
    """Write a double as ECMAScript's Number.prototype.toString does (RFC 8785 section 3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise CanonicalJSONError(f"`{value}` is not a JSON number")
    if value == 0:
        return "0"
    # float.__repr__ rather than repr(): float subclasses (numpy.float64) override __repr__. It
    # gives the shortest digits that round-trip, which are the digits ECMAScript uses.
    text = float.__repr__(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp_text = text.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # n: position of the decimal point relative to the start of `digits`.
    n = len(int_part.lstrip("0")) if int_part.strip("0") else -(len(frac_part) - len(frac_part.lstrip("0")))
    n += int(exp_text) if exp_text else 0
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = ("+" if e >= 0 else "-") + str(abs(e))
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + exp
    return sign + body
