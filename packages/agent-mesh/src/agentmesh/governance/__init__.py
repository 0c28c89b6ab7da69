"""Govern any tool in two lines::

    from agentmesh.governance import govern
    safe_tool = govern(my_tool, policy="policy.yaml")

This module re-exports the kernel's public governance API (`agent_os`); ``govern`` here and
``agent_os.govern`` are the same function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_os import (
    ApprovalError,
    AuditError,
    AuditIntegrityError,
    GovernanceDenied,
    GovernanceError,
    PolicyError,
    RequestError,
)

if TYPE_CHECKING:
    from agent_os import (
        ApprovalRequest,
        ApprovalResponse,
        AuditLog,
        CallbackApproval,
        ConsoleApproval,
        DenyApprovals,
        compile_policies,
        default_audit_log,
        govern,
        governance_context,
        verify_audit_lines,
    )

__all__ = [
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalResponse",
    "AuditError",
    "AuditIntegrityError",
    "AuditLog",
    "CallbackApproval",
    "ConsoleApproval",
    "DenyApprovals",
    "GovernanceDenied",
    "GovernanceError",
    "PolicyError",
    "RequestError",
    "compile_policies",
    "default_audit_log",
    "govern",
    "governance_context",
    "verify_audit_lines",
]

_FROM_AGENT_OS = frozenset(__all__)


def __getattr__(name: str) -> Any:
    # Resolved on first use so that importing this module does not load the policy engine.
    if name not in _FROM_AGENT_OS:
        raise AttributeError(f"module 'agentmesh.governance' has no attribute {name!r}")
    import agent_os

    value = getattr(agent_os, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
