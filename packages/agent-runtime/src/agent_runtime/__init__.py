r"""agent-runtime: enforced privilege rings, execution-plan validation, a shell command policy, sandboxes.

Everything plugs into the agent-os governed-call pipeline through agt-core's protocols::

    from agent_runtime import Rings, requires_ring
    rings = Rings(assignments={"deployer": 1})
    rings.install()                       # enricher (agent.ring) + guard (refuses above the ring)

    from agent_runtime import check_command
    check_command("sudo /bin/rm -rf /", deny=["rm"]).allowed     # False

    from agent_runtime import run_sandboxed
    run_sandboxed(["python3", "-c", "print(1)"], ring=3).stdout  # b"1\\n"

Importing this package is cheap: the parser, pydantic models and sandbox load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_runtime._version import __version__

if TYPE_CHECKING:
    from agent_runtime._command_policy import (
        ArgumentRule,
        CommandFacts,
        CommandGuard,
        CommandPolicy,
        check_command,
        load_command_policy,
    )
    from agent_runtime._limits import RING_LIMITS, ResourceLimits
    from agent_runtime._plan import (
        Plan,
        PlanReport,
        PlanRun,
        PlanStep,
        StepReport,
        execute_plan,
        validate_plan,
    )
    from agent_runtime._rings import (
        MAX_ELEVATION_SECONDS,
        TRUST_RING_THRESHOLDS,
        Elevation,
        RingEnricher,
        RingGuard,
        Rings,
        requires_ring,
        ring_for_trust,
    )
    from agent_runtime._sandbox import SandboxError, SandboxResult, namespaces_available, run_sandboxed
    from agent_runtime._shell_commands import CommandRefused, Invocation, command_family, invocations

__all__ = [
    "MAX_ELEVATION_SECONDS",
    "RING_LIMITS",
    "TRUST_RING_THRESHOLDS",
    "ArgumentRule",
    "CommandFacts",
    "CommandGuard",
    "CommandPolicy",
    "CommandRefused",
    "Elevation",
    "Invocation",
    "Plan",
    "PlanReport",
    "PlanRun",
    "PlanStep",
    "ResourceLimits",
    "RingEnricher",
    "RingGuard",
    "Rings",
    "SandboxError",
    "SandboxResult",
    "StepReport",
    "__version__",
    "check_command",
    "command_family",
    "execute_plan",
    "invocations",
    "load_command_policy",
    "namespaces_available",
    "requires_ring",
    "ring_for_trust",
    "run_sandboxed",
    "validate_plan",
]

_LAZY = {
    "ArgumentRule": "agent_runtime._command_policy",
    "CommandFacts": "agent_runtime._command_policy",
    "CommandGuard": "agent_runtime._command_policy",
    "CommandPolicy": "agent_runtime._command_policy",
    "check_command": "agent_runtime._command_policy",
    "load_command_policy": "agent_runtime._command_policy",
    "RING_LIMITS": "agent_runtime._limits",
    "ResourceLimits": "agent_runtime._limits",
    "Plan": "agent_runtime._plan",
    "PlanReport": "agent_runtime._plan",
    "PlanRun": "agent_runtime._plan",
    "PlanStep": "agent_runtime._plan",
    "StepReport": "agent_runtime._plan",
    "execute_plan": "agent_runtime._plan",
    "validate_plan": "agent_runtime._plan",
    "MAX_ELEVATION_SECONDS": "agent_runtime._rings",
    "TRUST_RING_THRESHOLDS": "agent_runtime._rings",
    "Elevation": "agent_runtime._rings",
    "RingEnricher": "agent_runtime._rings",
    "RingGuard": "agent_runtime._rings",
    "Rings": "agent_runtime._rings",
    "requires_ring": "agent_runtime._rings",
    "ring_for_trust": "agent_runtime._rings",
    "SandboxError": "agent_runtime._sandbox",
    "SandboxResult": "agent_runtime._sandbox",
    "namespaces_available": "agent_runtime._sandbox",
    "run_sandboxed": "agent_runtime._sandbox",
    "CommandRefused": "agent_runtime._shell_commands",
    "Invocation": "agent_runtime._shell_commands",
    "command_family": "agent_runtime._shell_commands",
    "invocations": "agent_runtime._shell_commands",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agent_runtime' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
