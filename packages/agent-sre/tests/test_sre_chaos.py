"""Chaos experiments: each fault does what it says, runs are reproducible, blast radius and aborts hold."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from agent_os import AuditLog, govern, pipeline
from agent_sre import (
    SLO,
    AbortWhen,
    ChaosExperiment,
    CircuitBreaker,
    CorruptResult,
    DropCall,
    Latency,
    OversizedResult,
    RaiseError,
    SuccessRate,
    Timeout,
    attach,
)

from .conftest import FakeClock

POLICY = """
apiVersion: governance.toolkit/v1
name: p
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


class Recorder:
    def __init__(self) -> None:
        self.calls = 0
        self.slept: list[float] = []

    def tool(self, query: str) -> dict[str, Any]:
        self.calls += 1
        return {"query": query, "rows": [1, 2, 3]}


def experiment(rec: Recorder, faults: list[Any], clock: FakeClock, **kwargs: Any) -> ChaosExperiment:
    return ChaosExperiment("exp", faults, clock=clock, sleep=rec.slept.append, **kwargs)


def test_each_fault_kind(clock: FakeClock) -> None:
    rec = Recorder()
    cases: list[tuple[Any, Any]] = [
        (Latency(2.5), lambda r: r == {"query": "q", "rows": [1, 2, 3]} and rec.slept == [2.5]),
        (DropCall(), lambda r: r is None and rec.calls == 0),
        (OversizedResult(size=1000), lambda r: r == "x" * 1000),
        (CorruptResult(), lambda r: isinstance(r, dict) and len(r) == 1),
        (CorruptResult(transform=lambda r: {**r, "rows": "garbage"}), lambda r: r["rows"] == "garbage"),
    ]
    for fault, ok in cases:
        rec.calls, rec.slept = 0, []
        with experiment(rec, [fault], clock) as exp:
            result = exp.inject(rec.tool)(query="q")
        assert ok(result), fault
    with (
        experiment(rec, [RaiseError(ConnectionError, "db down")], clock) as exp,
        pytest.raises(ConnectionError, match="db down"),
    ):
        exp.inject(rec.tool)(query="q")
    rec.slept = []
    with experiment(rec, [Timeout(30)], clock) as exp, pytest.raises(TimeoutError):
        exp.inject(rec.tool)(query="q")
    assert rec.slept == [30]


def test_nothing_is_injected_before_start_or_after_stop(clock: FakeClock) -> None:
    rec = Recorder()
    exp = experiment(rec, [DropCall()], clock)
    chaotic = exp.inject(rec.tool)
    assert chaotic(query="q") is not None
    exp.start()
    assert chaotic(query="q") is None
    exp.stop()
    assert chaotic(query="q") is not None


def sequence(seed: int, clock: FakeClock) -> list[str]:
    rec = Recorder()
    exp = experiment(rec, [RaiseError(weight=1), DropCall(weight=2)], clock, fraction=0.3, seed=seed)
    chaotic = exp.inject(rec.tool)
    out = []
    with exp:
        for _ in range(300):
            try:
                out.append("ok" if chaotic(query="q") is not None else "drop")
            except ConnectionError:
                out.append("error")
    return out


def test_same_seed_same_faults(clock: FakeClock) -> None:
    first = sequence(7, clock)
    assert first == sequence(7, clock)
    assert first != sequence(8, clock)
    injected = 300 - first.count("ok")
    assert 60 <= injected <= 120  # 30 % of 300, give or take the dice
    assert first.count("drop") > first.count("error")  # weight 2 against 1


def test_duration_bounds_the_run(clock: FakeClock) -> None:
    rec = Recorder()
    exp = experiment(rec, [DropCall()], clock, duration_s=60)
    chaotic = exp.inject(rec.tool)
    with exp:
        assert chaotic(query="q") is None
        clock.advance(60)
        assert chaotic(query="q") is not None
    assert exp.report().injected == {"drop": 1}


