"""``agt policy lint``: load errors with file:line:column, then lints on what loaded.

Every policy goes through the agent-os loader first (the same checks `govern()` applies); the
lints then look for policies that load but do not protect what their author meant.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent_compliance._locate import PolicyPositions, Position, policy_positions
from agent_compliance._regex_lint import impossible_regex_reason
from agent_compliance._report import Finding, Location, Report, RuleInfo

if TYPE_CHECKING:
    from agent_os import ConditionFacts
    from agt_core import PolicyError, ResolvedPolicy, Rule

__all__ = ["LINT_RULES", "LoadFailed", "lint_policies", "load_error_finding"]

LINT_RULES: dict[str, RuleInfo] = {
    info.id: info
    for info in (
        RuleInfo(id="AGT-L000", name="policy-load-error", description="The policy cannot be loaded."),
        RuleInfo(
            id="AGT-L001",
            name="permissive-default",
            description="default_action is allow and no enabled rule denies or requires approval.",
        ),
        RuleInfo(
            id="AGT-L002",
            name="approval-without-approvers",
            description="A require_approval rule names no approvers.",
        ),
        RuleInfo(id="AGT-L003", name="never-matches", description="A rule's condition can never be true."),
        RuleInfo(
            id="AGT-L004",
            name="unreachable-rule",
            description="A rule can never decide: another rule that always matches wins over it.",
        ),
        RuleInfo(
            id="AGT-L005", name="impossible-regex", description="A regex in a condition can match no text."
        ),
        RuleInfo(
            id="AGT-L006",
            name="overlapping-rate-limits",
            description="Two rate-limited rules count the same calls.",
        ),
        RuleInfo(
            id="AGT-L007",
            name="loader-warning",
            description="The loader warns about the policy (e.g. a field its request_schema does not declare).",
        ),
        RuleInfo(id="AGT-L008", name="disabled-rule", description="A rule is disabled and never matches."),
    )
}

_SEVERITY = {"allow": 0, "log": 1, "warn": 2, "require_approval": 3, "deny": 4}
_ANNOTATIONS = frozenset({"warn", "log"})
_AT = re.compile(r"\(at (?P<file>.+?):(?P<line>\d+):(?P<column>\d+)\)")
_WEAK_DEFAULT = "allows every call: default_action is allow"


class LoadFailed(Exception):
    """The policies did not load; the report holds the load error as a finding."""

    def __init__(self, report: Report) -> None:
        super().__init__("policies did not load")
        self.report = report


def load_error_finding(err: PolicyError) -> Finding:
    """A `PolicyError` as a finding at its file, line and column."""
    location = None
    if err.file is not None:
        location = Location(file=err.file, line=err.line, column=err.column)
    message = err.message
    if err.file is not None and message.startswith(f"{err.file}:"):
        # The loader's message repeats the position; the finding's location carries it.
        message = message.split(": ", 1)[1] if ": " in message else message
    return Finding(rule_id="AGT-L000", level="error", message=message, location=location, help=err.help)


def lint_policies(paths: Sequence[str]) -> Report:
    """Load `paths` with agent-os and lint every policy.

    Raises:
        LoadFailed: when the policies do not load (the report holds the load error).
    """
    from agent_os import load_policies
    from agt_core import PolicyError, PolicyWarning

    report = Report(command="policy lint", rules=dict(LINT_RULES), artifacts=list(paths))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicyWarning)
            policies = load_policies(list(paths), lint=True)  # missing-field advice too
    except PolicyError as err:
        report.findings.append(load_error_finding(err))
        raise LoadFailed(report) from err
    for policy in policies:
        report.findings.extend(_lint_one(policy))
    report.summary = {"policies": [p.document.name for p in policies]}
    report.lines.append(f"linted {len(policies)} polic{'y' if len(policies) == 1 else 'ies'}")
    return report


class _Where:
    def __init__(self, policy: ResolvedPolicy) -> None:
        self.file = policy.source
        positions = policy_positions(policy.source) if policy.source else {}
        self.positions: PolicyPositions | None = positions.get(policy.document.name)

    def _at(self, position: Position | None) -> Location | None:
        if self.file is None:
            return None
        if position is None:
            position = self.positions.start if self.positions else None
        if position is None:
            return Location(file=self.file)
        return Location(file=self.file, line=position.line, column=position.column)

    def key(self, key: str) -> Location | None:
        return self._at(self.positions.keys.get(key) if self.positions else None)

    def rule(self, name: str) -> Location | None:
        return self._at(self.positions.rules.get(name) if self.positions else None)

    def condition(self, name: str) -> Location | None:
        return self._at(self.positions.conditions.get(name) if self.positions else None)


def _lint_one(policy: ResolvedPolicy) -> list[Finding]:
    document = policy.document
    where = _Where(policy)
    found: list[Finding] = []
    enabled = [rule for rule in document.rules if rule.enabled]
    name = document.name

    if document.default_action == "allow" and not any(
        r.action in ("deny", "require_approval") for r in enabled
    ):
        found.append(
            Finding(
                rule_id="AGT-L001",
                level="error",
                message=f"policy `{name}` allows every call: default_action is allow and no enabled rule "
                "denies or requires approval",
                location=where.key("default_action"),
                help="deny by default and allow what agents need, or add deny rules for what they must never do",
            )
        )
    for rule in document.rules:
        if not rule.enabled:
            found.append(
                Finding(
                    rule_id="AGT-L008",
                    level="note",
                    message=f"rule `{rule.name}` of policy `{name}` is disabled and never matches",
                    location=where.rule(rule.name),
                )
            )
            continue
        if rule.action == "require_approval" and not rule.approvers:
            found.append(
                Finding(
                    rule_id="AGT-L002",
                    level="warning",
                    message=f"rule `{rule.name}` of policy `{name}` requires approval but names no approvers",
                    location=where.rule(rule.name),
                    help="list who may approve in `approvers`, so approval handlers can route and check it",
                )
            )
        never = _never_reason(rule)
        if never is not None:
            found.append(
                Finding(
                    rule_id="AGT-L003",
                    level="warning",
                    message=f"rule `{rule.name}` of policy `{name}` can never match: {never}",
                    location=where.condition(rule.name),
                )
            )
        for pattern in _facts(rule.condition).regex_patterns:
            reason = impossible_regex_reason(pattern)
            if reason is not None:
                found.append(
                    Finding(
                        rule_id="AGT-L005",
                        level="warning",
                        message=f"rule `{rule.name}` of policy `{name}`: regex `{pattern}` can match no text: {reason}",
                        location=where.condition(rule.name),
                    )
                )
    found.extend(_unreachable(policy, enabled, where))
    found.extend(_overlapping_limits(name, enabled, where))
    for text in policy.warnings:
        if _WEAK_DEFAULT in text:
            continue  # reported as AGT-L001
        m = _AT.search(text)
        location = (
            Location(file=m.group("file"), line=int(m.group("line")), column=int(m.group("column")))
            if m and m.group("file") != "<policy>"
            else where.key("name")
        )
        found.append(Finding(rule_id="AGT-L007", level="warning", message=text, location=location))
    return found


@functools.lru_cache(maxsize=1024)
def _facts(condition: str) -> ConditionFacts:
    """The facts of a loaded rule's condition, read by agent-os's own parser."""
    from agent_os import condition_facts

    return condition_facts(condition)


def _never_reason(rule: Rule) -> str | None:
    if _facts(rule.condition).constant is False:
        return "its condition is `false`"
    facts = _facts(rule.condition).equalities
    if facts:
        for path, allowed in facts.items():
            if not allowed:
                return f"it requires `{path}` to equal two different values at once"
    return None


def _unreachable(policy: ResolvedPolicy, enabled: list[Rule], where: _Where) -> list[Finding]:
    document = policy.document
    strategy = document.conflict_strategy
    found: list[Finding] = []
    reported: set[str] = set()
    # warn and log rules annotate and never decide: they neither shadow a rule nor are shadowed.
    deciders = [r for r in enabled if r.action not in _ANNOTATIONS]
    always = [r for r in deciders if _facts(r.condition).constant is True]
    for winner in always:
        for index, rule in enumerate(deciders):
            if rule is winner or rule.stage != winner.stage or rule.name in reported:
                continue
            if rule.name in policy.sealed_rules and winner.name not in policy.sealed_rules:
                continue  # an inherited deny or approval wins under every strategy
            shadowed = False
            if strategy == "priority_first_match":
                w_index = deciders.index(winner)
                shadowed = rule.priority < winner.priority or (
                    rule.priority == winner.priority and index > w_index
                )
            elif strategy == "deny_overrides":
                shadowed = _SEVERITY[rule.action] < _SEVERITY[winner.action]
            elif strategy == "allow_overrides":
                shadowed = _SEVERITY[rule.action] > _SEVERITY[winner.action]
            if shadowed:
                reported.add(rule.name)
                found.append(
                    Finding(
                        rule_id="AGT-L004",
                        level="warning",
                        message=f"rule `{rule.name}` ({rule.action}) of policy `{document.name}` can never decide: "
                        f"rule `{winner.name}` ({winner.action}) always matches and wins under {strategy}",
                        location=where.rule(rule.name),
                        help=f"narrow the condition of `{winner.name}`, or remove `{rule.name}`",
                    )
                )
    return found


def _counted_actions(rule: Rule) -> frozenset[object] | None:
    """The action types a rule's condition limits it to, or None for any action."""
    facts = _facts(rule.condition).equalities
    if not facts:
        return None
    for path in ("action.type", "action.tool"):
        if path in facts:
            return frozenset(facts[path])
    return None


def _overlapping_limits(name: str, enabled: list[Rule], where: _Where) -> list[Finding]:
    limited = [r for r in enabled if r.limit is not None]
    found = []
    for i, first in enumerate(limited):
        for second in limited[i + 1 :]:
            if first.stage != second.stage:
                continue
            a, b = _counted_actions(first), _counted_actions(second)
            same_text = _facts(first.condition).shape == _facts(second.condition).shape
            shared = a & b if a is not None and b is not None else frozenset()
            if not (same_text or shared):
                continue
            what = (
                "the same condition"
                if same_text
                else "calls to " + ", ".join(sorted(str(value) for value in shared))
            )
            found.append(
                Finding(
                    rule_id="AGT-L006",
                    level="warning",
                    message=f"rules `{first.name}` ({first.limit}) and `{second.name}` ({second.limit}) of "
                    f"policy `{name}` both rate-limit {what}; the tighter limit decides",
                    location=where.rule(second.name),
                    help="keep one limit per kind of call, or make the conditions disjoint",
                )
            )
    return found
