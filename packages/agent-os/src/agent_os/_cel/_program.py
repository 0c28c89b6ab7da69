"""Compiled conditions and the compile entry point."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from agent_os._cel._analysis import Pin, conjuncts, field_paths, pins, variables
from agent_os._cel._checker import check
from agent_os._cel._compiler import compile_expr
from agent_os._cel._errors import CelEvalError, CelSyntaxError
from agent_os._cel._limits import DEFAULT_LIMITS, CelLimits
from agent_os._cel._macros import as_eval_error
from agent_os._cel._parser import parse
from agent_os._cel._paths import Fn

__all__ = ["Program", "compile_condition"]

_CACHE_SIZE = 1024


def _copy_out(value: Any) -> Any:
    # constants folded at compile time are shared by every evaluation: hand out copies of
    # containers so that a caller mutating a result cannot change the program
    t = type(value)
    if t is list:
        return [_copy_out(item) for item in value]
    if t is dict:
        return {key: _copy_out(item) for key, item in value.items()}
    return value


class Program:
    """A compiled condition, immutable and safe to evaluate from many threads.

    Attributes:
        source: The condition's text.
        field_paths: Every member-selection path rooted at a variable, e.g.
            ``("args", "amount")``; ``action['type']`` counts as ``("action", "type")``.
        variables: The variables the condition reads.
        pins: Top-level conjuncts a policy engine can index rules by (see :class:`Pin`).
        conjunct_count: Number of operands of the top-level ``&&`` chain (1 if there is none).
    """

    __slots__ = ("_bool_fn", "_fn", "conjunct_count", "field_paths", "pins", "source", "variables")

    def __init__(
        self,
        source: str,
        fn: Fn,
        bool_fn: Fn,
        *,
        field_paths: frozenset[tuple[str, ...]],
        variables: frozenset[str],
        pins: tuple[Pin, ...],
        conjunct_count: int,
    ) -> None:
        # programs are cached and shared between rules and threads: they never change
        init = object.__setattr__
        init(self, "source", source)
        init(self, "_fn", fn)
        init(self, "_bool_fn", bool_fn)
        init(self, "field_paths", field_paths)
        init(self, "variables", variables)
        init(self, "pins", pins)
        init(self, "conjunct_count", conjunct_count)

    source: str
    field_paths: frozenset[tuple[str, ...]]
    variables: frozenset[str]
    pins: tuple[Pin, ...]
    conjunct_count: int
    _fn: Fn
    _bool_fn: Fn

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Program is immutable; cannot set `{name}`")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Program is immutable; cannot delete `{name}`")

    def __repr__(self) -> str:
        return f"Program({self.source!r})"

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """Evaluates the condition.

        Args:
            activation: The request as JSON-shaped data: ``action``, ``args``, ``agent``,
                ``context``, ``stage`` and, after the tool ran, ``result``.

        Returns:
            The value of the expression (dict, list, str, int, float, bool or None).

        Raises:
            CelEvalError: On any evaluation error; nothing else is raised.
        """
        try:
            return _copy_out(self._fn(activation))
        except CelEvalError:
            raise
        except Exception as exc:
            raise as_eval_error(exc) from exc

    def evaluate_bool(self, activation: Mapping[str, Any]) -> bool:
        """Evaluates the condition, which must produce a bool.

        Args:
            activation: The request, as for :meth:`evaluate`.

        Returns:
            The condition's value.

        Raises:
            CelEvalError: On any evaluation error, or when the value is not a bool.
        """
        try:
            return self._bool_fn(activation)  # type: ignore[no-any-return]
        except CelEvalError:
            raise
        except Exception as exc:
            raise as_eval_error(exc) from exc


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str, limits: CelLimits) -> Program:
    try:
        expr = parse(source, limits)
        check(expr, source, limits)
        compiled, compiled_bool = compile_expr(expr, source, limits)
    except RecursionError:
        # the nesting limits keep real conditions far from this; a caller already deep in its
        # own stack with raised limits might still get here
        raise CelSyntaxError("condition nests too deeply to compile", 0, source) from None
    return Program(
        source,
        compiled.fn,
        compiled_bool.fn,
        field_paths=field_paths(expr),
        variables=variables(expr),
        pins=pins(expr),
        conjunct_count=len(conjuncts(expr)),
    )


def compile_condition(source: str, *, limits: CelLimits = DEFAULT_LIMITS) -> Program:
    """Parses, checks and compiles a condition.

    Results are cached by ``(source, limits)`` in a bounded LRU cache, so compiling the same
    condition for many rules or policy reloads costs one compilation.

    Args:
        source: The condition, e.g. ``action.type in ['drop', 'delete']``.
        limits: Resource limits; :data:`DEFAULT_LIMITS` unless given.

    Returns:
        The compiled program.

    Raises:
        CelSyntaxError: When the condition is not valid (with the 0-based ``offset`` of the
            problem).
        TypeError: When ``source`` is not a string or ``limits`` not a :class:`CelLimits`.
    """
    if type(source) is not str:
        raise TypeError(f"a condition must be a string, got `{type(source).__name__}`")
    if not isinstance(limits, CelLimits):
        raise TypeError(f"limits must be a CelLimits, got `{type(limits).__name__}`")
    return _compile(source, limits)
