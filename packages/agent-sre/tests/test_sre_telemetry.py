"""Telemetry: real OpenTelemetry SDK with in-memory exporters, Prometheus exposition, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agent_os import AuditLog, GovernanceDenied, govern, pipeline
from agent_sre import (
    MissingDependencyError,
    OTelObserver,
    PrometheusObserver,
    disable_telemetry,
    enable_telemetry,
    telemetry_from_env,
)

POLICY = """
apiVersion: governance.toolkit/v1
name: ops
default_action: allow
rules:
- name: no-drop
  condition: "action.type == 'drop'"
  action: deny
"""


@pytest.fixture(autouse=True)
def clean_pipeline() -> Iterator[None]:
    pipeline().reset()
    yield
    pipeline().reset()


@pytest.fixture
def otel() -> tuple[InMemorySpanExporter, InMemoryMetricReader, TracerProvider, MeterProvider]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    return exporter, reader, tracer_provider, meter_provider


def db(action: str, table: str) -> str:
    if table == "missing":
        raise KeyError(table)
    return "ok"


def metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_spans_and_metrics_for_allowed_denied_and_failed_calls(otel: Any) -> None:
    exporter, reader, tracer_provider, meter_provider = otel
    observer = enable_telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    log = AuditLog()
    safe = govern(db, policy=POLICY, audit=log, agent_id="bot-7", agent={"ring": 2, "name": "Reporter"})
    assert safe(action="read", table="users") == "ok"
    with pytest.raises(GovernanceDenied):
        safe(action="drop", table="users")
    with pytest.raises(KeyError):
        safe(action="read", table="missing")

    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["execute_tool db"] * 3
    ok, denied, failed = spans
    assert ok.attributes is not None and denied.attributes is not None and failed.attributes is not None
    assert ok.attributes["gen_ai.operation.name"] == "execute_tool"
    assert ok.attributes["gen_ai.tool.name"] == "db"
    assert ok.attributes["gen_ai.agent.id"] == "bot-7"
    assert ok.attributes["gen_ai.agent.name"] == "Reporter"
    assert ok.attributes["agt.effect"] == "allow" and ok.attributes["agt.allowed"] is True
    assert ok.attributes["agt.ring"] == "2"
    assert ok.attributes["agt.audit_hash"] == log.records()[0].hash
    assert ok.status.status_code is StatusCode.UNSET

    assert denied.attributes["agt.effect"] == "deny" and denied.attributes["agt.rule"] == "no-drop"
    assert denied.attributes["agt.policy"] == "ops" and denied.attributes["error.type"] == "GovernanceDenied"
    assert denied.status.status_code is StatusCode.ERROR

    assert failed.attributes["error.type"] == "KeyError"
    assert failed.status.status_code is StatusCode.ERROR
    assert any(e.name == "exception" for e in failed.events)

    decisions = metric_points(reader, "agt.decisions")
    by_effect = {p.attributes["agt.effect"]: p.value for p in decisions}
    assert by_effect == {"allow": 2, "deny": 1}
    durations = metric_points(reader, "gen_ai.execute_tool.duration")
    assert sum(p.count for p in durations) == 2
    assert {p.attributes.get("error.type") for p in durations} == {None, "KeyError"}

    disable_telemetry(observer)
    safe(action="read", table="users")
    assert len(exporter.get_finished_spans()) == 3  # off again: nothing more is written


def test_a_guard_refusal_names_the_guard(otel: Any) -> None:
    exporter, _, tracer_provider, meter_provider = otel

    class Closed:
        name = "maintenance"

        def check(self, request: Any) -> str:
            return "down for maintenance"

    observer = OTelObserver(tracer_provider=tracer_provider, meter_provider=meter_provider)
    safe = govern(db, policy=POLICY, audit=False, guards=[Closed()], observers=[observer])
    with pytest.raises(GovernanceDenied):
        safe(action="read", table="t")
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None and span.attributes["agt.refused_by"] == "guard:maintenance"


def test_prometheus_exposition() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    observer = PrometheusObserver(registry=registry)
    safe = govern(db, policy=POLICY, audit=False, observers=[observer])
    safe(action="read", table="t")
    with pytest.raises(GovernanceDenied):
        safe(action="drop", table="t")
    text = generate_latest(registry).decode()
    assert 'agt_decisions_total{effect="allow",refused_by="",tool="db"} 1.0' in text
    assert 'agt_decisions_total{effect="deny",refused_by="",tool="db"} 1.0' in text
    assert 'agt_tool_duration_seconds_count{outcome="ok",tool="db"} 1.0' in text


def test_env_var_switches_telemetry_on_and_rejects_typos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGT_TELEMETRY", raising=False)
    assert telemetry_from_env() is None
    assert pipeline().observers == ()
    monkeypatch.setenv("AGT_TELEMETRY", "otel")
    observer = telemetry_from_env()
    assert observer is not None and pipeline().observers == (observer,)
    monkeypatch.setenv("AGT_TELEMETRY", "yes please")
    with pytest.raises(ValueError, match="AGT_TELEMETRY"):
        telemetry_from_env()


def test_missing_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("opentelemetry") else real(name, *a),
    )
    with pytest.raises(MissingDependencyError) as info:
        OTelObserver()
    assert "pip install 'agent-sre[otel]'" in str(info.value)


def test_importing_agent_sre_loads_no_optional_dependency() -> None:
    code = (
        "import sys, agent_sre; "
        "heavy = [m for m in ('opentelemetry', 'prometheus_client', 'psycopg') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def test_the_pipeline_entry_point_names_telemetry_from_env() -> None:
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="agt.pipeline") if ep.name == "agent-sre-telemetry"]
    assert ep.load() is telemetry_from_env


def test_sre_collector_exposes_switches_circuits_and_slos(tmp_path: Any) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from agent_sre import SLO, CircuitBreaker, KillSwitch, SRECollector, SuccessRate

    ks = KillSwitch(tmp_path / "ks.db", max_staleness_s=0)
    ks.pull("agent", "bot-7", by="a", reason="b")
    cb = CircuitBreaker()
    cb.trip("payments", reason="outage")
    slo = SLO("api", sli=SuccessRate(), target=0.99)
    slo.record(True, count=99)
    slo.record(False)
    registry = CollectorRegistry()
    registry.register(SRECollector(kill_switch=ks, breakers=[cb], slos=[slo]))
    text = generate_latest(registry).decode()
    assert 'agt_kill_switch_pulled{scope="agent",target="bot-7"} 1.0' in text
    assert "agt_kill_switch_readable 1.0" in text
    assert 'agt_circuit_open{circuit="payments"} 1.0' in text
    assert 'agt_circuit_opened_total{circuit="payments"} 1.0' in text
    assert 'agt_slo_budget_remaining{slo="api"} 0.0' in text
    assert 'agt_slo_alert_firing{alert="page-14.4x-1h",slo="api"} 0.0' in text
    ks.close()
    assert "agt_kill_switch_readable 0.0" in generate_latest(registry).decode()
