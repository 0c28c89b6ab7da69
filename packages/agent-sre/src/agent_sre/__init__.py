"""agent-sre: reliability controls for governed agents.

Kill switch, circuit breakers, SLOs with error budgets and burn-rate alerts, chaos experiments,
rogue-agent detection and OpenTelemetry, all plugged into the agent-os governed-call pipeline
as guards and observers. OpenTelemetry, prometheus-client and psycopg load only when used.
"""

from __future__ import annotations

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
from agent_sre._errors import MissingDependencyError, SREError, StateStoreError
from agent_sre._kill_switch import KillSwitch
from agent_sre._latency import LatencyPercentiles
from agent_sre._pg_store import PostgresSwitchStore
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
from agent_sre._switch_store import SQLiteSwitchStore, Switch, SwitchEvent, SwitchStore
from agent_sre._telemetry import (
    OTelObserver,
    PrometheusObserver,
    decision_attributes,
    disable_telemetry,
    enable_telemetry,
    telemetry_from_env,
)
from agent_sre._version import __version__

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
    "PostgresSwitchStore",
    "PrometheusObserver",
    "PullKillSwitch",
    "RaiseError",
    "RefuseCalls",
    "ResilienceReport",
    "RogueAgentDetector",
    "RogueAssessment",
    "RunCallback",
    "SLOStatus",
    "SQLiteSwitchStore",
    "SREError",
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
