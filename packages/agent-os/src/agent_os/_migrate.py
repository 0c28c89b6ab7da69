"""Migrate a policy written for Microsoft's Agent Governance Toolkit (the peer) into ours.

`migrate_policy` rewrites one peer policy document and returns the new document with every change
it made and why. What it cannot translate faithfully it refuses (`MigrationError`, with the
reason) rather than guess: a migrated policy must decide as its author meant, or not exist.

What it changes:

* **Envelope**: a missing ``apiVersion`` is added, the deprecated ``apiVersion: "1.0"`` renamed;
  the legacy ``version: "1.0"`` is dropped (it is the same format); ``scope`` is dropped (a policy
  without ``agents`` applies to every agent, and the peer reads ``scope`` only under
  ``most_specific_wins``); ``agent: X`` becomes (or joins) ``agents: [X]``; a missing ``name`` is taken from the
  caller's ``name`` (the CLI passes the file name); ``sponsor``, ``compliance`` and ``metadata``
  are informational and dropped.
* **Rules**: ``ruleAction`` (TypeScript SDK) becomes ``action``; ``action: rate_limit`` (.NET SDK)
  becomes ``action: allow`` with its ``limit``; ``reason`` becomes ``message``; ``audit`` is
  dropped (every decision is audited here); names with spaces or other characters our names
  refuse, or a leading ``_``, are rewritten.
* **Condition names**: the peer evaluates conditions over one flat context; ours over
  ``action``, ``args``, ``agent``, ``context``, ``stage``, ``result`` and the request facets
  ``sql`` and ``k8s``. ``tool_name`` becomes ``action.tool``, ``agent_did`` and ``agent_id``
  become ``agent.id``, ``sql.target == 'x'`` becomes ``'x' in sql.tables``, and every other
  unknown top-level name ``x`` becomes ``context.x``.

What it refuses: a document that is not a mapping, rules that are not a list of mappings, an
``apiVersion`` or ``version`` other than the peer's, a ``scope`` under ``most_specific_wins`` (the
only strategy where the peer ranks by it), a rule with no
action or an action we do not have, ``rate_limit`` without ``limit``, ``ruleAction`` and ``action``
that disagree, and fields that carry behaviour we cannot reproduce (``capabilities``,
``delegation``, ``escalation``, ``timeout_seconds``, ``constraint``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agt_core import PolicyError

__all__ = ["MigrationChange", "MigrationError", "MigrationResult", "looks_like_peer_policy", "migrate_policy"]

_API_VERSION = "governance.toolkit/v1"
_VARIABLES = frozenset({"action", "args", "agent", "context", "stage", "result", "sql", "k8s"})
# The peer's `sql.target` (the first table of the first statement) has no faithful equivalent;
# membership in `sql.tables` (every table of every statement) is the broader, fail-safe reading.
_SQL_TARGET = re.compile(r"\.\s*target\s*(==|!=)\s*('[^'\\]*'|\"[^\"\\]*\")")
_KEYWORDS = frozenset({"true", "false", "null", "in", "and", "or", "not", "has"})
_RENAMED = {"tool_name": "action.tool", "agent_did": "agent.id", "agent_id": "agent.id"}
_ACTIONS = frozenset({"allow", "deny", "require_approval", "warn", "log"})
_OUR_TOP = frozenset(
    {
        "apiVersion",
        "name",
        "description",
        "default_action",
        "conflict_strategy",
        "agents",
        "extends",
        "request_schema",
        "rules",
    }
)
_OUR_RULE = frozenset(
    {
        "name",
        "description",
        "condition",
        "action",
        "message",
        "priority",
        "approvers",
        "limit",
        "stage",
        "enabled",
    }
)
_DROPPED_TOP = {
    "sponsor": "informational in the peer; not part of a policy here",
    "compliance": "informational in the peer; not part of a policy here",
    "metadata": "informational in the peer; not part of a policy here",
}
_REFUSED = {
    "capabilities": "agent capabilities are identity data (agent-mesh), not a policy rule",
    "delegation": "delegation limits are enforced by agent-mesh credentials, not by a policy rule",
    "escalation": "approval escalation is configured on the approval handler, not in a rule",
    "timeout_seconds": "approval timeouts are configured on the approval handler, not in a rule",
    "constraint": "the peer's rule `constraint` has no equivalent",
}
_SCOPES = frozenset({"tenant", "organization", "agent"})
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class MigrationChange:
    """One change `migrate_policy` made: where (a path like ``rules[2].condition``), what and why."""

    path: str
    change: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.change} ({self.why})"


@dataclass(frozen=True)
class MigrationResult:
    """The migrated document (plain data, ready for `agent_os.load_policies`) and every change."""

    document: dict[str, Any]
    changes: tuple[MigrationChange, ...]


class MigrationError(PolicyError):
    """A peer policy that cannot be translated faithfully; the message says why."""


def looks_like_peer_policy(data: object) -> str | None:
    """Why `data` looks like a peer policy that needs `migrate_policy`, or None.

    The loader can call this on a document it refuses, to name the migration instead of a
    "did you mean" for ``version`` or an unknown-variable error for ``tool_name``.
    """
    if not isinstance(data, Mapping):
        return None
    if "version" in data and "apiVersion" not in data:
        return "it has the peer's legacy `version` field"
    if "scope" in data or "agent" in data:
        return "it has the peer's `scope`/`agent` fields"
    rules = data.get("rules")
    if isinstance(rules, list):
        for rule in rules:
            if isinstance(rule, Mapping):
                if "ruleAction" in rule:
                    return "a rule uses the peer's `ruleAction`"
                if rule.get("action") == "rate_limit":
                    return "a rule uses the peer's `action: rate_limit`"
                condition = rule.get("condition")
                if isinstance(condition, str) and re.search(r"(?<![.\w])(tool_name|agent_did)\b", condition):
                    return "a condition reads the peer's flat names (`tool_name`, `agent_did`)"
    return None


def _refuse(path: str, reason: str) -> MigrationError:
    return MigrationError(
        f"cannot migrate faithfully: {path}: {reason}", help="translate this part by hand (docs/migrating.md)"
    )


def _clean_name(name: object, path: str, changes: list[MigrationChange]) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _refuse(path, "the name is missing or not a string")
    if _NAME_OK.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_.:\-]+", "-", name.strip()).lstrip("_-.:")
    if not cleaned or not _NAME_OK.match(cleaned):
        raise _refuse(path, f"the name `{name}` has no usable characters")
    changes.append(
        MigrationChange(
            path, f"`{name}` -> `{cleaned}`", "names start with a letter or digit and have no spaces"
        )
    )
    return cleaned


def rewrite_condition(condition: str) -> tuple[str, list[tuple[str, str]]]:
    """Map the peer's flat names to ours. Returns the new text and each ``(old, new)`` name.

    String literals are left alone; identifiers after ``.`` (fields, methods) and before ``(``
    (functions) are not variables.

    Raises:
        MigrationError: If a string literal is not terminated.
    """
    out: list[str] = []
    renamed: list[tuple[str, str]] = []
    i, n = 0, len(condition)
    while i < n:
        ch = condition[i]
        if ch in "'\"":
            j = i + 1
            while j < n and condition[j] != ch:
                j += 2 if condition[j] == "\\" else 1
            if j >= n:
                raise _refuse("condition", f"unterminated string literal in `{condition}`")
            out.append(condition[i : j + 1])
            i = j + 1
            continue
        match = _IDENT.match(condition, i) if (ch.isalpha() or ch == "_") else None
        if match is None:
            out.append(ch)
            i += 1
            continue
        word = match.group()
        end = match.end()
        before = condition[:i].rstrip()
        after = condition[end:].lstrip()
        is_field = before.endswith(".") or (i > 0 and (condition[i - 1].isalnum() or condition[i - 1] == "_"))
        is_call = after.startswith("(")
        target = _SQL_TARGET.match(condition, end) if word == "sql" and not is_field else None
        if target is not None:
            if target.group(1) == "!=":
                raise _refuse(
                    "condition",
                    "`sql.target !=` has no faithful equivalent (the peer's first table of the first "
                    "statement); write it with `sql.tables` by hand",
                )
            out.append(f"{target.group(2)} in sql.tables")
            if ("sql.target", "sql.tables") not in renamed:
                renamed.append(("sql.target", "sql.tables"))
            i = target.end()
            continue
        if is_field or is_call or word in _VARIABLES or word in _KEYWORDS:
            out.append(word)
        else:
            new = _RENAMED.get(word, f"context.{word}")
            out.append(new)
            if (word, new) not in renamed:
                renamed.append((word, new))
        i = end
    return "".join(out), renamed


_GUARDABLE = re.compile(r"(?:action|args|agent|context)(?:\.[A-Za-z_]\w*)+")
_ALWAYS_PRESENT = frozenset({"action.type", "action.tool", "agent.id"})
_EQ_LITERAL = re.compile(r"\s*==\s*('[^'\\]+'|\"[^\"\\]+\")")
_IN_LIST = re.compile(r"\s+in\s*\[")
_ORDERING = re.compile(r"\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)")
_CONNECTIVE_AFTER = re.compile(r"\s*($|\)|\band\b|\bor\b|&&|\|\|)")
_CONNECTIVE_BEFORE = re.compile(r"(^|(?<![\w.])\(|\band|\bor|&&|\|\|)\s*$")


def _atom_end(condition: str, start: int, after: int) -> int | None:
    """Where the atom whose path ends at `after` ends, if reading a missing path as empty made it false.

    The peer reads a missing name as ``None``: ``== 'x'`` and ``in [...]`` are then false, an
    ordering compares 0 with the number, and a bare name is falsy.
    """
    if (m := _EQ_LITERAL.match(condition, after)) is not None:
        return m.end()
    if (m := _IN_LIST.match(condition, after)) is not None:
        return _list_end(condition, m.end())
    if (m := _ORDERING.match(condition, after)) is not None:
        op, number = m.group(1), float(m.group(2))
        as_zero = {">": number < 0, ">=": number <= 0, "<": number > 0, "<=": number >= 0}[op]  # 0 op number
        return None if as_zero else m.end()
    if _CONNECTIVE_AFTER.match(condition, after) and _CONNECTIVE_BEFORE.search(condition[:start]):
        return after
    return None


def _list_end(condition: str, i: int) -> int | None:
    quote = None
    while i < len(condition):
        ch = condition[i]
        if quote is not None:
            i += 2 if ch == "\\" else 1
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "]":
            return i + 1
        i += 1
    return None


def _guard(condition: str, path: str, changes: list[MigrationChange]) -> str:
    """Add ``has()`` guards where the peer's "a missing field reads as empty" is what the author meant.

    The peer reads a missing name as empty, so ``path == '/etc/passwd'`` is false for a request
    without it; ours fails closed (a restrictive rule that errors matches). Each comparison that
    the peer's reading makes false when the field is missing (``== 'literal'``, ``in [...]``, an
    ordering that 0 does not satisfy, a bare boolean name) becomes ``(has(...) && comparison)``,
    one ``has()`` per level below the variable, which decides exactly as the peer did whatever
    ``and``/``or`` surround it. Anywhere else (``!=``, ``< 10``, functions) no guard is added:
    failing closed is the safe reading, and the change list says so. ``action.type``,
    ``action.tool`` and ``agent.id`` are always present; ``sql``/``k8s`` cannot be guarded (the
    variable itself is absent for other tools).
    """
    out: list[str] = []
    guarded: list[str] = []
    unguarded: list[str] = []
    i, n = 0, len(condition)
    while i < n:
        ch = condition[i]
        if ch in "'\"":
            j = i + 1
            while j < n and condition[j] != ch:
                j += 2 if condition[j] == "\\" else 1
            out.append(condition[i : j + 1])
            i = j + 1
            continue
        m = (
            _GUARDABLE.match(condition, i)
            if (i == 0 or not (condition[i - 1].isalnum() or condition[i - 1] in "_."))
            else None
        )
        if m is None or m.group() in _ALWAYS_PRESENT or condition[m.end() : m.end() + 1] in ("(", "."):
            if m is not None:
                out.append(m.group())
                i = m.end()
            else:
                out.append(ch)
                i += 1
            continue
        dotted = m.group()
        end = _atom_end(condition, i, m.end())
        if end is None:
            if dotted not in unguarded:
                unguarded.append(dotted)
            out.append(dotted)
            i = m.end()
            continue
        parts = dotted.split(".")
        levels = [".".join(parts[:k]) for k in range(2, len(parts) + 1)]
        checks = " && ".join(f"has({level})" for level in levels)
        out.append(f"({checks} && {condition[i:end].strip()})")
        if dotted not in guarded:
            guarded.append(dotted)
        i = end
    for name in unguarded:
        changes.append(
            MigrationChange(
                path,
                f"no `has({name})` guard",
                "a request without it fails closed (the rule matches); the peer read it as empty",
            )
        )
    if not guarded:
        return condition
    changes.append(
        MigrationChange(
            path,
            "guarded " + ", ".join(f"`{name}`" for name in guarded) + " with `has()`",
            "the peer reads a missing field as empty, so this comparison was false for requests without it",
        )
    )
    return "".join(out)


def migrate_policy(data: Mapping[str, Any], *, name: str | None = None) -> MigrationResult:
    """Rewrite one peer policy document (parsed YAML) into ours.

    Args:
        data: The peer document, as `yaml.safe_load` returns it.
        name: The policy name to use when the document has none (the CLI passes the file stem).

    Returns:
        The migrated document and every change, in document order.

    Raises:
        MigrationError: If the document cannot be translated faithfully; the message says why.
    """
    if not isinstance(data, Mapping):
        raise _refuse("(document)", f"a policy is a mapping, not a `{type(data).__name__}`")
    changes: list[MigrationChange] = []
    doc: dict[str, Any] = {}
    for key in data:
        if key in _REFUSED:
            raise _refuse(key, _REFUSED[key])
    api = data.get("apiVersion")
    if api is None:
        changes.append(
            MigrationChange("apiVersion", f"added `{_API_VERSION}`", "every policy names its format")
        )
    elif str(api) in ("1.0", "1"):
        changes.append(
            MigrationChange(
                "apiVersion", f"`{api}` -> `{_API_VERSION}`", "the peer's deprecated name of the same format"
            )
        )
    elif api != _API_VERSION:
        raise _refuse("apiVersion", f"`{api}` is not the peer's `{_API_VERSION}`")
    doc["apiVersion"] = _API_VERSION
    if "version" in data:
        if str(data["version"]) not in ("1.0", "1"):
            raise _refuse("version", f"unknown legacy version `{data['version']}`")
        changes.append(
            MigrationChange("version", "removed", 'the legacy `version: "1.0"` is this same format')
        )
    raw_name = data.get("name")
    if raw_name is None:
        if name is None:
            raise _refuse("name", "the policy has no name; pass one (the CLI uses the file name)")
        raw_name = name
        changes.append(
            MigrationChange("name", f"set to `{name}`", "every policy has a name; taken from the file")
        )
    doc["name"] = _clean_name(raw_name, "name", changes)
    for key in ("description", "default_action", "conflict_strategy", "extends", "request_schema"):
        if key in data:
            doc[key] = data[key]
    if "scope" in data:
        if data["scope"] == "global":
            changes.append(
                MigrationChange("scope", "removed", "`global` is the default: no `agents` means every agent")
            )
        elif data.get("conflict_strategy") == "most_specific_wins" or data["scope"] not in _SCOPES:
            # Only there does the peer rank policies by scope: that ranking has no equivalent.
            raise _refuse("scope", f"`scope: {data['scope']}` has no equivalent (use `agents` patterns)")
        else:
            changes.append(
                MigrationChange(
                    "scope",
                    "removed",
                    f"the peer reads `scope: {data['scope']}` only to rank policies under most_specific_wins",
                )
            )
    agents: list[Any] | None = list(data["agents"]) if isinstance(data.get("agents"), list) else None
    if "agents" in data and agents is None:
        raise _refuse("agents", "`agents` must be a list")
    if "agent" in data:
        agent = data["agent"]
        if not isinstance(agent, str):
            raise _refuse("agent", "`agent` must be a string")
        agents = agents or []
        if agent not in agents:
            agents.append(agent)
        changes.append(
            MigrationChange("agent", f"moved into `agents: {agents}`", "ours names agents in one list")
        )
    if agents is not None:
        doc["agents"] = agents
    for key in data:
        if key in _DROPPED_TOP:
            changes.append(MigrationChange(key, "removed", _DROPPED_TOP[key]))
        elif key not in _OUR_TOP and key not in ("version", "scope", "agent"):
            raise _refuse(key, f"unknown top-level field `{key}`")
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise _refuse("rules", "`rules` must be a list")
    names: set[str] = set()
    doc["rules"] = [_migrate_rule(rule, i, names, changes) for i, rule in enumerate(rules)]
    return MigrationResult(doc, tuple(changes))


def _migrate_rule(rule: Any, i: int, names: set[str], changes: list[MigrationChange]) -> dict[str, Any]:
    where = f"rules[{i}]"
    if not isinstance(rule, Mapping):
        raise _refuse(where, "a rule is a mapping")
    for key in rule:
        if key in _REFUSED:
            raise _refuse(f"{where}.{key}", _REFUSED[key])
    out: dict[str, Any] = {}
    name = _clean_name(rule.get("name"), f"{where}.name", changes)
    if name in names:
        raise _refuse(f"{where}.name", f"two rules are named `{name}` after migration")
    names.add(name)
    out["name"] = name
    action = rule.get("action")
    if "ruleAction" in rule:
        if action is not None and action != rule["ruleAction"]:
            raise _refuse(where, f"`ruleAction: {rule['ruleAction']}` and `action: {action}` disagree")
        action = rule["ruleAction"]
        changes.append(
            MigrationChange(f"{where}.ruleAction", "renamed to `action`", "the TypeScript SDK's spelling")
        )
    if action is None:
        raise _refuse(f"{where}.action", "the rule has no action")
    if action == "rate_limit":
        if "limit" not in rule:
            raise _refuse(f"{where}.action", "`rate_limit` without `limit`")
        action = "allow"
        changes.append(
            MigrationChange(
                f"{where}.action",
                "`rate_limit` -> `allow` with its `limit`",
                "ours limits any permissive rule",
            )
        )
    if action not in _ACTIONS:
        raise _refuse(f"{where}.action", f"unknown action `{action}`")
    condition = rule.get("condition")
    if not isinstance(condition, str):
        raise _refuse(f"{where}.condition", "the condition is missing or not a string")
    new_condition, renamed = rewrite_condition(condition)
    for old, new in renamed:
        if old == "sql.target":
            why = (
                "the peer's `sql.target` is the first table of the first statement; membership in "
                "`sql.tables` (every table of every statement) matches more, never less"
            )
        elif old in _RENAMED:
            why = "the peer's flat name for this request field"
        else:
            why = "names other than action/args/agent/context/stage/result/sql/k8s are read from `context`"
        changes.append(MigrationChange(f"{where}.condition", f"`{old}` -> `{new}`", why))
    if action in ("deny", "require_approval"):
        new_condition = _guard(new_condition, f"{where}.condition", changes)
    out["condition"] = new_condition
    out["action"] = action
    for key in ("description", "message", "priority", "approvers", "limit", "stage", "enabled"):
        if key in rule:
            out[key] = rule[key]
    if "reason" in rule:
        if "message" not in rule:
            out["message"] = rule["reason"]
        changes.append(MigrationChange(f"{where}.reason", "became `message`", "ours calls it `message`"))
    if "audit" in rule:
        changes.append(MigrationChange(f"{where}.audit", "removed", "every decision is audited here"))
    for key in rule:
        if key not in _OUR_RULE and key not in ("ruleAction", "reason", "audit"):
            raise _refuse(f"{where}.{key}", f"unknown rule field `{key}`")
    return out
