"""What a compiled condition reveals about itself: paths read, conjuncts, and index pins.

``field_paths`` lets a linter warn about typos, ``conjunct_count`` orders rules from most to
least specific, and pins let a policy engine index rules.

A pin is a top-level conjunct ``PATH == LITERAL``, ``LITERAL == PATH`` or
``PATH in [LITERAL, …]`` with scalar literals. That conjunct is certainly false (never an error)
when the request holds, at ``PATH``, a value equal to none of the literals that can be compared
with all of them: null (unequal to everything), or a value of the kind every non-null literal has
(``'read'`` against ``['drop', 'delete']``). Since ``false && anything`` is false in CEL, even when
``anything`` errors, the whole condition is then false and an engine can skip the rule without
evaluating it. Any other value (a missing path, a number against string literals, a list, an
opaque value) makes the conjunct an error or true, so the rule must be evaluated.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_os._cel._ast import (
    Binary,
    Call,
    Cond,
    Expr,
    Ident,
    Index,
    ListExpr,
    Lit,
    Logical,
    MapExpr,
    Select,
    Unary,
)
from agent_os._cel._checker import VARIABLES
from agent_os._cel._values import NULL_KEY, index_key, is_opaque, key_kind, kind_of

__all__ = ["Pin", "conjuncts", "field_paths", "pins", "variables"]

_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Pin:
    """A top-level conjunct that is false unless the value at ``path`` has one of ``keys``.

    Attributes:
        path: The variable and literal keys, e.g. ``("action", "type")``.
        keys: :func:`index_key` of each literal the value is compared with.
        kinds: The kinds (see :func:`kind_of`) of the non-null literals, derived from ``keys``.
            A value of another kind (null aside) cannot be compared with them: the conjunct
            errors, so only a value of exactly these kinds lets the pin exclude a rule.
    """

    path: tuple[str, ...]
    keys: frozenset[Hashable]
    kinds: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        kinds = frozenset(key_kind(key) for key in self.keys if key != NULL_KEY)
        object.__setattr__(self, "kinds", kinds)

    def excludes_kind(self, kind: str) -> bool:
        """Tells whether a value of ``kind`` that equals none of the literals makes the conjunct false.

        Null always does (it is unequal to everything); an opaque value never does (comparing it
        is an error); any other kind does when every non-null literal is of that kind (otherwise
        comparing it with them is an error), or when the only literal is null.
        """
        if kind == "null":
            return True
        if kind == "opaque":
            return False
        return not self.kinds or self.kinds == {kind}

    def excludes_value(self, value: Any) -> bool:
        """Tells whether the conjunct is certainly false when the value at ``path`` is ``value``.

        False means nothing: the condition must be evaluated.
        """
        return index_key(value) not in self.keys and self.excludes_kind(kind_of(value))

    def excludes(self, activation: Mapping[str, Any]) -> bool:
        """Tells whether the condition is certainly false for ``activation``.

        True when the value at ``path`` exists and :meth:`excludes_value` says so. False means
        nothing: the condition must be evaluated.
        """
        root = self.path[0]
        if root not in activation:
            return False
        value = activation[root]
        for key in self.path[1:]:
            if type(value) is not dict or is_opaque(value) or key not in value:
                return False
            value = value[key]
        return self.excludes_value(value)


def literal_path(node: Expr) -> tuple[str, ...] | None:
    """The path of a variable followed by field selections and literal string indexes."""
    keys: list[str] = []
    while True:
        match node:
            case Select(operand=operand, field=field):
                keys.append(field)
                node = operand
            case Index(operand=operand, index=Lit(value=str() as key)):
                keys.append(key)
                node = operand
            case Ident(name=name) if name in VARIABLES:
                keys.append(name)
                return tuple(reversed(keys))
            case _:
                return None


def _children(node: Expr) -> Iterator[Expr]:
    match node:
        case Select(operand=operand) | Unary(operand=operand):
            yield operand
        case Index(operand=operand, index=index):
            yield operand
            yield index
        case Call(target=target, args=args):
            if target is not None:
                yield target
            yield from args
        case ListExpr(items=items):
            yield from items
        case MapExpr(entries=entries):
            for key, value in entries:
                yield key
                yield value
        case Binary(left=left, right=right):
            yield left
            yield right
        case Logical(operands=operands):
            yield from operands
        case Cond(cond=cond, then=then, other=other):
            yield cond
            yield then
            yield other
        case _:
            return


def field_paths(expr: Expr) -> frozenset[tuple[str, ...]]:
    """Every longest member-selection path rooted at a variable, e.g. ``("args", "amount")``."""
    found: set[tuple[str, ...]] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (Select, Index)):
            path = literal_path(node)
            if path is not None:
                found.add(path)
                continue
        stack.extend(_children(node))
    return frozenset(found)


def variables(expr: Expr) -> frozenset[str]:
    """The variables a condition reads."""
    found: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Ident) and node.name in VARIABLES:
            found.add(node.name)
        stack.extend(_children(node))
    return frozenset(found)


def conjuncts(expr: Expr) -> tuple[Expr, ...]:
    """The operands of the top-level ``&&`` chain, or the whole expression."""
    if isinstance(expr, Logical) and expr.op == "&&":
        return expr.operands
    return (expr,)


def _scalar(node: Expr) -> bool:
    return isinstance(node, Lit) and type(node.value) in _SCALARS


def pins(expr: Expr) -> tuple[Pin, ...]:
    """The pins of a condition's top-level conjuncts (see the module docstring)."""
    found: list[Pin] = []
    for node in conjuncts(expr):
        if not isinstance(node, Binary):
            continue
        if node.op == "==":
            for path_side, literal_side in ((node.left, node.right), (node.right, node.left)):
                path = literal_path(path_side)
                if path is not None and isinstance(literal_side, Lit) and _scalar(literal_side):
                    found.append(Pin(path, frozenset({index_key(literal_side.value)})))
                    break
        elif node.op == "in" and isinstance(node.right, ListExpr):
            path = literal_path(node.left)
            items = node.right.items
            if path is not None and items and all(_scalar(item) for item in items):
                keys = frozenset(index_key(item.value) for item in items if isinstance(item, Lit))
                found.append(Pin(path, keys))
    return tuple(found)
