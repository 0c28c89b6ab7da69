"""CEL value semantics over plain JSON-shaped Python values.

Values are ``dict`` (CEL map, string keys), ``list``, ``str``, ``int``, ``float`` (CEL double),
``bool`` and ``None`` (CEL null). Everything here dispatches on ``type(v) is …`` rather than
``isinstance``: it is faster, and it keeps ``bool`` apart from ``int``, which CEL requires
(``true == 1`` is false, ``true + 1`` is an error).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable
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
    "compare_error",
    "divide",
    "index_key",
    "is_opaque",
    "key_kind",
    "kind_of",
    "less",
    "less_equal",
    "modulo",
    "multiply",
    "negate",
    "no_overload",
    "opaque_error",
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
    if is_opaque(value):
        (described,) = value.values()
        if "$bytes" in value:
            described = "bytes"
        return f"opaque value `{described}`" if type(described) is str else "opaque value"
    name = _TYPE_NAMES.get(type(value))
    return name if name is not None else f"unsupported Python type {type(value).__name__}"


def a_type(value: Any) -> str:
    """Returns the type name of ``value`` with its article: ``an int``, ``a string``."""
    name = type_name(value)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def no_overload(op: str, *operands: Any) -> CelEvalError:
    """Builds the error for an operator applied to operand types it is not defined on."""
    for operand in operands:
        if kind_of(operand) == "opaque":
            return opaque_error(f"`{op}`", operand)
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


def is_opaque(value: Any) -> bool:
    """Tells whether ``value`` is the request builder's stand-in for a value it could not convert.

    The builder writes such a value as a map with exactly one key, ``"$opaque"`` (holding the
    type's name) or, in its older form for bytes, ``"$bytes"`` (holding the length).
    """
    return type(value) is dict and len(value) == 1 and ("$opaque" in value or "$bytes" in value)


def kind_of(value: Any) -> str:
    """Returns the kind of ``value``: what decides whether two values can be compared.

    ``string``, ``number`` (int and double alike), ``bool``, ``null``, ``list``, ``map``, or
    ``opaque``: the builder's stand-in for a value it could not convert, and any Python value that
    is not JSON data. Values of different kinds are never compared (see :func:`cel_eq`).
    """
    t = type(value)
    if t is str:
        return "string"
    if t is int or t is float:
        return "number"
    if t is bool:
        return "bool"
    if value is None:
        return "null"
    if t is list:
        return "list"
    if t is dict:
        return "opaque" if is_opaque(value) else "map"
    return "opaque"


def opaque_error(operation: str, value: Any) -> CelEvalError:
    """Builds the error for ``operation`` applied to a value conditions cannot inspect."""
    return CelEvalError(f"{operation} on {a_type(value)}: conditions cannot inspect it")


def compare_error(x: Any, y: Any) -> CelEvalError:
    """Builds the error for comparing (``==``, ``!=``, ``in``) values of different kinds."""
    for value in (x, y):
        if kind_of(value) == "opaque":
            return CelEvalError(f"cannot compare {a_type(value)}: conditions cannot inspect it")
    return CelEvalError(
        f"cannot compare {a_type(x)} with {a_type(y)}: values of different kinds are neither equal nor unequal"
    )


def key_kind(key: Hashable) -> str:
    """Returns the kind (see :func:`kind_of`) of the values whose :func:`index_key` is ``key``."""
    if type(key) is tuple:  # the keys of null and the bools; values are their own keys
        return "null" if key == NULL_KEY else "bool"
    return kind_of(key)


def cel_eq(x: Any, y: Any) -> bool:
    """CEL equality, with values of different kinds an error instead of unequal.

    CEL's heterogeneous equality makes ``'5' == 5`` false; in a deny rule that lets a string slip
    past a number test, so comparing different kinds raises and the rule fails closed. ``null``
    is the exception: it is unequal to every other value, never an error. Ints and doubles
    compare as numbers. Lists of different sizes and maps with different keys are unequal;
    otherwise they are unequal as soon as one pair of elements is (whatever the other pairs
    do: a faithful pair that differs decides), equal when every pair is, and an error when a
    pair errors and none differs.

    Raises:
        CelEvalError: When the values (or a pair of elements) are of different kinds, or one of
            them is opaque.
    """
    tx = type(x)
    ty = type(y)
    if tx is ty:
        if tx is str or tx is int or tx is float or tx is bool:
            return bool(x == y)
        if x is None:
            return True
        if tx is list:
            if len(x) != len(y):
                return False
            return _all_equal(zip(x, y, strict=True))
        if tx is dict and not is_opaque(x) and not is_opaque(y):
            if x.keys() != y.keys():
                return False
            return _all_equal((a, y[key]) for key, a in x.items())
        raise compare_error(x, y)
    # int and double compare as numbers; bool is not a number (its type is bool, not int)
    if (tx is int or tx is float) and (ty is int or ty is float):
        return bool(x == y)
    if (x is None and kind_of(y) != "opaque") or (y is None and kind_of(x) != "opaque"):
        return False
    raise compare_error(x, y)


def _all_equal(pairs: Iterable[tuple[Any, Any]]) -> bool:
    error: CelEvalError | None = None
    for a, b in pairs:
        try:
            if not cel_eq(a, b):
                return False
        except CelEvalError as exc:
            if error is None:
                error = exc
    if error is not None:
        raise error
    return True


def cel_in(x: Any, container: Any) -> bool:
    """``x in container``: membership in a list, or among a map's keys.

    True when some element equals ``x`` (even if comparing with another element errors);
    otherwise an error when ``x`` could not be compared with some element (a different kind, or
    an opaque value); otherwise false. Map keys are strings. An opaque ``x`` or container is
    always an error.
    """
    tc = type(container)
    if tc is list:
        items: Collection[Any] = container
    elif tc is dict and not is_opaque(container):
        items = container.keys()
    else:
        raise no_overload("in", x, container)
    tx = type(x)
    if tx is str:
        # str == anything-else is False in Python too, so the C-level search is exact for a hit
        if x in items:
            return True
        if tc is dict or all(type(item) is str or item is None for item in items):
            return False
    elif kind_of(x) == "opaque":
        raise opaque_error("`in`", x)
    error: CelEvalError | None = None
    for item in items:
        try:
            if cel_eq(x, item):
                return True
        except CelEvalError as exc:
            if error is None:
                error = exc
    if error is not None:
        raise error
    return False


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
