"""Warn when a condition reads a request field that the policy's request_schema does not declare.

A typo in a field name does not fail a condition quietly in CEL (reading a missing field is an
error, and errors fail closed), but it does make a rule useless: ``args.ammount > 10000`` in a
deny rule errors on every call, so the rule always denies, or, in an allow rule, never allows.
A policy that declares ``request_schema`` gets every field path of every condition checked
against it at load time, with the closest declared name as a suggestion.

The toolkit itself always sets ``action.type``, ``action.tool``, ``agent.id`` and ``stage``, so
those count as declared. A schema type of ``map`` or ``any`` accepts any deeper path.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from agent_os._extends import ResolvedPolicy

__all__ = ["BUILTIN_SCHEMA", "schema_warnings"]

BUILTIN_SCHEMA: dict[str, Any] = {
    "action": {"type": "string", "tool": "string"},
    "agent": {"id": "string"},
    "stage": "string",
}
"""Request fields every request has, declared whether or not a policy's schema lists them."""

_OPEN_TYPES = frozenset({"map", "any"})


def schema_warnings(policy: ResolvedPolicy) -> list[str]:
    """One warning message per rule and undeclared field path its condition reads.

    Args:
        policy: A resolved policy; nothing is checked unless it declares ``request_schema``.

    Returns:
        The messages, in rule order and then by path.
    """
    declared_schema = policy.document.request_schema
    if declared_schema is None:
        return []
    schema = _with_builtins(declared_schema)
    names = sorted(_declared_names(schema, ()))
    messages: list[str] = []
    for rule, (origin, index) in zip(policy.document.rules, policy.origins, strict=True):
        program = policy.conditions[rule.name]
        for path in sorted(program.field_paths):
            if _declared(schema, path):
                continue
            dotted = ".".join(path)
            offset = _offset_of(rule.condition, path)
            found = origin.source_map.condition_location(("rules", index, "condition"), offset)
            if found is not None:
                where = f"at {origin.file or '<policy>'}:{found[0].line}:{found[0].column}"
            else:
                where = f"in policy `{policy.document.name}`"
            message = f"rule `{rule.name}` reads `{dotted}`, which request_schema does not declare ({where})"
            # Suggest a field at the same depth: `args` is no answer to a typo in `args.zzz`.
            same_depth = [name for name in names if name.count(".") == len(path) - 1]
            close = difflib.get_close_matches(dotted, same_depth, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean `{close[0]}`?"
            messages.append(message)
    return messages


def _with_builtins(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    for key, builtin in BUILTIN_SCHEMA.items():
        mine = out.get(key)
        if mine is None:
            out[key] = builtin
        elif isinstance(mine, dict) and isinstance(builtin, dict):
            out[key] = {**builtin, **mine}
    return out


def _declared(schema: dict[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = schema
    for segment in path:
        if isinstance(node, dict):
            if segment not in node:
                return False
            node = node[segment]
        else:
            # A scalar type ends the path, except map and any, which hold anything below them.
            return node in _OPEN_TYPES
    return True


def _declared_names(node: dict[str, Any], prefix: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for key, value in node.items():
        path = (*prefix, key)
        names.append(".".join(path))
        if isinstance(value, dict):
            names.extend(_declared_names(value, path))
    return names


def _offset_of(condition: str, path: tuple[str, ...]) -> int:
    """Where the condition spells `path`, to point the warning at it (0 if we cannot tell)."""
    dotted = r"\s*\.\s*".join(re.escape(segment) for segment in path)
    match = re.search(rf"(?<![\w.]){dotted}(?!\w)", condition)
    if match is None:
        # args['ammount'] and other index forms: find the last segment on its own
        match = re.search(rf"(?<!\w){re.escape(path[-1])}(?!\w)", condition)
    return match.start() if match else 0
