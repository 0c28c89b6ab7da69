"""OpenTelemetry traces and metrics, and Prometheus metrics, for every governed call.

Spans follow the GenAI semantic conventions for tool execution (``execute_tool {tool}``,
``gen_ai.operation.name = execute_tool``, ``gen_ai.tool.name``, ``gen_ai.agent.id``,
``error.type``) and add the governance decision as ``agt.*`` attributes: ``agt.effect``,
``agt.allowed``, ``agt.rule``, ``agt.policy``, ``agt.refused_by``, ``agt.audit_hash``,
``agt.stage``, ``agt.ring``. A refused call gets a span too (nothing ran, so it is instant and
its status is an error). Metrics: ``agt.decisions`` (a counter by effect, tool and refuser) and
``gen_ai.execute_tool.duration`` (a histogram in seconds).

Off by default: nothing is registered, so a governed call pays nothing. `enable_telemetry()`
(or ``AGT_TELEMETRY=otel`` with `telemetry_from_env()`) registers an `OTelObserver` with the
pipeline. OpenTelemetry is imported only then.

A span is written when the call completes, with its start set from the measured duration,
because observers are told about a call only after it is decided; spans the tool itself
opens are therefore siblings of the ``execute_tool`` span, not its children.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agent_sre._errors import require
from agent_sre._version import __version__
from agt_core import Enforcement

if TYPE_CHECKING:
    from agent_os import Pipeline

__all__ = [
    "OTelObserver",
    "PrometheusObserver",
    "SRECollector",
    "decision_attributes",
    "disable_telemetry",
    "enable_telemetry",
    "telemetry_from_env",
]


def decision_attributes(outcome: Enforcement) -> dict[str, str | bool]:
    """The span attributes of one governed call's decision (GenAI conventions plus ``agt.*``)."""
    request = outcome.request
    action = request.get("action")
    agent = request.get("agent")
    action = action if isinstance(action, Mapping) else {}
    agent = agent if isinstance(agent, Mapping) else {}
    tool = action.get("tool") or action.get("type") or "unknown"
    decision = outcome.decision
    attrs: dict[str, str | bool] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": str(tool),
        "agt.effect": decision.effect,
        "agt.allowed": outcome.allowed,
        "agt.stage": decision.stage,
    }
    optional: dict[str, object] = {
        "gen_ai.agent.id": agent.get("id"),
        "gen_ai.agent.name": agent.get("name"),
        "agt.action.type": action.get("type"),
        "agt.rule": decision.rule,
        "agt.policy": decision.policy,
        "agt.policy_set_hash": decision.policy_set_hash,
        "agt.refused_by": decision.refused_by,
        "agt.audit_hash": outcome.audit_hash,
        "agt.ring": agent.get("ring"),
    }
    for key, value in optional.items():
        if value is not None:
            attrs[key] = value if isinstance(value, (str, bool)) else str(value)
    if decision.rate_limited:
        attrs["agt.rate_limited"] = True
    if outcome.approval is not None:
        attrs["agt.approved"] = outcome.approval.approved
    return attrs


