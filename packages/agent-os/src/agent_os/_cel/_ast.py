"""The syntax tree of a condition.

Every node records the offset of the token that best locates it in an error message and its
``depth`` (1 for a leaf), which the parser bounds with ``CelLimits.max_nesting`` so that the
recursive passes over the tree (checker, compiler, evaluation) stay far from Python's recursion
limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Binary",
    "Call",
    "Cond",
    "Expr",
    "Ident",
    "Index",
    "ListExpr",
    "Lit",
    "Logical",
    "MapExpr",
    "Select",
    "Unary",
    "start_offset",
]


@dataclass(frozen=True, slots=True)
class Lit:
    """A literal: str, int, float, bool or None."""

    value: Any
    offset: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Ident:
    """A variable: one of ``VARIABLES`` or a macro variable."""

    name: str
    offset: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Select:
    """``operand.field``; ``offset`` is the field name's."""

    operand: Expr
    field: str
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class Index:
    """``operand[index]``; ``offset`` is the ``[``'s."""

    operand: Expr
    index: Expr
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class Call:
    """A function call ``name(args)`` or a method call ``target.name(args)``, macros included."""

    name: str
    target: Expr | None
    args: tuple[Expr, ...]
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class ListExpr:
    """A list literal ``[a, b]``."""

    items: tuple[Expr, ...]
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class MapExpr:
    """A map literal ``{k: v}``."""

    entries: tuple[tuple[Expr, Expr], ...]
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class Unary:
    """``!x`` (also spelled ``not x``) or ``-x``."""

    op: str
    operand: Expr
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class Binary:
    """A relation (``== != < <= > >= in``, and ``not in``) or arithmetic (``+ - * / %``)."""

    op: str
    left: Expr
    right: Expr
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class Logical:
    """A flattened chain of ``&&`` or of ``||`` (also spelled ``and``, ``or``)."""

    op: str
    operands: tuple[Expr, ...]
    offset: int
    depth: int


@dataclass(frozen=True, slots=True)
class Cond:
    """``cond ? then : other``."""

    cond: Expr
    then: Expr
    other: Expr
    offset: int
    depth: int


Expr = Lit | Ident | Select | Index | Call | ListExpr | MapExpr | Unary | Binary | Logical | Cond


def start_offset(node: Expr) -> int:
    """Offset of the first character of ``node``'s text (its leftmost token)."""
    while True:
        match node:
            case Select(operand=inner) | Index(operand=inner) | Binary(left=inner) | Cond(cond=inner):
                node = inner
            case Call(target=Lit() | Ident() | Select() | Index() | Call() | ListExpr() | MapExpr() as inner):
                node = inner
            case Logical(operands=operands):
                node = operands[0]
            case _:
                return node.offset
