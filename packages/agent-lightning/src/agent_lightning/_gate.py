"""The gate a wrapper or scorer judges with (kept apart from the wrapper so scoring needs no gymnasium)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_os import ToolGate

__all__ = ["make_gate"]


def make_gate(policy: Any, gate: ToolGate | None, audit: Any, agent_id: str) -> ToolGate:
    """`gate` itself, or a `ToolGate` for `policy` auditing to `audit` (default: a new `AuditLog`)."""
    from agent_os import AuditLog, ToolGate

    if gate is not None:
        if policy is not None:
            raise TypeError("give either policy= or gate=, not both")
        if not isinstance(gate, ToolGate):
            raise TypeError(f"gate= must be an agent_os.ToolGate, not {type(gate).__name__}")
        return gate
    if policy is None:
        raise TypeError("policy= is required (a policy file, YAML text, a dict or a PolicySet), or gate=")
    return ToolGate(policy=policy, audit=AuditLog() if audit is None else audit, agent_id=agent_id)
