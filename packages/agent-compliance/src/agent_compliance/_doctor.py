"""``agt doctor``: what is installed, which evaluator decides, and what is wrong with the setup."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from agent_compliance._optional import OPTIONAL, installed, version_of
from agent_compliance._report import Finding, Location, Report, RuleInfo

__all__ = ["DOCTOR_RULES", "run_doctor"]

DOCTOR_RULES = {
    "AGT-D001": RuleInfo(
        id="AGT-D001", name="package-missing", description="A toolkit package is not installed."
    ),
    "AGT-D002": RuleInfo(
        id="AGT-D002",
        name="config-problem",
        description="The deployment file names something that is not there.",
    ),
    "AGT-D003": RuleInfo(
        id="AGT-D003", name="evaluator-problem", description="The policy evaluator cannot be loaded."
    ),
}


def run_doctor(config_path: str | None) -> Report:
    """Report versions, the active evaluator, optional packages and deployment-file problems."""
    from agent_os import compile_policies, evaluator_names
    from agt_core import GovernanceError

    report = Report(command="doctor", rules=dict(DOCTOR_RULES))
    versions = {name: version_of(name) for name in ("agt-core", "agent-os", "agent-compliance", *OPTIONAL)}
    report.lines.append(f"python {platform.python_version()} ({platform.python_implementation()})")
    for name, version in versions.items():
        report.lines.append(f"  {name:<18} {version or 'not installed'}")
    active = None
    try:
        probe = compile_policies({"apiVersion": "governance.toolkit/v1", "name": "agt-doctor"})
        active = str(getattr(probe, "evaluator", "unknown"))
    except GovernanceError as exc:
        report.findings.append(
            Finding(rule_id="AGT-D003", level="error", message=f"the evaluator cannot load: {exc}")
        )
    names = list(evaluator_names())
    report.lines.append(f"evaluators installed: {', '.join(names)}; active: {active}")
    env = {key: os.environ[key] for key in ("AGT_EVALUATOR", "AGT_STRICT_POLICIES") if key in os.environ}
    if env:
        report.lines.append("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    for distribution in OPTIONAL:
        if distribution == "agt-evaluator":
            continue  # an accelerator: the Python evaluator gives the same decisions
        if not installed(distribution):
            report.findings.append(
                Finding(
                    rule_id="AGT-D001",
                    level="note",
                    message=f"{distribution} is not installed: agt verify reports the checks that need it as not run",
                    help=f"pip install {distribution}",
                )
            )
    if config_path is not None:
        report.findings.extend(_config_problems(config_path))
    report.summary = {"versions": versions, "evaluator": active, "evaluators": names, "environment": env}
    return report


def _config_problems(config_path: str) -> list[Finding]:
    from agent_compliance._config import load_config

    config = load_config(config_path)
    found = []
    named = [("policies", p) for p in config.policies]
    named += [
        (key, getattr(config, key))
        for key in ("command_policy", "kill_switch", "audit", "checkpoint", "public_key")
    ]
    for key, value in named:
        if value is not None and not value.startswith("sqlite:") and not Path(value).exists():
            found.append(
                Finding(
                    rule_id="AGT-D002",
                    level="error",
                    location=Location(file=config_path),
                    message=f"`{key}` names `{value}`, which does not exist",
                )
            )
    needs = {"command_policy": "agent-runtime", "kill_switch": "agent-sre", "circuit_breaker": "agent-sre"}
    for key, distribution in needs.items():
        if getattr(config, key) is not None and not installed(distribution):
            found.append(
                Finding(
                    rule_id="AGT-D001",
                    level="warning",
                    location=Location(file=config_path),
                    message=f"`{key}` is set but {distribution} is not installed, so it cannot be checked",
                    help=f"pip install {distribution}",
                )
            )
    if not config.policies:
        found.append(
            Finding(
                rule_id="AGT-D002",
                level="warning",
                location=Location(file=config_path),
                message="the deployment file names no `policies:`",
            )
        )
    return found
