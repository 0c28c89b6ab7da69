"""End to end through agent_os.govern(): refusals are real, audited, and observed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_os import AuditLog, GovernanceDenied, govern, pipeline
from agent_sre import SLO, CircuitBreaker, KillSwitch, RefuseCalls, SuccessRate, attach, detach

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


class Tool:
    """A tool that counts its calls and fails on demand."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self, action: str, table: str) -> str:
        self.calls += 1
        if self.fail:
            raise ConnectionError("database unreachable")
        return f"{action} {table}"


def governed(tool: Tool, log: AuditLog, agent_id: str = "bot-7", **kwargs: object) -> Tool:
    return govern(tool, policy=POLICY, audit=log, agent_id=agent_id, tool_name="db", **kwargs)  # type: ignore[no-any-return, call-overload]


def test_kill_switch_in_the_pipeline_refuses_and_audits_who_and_why(tmp_path: Path) -> None:
    ks = KillSwitch(tmp_path / "ks.db", max_staleness_s=0)
    attach(ks)
    tool, log = Tool(), AuditLog()
    safe = governed(tool, log)
    assert safe(action="read", table="t") == "read t"
    ks.pull("agent", "bot-7", by="alice@ops", reason="runaway refunds")
    with pytest.raises(GovernanceDenied) as info:
        safe(action="read", table="t")
    assert tool.calls == 1  # the tool did not run
    decision = info.value.decision
    assert decision.refused_by == "guard:kill-switch" and not decision.allowed
    assert "alice@ops" in decision.message and "runaway refunds" in decision.message
    record = log.records()[-1]
    assert record.decision == decision and record.request["agent"]["id"] == "bot-7"
    log.verify()
    ks.release("agent", "bot-7", by="bob@ops", reason="fixed")
    assert safe(action="read", table="t") == "read t"


def test_a_tool_governed_before_the_switch_was_attached_is_covered(tmp_path: Path) -> None:
    tool, log = Tool(), AuditLog()
    safe = governed(tool, log)
    ks = KillSwitch(tmp_path / "ks.db", max_staleness_s=0)
    ks.pull("tool", "db", by="a", reason="b")
    attach(ks)
    with pytest.raises(GovernanceDenied):
        safe(action="read", table="t")
    detach(ks)
    assert safe(action="read", table="t") == "read t"


def test_a_switch_pulled_by_another_process_stops_governed_calls(tmp_path: Path) -> None:
    db = tmp_path / "ks.db"
    tool, log = Tool(), AuditLog()
    safe = governed(tool, log, guards=[KillSwitch(db, max_staleness_s=0)])
    assert safe(action="read", table="t") == "read t"
    code = textwrap.dedent(
        f"""
        from agent_sre import KillSwitch
        KillSwitch({str(db)!r}).pull("global", by="pager", reason="stop the fleet")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(GovernanceDenied, match="stop the fleet"):
        safe(action="read", table="t")
    assert tool.calls == 1


def test_a_corrupted_store_refuses_governed_calls(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "ks.db"
    tool, log = Tool(), AuditLog()
    safe = governed(tool, log, guards=[KillSwitch(db, max_staleness_s=0)])
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE kill_switches")
    conn.commit()
    conn.close()
    with pytest.raises(GovernanceDenied, match="cannot be read"):
        safe(action="read", table="t")
    assert tool.calls == 0


def test_an_open_breaker_refuses_without_calling_the_tool(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=3, reset_timeout_s=30, clock=clock)
    attach(cb)
    tool, log = Tool(), AuditLog()
    safe = governed(tool, log)
    tool.fail = True
    for _ in range(3):
        with pytest.raises(ConnectionError):
            safe(action="read", table="t")
    with pytest.raises(GovernanceDenied) as info:
        safe(action="read", table="t")
    assert tool.calls == 3
    assert info.value.decision.refused_by == "guard:circuit-breaker"
    assert log.records()[-1].decision.refused_by == "guard:circuit-breaker"
    # After the reset timeout one trial goes through; the tool recovered, so the circuit closes.
    tool.fail = False
    clock.advance(30)
    assert safe(action="read", table="t") == "read t"
    assert cb.status("db").state == "closed"


def test_a_policy_denied_trial_does_not_count_as_recovery(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    tool, log = Tool(), AuditLog()
    safe = governed(tool, log, guards=[cb], observers=[cb])
    tool.fail = True
    with pytest.raises(ConnectionError):
        safe(action="read", table="t")
    clock.advance(10)
    with pytest.raises(GovernanceDenied, match="no-drop"):
        safe(action="drop", table="t")  # admitted as a trial, denied by policy: the slot is freed
    assert cb.status("db").state == "half_open"
    tool.fail = False
    assert safe(action="read", table="t") == "read t"
    assert cb.status("db").state == "closed"


def test_breaker_with_concurrent_async_callers(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, half_open_max_calls=2, clock=clock)
    started: list[int] = []

    async def fetch(url: str) -> str:
        started.append(1)
        await asyncio.sleep(0)
        if url == "bad":
            raise TimeoutError("upstream timed out")
        return url

    safe = govern(fetch, policy=POLICY, audit=AuditLog(), guards=[cb], observers=[cb])

    async def main() -> list[object]:
        with pytest.raises(TimeoutError):
            await safe(url="bad")
        clock.advance(10)
        return await asyncio.gather(*(safe(url="ok") for _ in range(10)), return_exceptions=True)

    results = asyncio.run(main())
    assert len(started) == 1 + 2  # one failure, then exactly two trials ran
    assert results.count("ok") == 2
    assert all(isinstance(r, GovernanceDenied) for r in results if r != "ok")


def test_an_enforcing_slo_refuses_through_govern(clock: FakeClock) -> None:
    slo = SLO(
        "db-success", sli=SuccessRate(), target=0.9, window_s=600, alerts=(), resolution_s=60,
        on_exhausted=[RefuseCalls()], clock=clock,
    )  # fmt: skip
    attach(slo)
    tool, log = Tool(), AuditLog()
    safe = governed(tool, log)
    for _ in range(9):
        safe(action="read", table="t")
    tool.fail = True
    with pytest.raises(ConnectionError):
        safe(action="read", table="t")  # 1 bad of 10: the whole budget
    tool.fail = False
    with pytest.raises(GovernanceDenied, match="error budget of SLO `db-success`"):
        safe(action="read", table="t")
    assert log.records()[-1].decision.refused_by == "guard:slo:db-success"
    clock.advance(600)
    assert safe(action="read", table="t") == "read t"


def test_attach_rejects_what_is_neither_guard_nor_observer() -> None:
    with pytest.raises(TypeError, match="neither"):
        attach(object())
