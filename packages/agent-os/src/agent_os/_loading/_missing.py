"""The missing-field lint: restrictive rules that read a field not every request has.

Reading a field a request lacks is an evaluation error, and errors fail closed: a deny or
require_approval rule that errors counts as matched. That is what makes ``env != 'prod'`` safe,
and it stays. But ``k8s.namespace == 'production'`` in a policy that also governs SQL tools, or
``args.amount > 10000`` without saying which tool has an ``amount``, then refuses every call that
lacks the field, which surprises people. This lint names each such rule at load time (a
`PolicyWarning`; an error in strict mode) with the guard to add.

Which fields every request has: ``action.type``, ``action.tool``, ``agent.id``, ``stage``, and the
maps ``args``, ``agent`` and ``context`` themselves. Everything below them may be absent: a tool's
arguments, context set by the caller, enricher facts; the facet roots ``sql`` and ``k8s`` exist only
for tools that declare them (below a facet root every key is always there). ``result`` is not
checked (it belongs to post_tool rules).

A read is guarded when an ``&&`` chain around it (at any depth) also holds ``has(P)`` for a prefix
``P`` of the path (two levels or more: ``has(args.amount)``), or pins ``action.type`` or
``action.tool`` to literals (``action.tool == 'kubectl'``, ``action.type in [...]``): when the guard
is false the whole chain is false, whatever the read would have done. ``has(P) ? ... : ...``
guards its first branch. A ``||`` chain holding ``!has(P)`` guards the reads of its other operands
too: ``!has(context.env) || context.env != 'prod'`` refuses a request without the field on
purpose, and says so (when the field is absent, ``!has(P)`` is true and decides the chain, so the
read never does). That is how a rule keeps failing closed on a missing field without drawing the
warning; its decisions are the unguarded rule's, only without an evaluation error. A facet root
cannot be tested with ``has()`` (the variable itself is absent), so only a tool scope guards
``sql.*`` and ``k8s.*``.

The lint is advice: evaluation is the same with or without it. The loader runs it on every load
(``load_policies(..., lint=False)`` turns it off). At run time, `missing_field_help` gives a
refusal caused by a missing field the same advice.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent_os._cel._analysis import literal_path
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
    start_offset,
)
from agent_os._cel._limits import DEFAULT_LIMITS
from agent_os._cel._parser import parse
from agent_os._cel._paths import path_text

if TYPE_CHECKING:
    from agt_core import Decision

__all__ = ["MissingRead", "guard_advice", "missing_field_help", "unguarded_reads"]

_ALWAYS = frozenset({("action", "type"), ("action", "tool"), ("agent", "id"), ("stage",)})
_MAPS = frozenset({"args", "agent", "context", "action"})
_FACETS = frozenset({"sql", "k8s"})
_SCOPES = frozenset({("action", "type"), ("action", "tool")})


@dataclass(frozen=True)
class MissingRead:
    """A path a condition reads without a guard, and where (offset into the condition)."""

    path: tuple[str, ...]
    offset: int

    @property
    def dotted(self) -> str:
        """The path as a condition spells it: ``args.amount``, ``args['$opaque']``."""
        return path_text(self.path)

    @property
    def presence_tests(self) -> list[str]:
        """The tests that the field is there, one per level below the variable.

        ``has(args.amount)``; ``'$opaque' in args`` (``has()`` takes a field selection only); for
        a nested field every level, ``has(args.a)``, ``has(args.a.b)``, as ``has()`` itself fails
        on a missing parent.
        """
        return [
            _presence(path_text(self.path[: i - 1]), self.path[i - 1]) for i in range(2, len(self.path) + 1)
        ]

    @property
    def facet(self) -> bool:
        return self.path[0] in _FACETS


def _presence(parent: str, key: str) -> str:
    if key.isascii() and key.isidentifier():
        return f"has({parent}.{key})"
    return f"{key!r} in {parent}"  # has() takes a field selection only


def _absence(present: str) -> str:
    return f"!{present}" if present.startswith("has(") else f"!({present})"


def unguarded_reads(condition: str) -> list[MissingRead]:
    """Every path `condition` reads that a request may lack and that no guard covers, in text order.

    Raises:
        CelSyntaxError: When the condition does not parse (the loader has compiled it already).
    """
    return list(_unguarded_reads(condition))


# Every load lints, and a policy is often loaded once per governed tool: parse each text once.
@functools.lru_cache(maxsize=4096)
def _unguarded_reads(condition: str) -> tuple[MissingRead, ...]:
    found: dict[tuple[str, ...], MissingRead] = {}
    for read in _walk(parse(condition, DEFAULT_LIMITS), frozenset(), False):
        found.setdefault(read.path, read)
    return tuple(sorted(found.values(), key=lambda read: read.offset))


def guard_advice(reads: list[MissingRead]) -> str:
    """What to add to a rule that makes `reads` unguarded.

    Three intents, three spellings: the rule is only about requests that have the field (a
    ``has()`` guard), a request without it must be refused (``!has() ||``, the unguarded rule's
    decisions said on purpose), or it is about certain tools (a scope, the only guard for facets).
    """
    fields = [read for read in reads if not read.facet]
    facets = sorted({read.path[0] for read in reads if read.facet})
    hints: list[str] = []
    if fields:
        tests = list(dict.fromkeys(test for read in fields for test in read.presence_tests))
        present = " && ".join(tests)
        absent = " || ".join(_absence(test) for test in tests)
        hints.append(f"if it is meant only for requests that have it, guard it: `{present} && (...)`")
        hints.append(f"if a request without it must be refused, say so: `{absent} || (...)`")
    if facets:
        roots = " and ".join(f"`{root}`" for root in facets)
        hints.append(
            f"{roots} {'exists' if len(facets) == 1 else 'exist'} only for tools governed with `facets=`"
        )
    hints.append("or scope it to the tools that have it: `action.tool == '<tool>' && (...)`")
    return "; ".join(hints)


def _may_be_missing(path: tuple[str, ...]) -> bool:
    root = path[0]
    if root in _FACETS:
        return True
    if root in _MAPS:
        return len(path) > 1 and path[:2] not in _ALWAYS
    return False  # stage, result


def _guarded(path: tuple[str, ...], guards: frozenset[tuple[str, ...]], scoped: bool) -> bool:
    if scoped:
        return True
    if path[0] in _FACETS:
        return False
    return any(len(g) >= 2 and path[: len(g)] == g for g in guards)


def _has_path(node: Expr) -> tuple[str, ...] | None:
    """The path P that `node` tests the presence of: ``has(P)``, or ``'key' in P.parent``."""
    if isinstance(node, Call) and node.name == "has" and node.target is None and len(node.args) == 1:
        return literal_path(node.args[0])
    if (
        isinstance(node, Binary)
        and node.op == "in"
        and isinstance(node.left, Lit)
        and type(node.left.value) is str
    ):
        parent = literal_path(node.right)
        return None if parent is None else (*parent, node.left.value)
    return None


def _absence_test(node: Expr) -> tuple[str, ...] | None:
    """The path P of ``!has(P)`` (or ``'key' not in P.parent``), or None."""
    if isinstance(node, Unary) and node.op == "!":
        return _has_path(node.operand)
    if isinstance(node, Binary) and node.op == "not in":
        return _has_path(Binary("in", node.left, node.right, node.offset, node.depth))
    return None


def _is_scope(node: Expr) -> bool:
    if not isinstance(node, Binary):
        return False
    if node.op == "==":
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if literal_path(side) in _SCOPES and isinstance(other, Lit) and type(other.value) is str:
                return True
    if node.op == "in" and isinstance(node.right, ListExpr) and node.right.items:
        return literal_path(node.left) in _SCOPES and all(
            isinstance(item, Lit) and type(item.value) is str for item in node.right.items
        )
    return False


def _walk(node: Expr, guards: frozenset[tuple[str, ...]], scoped: bool) -> Iterator[MissingRead]:
    match node:
        case Logical(op="&&", operands=operands):
            more = {path for path in map(_has_path, operands) if path is not None}
            inner_guards = guards | more
            inner_scoped = scoped or any(_is_scope(operand) for operand in operands)
            for operand in operands:
                yield from _walk(operand, inner_guards, inner_scoped)
        case Logical(op="||", operands=operands):
            # `!has(P) || X`: without P the chain is true before X's read of P can matter.
            absent = {path for path in map(_absence_test, operands) if path is not None}
            for operand in operands:
                yield from _walk(operand, guards | absent, scoped)
        case Cond(cond=cond, then=then, other=other):
            yield from _walk(cond, guards, scoped)
            tested = _has_path(cond)
            yield from _walk(then, guards | {tested} if tested else guards, scoped)
            yield from _walk(other, guards, scoped)
        case Call(name="has", target=None, args=(Select(operand=operand),)):
            # has(P) reads P's parent; P itself may be absent.
            yield from _walk(operand, guards, scoped)
        case Ident(name=name) if name in _FACETS and not scoped:
            yield MissingRead((name,), node.offset)
        case Select() | Index():
            path = literal_path(node)
            if path is None:
                yield from _walk_children(node, guards, scoped)
            elif _may_be_missing(path) and not _guarded(path, guards, scoped):
                yield MissingRead(path, start_offset(node))
        case _:
            yield from _walk_children(node, guards, scoped)


def _walk_children(node: Expr, guards: frozenset[tuple[str, ...]], scoped: bool) -> Iterator[MissingRead]:
    match node:
        case Select(operand=operand) | Unary(operand=operand):
            yield from _walk(operand, guards, scoped)
        case Index(operand=operand, index=index):
            yield from _walk(operand, guards, scoped)
            yield from _walk(index, guards, scoped)
        case Call(target=target, args=args):
            if target is not None:
                yield from _walk(target, guards, scoped)
            for arg in args:
                yield from _walk(arg, guards, scoped)
        case ListExpr(items=items):
            for item in items:
                yield from _walk(item, guards, scoped)
        case MapExpr(entries=entries):
            for key, value in entries:
                yield from _walk(key, guards, scoped)
                yield from _walk(value, guards, scoped)
        case Binary(left=left, right=right):
            yield from _walk(left, guards, scoped)
            yield from _walk(right, guards, scoped)
        case Logical(operands=operands):
            for operand in operands:
                yield from _walk(operand, guards, scoped)
        case Cond(cond=cond, then=then, other=other):
            for part in (cond, then, other):
                yield from _walk(part, guards, scoped)
        case Ident() | Lit():
            return


# -- at run time: the help of a refusal caused by a missing field ------------------------------

# Both evaluators word these two errors the same way (conformance); the help reads them back.
_NO_KEY = re.compile(r"^no such key `([^`]+)` in `([^`]+)`$")
_UNSET = re.compile(r"^variable `([a-z0-9]+)` is not set in this request$")


def missing_field_help(decision: Decision) -> str | None:
    """How to guard the rule that refused `decision` because the request lacked a field, or None.

    The decision's message already says which field was missing; this says what to do about it.
    """
    if decision.rule is None or decision.effect not in ("deny", "require_approval"):
        return None
    for error in decision.errors:
        if error.rule != decision.rule:
            continue
        key = _NO_KEY.match(error.message)
        if key is not None:
            present = _presence(key.group(2), key.group(1))
            path = present[4:-1] if present.startswith("has(") else f"{key.group(2)}[{key.group(1)!r}]"
            return (
                f"rule `{decision.rule}` read `{path}`, which this request does not have, and a restrictive "
                f"rule that cannot be evaluated fails closed; if the rule is meant only for requests that "
                f"have it, guard it: `{present} && (...)`, or scope it to the tools that have it: "
                f"`action.tool == '<tool>' && (...)`; if requests without it are meant to be refused, "
                f"say so: `{_absence(present)} || (...)`"
            )
        unset = _UNSET.match(error.message)
        if unset is not None and unset.group(1) in _FACETS:
            root = unset.group(1)
            return (
                f"rule `{decision.rule}` reads `{root}`, which only tools governed with "
                f"`facets={{'{root}': ...}}` have, and a restrictive rule that cannot be evaluated fails "
                f"closed; scope the rule to those tools (`action.tool == '<tool>' && (...)`), or declare "
                "the facet on this one"
            )
    return None
