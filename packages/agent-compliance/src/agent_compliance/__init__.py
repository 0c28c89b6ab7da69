"""agent-compliance: the `agt` command line of the Agent Governance Toolkit.

``agt verify`` attacks a deployment per the OWASP Top 10 for Agentic Applications and reports
evidence; ``agt policy lint|test|eval|schema``, ``agt red-team scan|attack``, ``agt audit
verify|export|checkpoint`` and ``agt doctor`` complete it. The engines behind the commands are
public too (``run_verify``, ``lint_policies``, ``scan_paths``, ``verify_audit``, ``render``).
Importing this package loads nothing heavy: each name loads its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_compliance._cli import main
from agent_compliance._version import __version__

if TYPE_CHECKING:
    from agent_compliance._audit import AuditVerdict, verify_audit
    from agent_compliance._config import DeploymentConfig, load_config
    from agent_compliance._lint import LoadFailed, lint_policies
    from agent_compliance._probes import PROBES, RISKS, Probe
    from agent_compliance._redteam import attack_policies, scan_paths
    from agent_compliance._render import render
    from agent_compliance._report import CheckResult, Finding, Location, Report, RiskResult, RuleInfo
    from agent_compliance._requests import UsageError
    from agent_compliance._verify import run_verify

__all__ = [
    "PROBES",
    "RISKS",
    "AuditVerdict",
    "CheckResult",
    "DeploymentConfig",
    "Finding",
    "LoadFailed",
    "Location",
    "Probe",
    "Report",
    "RiskResult",
    "RuleInfo",
    "UsageError",
    "__version__",
    "attack_policies",
    "lint_policies",
    "load_config",
    "main",
    "render",
    "run_verify",
    "scan_paths",
    "verify_audit",
]

_LAZY = {
    "AuditVerdict": "agent_compliance._audit",
    "verify_audit": "agent_compliance._audit",
    "DeploymentConfig": "agent_compliance._config",
    "load_config": "agent_compliance._config",
    "LoadFailed": "agent_compliance._lint",
    "lint_policies": "agent_compliance._lint",
    "PROBES": "agent_compliance._probes",
    "RISKS": "agent_compliance._probes",
    "Probe": "agent_compliance._probes",
    "attack_policies": "agent_compliance._redteam",
    "scan_paths": "agent_compliance._redteam",
    "render": "agent_compliance._render",
    "CheckResult": "agent_compliance._report",
    "Finding": "agent_compliance._report",
    "Location": "agent_compliance._report",
    "Report": "agent_compliance._report",
    "RiskResult": "agent_compliance._report",
    "RuleInfo": "agent_compliance._report",
    "UsageError": "agent_compliance._requests",
    "run_verify": "agent_compliance._verify",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agent_compliance' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