def test_tool_blast_radius(clock: FakeClock) -> None:
    rec = Recorder()
    exp = experiment(rec, [DropCall()], clock, tools=["tool"])
    other = exp.inject(lambda query: "fine", tool="other")
    with exp:
        assert exp.inject(rec.tool)(query="q") is None
        assert other(query="q") == "fine"


def test_agent_blast_radius_through_govern(clock: FakeClock) -> None:
    rec = Recorder()
    exp = experiment(rec, [DropCall()], clock, agents=["canary"])
    attach(exp)
    canary = govern(exp.inject(rec.tool), policy=POLICY, audit=False, agent_id="canary")
    prod = govern(exp.inject(rec.tool), policy=POLICY, audit=False, agent_id="prod")
    with exp:
        assert canary(query="q") is None
        assert prod(query="q") is not None
    # Without the guard role the experiment cannot see agents, so an agent filter injects nothing.
    pipeline().reset()
    with exp:
        assert canary(query="q") is not None


def test_an_slo_abort_stops_the_experiment(clock: FakeClock) -> None:
    rec = Recorder()
    slo = SLO("tool", sli=SuccessRate(), target=0.9, clock=clock)
    exp = experiment(rec, [RaiseError()], clock, abort_when=[AbortWhen(slo, budget_below=0.5)], slos=[slo])
    safe = govern(exp.inject(rec.tool), policy=POLICY, audit=False, observers=[slo])
    for _ in range(20):
        safe(query="warm")
    with exp:
        outcomes = []
        for _ in range(10):
            try:
                safe(query="q")
                outcomes.append("ok")
            except ConnectionError:
                outcomes.append("error")
    report = exp.report()
    # 20 good + 1 bad leaves 1 - 1/2.1 = 52 % of the budget; the second failure takes it below 50 %.
    assert outcomes == ["error", "error"] + ["ok"] * 8
    assert report.aborted is not None and "fell below 0.5" in report.aborted
    assert report.injected == {"exception": 2} and not report.held


def test_resilience_report_shows_the_breaker_opening(clock: FakeClock) -> None:
    rec = Recorder()
    breaker = CircuitBreaker(failure_threshold=3, clock=clock)
    slo = SLO("tool-success", sli=SuccessRate(), target=0.5, clock=clock)
    exp = experiment(rec, [RaiseError()], clock, fraction=1.0, breakers=[breaker], slos=[slo])
    attach(breaker, slo, exp)
    safe = govern(exp.inject(rec.tool), policy=POLICY, audit=AuditLog())
    for _ in range(10):
        safe(query="ok")
    with exp:
        for _ in range(10):
            with pytest.raises(Exception):
                safe(query="q")
    report = exp.report()
    assert report.injected == {"exception": 3}  # the breaker stopped the rest before the tool
    ((status, opened),) = report.breakers
    assert status.key == ("tool",) and status.state == "open" and opened == 1
    start, end, held = report.slos["tool-success"]
    assert start == 1.0 and end == pytest.approx(1 - 3 / 6.5) and held
    assert report.held


def test_async_tools(clock: FakeClock) -> None:
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    async def fetch(url: str) -> str:
        return url

    exp = ChaosExperiment("a", [Latency(1.5)], clock=clock, async_sleep=fake_sleep)
    safe = govern(exp.inject(fetch), policy=POLICY, audit=False)
    with exp:
        assert asyncio.run(safe(url="u")) == "u"
    assert waited == [1.5]


def test_async_callable_objects(clock: FakeClock) -> None:
    class Fetcher:
        async def __call__(self, url: str) -> str:
            return url

    exp = ChaosExperiment("a", [DropCall()], clock=clock)
    safe = govern(exp.inject(Fetcher(), tool="fetch"), policy=POLICY, audit=False, tool_name="fetch")
    with exp:
        assert asyncio.run(safe(url="u")) is None
    assert asyncio.run(safe(url="u")) == "u"


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one fault"):
        ChaosExperiment("x", [])
    with pytest.raises(ValueError, match="fraction"):
        ChaosExperiment("x", [DropCall()], fraction=0)
