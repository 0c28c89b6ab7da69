"""Facts about a condition read from its syntax tree, for tools that reason about policies.

Linters and checkers (the `agt` CLI's `policy lint` and `verify`) want to know what a condition
certainly says without evaluating it: which request fields it reads, whether it is the constant
`true` or `false`, which values a top-level ``&&`` chain pins a field to, which literal regular
expressions it matches against. They get it from the same parser the evaluator uses, so a fact
never disagrees with how the condition runs; anything the tree does not make certain yields no
fact (a lint built on these can miss a problem but never invents one).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from agent_os._cel._analysis import conjuncts, field_paths, pins
from agent_os._cel._ast import Call, Cond, Expr, Lit, Logical
from agent_os._cel._limits import DEFAULT_LIMITS
from agent_os._cel._parser import parse
from agent_os._cel._values import index_key

__all__ = ["ConditionFacts", "condition_facts"]

_POSITION = frozenset({"offset", "depth"})


@dataclass(frozen=True)
class ConditionFacts:
    """What a condition certainly says (see `condition_facts`).

    Attributes:
        paths: The request fields it reads, dotted (``"args.amount"``).
        constant: True or False when the condition is that literal; None otherwise.
        equalities: ``field -> the values it must equal`` for the top-level ``&&`` operands of
            the form ``field == literal`` or ``field in [literals]`` (a field pinned twice keeps
            the values both allow, so an empty tuple means the condition can never hold). None
            when the whole condition is an ``||`` or a ``?:`` (nothing is pinned for certain).
            A tuple, not a set: CEL keeps ``1``, ``1.0`` apart from ``true``, Python sets do not.
        regex_patterns: The literal patterns passed to ``matches``.
        shape: The condition's syntax tree without source positions: two conditions with the
            same shape are the same condition, however they are spaced or parenthesised.
    """

    paths: frozenset[str]
    constant: bool | None
    equalities: Mapping[str, tuple[Any, ...]] | None
    regex_patterns: tuple[str, ...]
    shape: Hashable


def condition_facts(condition: str) -> ConditionFacts:
    """Read the facts of one CEL condition.

    Raises:
        ValueError: If the condition does not parse (the message says where and why); a loaded
            policy's conditions always do.
    """
    try:
        tree = parse(condition, DEFAULT_LIMITS)
    except Exception as exc:  # CelSyntaxError, limits
        raise ValueError(f"condition does not parse: {exc}") from exc
    constant = tree.value if isinstance(tree, Lit) and isinstance(tree.value, bool) else None
    return ConditionFacts(
        paths=frozenset(".".join(path) for path in field_paths(tree)),
        constant=constant,
        equalities=_equalities(tree),
        regex_patterns=tuple(_regex_patterns(tree)),
        shape=_shape(tree),
    )


def _equalities(tree: Expr) -> dict[str, tuple[Any, ...]] | None:
    top = conjuncts(tree)
    if len(top) == 1 and (isinstance(top[0], Cond) or (isinstance(top[0], Logical) and top[0].op == "||")):
        return None
    allowed: dict[str, dict[Hashable, Any]] = {}
    for pin in pins(tree):
        field = ".".join(pin.path)
        values = {key: _value(key) for key in sorted(pin.keys, key=repr)}
        if field in allowed:
            values = {key: value for key, value in allowed[field].items() if key in values}
        allowed[field] = values
    return {field: tuple(values.values()) for field, values in allowed.items()}


def _value(key: Hashable) -> Any:
    # index_key tags booleans and null so that `1` and `true` stay apart: ("bool", v), ("null",).
    if isinstance(key, tuple):
        return key[1] if key[0] == "bool" else None
    return key


def _regex_patterns(tree: Expr) -> list[str]:
    found: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Call) and node.name == "matches" and node.args:
            last = node.args[-1]
            if isinstance(last, Lit) and isinstance(last.value, str):
                found.append(last.value)
        stack.extend(_children(node))
    return list(reversed(found))


def _children(node: object) -> list[Expr]:
    out: list[Any] = []
    if not is_dataclass(node):
        return out
    for item in fields(node):
        value = getattr(node, item.name)
        if is_dataclass(value):
            out.append(value)
        elif isinstance(value, tuple):
            for element in value:
                if is_dataclass(element):
                    out.append(element)
                elif isinstance(element, tuple):
                    out.extend(e for e in element if is_dataclass(e))  # map entries
    return out


def _shape(node: object) -> Hashable:
    if isinstance(node, tuple):
        return tuple(_shape(item) for item in node)
    if not is_dataclass(node):
        return index_key(node) if isinstance(node, (str, int, float, bool, type(None))) else repr(node)
    return (
        type(node).__name__,
        *(_shape(getattr(node, item.name)) for item in fields(node) if item.name not in _POSITION),
    )
