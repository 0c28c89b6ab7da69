"""Load-time warnings: conditions reading request fields that never exist, and policies that allow all.

A typo in a field name does not fail a condition quietly in CEL (reading a missing field is an
error, and errors fail closed), but it does make a rule useless: ``action.typ == 'drop'`` in a
deny rule errors on every call, so the rule always denies, or, in an allow rule, never allows.
So every field path a condition reads is checked at load time against the request's shape:

* Without ``request_schema``, against `KNOWN_FIELDS`: the parts of the request whose shape the
  toolkit fixes (``action.type``, ``action.tool``, ``agent.id``, ``stage``) plus the keys that
  the toolkit's enrichers add (``agent.did``, ``agent.trust``...). ``args``, ``context`` and
  ``result`` hold the caller's own data and are not checked.
* With ``request_schema``, against the declared fields plus `TOOLKIT_FIELDS` (the fixed parts and
  the enricher keys): every path is checked, so ``args.ammount`` warns when ``args.amount`` is
  declared. A schema type of ``map`` or ``any`` accepts any deeper path. A policy whose requests
  carry more (a custom enricher's ``agent.team``) declares it in ``request_schema``.

A policy whose ``default_action`` is allow and that has no enabled deny or require_approval rule
allows every call; that is allowed, and warned about.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_os._loading._extends import Resolution
from agent_os._loading._missing import guard_advice, unguarded_reads
from agent_os._loading._source_map import DocPath, format_path
from agent_os._programs import program as compiled_condition
from agt_core import PolicyError

__all__ = ["FACET_FIELDS", "KNOWN_FIELDS", "TOOLKIT_FIELDS", "LoadWarning", "load_warnings", "missing_parser"]

_ENRICHED_AGENT_FIELDS: dict[str, Any] = {
    "did": "string",
    "trust": "any",
    "ring": "any",
    "roles": "any",
    "capabilities": "any",
    # agent-mesh's enricher: see docs/agent-mesh.md
    "name": "string",
    "trust_tier": "string",
    "capability_granted": "bool",
    "delegation": "map",
    "signature": "string",
}

# The request facets (agent_os._facets) a tool declares with govern(..., facets=...).
FACET_FIELDS: Mapping[str, Any] = {
    "sql": {
        "statements": "int",
        "verbs": "list",
        "verb": "string",
        "writes": "bool",
        "tables": "list",
        "qualified_tables": "list",
        "functions": "list",
    },
    "k8s": {
        "verb": "string",
        "group": "string",
        "version": "string",
        "resource": "string",
        "name": "string",
        "subresource": "string",
        "namespace": "string",
        "command": "string",
    },
}

TOOLKIT_FIELDS: Mapping[str, Any] = {
    "action": {"type": "string", "tool": "string"},
    "agent": {"id": "string", **_ENRICHED_AGENT_FIELDS},
    "stage": "string",
    "context": {"session": "any", "required_capability": "string"},
    **FACET_FIELDS,
}
"""Fields the toolkit sets (``action``, ``agent.id``, ``stage``) or its enrichers add (agent-mesh:
``agent.did``, ``agent.trust``, ``agent.trust_tier``, ``agent.name``, ``agent.roles``,
``agent.capabilities``, ``agent.capability_granted``, ``agent.delegation``, ``agent.signature``,
``context.required_capability``; agent-runtime:
``agent.ring``; agent-hypervisor: ``context.session``), and the request facets (``sql.*``,
``k8s.*``, see `agent_os._facets`): declared whether or not a policy's ``request_schema`` lists
them."""

KNOWN_FIELDS: Mapping[str, Any] = {
    **TOOLKIT_FIELDS,
    "args": "map",
    "context": "map",
    "result": "any",
}
"""The request's shape for policies without ``request_schema``: only ``action`` and ``agent``
(and ``stage``) are closed; the caller's ``args``, ``context`` and ``result`` are open."""

_OPEN_TYPES = frozenset({"map", "any"})
_RESTRICTIVE = frozenset({"deny", "require_approval"})


