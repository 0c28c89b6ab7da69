"""The functions conditions can call: sizes, string tests, RE2 matching and conversions."""

from __future__ import annotations

import functools
import math
import string
from decimal import Decimal
from typing import Any

import re2

from agent_os._cel._errors import CelEvalError
from agent_os._cel._values import INT64_MAX, INT64_MIN, is_opaque, type_name

__all__ = [
    "Regex",
    "compile_regex",
    "format_double",
    "lower_ascii",
    "regex_search",
    "size",
    "to_double",
    "to_int",
    "to_string",
    "upper_ascii",
]

Regex = Any  # re2's compiled pattern type is untyped

_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def _options(max_mem: int | None = None) -> Any:
    options = re2.Options()
    # an invalid pattern is reported through our exception; RE2's own stderr logging is noise
    options.log_errors = False
    if max_mem is not None:
        options.max_mem = max_mem
    return options


# Literal patterns come from policy authors and get RE2's default memory budget (8 MiB).
# Patterns taken from request data get 1 MiB: a request must not make us hold large programs.
_LITERAL_OPTIONS = _options()
_DYNAMIC_OPTIONS = _options(max_mem=1 << 20)


_NOT_UNICODE = "the pattern is not valid Unicode text"


def compile_regex(pattern: str, *, dynamic: bool = False) -> Regex:
    """Compiles ``pattern`` with RE2.

    Raises:
        ValueError: With RE2's one-line reason when the pattern is invalid.
    """
    try:
        return re2.compile(pattern, _DYNAMIC_OPTIONS if dynamic else _LITERAL_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
    except UnicodeEncodeError:
        raise ValueError(_NOT_UNICODE) from None


@functools.lru_cache(maxsize=64)
def _dynamic_regex(pattern: str) -> Regex | str:
    # bad patterns are cached too (as their message), so a request cannot force recompiles
    try:
        return compile_regex(pattern, dynamic=True)
    except ValueError as exc:
        return str(exc)


def regex_search(regex: Regex, text: str) -> bool:
    """Unanchored RE2 search, as CEL's ``matches`` specifies."""
    try:
        return regex.search(text) is not None
    except UnicodeEncodeError:
        raise CelEvalError("cannot match a string that is not valid Unicode (lone surrogate)") from None


def matches(text: Any, pattern: Any) -> bool:
    """``text.matches(pattern)`` with a pattern only known at evaluation time."""
    if type(text) is not str or type(pattern) is not str:
        raise CelEvalError(f"no such overload: {type_name(text)}.matches({type_name(pattern)})")
    regex = _dynamic_regex(pattern)
    if type(regex) is str:
        # The decision carries this message, and both evaluators must give the same one: the
        # regex libraries word their reasons differently, so the reason is left out here (a
        # literal pattern's reason is still given when the policy loads). A lone surrogate is the
        # exception: the native evaluator never holds one as text, so only this one can say it.
        if regex == _NOT_UNICODE:
            raise CelEvalError(f"invalid regular expression `{pattern}`: {regex}")
        raise CelEvalError(f"invalid regular expression `{pattern}`")
    return regex_search(regex, text)


def size(value: Any) -> int:
    """Length of a string (in code points), list or map."""
    t = type(value)
    if t is str or t is list or (t is dict and not is_opaque(value)):
        return len(value)
    raise CelEvalError(f"no such overload: size({type_name(value)})")


def lower_ascii(value: Any) -> str:
    """Lower-cases ASCII letters only, as CEL's ``lowerAscii``."""
    if type(value) is str:
        return value.lower() if value.isascii() else value.translate(_LOWER)
    raise CelEvalError(f"no such overload: {type_name(value)}.lowerAscii()")


def upper_ascii(value: Any) -> str:
    """Upper-cases ASCII letters only, as CEL's ``upperAscii``."""
    if type(value) is str:
        return value.upper() if value.isascii() else value.translate(_UPPER)
    raise CelEvalError(f"no such overload: {type_name(value)}.upperAscii()")


def to_int(value: Any) -> int:
    """``int(x)`` from an int, a double (truncated toward zero) or a decimal string."""
    t = type(value)
    if t is int:
        return value  # type: ignore[no-any-return]
    if t is float:
        if math.isfinite(value):
            result = int(value)  # truncates toward zero
            # CEL excludes -2**63 too: the double bounds are exclusive (cel-spec conversions tests)
            if INT64_MIN < result <= INT64_MAX:
                return result
        raise CelEvalError(f"int() of `{format_double(value)}` is out of the int range")
    if t is str:
        digits = value[1:] if value[:1] in ("+", "-") else value
        # Python's int() would also take spaces, underscores and non-ASCII digits
        if digits.isascii() and digits.isdigit():
            # past 19 digits (leading zeros aside) it cannot fit, and Python refuses long texts
            result = int(value) if len(digits.lstrip("0")) <= 19 else INT64_MAX + 1
            if INT64_MIN <= result <= INT64_MAX:
                return result
            raise CelEvalError(f"int() of `{value}` is out of the int range")
        raise CelEvalError(f"int() cannot convert `{value}`: not a decimal integer")
    raise CelEvalError(f"no such overload: int({type_name(value)})")


def to_double(value: Any) -> float:
    """``double(x)`` from a double, an int or a numeric string."""
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]
    if t is int:
        try:
            return float(value)
        except OverflowError:
            raise CelEvalError(f"double() of `{value}` is out of the double range") from None
    if t is str:
        # Python's float() would also take spaces, underscores and non-ASCII digits
        if value.isascii() and value.strip() == value and "_" not in value:
            try:
                return float(value)
            except ValueError:
                pass
        raise CelEvalError(f"double() cannot convert `{value}`: not a number")
    raise CelEvalError(f"no such overload: double({type_name(value)})")


def to_string(value: Any) -> str:
    """``string(x)`` from a string, int, double or bool."""
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]
    if t is int:
        return str(value)
    if t is float:
        return format_double(value)
    if t is bool:
        return "true" if value else "false"
    raise CelEvalError(f"no such overload: string({type_name(value)})")


def format_double(value: float) -> str:
    """Formats a double as the CEL reference implementation does (Go's shortest ``%g``).

    The shortest digits that read back as the same double, in exponent form when the decimal
    exponent is below -4 or 6 and above: ``1.5``, ``123456``, ``1e+06``, ``0.0001``, ``1e-05``,
    ``NaN``, ``+Inf``.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0.0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    # repr() gives the shortest round-tripping digits; Decimal splits them from the exponent
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)  # finite values only reach here
    all_digits = "".join(map(str, digit_tuple))
    point = len(all_digits) + exponent  # value = 0.DIGITS * 10**point
    digits = all_digits.rstrip("0")
    neg = "-" if sign else ""
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{neg}{digits}{'0' * (point - len(digits))}"
    return f"{neg}{digits[:point]}.{digits[point:]}"
