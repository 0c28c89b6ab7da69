"""A shared test kit: the policy, failure injectors and audit readers every adapter's tests use.

Every adapter is tested against the same behaviour with its framework's own fake model: an
allowed call runs with its arguments, a denied call never runs and the model sees the refusal,
require_approval goes through the approval handler, a crashing evaluator or audit sink refuses,
and parallel calls are each governed. This module holds the parts of those tests that do not
depend on the framework.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_os import ApprovalRequest, ApprovalResponse, AuditLog, compile_policies
from agt_core import Decision

__all__ = [
    "DENY_MESSAGE",
    "POLICY",
    "CrashingPolicySet",
    "ScriptedApprover",
    "ToolLedger",
    "audit_entries",
    "failing_audit_log",
    "readme_example",
]

DENY_MESSAGE = "destructive operations are not allowed"

POLICY: dict[str, Any] = {
    "apiVersion": "governance.toolkit/v1",
    "name": "adapter-tests",
    "default_action": "allow",
    "rules": [
        {
            "name": "block-destructive",
            "condition": "action.type in ['drop_table', 'delete_db']",
            "action": "deny",
            "message": DENY_MESSAGE,
        },
        {
            "name": "approve-email",
            "condition": "action.type == 'send_email'",
            "action": "require_approval",
            "approvers": ["security-team"],
        },
    ],
}
"""Allow by default; deny ``delete_db``/``drop_table``; ``send_email`` needs an approver."""


class ToolLedger:
    """Records the calls that really reached a tool body, so a test can prove a body never ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def record(self, tool: str, **args: Any) -> str:
        """Note one execution and return a recognisable result."""
        self.calls.append((tool, dict(args)))
        return f"{tool} done"

    def names(self) -> list[str]:
        """The tools that ran, in order."""
        return [name for name, _ in self.calls]


class CrashingPolicySet:
    """A compiled policy set whose evaluator raises: the kernel must refuse, never allow."""

    def __init__(self, policy: Any = None) -> None:
        self._inner = compile_policies(policy if policy is not None else POLICY)

    @property
    def hash(self) -> str:
        """The wrapped set's hash."""
        return self._inner.hash

    @property
    def evaluator(self) -> str:
        """The wrapped set's evaluator name (part of the `PolicySet` protocol)."""
        return self._inner.evaluator

    @property
    def policy_names(self) -> tuple[str, ...]:
        """The wrapped set's policy names."""
        return self._inner.policy_names

    @property
    def stages(self) -> frozenset[str]:
        """The wrapped set's stages."""
        return self._inner.stages

    @property
    def policy_hashes(self) -> Mapping[str, str]:
        """The wrapped set's policy hashes."""
        return self._inner.policy_hashes

    @property
    def limits(self) -> Mapping[tuple[str, str], str]:
        """The wrapped set's limits."""
        return self._inner.limits

    @property
    def warnings(self) -> tuple[str, ...]:
        """The wrapped set's load warnings."""
        return self._inner.warnings

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        """Crash, as a buggy evaluator would."""
        raise RuntimeError("evaluator exploded")


def failing_audit_log() -> AuditLog:
    """An audit log whose sink fails on every append: nothing may run unaudited."""

    def sink(line: str) -> None:
        raise OSError("audit disk full")

    return AuditLog(sink=sink)


class ScriptedApprover:
    """An approval handler with a fixed answer that records every request it was asked about.

    Args:
        approve: The answer to every request.
        approver: Who answers, as recorded in the audit trail.
    """

    def __init__(self, approve: bool, approver: str = "alice") -> None:
        self.approve = approve
        self.approver = approver
        self.requests: list[ApprovalRequest] = []

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        """Record `request` and answer it."""
        self.requests.append(request)
        if self.approve:
            return request.approve(self.approver, "scripted answer")
        return request.refuse(self.approver, "scripted answer")


def audit_entries(log: AuditLog) -> list[dict[str, Any]]:
    """One plain dict per audit record: tool, args, effect, allowed, rule, approval and framework context."""
    entries = []
    for record in log.records():
        request = record.request
        entries.append(
            {
                "tool": request.get("action", {}).get("type"),
                "args": request.get("args"),
                "effect": record.decision.effect,
                "allowed": record.decision.allowed,
                "rule": record.decision.rule,
                "approved": None if record.approval is None else record.approval.approved,
                "framework": request.get("context", {}).get("framework", {}),
                "agent_id": request.get("agent", {}).get("id"),
            }
        )
    return entries


def readme_example(readme: str | os.PathLike[str]) -> str:
    """The code of the first ``python`` block under the README's ``## Example`` heading, to run in a test."""
    text = Path(readme).read_text(encoding="utf-8")
    _, found, section = text.partition("\n## Example\n")
    if not found:
        raise ValueError(f"{readme}: no '## Example' section")
    _, found, rest = section.partition("```python\n")
    if not found:
        raise ValueError(f"{readme}: no python block under '## Example'")
    code, found, _ = rest.partition("\n```")
    if not found:
        raise ValueError(f"{readme}: unterminated python block under '## Example'")
    return code + "\n"