class OTelObserver:
    """Writes a span and metrics for every governed call (an `agt_core.Observer`).

    Args:
        tracer_provider: Where spans go (default: the global provider).
        meter_provider: Where metrics go (default: the global provider).

    Raises:
        MissingDependencyError: if OpenTelemetry is not installed (``pip install 'agent-sre[otel]'``).
    """

    name = "otel"

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        require("opentelemetry.trace", "otel")
        from opentelemetry import metrics, trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._status = Status
        self._error = StatusCode.ERROR
        self._kind = SpanKind.INTERNAL
        tracers = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        meters = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self._tracer = tracers.get_tracer("agent_sre", __version__)
        meter = meters.get_meter("agent_sre", __version__)
        self._decisions = meter.create_counter(
            "agt.decisions", unit="{decision}", description="Governance decisions on tool calls"
        )
        self._duration = meter.create_histogram(
            "gen_ai.execute_tool.duration", unit="s", description="Duration of governed tool executions"
        )

    def on_decision(self, outcome: Enforcement) -> None:
        """Count the decision; a refused call gets its (instant) span here."""
        attrs = decision_attributes(outcome)
        self._decisions.add(
            1,
            {
                "agt.effect": attrs["agt.effect"],
                "agt.allowed": attrs["agt.allowed"],
                "gen_ai.tool.name": attrs["gen_ai.tool.name"],
                "agt.refused_by": attrs.get("agt.refused_by", ""),
                "agt.stage": attrs["agt.stage"],
            },
        )
        if not outcome.allowed:
            now = time.time_ns()
            attrs["error.type"] = "GovernanceDenied"
            span = self._tracer.start_span(
                f"execute_tool {attrs['gen_ai.tool.name']}", kind=self._kind, attributes=attrs, start_time=now
            )
            span.set_status(self._status(self._error, outcome.decision.message or "refused"))
            span.end(end_time=now)

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Write the tool's span (start back-dated by its duration) and record the duration."""
        end = time.time_ns()
        attrs = decision_attributes(outcome)
        if error is not None:
            attrs["error.type"] = type(error).__qualname__
        span = self._tracer.start_span(
            f"execute_tool {attrs['gen_ai.tool.name']}",
            kind=self._kind,
            attributes=attrs,
            start_time=end - int(duration_s * 1e9),
        )
        if error is not None:
            span.record_exception(error)
            span.set_status(self._status(self._error, f"{type(error).__name__}: {error}"))
        span.end(end_time=end)
        metric_attrs: dict[str, str] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": str(attrs["gen_ai.tool.name"]),
        }
        if error is not None:
            metric_attrs["error.type"] = type(error).__qualname__
        self._duration.record(duration_s, metric_attrs)


class PrometheusObserver:
    """Prometheus metrics for governed calls (an `agt_core.Observer`), via ``prometheus-client``.

    Metrics: ``agt_decisions_total{effect,tool,refused_by}``,
    ``agt_tool_duration_seconds{tool,outcome}`` (outcome ``ok`` or ``error``). Serve them with
    ``prometheus_client.start_http_server`` or render with ``prometheus_client.generate_latest(registry)``.
    Agent ids are not labels: their number is unbounded.

    Args:
        registry: A ``prometheus_client.CollectorRegistry`` (default: the global ``REGISTRY``).

    Raises:
        MissingDependencyError: if prometheus-client is not installed (``pip install 'agent-sre[prometheus]'``).
    """

    name = "prometheus"

    def __init__(self, *, registry: Any = None) -> None:
        require("prometheus_client", "prometheus")
        import prometheus_client

        registry = registry if registry is not None else prometheus_client.REGISTRY
        self.registry = registry
        self._decisions = prometheus_client.Counter(
            "agt_decisions",
            "Governance decisions on tool calls",
            ["effect", "tool", "refused_by"],
            registry=registry,
        )
        self._duration = prometheus_client.Histogram(
            "agt_tool_duration_seconds",
            "Duration of governed tool executions",
            ["tool", "outcome"],
            registry=registry,
        )

    def on_decision(self, outcome: Enforcement) -> None:
        """Count the decision."""
        action = outcome.request.get("action") or {}
        self._decisions.labels(
            outcome.decision.effect,
            str(action.get("tool") or action.get("type")),
            outcome.decision.refused_by or "",
        ).inc()

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Record the tool's duration."""
        action = outcome.request.get("action") or {}
        tool = str(action.get("tool") or action.get("type"))
        self._duration.labels(tool, "ok" if error is None else "error").observe(duration_s)


