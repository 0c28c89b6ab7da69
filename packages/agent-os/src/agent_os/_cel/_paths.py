"""Field-path lookups: the one operation nearly every condition performs.

``args.to`` compiles to one closure doing ``a["args"]["to"]`` inside a ``try``; Python 3.11's
``try`` costs nothing until something raises, so the common case is two C-level dict lookups.
When anything goes wrong the slow path walks the path again, checking each step, to raise a
precise :class:`CelEvalError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agent_os._cel._errors import CelEvalError
from agent_os._cel._values import a_type, is_opaque

__all__ = ["Fn", "getter", "inlinable", "lookup", "path_text"]

_OPAQUE_KEYS = frozenset({"$opaque", "$bytes"})

Fn = Callable[[Any], Any]
"""A compiled expression: takes the activation (or a macro environment), returns a value."""


def path_text(path: tuple[str, ...]) -> str:
    """Renders a path as the condition would spell it: ``args.to``, ``args['x-y']``."""
    parts = [path[0]]
    for key in path[1:]:
        parts.append(f".{key}" if key.isascii() and key.isidentifier() else f"[{key!r}]")
    return "".join(parts)


def lookup(activation: Any, path: tuple[str, ...]) -> Any:
    """Resolves ``path`` step by step, raising a precise error at the step that fails.

    Raises:
        CelEvalError: When the variable is not set, a step is not a map, or a key is missing.
    """
    if not isinstance(activation, Mapping):
        raise CelEvalError("the activation must be a mapping of variable names to values")
    root = path[0]
    if root not in activation:
        raise CelEvalError(f"variable `{root}` is not set in this request")
    current = activation[root]
    for i, key in enumerate(path[1:], start=1):
        if is_opaque(current):
            raise CelEvalError(
                f"cannot select `{key}`: `{path_text(path[:i])}` is {a_type(current)}, "
                "which conditions cannot inspect"
            )
        if type(current) is not dict:
            raise CelEvalError(
                f"cannot select `{key}`: `{path_text(path[:i])}` is {a_type(current)}, not a map"
            )
        if key not in current:
            raise CelEvalError(f"no such key `{key}` in `{path_text(path[:i])}`")
        current = current[key]
    return current


def inlinable(path: tuple[str, ...]) -> bool:
    """Tells whether plain subscripts (``a[k0][k1]``) may resolve ``path`` on the fast path.

    A subscript succeeds exactly when every step is a map holding the key; only a key an opaque
    value's stand-in holds could walk into one, so paths with such a key take the checked walk.
    """
    return not any(key in _OPAQUE_KEYS for key in path[1:])


def getter(path: tuple[str, ...]) -> Fn:
    """Returns a closure resolving ``path`` (a variable then literal keys) in an activation."""
    # A str key on a list, string or number raises TypeError and a missing key KeyError, so the
    # fast path succeeds exactly when every step is a map holding the key (see inlinable).
    if not inlinable(path):
        return lambda a: lookup(a, path)
    if len(path) == 1:
        k0 = path[0]

        def get1(a: Any) -> Any:
            try:
                return a[k0]
            except Exception:
                return lookup(a, path)

        return get1
    if len(path) == 2:
        k0, k1 = path

        def get2(a: Any) -> Any:
            try:
                return a[k0][k1]
            except Exception:
                return lookup(a, path)

        return get2
    if len(path) == 3:
        k0, k1, k2 = path

        def get3(a: Any) -> Any:
            try:
                return a[k0][k1][k2]
            except Exception:
                return lookup(a, path)

        return get3

    def get_n(a: Any) -> Any:
        try:
            current = a
            for key in path:
                current = current[key]
            return current
        except Exception:
            return lookup(a, path)

    return get_n
