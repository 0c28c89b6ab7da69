"""SLOs: budgets, workbook burn-rate alerts that fire and reset at the right bucket, enforcing actions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os import AuditLog
from agent_sre import (
    SLO,
    AlertEvent,
    BurnRateAlert,
    CustomSLI,
    KillSwitch,
    LatencyBelow,
    PolicyCompliance,
    PullKillSwitch,
    RefuseCalls,
    RunCallback,
    SuccessRate,
    workbook_alerts,
)
from agent_sre._series import BucketSeries
from agt_core import Decision, Enforcement

from .conftest import FakeClock, make_request

MIN = 60.0
DAY = 86400.0


def outcome(request: dict[str, Any] | None = None, **decision: Any) -> Enforcement:
    d = Decision(**{"effect": "allow", "allowed": True, **decision})
    return Enforcement(d.allowed, d, None, None, request or make_request())


# -- the bucket series against the obvious computation ---------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 5000), st.booleans()), max_size=80),
    resolution=st.sampled_from([1.0, 7.0, 60.0]),
    retention=st.integers(60, 3000),
    queries=st.lists(st.tuples(st.integers(0, 6000), st.integers(1, 3000)), min_size=1, max_size=10),
)
def test_series_matches_naive_sums(
    events: list[tuple[int, bool]], resolution: float, retention: int, queries: list[tuple[int, int]]
) -> None:
    events.sort()
    series = BucketSeries(resolution, float(retention))
    for at, bad in events:
        series.add(float(at), bad)
    newest = math.floor(events[-1][0] / resolution) if events else None
    for now, window in queries:
        if window > retention or (newest is not None and math.floor(now / resolution) < newest):
            continue  # only windows the series keeps, asked at or after the newest event
        end = math.floor(now / resolution)
        start = end - math.ceil(window / resolution) + 1
        inside = [bad for at, bad in events if start <= math.floor(at / resolution) <= end]
        expected = (len(inside), sum(inside))
        assert series.window(float(now), float(window)) == expected
        assert series.windows(float(now), (series.buckets_in(window), 1)) == [
            expected,
            series.window(float(now), resolution),
        ]


def test_series_prunes_to_its_retention() -> None:
    series = BucketSeries(1.0, 100.0)
    for t in range(10_000):
        series.add(float(t), t % 3 == 0)
    assert len(series) <= 100
    assert series.window(9999.0, 100.0) == (100, sum(1 for t in range(9900, 10_000) if t % 3 == 0))


# -- budgets -----------------------------------------------------------------------------------------


def test_workbook_thresholds_for_30_days() -> None:
    alerts = workbook_alerts(30 * DAY)
    assert [(a.severity, a.burn_rate, a.long_window_s, a.short_window_s) for a in alerts] == [
        ("page", 14.4, 3600.0, 300.0),
        ("page", 6.0, 21600.0, 1800.0),
        ("ticket", 1.0, 259200.0, 21600.0),
    ]
    assert [a.name for a in alerts] == ["page-14.4x-1h", "page-6x-6h", "ticket-1x-3d"]
    assert workbook_alerts(7 * DAY)[0].burn_rate == pytest.approx(3.36)


def test_error_budget_remaining_and_exhaustion(clock: FakeClock) -> None:
    slo = SLO("api", sli=SuccessRate(), target=0.99, clock=clock)
    assert slo.status().budget_remaining == 1.0 and not slo.status().exhausted
    slo.record(True, count=990)
    slo.record(False, count=5)
    status = slo.status()
    assert (status.total, status.bad) == (995, 5)
    assert status.budget_remaining == pytest.approx(1 - 5 / 9.95) and status.sli == pytest.approx(990 / 995)
    slo.record(False, count=5)
    assert slo.status().exhausted
    assert slo.status().budget_remaining == pytest.approx(0.0, abs=1e-9)


def test_events_leave_the_window(clock: FakeClock) -> None:
    slo = SLO("api", sli=SuccessRate(), target=0.9, window_s=3600, alerts=(), resolution_s=60, clock=clock)
    slo.record(False, count=10)
    clock.advance(3600)
    slo.record(True)
    assert (slo.status().total, slo.status().bad) == (1, 0)


# -- burn-rate alerts: fire and reset at the right bucket --------------------------------------------


def run_incident(
    error_ratio: float,
    incident_buckets: int,
    after_buckets: int,
    *,
    target: float = 0.999,
    per_minute: int = 1000,
) -> tuple[SLO, list[AlertEvent], int]:
    """Steady traffic (`per_minute` calls), then `incident_buckets` minutes at `error_ratio`, then healthy.

    Returns the SLO, its alert events, and the bucket number where the incident started.
    """
    clock = FakeClock(0.0)
    events: list[AlertEvent] = []
    slo = SLO(
        "checkout", sli=SuccessRate(), target=target, resolution_s=MIN, on_alert=events.append, clock=clock
    )
    warmup = 3 * 24 * 60  # three days of healthy traffic fill the longest alert window
    bad_per_bucket = round(per_minute * error_ratio)
    assert bad_per_bucket == per_minute * error_ratio
    for minute in range(warmup + incident_buckets + after_buckets):
        clock.now = minute * MIN + 30  # the middle of the minute's bucket
        bad = bad_per_bucket if warmup <= minute < warmup + incident_buckets else 0
        slo.record(True, count=per_minute - bad)
        if bad:
            slo.record(False, count=bad)
    return slo, events, warmup


def moments(events: list[AlertEvent], name: str, start: int) -> list[tuple[bool, int]]:
    """(firing, incident minute) of each transition of alert `name`."""
    return [(e.firing, int(e.at // MIN) - start) for e in events if e.alert.name == name]


def test_fast_burn_page_fires_at_minute_43_and_resets_two_minutes_after() -> None:
    # Burn rate 20 (2 % errors on a 99.9 % SLO). Over 1 h the rate reaches 14.4 once 44 of the 60
    # buckets are bad (20 * 44/60 = 14.67 >= 14.4; 43 gives 14.33): incident minute 43 (0-based).
    # After the incident (minutes 0..59), the 5-minute window holds 3 bad buckets at minute 61:
    # 20 * 3/5 = 12 < 14.4, so it resets there (at minute 60 it is still 16).
    _, events, start = run_incident(0.02, 60, 10)
    assert moments(events, "page-14.4x-1h", start) == [(True, 43), (False, 61)]
    assert moments(events, "page-6x-6h", start) == []  # 20 * 60/360 = 3.3 < 6 over 6 h
    assert moments(events, "ticket-1x-3d", start) == []


def test_slow_burn_page_fires_on_the_6h_window() -> None:
    # Burn rate 7: over 6 h (360 buckets) 7 * k/360 >= 6 needs k = 309 bad buckets (minute 308).
    # It resets when the 30-minute window holds <= 25 bad buckets: 5 minutes after the end.
    _, events, start = run_incident(0.007, 320, 10)
    assert moments(events, "page-6x-6h", start) == [(True, 308), (False, 324)]
    assert moments(events, "page-14.4x-1h", start) == []


def test_ticket_fires_on_the_3_day_window() -> None:
    # Burn rate 1.5: over 3 d (4320 buckets) 1.5 * k/4320 >= 1 needs k = 2880 (minute 2879);
    # the 6 h window (360 buckets) resets it at <= 239 bad buckets: 121 minutes after the end.
    _, events, start = run_incident(0.0015, 2900, 130, per_minute=2000)
    assert moments(events, "ticket-1x-3d", start) == [(True, 2879), (False, 2900 + 120)]
    assert moments(events, "page-6x-6h", start) == []


def test_an_alert_resets_on_evaluate_when_traffic_stops() -> None:
    slo, events, start = run_incident(0.02, 50, 0)
    assert moments(events, "page-14.4x-1h", start)[-1] == (True, 43)
    slo._clock = lambda: (start + 50 + 5) * MIN + 30  # five quiet minutes: the short window is empty
    status = slo.evaluate()
    assert "page-14.4x-1h" not in status.firing
    assert moments(events, "page-14.4x-1h", start)[-1] == (False, 55)


def test_alerts_are_audited(clock: FakeClock) -> None:
    log = AuditLog()
    alert = BurnRateAlert("page", 2.0, 600, 60)
    slo = SLO(
        "x",
        sli=SuccessRate(),
        target=0.9,
        alerts=[alert],
        window_s=3600,
        resolution_s=60,
        audit=log,
        clock=clock,
    )
    slo.record(False, count=5)
    slo.record(True, count=5)
    assert [r.request["action"]["type"] for r in log.records()] == ["slo.alert", "slo.budget_exhausted"]
    assert log.records()[0].request["args"]["alert"] == "page-2x-10m"


# -- SLIs from governed calls --------------------------------------------------------------------------


def test_slis_classify_governed_calls(clock: FakeClock) -> None:
    success = SLO("s", sli=SuccessRate(), target=0.9, clock=clock)
    latency = SLO("l", sli=LatencyBelow(0.3), target=0.9, clock=clock)
    compliance = SLO("c", sli=PolicyCompliance(), target=0.9, clock=clock)
    for slo in (success, latency, compliance):
        slo.on_decision(outcome())
        slo.on_decision(outcome(effect="deny", allowed=False))
        slo.on_decision(outcome(effect="deny", allowed=False, refused_by="guard:kill-switch"))
        slo.on_completion(outcome(), "ok", None, 0.1)
        slo.on_completion(outcome(), None, TimeoutError("slow"), 0.5)
    assert (success.status().total, success.status().bad) == (2, 1)
    assert (latency.status().total, latency.status().bad) == (2, 1)
    assert (compliance.status().total, compliance.status().bad) == (2, 1)  # the guard refusal is not counted


def test_custom_sli_and_filters(clock: FakeClock) -> None:
    sli = CustomSLI(completion=lambda o, result, e, d: bool(result and result.get("ok")))
    slo = SLO("quality", sli=sli, target=0.9, tools=["answer"], agents=["bot"], clock=clock)
    slo.on_completion(outcome(make_request("bot", "answer")), {"ok": True}, None, 0.0)
    slo.on_completion(outcome(make_request("bot", "answer")), {"ok": False}, None, 0.0)
    slo.on_completion(outcome(make_request("other", "answer")), {"ok": False}, None, 0.0)
    slo.on_completion(outcome(make_request("bot", "search")), {"ok": False}, None, 0.0)
    assert (slo.status().total, slo.status().bad) == (2, 1)
    with pytest.raises(ValueError, match="give decision"):
        CustomSLI()


# -- enforcing SLOs --------------------------------------------------------------------------------------


def test_refuse_calls_while_exhausted_and_resume_when_the_window_rolls(clock: FakeClock) -> None:
    slo = SLO(
        "payments", sli=SuccessRate(), target=0.9, window_s=600, alerts=(), resolution_s=60,
        on_exhausted=[RefuseCalls(frozenset({"charge"}))], clock=clock,
    )  # fmt: skip
    slo.record(True, count=9)
    assert slo.check(make_request(tool="charge")) is None
    slo.record(False, count=2)
    reason = slo.check(make_request(tool="charge"))
    assert reason is not None and "error budget of SLO `payments`" in reason
    assert slo.check(make_request(tool="refund")) is None  # only the configured tools are refused
    clock.advance(600)
    assert slo.check(make_request(tool="charge")) is None


def test_exhaustion_pulls_a_kill_switch_and_runs_callbacks_once(tmp_path: Path, clock: FakeClock) -> None:
    ks = KillSwitch(tmp_path / "ks.db", max_staleness_s=0)
    called: list[float] = []
    slo = SLO(
        "agent-errors", sli=SuccessRate(), target=0.99, clock=clock,
        on_exhausted=[PullKillSwitch(ks, "agent", "bot-7"), RunCallback(lambda s: called.append(s.budget_remaining))],
    )  # fmt: skip
    slo.record(True, count=99)
    slo.record(False)
    slo.record(False)  # still exhausted: the actions do not run again
    assert len(called) == 1 and called[0] <= 0
    (switch,) = ks.pulled()
    assert (switch.scope, switch.target, switch.pulled_by) == ("agent", "bot-7", "agent-sre:slo:agent-errors")
    assert "exhausted" in switch.reason


def test_a_failing_action_still_runs_the_others_and_is_raised(clock: FakeClock) -> None:
    ran: list[str] = []

    def broken(status: object) -> None:
        raise RuntimeError("ring service down")

    slo = SLO(
        "x", sli=SuccessRate(), target=0.5, clock=clock,
        on_exhausted=[RunCallback(broken), RunCallback(lambda s: ran.append("second"))],
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="ring service down"):
        slo.record(False)
    assert ran == ["second"]


@pytest.mark.parametrize("target", [0, 1, 1.5, -0.1])
def test_bad_targets_are_rejected(target: float) -> None:
    with pytest.raises(ValueError, match="target"):
        SLO("x", sli=SuccessRate(), target=target)


def test_approval_wait_through_govern(clock: FakeClock) -> None:
    from agent_os import CallbackApproval, govern
    from agent_sre import ApprovalWait

    policy = """
