"""Commitments through govern(): fulfilled by a matching call, broken by a synthetic clock, withdrawn."""

from __future__ import annotations

import datetime as dt

import pytest

import agent_os
from agent_hypervisor import CommitmentTracker, MerkleAuditLog
from agt_core import PolicyError

POLICY = """\
apiVersion: governance.toolkit/v1
name: team-policy
default_action: allow
rules:
- name: no-deletes
  condition: "action.type == 'delete'"
  action: deny
"""

T0 = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> None:
    agent_os.pipeline().reset()


def setup() -> tuple[MerkleAuditLog, Clock, CommitmentTracker, list]:
    log, clock, broken = MerkleAuditLog(), Clock(), []
    tracker = CommitmentTracker(audit=log, clock=clock, on_broken=[broken.append])
    return log, clock, tracker, broken


def send(action: str, to: str) -> str:
    return f"{action} -> {to}"


def test_a_matching_call_fulfils_the_commitment() -> None:
    log, clock, tracker, broken = setup()
    c = tracker.promise(
        "reporter",
        "send the report to the CFO by 17:00",
        condition="action.type == 'send_report' && args.to == 'cfo'",
        deadline=T0 + dt.timedelta(hours=1),
        relied_on_by=["cfo"],
    )
    tool = agent_os.govern(send, policy=POLICY, audit=log, agent_id="reporter", observers=[tracker])
    other = agent_os.govern(send, policy=POLICY, audit=log, agent_id="someone-else", observers=[tracker])
    tool(action="send_report", to="intern")  # not what was promised
    other(action="send_report", to="cfo")  # not the agent who promised
    assert tracker.get(c.id).status == "pending"
    clock.now = T0 + dt.timedelta(minutes=30)
    tool(action="send_report", to="cfo")
    done = tracker.get(c.id)
    assert done.status == "fulfilled" and done.settled_at == clock.now
    assert done.fulfilled_by == log.record(len(log) - 2).hash  # the call's own decision record
    clock.now = T0 + dt.timedelta(hours=2)
    assert tracker.check() == [] and broken == []
    kinds = [r.request["action"]["type"] for r in log.query(action="commitment.made")]
    assert kinds == ["commitment.made"]
    assert len(log.query(action="commitment.fulfilled")) == 1
    assert log.verify().ok


def test_a_missed_deadline_breaks_it_and_runs_the_callbacks() -> None:
    log, clock, tracker, broken = setup()
    failing_calls = []

    def failing(c: object) -> None:
        failing_calls.append(c)
        raise RuntimeError("pager is down")

    tracker = CommitmentTracker(audit=log, clock=clock, on_broken=[failing, broken.append])
    c = tracker.promise(
        "worker",
        "release the lock",
        condition="action.type == 'unlock'",
        deadline=T0 + dt.timedelta(minutes=5),
    )
    clock.now = T0 + dt.timedelta(minutes=4)
    assert tracker.check() == []
    clock.now = T0 + dt.timedelta(minutes=5)
    result = tracker.check()
    assert [x.id for x in result] == [c.id] and tracker.get(c.id).status == "broken"
    assert [x.id for x in broken] == [c.id]  # the second callback ran although the first raised
    assert tracker.callback_failures == 1 and len(failing_calls) == 1
    # A call after the deadline does not fulfil a broken commitment.
    tool = agent_os.govern(send, policy=POLICY, audit=log, agent_id="worker", observers=[tracker])
    tool(action="unlock", to="db")
    assert tracker.get(c.id).status == "broken"
    assert len(log.query(action="commitment.broken")) == 1


def test_a_late_call_breaks_rather_than_fulfils() -> None:
    log, clock, tracker, broken = setup()
    c = tracker.promise(
        "w", "follow up", condition="action.type == 'follow_up'", deadline=T0 + dt.timedelta(minutes=1)
    )
    tool = agent_os.govern(send, policy=POLICY, audit=log, agent_id="w", observers=[tracker])
    clock.now = T0 + dt.timedelta(minutes=2)
    tool(action="follow_up", to="x")
    assert tracker.get(c.id).status == "broken" and len(broken) == 1


def test_a_denied_or_failing_call_fulfils_nothing() -> None:
    log, _clock, tracker, _broken = setup()
    c = tracker.promise(
        "w", "delete the temp table", condition="action.type == 'delete'", deadline=T0 + dt.timedelta(hours=1)
    )
    tool = agent_os.govern(send, policy=POLICY, audit=log, agent_id="w", observers=[tracker])
    with pytest.raises(agent_os.GovernanceDenied):
        tool(action="delete", to="tmp")
    assert tracker.get(c.id).status == "pending"

    def boom(action: str) -> None:
        raise OSError("network down")

    c2 = tracker.promise("w", "ping", condition="action.type == 'ping'", deadline=T0 + dt.timedelta(hours=1))
    failing = agent_os.govern(boom, policy=POLICY, audit=log, agent_id="w", observers=[tracker])
    with pytest.raises(OSError):
        failing(action="ping")
    assert tracker.get(c2.id).status == "pending"


def test_a_condition_that_errors_never_fulfils() -> None:
    log, _clock, tracker, _broken = setup()
    c = tracker.promise("w", "pay", condition="args.amount > 100", deadline=T0 + dt.timedelta(hours=1))
    tool = agent_os.govern(send, policy=POLICY, audit=log, agent_id="w", observers=[tracker])
    tool(action="pay", to="vendor")  # no args.amount: the condition errors, which must not count
    assert tracker.get(c.id).status == "pending"


def test_withdraw_and_bad_input() -> None:
    log, clock, tracker, _broken = setup()
    c = tracker.promise("w", "x", condition="action.type == 'x'", deadline=T0 + dt.timedelta(hours=1))
    assert tracker.withdraw(c.id, reason="plan changed").status == "withdrawn"
    with pytest.raises(ValueError, match="not pending"):
        tracker.withdraw(c.id, reason="again")
    clock.now = T0 + dt.timedelta(hours=2)
    assert tracker.check() == []
    with pytest.raises(PolicyError):
        tracker.promise("w", "bad", condition="action.type ==", deadline=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        tracker.promise("w", "naive", condition="true", deadline=dt.datetime(2026, 1, 1))
    assert len(log.query(action="commitment.withdrawn")) == 1


def test_tracker_is_restored_from_a_durable_log(tmp_path) -> None:
    from agent_hypervisor import SqliteAuditLog

    clock = Clock()
    path = tmp_path / "audit.db"
    with SqliteAuditLog(path) as log:
        tracker = CommitmentTracker(audit=log, clock=clock)
        kept = tracker.promise(
            "w", "ping", condition="action.type == 'ping'", deadline=T0 + dt.timedelta(minutes=5)
        )
        open_one = tracker.promise(
            "w", "pong", condition="action.type == 'pong'", deadline=T0 + dt.timedelta(minutes=5)
        )
        tool = agent_os.govern(send, policy=POLICY, audit=log, agent_id="w", observers=[tracker])
        tool(action="ping", to="x")
        assert tracker.get(kept.id).status == "fulfilled"
    broken = []
    with SqliteAuditLog(path) as log:
        restored = CommitmentTracker.restore(log, clock=clock, on_broken=[broken.append])
        assert restored.get(kept.id).status == "fulfilled"
        assert restored.get(open_one.id).status == "pending"
        clock.now = T0 + dt.timedelta(minutes=6)
        assert [c.id for c in restored.check()] == [open_one.id] and len(broken) == 1
    with SqliteAuditLog(path) as log:
        assert CommitmentTracker.restore(log, clock=clock).get(open_one.id).status == "broken"
