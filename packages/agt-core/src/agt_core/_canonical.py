"""RFC 8785 (JSON Canonicalization Scheme) serialisation and SHA-256 digests.

Everything the toolkit hashes or signs goes through `canonical_json`, so that every language
SDK produces the same bytes for the same data: object keys sorted by UTF-16 code units, no
insignificant whitespace, strings escaped minimally, numbers written as ECMAScript writes a
double. Values outside the I-JSON data model (NaN, infinities, integers beyond 2**53 - 1,
non-string keys, lone surrogates, arbitrary objects) have no canonical form and raise
`CanonicalJSONError` rather than being coerced.

Most data we hash (requests, decisions) holds no floats and only ASCII keys. For that data
Python's C JSON encoder already writes exactly the RFC 8785 bytes, so we check the value once
and use it; anything else takes the pure-Python path.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from agt_core._errors import CanonicalJSONError

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "canonical_json_bytes", "sha256_hex", "content_hash"]

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 256

_fast_dumps = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def canonical_json(value: Any) -> str:
    """Return the RFC 8785 canonical JSON text of `value`.

    Args:
        value: JSON data: dict (str keys), list or tuple, str, int, float, bool or None.

    Raises:
        CanonicalJSONError: if `value` holds anything without a canonical JSON form.
    """
    if _is_plain(value, 0):
        text = _fast_dumps(value)
    else:
        parts: list[str] = []
        _encode(value, parts, 0)
        text = "".join(parts)
    return text


def canonical_json_bytes(value: Any) -> bytes:
    """Return the UTF-8 bytes of `canonical_json(value)`."""
    try:
        return canonical_json(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("string holds a lone surrogate, which JSON cannot carry") from exc


def sha256_hex(data: bytes | str) -> str:
    """Return the lowercase hex SHA-256 of `data` (str is encoded as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """Return ``sha256:<hex>`` of the canonical JSON of `value`: the toolkit's content address."""
    return "sha256:" + hashlib.sha256(canonical_json_bytes(value)).hexdigest()


def _is_plain(value: Any, depth: int) -> bool:
    """True when the C encoder writes `value` exactly as RFC 8785 does (no floats, ASCII keys, safe ints)."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if depth > _MAX_DEPTH:
        return False
    if t is dict:
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                return False
            if not _is_plain(v, depth + 1):
                return False
        return True
    if t is list or t is tuple:
        for v in value:
            if not _is_plain(v, depth + 1):
                return False
        return True
    return False


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise CanonicalJSONError(f"value nests deeper than {_MAX_DEPTH} levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalJSONError(
                f"integer `{value}` is outside the interoperable range ±(2**53 - 1)",
                help="pass large identifiers as strings",
            )
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(format_number(value))
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


def format_number(value: float) -> str:
    """Write a double as ECMAScript's Number.prototype.toString does (RFC 8785 section 3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise CanonicalJSONError(f"`{value}` is not a JSON number")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, which are the digits ECMAScript uses.
    mantissa, _, exp_text = repr(abs(value)).partition("e")
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