apiVersion: governance.toolkit/v1
name: p
default_action: allow
rules:
- name: send-needs-approval
  condition: "action.type == 'send'"
  action: require_approval
  approvers: [ops]
"""
    waits = iter([5.0, 1.0, 0.5])

    def human(request: object) -> bool:
        clock.advance(next(waits))  # the person takes this long to answer
        return True

    slo = SLO("approvals", sli=ApprovalWait(2.0, clock=clock), target=0.5, clock=clock)
    tool = govern(lambda action: "sent", policy=policy, audit=False, tool_name="mail",
                  approval_handler=CallbackApproval(human), guards=[slo], observers=[slo])  # fmt: skip
    tool(action="read")  # no approval needed: not counted
    for _ in range(3):
        assert tool(action="send") == "sent"
    status = slo.status()
    assert (status.total, status.bad) == (3, 1)

    unguarded = SLO("x", sli=ApprovalWait(2.0, clock=clock), target=0.5, clock=clock)
    with pytest.raises(RuntimeError, match="attached as a guard"):
        unguarded.on_decision(_approved_outcome())


def _approved_outcome() -> Enforcement:
    from agt_core import ApprovalRecord

    d = Decision(effect="require_approval", allowed=False, approvers=("ops",))
    record = ApprovalRecord(approved=True, approver="ops", decided_at="2026-01-01T00:00:00.000000Z",
                            request_hash="0" * 64, handler="CallbackApproval", reason="")  # fmt: skip
    return Enforcement(True, d, record, None, make_request())


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 20_000), st.booleans(), st.integers(1, 5)), min_size=1, max_size=60
    ),
    target=st.sampled_from([0.9, 0.99, 0.999]),
    extra=st.integers(0, 5_000),
)
def test_status_matches_a_naive_recomputation(
    events: list[tuple[int, bool, int]], target: float, extra: int
) -> None:
    """Budget, burn rates and firing alerts equal the textbook formulas over the raw events."""
    alerts = (BurnRateAlert("page", 2.0, 3600, 300), BurnRateAlert("ticket", 1.0, 7200, 900))
    events.sort()
    slo = SLO(
        "d",
        sli=SuccessRate(),
        target=target,
        window_s=10_800,
        alerts=alerts,
        resolution_s=60,
        clock=lambda: 0.0,
    )
    for at, good, count in events:
        slo.record(good, at=float(at), count=count)
    now = float(events[-1][0] + extra)
    status = slo.status(now=now)

    def window(seconds: float) -> tuple[int, int]:
        end = math.floor(now / 60)
        start = end - math.ceil(seconds / 60) + 1
        inside = [(good, count) for at, good, count in events if start <= at // 60 <= end]
        return sum(c for _, c in inside), sum(c for good, c in inside if not good)

    budget = round(1 - target, 12)
    total, bad = window(10_800)
    assert (status.total, status.bad) == (total, bad)
    if total:
        assert status.budget_remaining == pytest.approx(1 - bad / (budget * total), abs=1e-8)
    firing = []
    for alert in alerts:
        rates = []
        for w in (alert.long_window_s, alert.short_window_s):
            t, b = window(w)
            rates.append(0.0 if t == 0 else (b / t) / budget)
        assert status.burn_rates[alert.name] == pytest.approx(tuple(rates))
        if min(rates) >= alert.burn_rate * (1 - 1e-9):
            firing.append(alert.name)
    assert list(status.firing) == firing