@dataclass(frozen=True)
class LoadWarning:
    """One thing a policy does that is allowed but probably wrong, with where it is.

    Attributes:
        reason: What is wrong, without the position.
        file: The file, or None for YAML text, dicts and models.
        line: 1-based line, when known.
        column: 1-based column, when known.
        path: Where in the document, e.g. ``rules[0].condition``.
        policy: The policy's name.
        hint: What was probably meant (``did you mean `action.type`?``), or None.
    """

    reason: str
    file: str | None
    line: int | None
    column: int | None
    path: str
    policy: str
    hint: str | None = None

    @property
    def text(self) -> str:
        """The warning as one line: the reason, where it is, then the hint."""
        if self.line is not None:
            text = f"{self.reason} (at {self.file or '<policy>'}:{self.line}:{self.column})"
        else:
            text = f"{self.reason} (in policy `{self.policy}`)"
        return f"{text}; {self.hint}" if self.hint else text

    def error(self) -> PolicyError:
        """The warning as a load error, for strict mode."""
        return PolicyError(
            self.reason,
            file=self.file,
            line=self.line,
            column=self.column,
            path=self.path,
            help=self.hint
            or "strict mode turns policy warnings into errors: fix the policy, or load it without strict",
        )


def load_warnings(policy: Resolution, *, lint: bool = True) -> list[LoadWarning]:
    """Every warning for one resolved policy: unknown fields, unguarded reads, then a weak default.

    Unknown field paths come in rule order, then one warning per restrictive rule reading a field
    not every request has without a guard, then the weak-default warning.

    Args:
        policy: A resolved policy, with the origin of each rule for positions.
        lint: Name restrictive rules that read a field not every request has without a guard
            (`_missing`). ``load_policies(..., lint=False)`` turns it off.

    Returns:
        The warnings in rule order and then by path; the weak-default warning last.
    """
    found = _field_warnings(policy)
    if lint:
        found.extend(_missing_field_warnings(policy))
    weak = _weak_default(policy)
    if weak is not None:
        found.append(weak)
    return found


def _field_warnings(policy: Resolution) -> list[LoadWarning]:
    declared = policy.document.request_schema
    schema = _merge(TOOLKIT_FIELDS, declared) if declared is not None else dict(KNOWN_FIELDS)
    names = sorted(_declared_names(schema, ()))
    found: list[LoadWarning] = []
    for rule, (origin, index) in zip(policy.document.rules, policy.origins, strict=True):
        program = compiled_condition(rule.condition)  # compiled by the loader already: a cache hit
        for path in sorted(program.field_paths):
            if _declared(schema, path):
                continue
            dotted = ".".join(path)
            if declared is not None:
                reason = f"rule `{rule.name}` reads `{dotted}`, which request_schema does not declare"
            else:
                reason = (
                    f"rule `{rule.name}` reads `{dotted}`, which requests never hold "
                    "(declare it in request_schema if an enricher of yours adds it)"
                )
            # Suggest a field at the same depth: `args` is no answer to a typo in `args.zzz`.
            same_depth = [name for name in names if name.count(".") == len(path) - 1]
            close = difflib.get_close_matches(dotted, same_depth, n=1, cutoff=0.6)
            where: DocPath = ("rules", index, "condition")
            located = origin.source_map.condition_location(where, _offset_of(rule.condition, path))
            location = origin.source_map.location(where) if located is None else located[0]
            found.append(
                LoadWarning(
                    reason=reason,
                    file=origin.file,
                    line=location.line if location else None,
                    column=location.column if location else None,
                    path=format_path(where),
                    policy=policy.document.name,
                    hint=f"did you mean `{close[0]}`?" if close else None,
                )
            )
    return found


