"""Resource limits for compiling and evaluating conditions."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "CelLimits"]


@dataclass(frozen=True)
class CelLimits:
    """Bounds that keep a hostile or mistaken condition from costing unbounded time or memory.

    The defaults are far above what a real policy condition needs (the longest conditions in
    practice are a few hundred characters) and low enough that compiling or evaluating the worst
    accepted condition stays cheap.

    Attributes:
        max_source_length: Longest accepted condition, in characters (default 4096).
        max_ast_nodes: Most syntax-tree nodes in one condition (default 1024).
        max_nesting: Deepest nesting of the syntax tree, counting parentheses, calls, list and
            map literals, operators and field selections; a chain of ``&&`` or ``||`` counts as
            one level however long it is (default 48).
        max_comprehension_nesting: Most macros (``exists``, ``all``, ``map``…) nested inside
            each other (default 3).
        max_eval_steps: Most macro iterations in one evaluation; going over raises
            ``CelEvalError`` (default 100_000).
        max_eval_bytes: Most bytes of strings, lists and maps one evaluation may build (default
            16 MiB): a string counts its UTF-8 length, a list 8 bytes per element, a map 16 per
            entry; going over raises ``CelEvalError`` before the value is built. Values read from
            the request and sub-expressions computed when the condition compiles count nothing.
    """

    max_source_length: int = 4096
    max_ast_nodes: int = 1024
    max_nesting: int = 48
    max_comprehension_nesting: int = 3
    max_eval_steps: int = 100_000
    max_eval_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            # bool is an int subclass; `max_nesting=True` is a mistake, not 1
            if type(value) is not int:
                raise TypeError(f"CelLimits.{field.name} must be an int, got `{value!r}`")
            floor = 0 if field.name == "max_comprehension_nesting" else 1
            if value < floor:
                raise ValueError(f"CelLimits.{field.name} must be at least {floor}, got `{value}`")


DEFAULT_LIMITS = CelLimits()
