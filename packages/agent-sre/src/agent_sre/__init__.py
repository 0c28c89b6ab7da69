"""agent-sre: reliability controls for governed agents.

Kill switch, circuit breakers, SLOs with error budgets and burn-rate alerts, chaos experiments,
rogue-agent detection and OpenTelemetry, all plugged into the agent-os governed-call pipeline
as guards and observers. OpenTelemetry, prometheus-client and psycopg load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_sre._errors import MissingDependencyError, SREError, StateStoreError
from agent_sre._version import __version__

if TYPE_CHECKING:
    from agent_sre._attach import attach, detach
    from agent_sre._breaker import BreakerState, CircuitBreaker, CircuitStatus
    from agent_sre._chaos import (
        AbortWhen,
        ChaosExperiment,
        CorruptResult,
        DropCall,
        Fault,
        Latency,
        OversizedResult,
        RaiseError,
        ResilienceReport,
        Timeout,
    )
    from agent_sre._kill_switch import KillSwitch
    from agent_sre._latency import LatencyPercentiles
    from agent_sre._pg_store import PostgresSwitchStore
    from agent_sre._rate_store import PostgresRateStore, RateStore, SharedRateLimiter, SQLiteRateStore
    from agent_sre._rogue import RogueAgentDetector, RogueAssessment
    from agent_sre._slo import (
        SLI,
        SLO,
        AlertEvent,
        ApprovalWait,
        BurnRateAlert,
        CustomSLI,
        LatencyBelow,
        PolicyCompliance,
        PullKillSwitch,
        RefuseCalls,
        RunCallback,
        SLOStatus,
        SuccessRate,
        workbook_alerts,
    )
    from agent_sre._switch_store import CircuitStateStore, SQLiteSwitchStore, Switch, SwitchEvent, SwitchStore
    from agent_sre._telemetry import (
        OTelObserver,
        PrometheusObserver,
        SRECollector,
        decision_attributes,
        disable_telemetry,
        enable_telemetry,
        telemetry_from_env,
    )

__all__ = [
    "SLI",
    "SLO",
    "AbortWhen",
    "AlertEvent",
    "ApprovalWait",
    "BreakerState",
    "BurnRateAlert",
    "ChaosExperiment",
    "CircuitBreaker",
    "CircuitStateStore",
    "CircuitStatus",
    "CorruptResult",
    "CustomSLI",
    "DropCall",
    "Fault",
    "KillSwitch",
    "Latency",
    "LatencyBelow",
    "LatencyPercentiles",
    "MissingDependencyError",
    "OTelObserver",
    "OversizedResult",
    "PolicyCompliance",
    "PostgresRateStore",
    "PostgresSwitchStore",
    "PrometheusObserver",
    "PullKillSwitch",
    "RaiseError",
    "RateStore",
    "RefuseCalls",
    "ResilienceReport",
    "RogueAgentDetector",
    "RogueAssessment",
    "RunCallback",
    "SLOStatus",
    "SQLiteRateStore",
    "SQLiteSwitchStore",
    "SRECollector",
    "SREError",
    "SharedRateLimiter",
    "StateStoreError",
    "SuccessRate",
    "Switch",
    "SwitchEvent",
    "SwitchStore",
    "Timeout",
    "__version__",
    "attach",
    "decision_attributes",
    "detach",
    "disable_telemetry",
    "enable_telemetry",
    "telemetry_from_env",
    "workbook_alerts",
]

# Everything else loads on first use, so `import agent_sre` stays cheap (sqlite3, asyncio and
# statistics are imported by the component that needs them, when it is first named).
_LAZY = {
    "attach": "agent_sre._attach",
    "detach": "agent_sre._attach",
    "BreakerState": "agent_sre._breaker",
    "CircuitBreaker": "agent_sre._breaker",
    "CircuitStatus": "agent_sre._breaker",
    "AbortWhen": "agent_sre._chaos",
    "ChaosExperiment": "agent_sre._chaos",
    "CorruptResult": "agent_sre._chaos",
    "DropCall": "agent_sre._chaos",
    "Fault": "agent_sre._chaos",
    "Latency": "agent_sre._chaos",
    "OversizedResult": "agent_sre._chaos",
    "RaiseError": "agent_sre._chaos",
    "ResilienceReport": "agent_sre._chaos",
    "Timeout": "agent_sre._chaos",
    "KillSwitch": "agent_sre._kill_switch",
    "LatencyPercentiles": "agent_sre._latency",
    "PostgresSwitchStore": "agent_sre._pg_store",
    "PostgresRateStore": "agent_sre._rate_store",
    "RateStore": "agent_sre._rate_store",
    "SQLiteRateStore": "agent_sre._rate_store",
    "SharedRateLimiter": "agent_sre._rate_store",
    "RogueAgentDetector": "agent_sre._rogue",
    "RogueAssessment": "agent_sre._rogue",
    "AlertEvent": "agent_sre._slo",
    "ApprovalWait": "agent_sre._slo",
    "BurnRateAlert": "agent_sre._slo",
    "CustomSLI": "agent_sre._slo",
    "LatencyBelow": "agent_sre._slo",
    "PolicyCompliance": "agent_sre._slo",
    "PullKillSwitch": "agent_sre._slo",
    "RefuseCalls": "agent_sre._slo",
    "RunCallback": "agent_sre._slo",
    "SLI": "agent_sre._slo",
    "SLO": "agent_sre._slo",
    "SLOStatus": "agent_sre._slo",
    "SuccessRate": "agent_sre._slo",
    "workbook_alerts": "agent_sre._slo",
    "CircuitStateStore": "agent_sre._switch_store",
    "SQLiteSwitchStore": "agent_sre._switch_store",
    "Switch": "agent_sre._switch_store",
    "SwitchEvent": "agent_sre._switch_store",
    "SwitchStore": "agent_sre._switch_store",
    "OTelObserver": "agent_sre._telemetry",
    "PrometheusObserver": "agent_sre._telemetry",
    "SRECollector": "agent_sre._telemetry",
    "decision_attributes": "agent_sre._telemetry",
    "disable_telemetry": "agent_sre._telemetry",
    "enable_telemetry": "agent_sre._telemetry",
    "telemetry_from_env": "agent_sre._telemetry",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agent_sre' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