class SRECollector:
    """A prometheus-client collector of agent-sre state, read at each scrape.

    Gauges: ``agt_kill_switch_pulled{scope,target}`` (1 per pulled switch; ``agt_kill_switch_readable``
    is 0 when the store cannot be read), ``agt_circuit_open{circuit}`` and
    ``agt_circuit_half_open{circuit}`` (1 or 0), ``agt_circuit_opened_total{circuit}``,
    ``agt_slo_budget_remaining{slo}``, ``agt_slo_burn_rate{slo,alert,window}`` (``long``/``short``)
    and ``agt_slo_alert_firing{slo,alert}``.

    Register it with ``registry.register(SRECollector(...))``.

    Raises:
        MissingDependencyError: if prometheus-client is not installed.
    """

    def __init__(
        self, *, kill_switch: Any = None, breakers: Sequence[Any] = (), slos: Sequence[Any] = ()
    ) -> None:
        require("prometheus_client", "prometheus")
        self.kill_switch = kill_switch
        self.breakers = tuple(breakers)
        self.slos = tuple(slos)

    def collect(self) -> Iterator[Any]:
        """Yield the gauges (called by prometheus-client at each scrape)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self.kill_switch is not None:
            pulled = GaugeMetricFamily(
                "agt_kill_switch_pulled", "Pulled kill switches", labels=["scope", "target"]
            )
            readable = GaugeMetricFamily(
                "agt_kill_switch_readable", "Whether the kill switch store can be read"
            )
            try:
                for switch in self.kill_switch.pulled():
                    pulled.add_metric([switch.scope, switch.target], 1)
                readable.add_metric([], 1)
            except Exception:
                readable.add_metric([], 0)
            yield pulled
            yield readable
        if self.breakers:
            is_open = GaugeMetricFamily("agt_circuit_open", "Circuit is open", labels=["circuit"])
            half = GaugeMetricFamily("agt_circuit_half_open", "Circuit is half-open", labels=["circuit"])
            opened = CounterMetricFamily("agt_circuit_opened", "Times the circuit opened", labels=["circuit"])
            for breaker in self.breakers:
                for status in breaker.circuits():
                    name = "/".join(status.key)
                    is_open.add_metric([name], 1 if status.state == "open" else 0)
                    half.add_metric([name], 1 if status.state == "half_open" else 0)
                    opened.add_metric([name], status.times_opened)
            yield is_open
            yield half
            yield opened
        if self.slos:
            budget = GaugeMetricFamily(
                "agt_slo_budget_remaining", "Error budget left (fraction)", labels=["slo"]
            )
            burn = GaugeMetricFamily("agt_slo_burn_rate", "Burn rate", labels=["slo", "alert", "window"])
            firing = GaugeMetricFamily(
                "agt_slo_alert_firing", "Burn-rate alert firing", labels=["slo", "alert"]
            )
            for slo in self.slos:
                status = slo.status()
                budget.add_metric([status.name], status.budget_remaining)
                for alert, (long_rate, short_rate) in status.burn_rates.items():
                    burn.add_metric([status.name, alert, "long"], long_rate)
                    burn.add_metric([status.name, alert, "short"], short_rate)
                    firing.add_metric([status.name, alert], 1 if alert in status.firing else 0)
            yield budget
            yield burn
            yield firing


def enable_telemetry(
    *, tracer_provider: Any = None, meter_provider: Any = None, pipeline: Pipeline | None = None
) -> OTelObserver:
    """Register an `OTelObserver` with the pipeline (default: the process-wide one) and return it.

    Raises:
        MissingDependencyError: if OpenTelemetry is not installed.
    """
    from agent_os import pipeline as process_pipeline

    observer = OTelObserver(tracer_provider=tracer_provider, meter_provider=meter_provider)
    (pipeline if pipeline is not None else process_pipeline()).add_observer(observer)
    return observer


def disable_telemetry(observer: OTelObserver, *, pipeline: Pipeline | None = None) -> None:
    """Unregister an observer returned by `enable_telemetry`."""
    from agent_os import pipeline as process_pipeline

    (pipeline if pipeline is not None else process_pipeline()).remove(observer)


def telemetry_from_env(*, pipeline: Pipeline | None = None) -> OTelObserver | None:
    """Enable telemetry when ``AGT_TELEMETRY`` is ``otel``, ``1``, ``true`` or ``on``; else do nothing.

    Raises:
        ValueError: for any other non-empty value (a typo must not silently leave telemetry off).
        MissingDependencyError: if it is asked for and OpenTelemetry is not installed.
    """
    value = os.environ.get("AGT_TELEMETRY", "").strip().lower()
    if value in ("", "0", "false", "off", "none"):
        return None
    if value not in ("otel", "1", "true", "on"):
        raise ValueError(f"AGT_TELEMETRY={value!r} is not understood; use `otel` to enable or `off`")
    return enable_telemetry(pipeline=pipeline)