def _missing_field_warnings(policy: Resolution) -> list[LoadWarning]:
    """Restrictive rules that refuse every request lacking a field they read (see `_missing`).

    Failing closed on a missing field is often what the author wants (``env != 'prod'``), and it
    stays; the warning asks them to say so (``!has(context.env) || ...``), to guard the read, or
    to scope the rule, so that nobody learns of it from refused calls in production. Fields the
    policy's ``request_schema`` does not declare are left to the unknown-field warning.
    """
    declared = policy.document.request_schema
    schema = _merge(TOOLKIT_FIELDS, declared) if declared is not None else dict(KNOWN_FIELDS)
    found: list[LoadWarning] = []
    for rule, (origin, index) in zip(policy.document.rules, policy.origins, strict=True):
        if not rule.enabled or rule.action not in _RESTRICTIVE:
            continue
        program = compiled_condition(rule.condition)
        if not any(_may_lack(path) and _declared(schema, path) for path in program.field_paths):
            continue  # the common case: nothing to analyse further
        reads = [read for read in unguarded_reads(rule.condition) if _declared(schema, read.path)]
        if not reads:
            continue
        quoted = [f"`{read.dotted}`" for read in reads]
        names = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        effect = "denies" if rule.action == "deny" else "requires approval for"
        reason = (
            f"rule `{rule.name}` {effect} every request without {names}: it reads "
            f"{'that field' if len(reads) == 1 else 'those fields'} unguarded, and a missing field fails closed"
        )
        where: DocPath = ("rules", index, "condition")
        located = origin.source_map.condition_location(where, reads[0].offset)
        location = origin.source_map.location(where) if located is None else located[0]
        found.append(
            LoadWarning(
                reason=reason,
                file=origin.file,
                line=location.line if location else None,
                column=location.column if location else None,
                path=format_path(where),
                policy=policy.document.name,
                hint=guard_advice(reads),
            )
        )
    return found


def missing_parser(policy: Resolution) -> PolicyError | None:
    """The load error for a policy whose conditions read ``sql`` where sqlglot is not installed.

    Without the parser no tool can have the ``sql`` facet, so every rule reading it would fail
    closed on every call: better said at load time, with the command that fixes it.
    """
    for rule, (origin, index) in zip(policy.document.rules, policy.origins, strict=True):
        if "sql" not in compiled_condition(rule.condition).variables:
            continue
        from agent_os._facets import sql_available

        if sql_available():
            return None
        where: DocPath = ("rules", index, "condition")
        location = origin.source_map.location(where)
        return PolicyError(
            f"rule `{rule.name}` reads `sql`, the SQL request facet, and its parser (sqlglot) is not installed",
            file=origin.file,
            line=location.line if location else None,
            column=location.column if location else None,
            path=format_path(where),
            help="pip install 'agent-os[sql]'",
        )
    return None


def _may_lack(path: tuple[str, ...]) -> bool:
    return path[0] in ("sql", "k8s") or (
        path[0] in ("args", "agent", "context", "action") and len(path) > 1 and path[:2] not in _ALWAYS
    )


_ALWAYS = frozenset({("action", "type"), ("action", "tool"), ("agent", "id")})


def _weak_default(policy: Resolution) -> LoadWarning | None:
    document = policy.document
    if document.default_action != "allow":
        return None
    if any(rule.enabled and rule.action in _RESTRICTIVE for rule in document.rules):
        return None
    root = policy.root
    location = root.source_map.key_location(("default_action",))
    return LoadWarning(
        reason=(
            f"policy `{document.name}` allows every call: default_action is allow and no enabled rule "
            "denies or requires approval"
        ),
        file=root.file,
        line=location.line if location else None,
        column=location.column if location else None,
        path="default_action",
        policy=document.name,
    )


def _merge(base: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    """`declared` over `base`: mappings merge, a declared type replaces the base's."""
    out = dict(base)
    for key, value in declared.items():
        mine = out.get(key)
        out[key] = _merge(mine, value) if isinstance(mine, Mapping) and isinstance(value, Mapping) else value
    return out


def _declared(schema: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = schema
    for segment in path:
        if isinstance(node, Mapping):
            if segment not in node:
                return False
            node = node[segment]
        else:
            # A scalar type ends the path, except map and any, which hold anything below them.
            return node in _OPEN_TYPES
    return True


def _declared_names(node: Mapping[str, Any], prefix: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for key, value in node.items():
        path = (*prefix, key)
        names.append(".".join(path))
        if isinstance(value, Mapping):
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
