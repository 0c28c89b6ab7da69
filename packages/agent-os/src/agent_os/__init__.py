"""agent-os: the Agent Governance Toolkit kernel.

Compile policies once, then decide, approve, audit and enforce every agent action::

    from agent_os import govern
    safe_tool = govern(my_tool, policy="policy.yaml")

Importing this package is cheap: the policy engine (pydantic, PyYAML, RE2) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_os._version import __version__
from agt_core import (
    ApprovalError,
    AuditError,
    AuditIntegrityError,
    AuditSink,
    AuditWriteError,
    Enforcement,
    EnforcementError,
    Enricher,
    GovernanceDenied,
    GovernanceError,
    Guard,
    Observer,
    PolicyError,
    PolicyWarning,
    RequestError,
    verify_audit_lines,
)

if TYPE_CHECKING:
    from agent_os._approval import (
        ApprovalHandler,
        ApprovalPending,
        ApprovalRequest,
        ApprovalResponse,
        CallbackApproval,
        ConsoleApproval,
        DenyApprovals,
    )
    from agent_os._audit_log import AuditLog
    from agent_os._compile import PolicySource, compile_policies
    from agent_os._condition_facts import ConditionFacts, condition_facts
    from agent_os._evaluators import evaluator_backend, evaluator_names
    from agent_os._gate import ToolGate
    from agent_os._govern import default_audit_log, govern, governance_context
    from agent_os._kernel import DEFAULT_APPROVAL_TIMEOUT, Kernel
    from agent_os._loading import PolicyProblems, load_policies
    from agent_os._migrate import MigrationChange, MigrationError, MigrationResult, migrate_policy
    from agent_os._pipeline import Pipeline, pipeline
    from agent_os._python_evaluator import PythonPolicySet
    from agent_os._rate_limit import RateLimiter
    from agent_os._request_builder import RequestLimits, normalize_action, to_json_data
    from agent_os._wiring import GovernOptions
    from agent_os.detection import Detection, DetectionEnricher, DetectionGuard, Detector

__all__ = [
    "DEFAULT_APPROVAL_TIMEOUT",
    "ApprovalError",
    "ApprovalHandler",
    "ApprovalPending",
    "ApprovalRequest",
    "ApprovalResponse",
    "AuditError",
    "AuditIntegrityError",
    "AuditLog",
    "AuditSink",
    "AuditWriteError",
    "CallbackApproval",
    "ConditionFacts",
    "ConsoleApproval",
    "DenyApprovals",
    "Detection",
    "DetectionEnricher",
    "DetectionGuard",
    "Detector",
    "Enforcement",
    "EnforcementError",
    "Enricher",
    "GovernOptions",
    "GovernanceDenied",
    "GovernanceError",
    "Guard",
    "Kernel",
    "MigrationChange",
    "MigrationError",
    "MigrationResult",
    "Observer",
    "Pipeline",
    "PolicyError",
    "PolicyProblems",
    "PolicySource",
    "PolicyWarning",
    "PythonPolicySet",
    "RateLimiter",
    "RequestError",
    "RequestLimits",
    "ToolGate",
    "__version__",
    "compile_policies",
    "condition_facts",
    "default_audit_log",
    "evaluator_backend",
    "evaluator_names",
    "govern",
    "governance_context",
    "load_policies",
    "migrate_policy",
    "normalize_action",
    "pipeline",
    "to_json_data",
    "verify_audit_lines",
]

_LAZY = {
    "ApprovalHandler": "agent_os._approval",
    "ApprovalPending": "agent_os._approval",
    "ApprovalRequest": "agent_os._approval",
    "ApprovalResponse": "agent_os._approval",
    "CallbackApproval": "agent_os._approval",
    "ConsoleApproval": "agent_os._approval",
    "DenyApprovals": "agent_os._approval",
    "AuditLog": "agent_os._audit_log",
    "ToolGate": "agent_os._gate",
    "Pipeline": "agent_os._pipeline",
    "pipeline": "agent_os._pipeline",
    "GovernOptions": "agent_os._wiring",
    "DEFAULT_APPROVAL_TIMEOUT": "agent_os._kernel",
    "normalize_action": "agent_os._request_builder",
    "PolicySource": "agent_os._compile",
    "compile_policies": "agent_os._compile",
    "ConditionFacts": "agent_os._condition_facts",
    "condition_facts": "agent_os._condition_facts",
    "default_audit_log": "agent_os._govern",
    "govern": "agent_os._govern",
    "governance_context": "agent_os._govern",
    "Kernel": "agent_os._kernel",
    "evaluator_backend": "agent_os._evaluators",
    "evaluator_names": "agent_os._evaluators",
    "load_policies": "agent_os._loading",
    "PythonPolicySet": "agent_os._python_evaluator",
    "PolicyProblems": "agent_os._loading",
    "RateLimiter": "agent_os._rate_limit",
    "MigrationChange": "agent_os._migrate",
    "MigrationError": "agent_os._migrate",
    "MigrationResult": "agent_os._migrate",
    "migrate_policy": "agent_os._migrate",
    "RequestLimits": "agent_os._request_builder",
    "to_json_data": "agent_os._request_builder",
    "Detection": "agent_os.detection",
    "DetectionEnricher": "agent_os.detection",
    "DetectionGuard": "agent_os.detection",
    "Detector": "agent_os.detection",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agent_os' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
