"""CEL value semantics over plain JSON-shaped Python values.

Values are ``dict`` (CEL map, string keys), ``list``, ``str``, ``int``, ``float`` (CEL double),
``bool`` and ``None`` (CEL null). Everything here dispatches on ``type(v) is …`` rather than
``isinstance``: it is faster, and it keeps ``bool`` apart from ``int``, which CEL requires
(``true == 1`` is false, ``true + 1`` is an error).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

from agent_os._cel._errors import CelEvalError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NULL_KEY",
    "a_type",
    "add",
    "cel_eq",
    "cel_in",
    "divide",
    "index_key",
    "less",
    "less_equal",
    "modulo",
    "multiply",
    "negate",
    "no_overload",
    "subtract",
    "type_name",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_TYPE_NAMES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "double",
    str: "string",
    type(None): "null",
    list: "list",
    dict: "map",
}

# Index keys for the values Python would confuse: True == 1 and hash(True) == hash(1) in Python,
# and None is index_key's "no key" answer.
_TRUE_KEY = ("bool", True)
_FALSE_KEY = ("bool", False)
NULL_KEY = ("null",)


def type_name(value: Any) -> str:
    """Returns the CEL type name of ``value`` for error messages."""
    name = _TYPE_NAMES.get(type(value))
    return name if name is not None else f"unsupported Python type {type(value).__name__}"


def a_type(value: Any) -> str:
    """Returns the type name of ``value`` with its article: ``an int``, ``a string``."""
    name = type_name(value)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def no_overload(op: str, *operands: Any) -> CelEvalError:
    """Builds the error for an operator applied to operand types it is not defined on."""
    if len(operands) == 1:
        return CelEvalError(f"no such overload: {op}{type_name(operands[0])}")
    return CelEvalError(f"no such overload: {type_name(operands[0])} {op} {type_name(operands[1])}")


def index_key(value: Any) -> Hashable | None:
    """Returns a hash key for a scalar that agrees with CEL equality.

    Two scalars are equal in CEL exactly when their keys are equal: strings are their own keys,
    ints and doubles are their own keys (Python already makes ``1`` and ``1.0`` equal with equal
    hashes, and NaN equal to nothing), ``true`` and ``false`` get keys that no number equals,
    and null gets a key of its own.

    Args:
        value: A value from a request.

    Returns:
        The key, or None when ``value`` is a list, a map or anything but a JSON scalar. Such a
        value equals no scalar literal, so it is excluded by every pin (see ``Pin``).
    """
    t = type(value)
    if t is str or t is int or t is float:
        return value  # type: ignore[no-any-return]
    if t is bool:
        return _TRUE_KEY if value else _FALSE_KEY
    if value is None:
        return NULL_KEY
    return None


def cel_eq(x: Any, y: Any) -> bool:
    """CEL heterogeneous equality: values of different kinds are unequal, never an error."""
    tx = type(x)
    ty = type(y)
    if tx is ty:
        if tx is list:
            if len(x) != len(y):
                return False
            return all(cel_eq(a, b) for a, b in zip(x, y, strict=True))
        if tx is dict:
            if len(x) != len(y):
                return False
            return all(key in y and cel_eq(a, y[key]) for key, a in x.items())
        return bool(x == y)
    # int and double compare as numbers; bool is not a number (its type is bool, not int)
    if (tx is int or tx is float) and (ty is int or ty is float):
        return bool(x == y)
    return False


def cel_in(x: Any, container: Any) -> bool:
    """``x in container``: CEL-equality membership in a list, key membership in a map."""
    tc = type(container)
    if tc is list:
        if type(x) is str:
            # str == anything-else is False in Python too, so the C loop is exact here
            return x in container
        return any(cel_eq(x, item) for item in container)
    if tc is dict:
        tx = type(x)
        if tx is str:
            return x in container
        if tx is int or tx is float or tx is bool:
            return False  # maps from JSON only have string keys
    raise no_overload("in", x, container)


def _numbers(x: Any, y: Any) -> bool:
    tx = type(x)
    ty = type(y)
    return (tx is int or tx is float) and (ty is int or ty is float)


def _same_orderable(x: Any, y: Any) -> bool:
    tx = type(x)
    return tx is type(y) and (tx is str or tx is bool)


def less(x: Any, y: Any) -> bool:
    """``x < y`` for numbers (int and double mix), strings or bools; anything else is an error."""
    if _numbers(x, y) or _same_orderable(x, y):
        return bool(x < y)
    raise no_overload("<", x, y)


def less_equal(x: Any, y: Any) -> bool:
    """``x <= y`` with the same typing as :func:`less`."""
    if _numbers(x, y) or _same_orderable(x, y):
        return bool(x <= y)
    raise no_overload("<=", x, y)


def _int_result(value: int, op: str) -> int:
    if INT64_MIN <= value <= INT64_MAX:
        return value
    raise CelEvalError(f"integer overflow in `{op}`")


def add(x: Any, y: Any) -> Any:
    """``x + y``: int (64-bit, overflow is an error), double, string or list concatenation."""
    tx = type(x)
    if tx is type(y):
        if tx is int:
            return _int_result(x + y, "+")
        if tx is float or tx is str or tx is list:
            return x + y
    raise no_overload("+", x, y)


def subtract(x: Any, y: Any) -> Any:
    """``x - y`` on two ints or two doubles."""
    tx = type(x)
    if tx is type(y):
        if tx is int:
            return _int_result(x - y, "-")
        if tx is float:
            return x - y
    raise no_overload("-", x, y)


def multiply(x: Any, y: Any) -> Any:
    """``x * y`` on two ints or two doubles."""
    tx = type(x)
    if tx is type(y):
        if tx is int:
            return _int_result(x * y, "*")
        if tx is float:
            return x * y
    raise no_overload("*", x, y)


def divide(x: Any, y: Any) -> Any:
    """``x / y``: int division truncates toward zero; double division follows IEEE 754."""
    tx = type(x)
    if tx is type(y):
        if tx is int:
            if y == 0:
                raise CelEvalError("division by zero")
            quotient = abs(x) // abs(y)
            return _int_result(quotient if (x < 0) == (y < 0) else -quotient, "/")
        if tx is float:
            try:
                return x / y
            except ZeroDivisionError:
                if math.isnan(x) or x == 0.0:
                    return float("nan")
                negative = (x < 0) != (math.copysign(1.0, y) < 0)  # y is +0.0 or -0.0
                return float("-inf") if negative else float("inf")
    raise no_overload("/", x, y)


def modulo(x: Any, y: Any) -> Any:
    """``x % y`` on ints; the result takes the sign of ``x``, as in CEL (and C, Go)."""
    if type(x) is int and type(y) is int:
        if y == 0:
            raise CelEvalError("modulus by zero")
        remainder = abs(x) % abs(y)
        return _int_result(-remainder if x < 0 else remainder, "%")
    raise no_overload("%", x, y)


def negate(x: Any) -> Any:
    """``-x`` on an int (``-INT64_MIN`` overflows) or a double."""
    tx = type(x)
    if tx is int:
        return _int_result(-x, "-")
    if tx is float:
        return -x
    raise no_overload("-", x)
