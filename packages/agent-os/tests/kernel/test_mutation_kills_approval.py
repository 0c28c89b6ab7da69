"""Approval handlers and the rate limiter, attacked where mutation testing found them untested.

What each test pins is what reaches the audit trail (who approved or refused, why, for which
request) and whether the call runs. Run against the mutants of ``agent_os._approval`` and
``agent_os._rate_limit`` by ``packages/agent-os/mutation/run_mutation.py kernel``.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from agent_os import (
    ApprovalError,
    ApprovalRequest,
    AuditLog,
    CallbackApproval,
    ConsoleApproval,
    Kernel,
    RateLimiter,
    compile_policies,
)

POLICY = """\
apiVersion: governance.toolkit/v1
name: approvals
default_action: allow
rules:
- name: payments-need-approval
  condition: "action.type == 'pay'"
  action: require_approval
  approvers: [finance, security]
"""

PAY = {
    "action": {"type": "pay", "tool": "payments"},
    "args": {"amount": 120, "to": "acme"},
    "agent": {"id": "agent-1"},
    "context": {},
    "stage": "pre_tool",
}


def enforce(handler: Any) -> tuple[Any, AuditLog]:
    log = AuditLog()
    outcome = Kernel(compile_policies(POLICY), audit=log, approval_handler=handler).enforce(PAY)
    assert log.records()[-1].approval == outcome.approval
    return outcome, log


# -- what the request's own approve() and refuse() answer ------------------------------------------


def test_approve_and_refuse_carry_the_approver_the_reason_and_the_request_hash() -> None:
    seen: list[ApprovalRequest] = []

    def capture(request: ApprovalRequest) -> Any:
        seen.append(request)
        return request.refuse("bob", "over budget")

    outcome, _ = enforce(capture)
    request = seen[0]
    assert not outcome.allowed
    assert (outcome.approval.approver, outcome.approval.reason) == ("bob", "over budget")
    refusal = request.refuse("bob", "over budget")
    assert (refusal.approved, refusal.approver, refusal.reason) == (False, "bob", "over budget")
    assert refusal.request_hash == request.request_hash
    approval = request.approve("alice", "ticket FIN-7")
    assert (approval.approved, approval.approver, approval.reason) == (True, "alice", "ticket FIN-7")
    assert approval.request_hash == request.request_hash

    outcome, _ = enforce(lambda r: r.approve("alice", "ticket FIN-7"))
    assert outcome.allowed
    assert (outcome.approval.approver, outcome.approval.reason) == ("alice", "ticket FIN-7")


def test_the_default_handler_refuses_saying_none_is_configured() -> None:
    outcome, log = enforce(None)
    assert not outcome.allowed
    record = log.records()[-1].approval
    assert record is not None
    assert (record.approved, record.approver, record.handler) == (False, None, "DenyApprovals")
    assert record.reason == "no approval handler is configured"


# -- CallbackApproval ------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_callback_answers_are_recorded_with_the_callbacks_approver(timeout: float | None) -> None:
    approved, _ = enforce(CallbackApproval(lambda r: True, timeout=timeout, approver="ops"))
    assert approved.allowed
    assert (approved.approval.approver, approved.approval.reason) == ("ops", "approved by callback")
    refused, _ = enforce(CallbackApproval(lambda r: False, timeout=timeout, approver="ops"))
    assert not refused.allowed
    assert (refused.approval.approver, refused.approval.reason) == ("ops", "refused by callback")
    given, _ = enforce(CallbackApproval(lambda r: r.approve("carol", "ok"), timeout=timeout))
    assert given.allowed and given.approval.approver == "carol"


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_callback_failures_refuse_the_call_and_name_the_cause(timeout: float | None) -> None:
    def broken(request: ApprovalRequest) -> bool:
        raise LookupError("ticket system down")

    log = AuditLog()
    kernel = Kernel(
        compile_policies(POLICY), audit=log, approval_handler=CallbackApproval(broken, timeout=timeout)
    )
    with pytest.raises(ApprovalError, match="LookupError: ticket system down"):
        kernel.enforce(PAY)
    kernel.approval_handler = CallbackApproval(lambda r: "yes", timeout=timeout)  # type: ignore[arg-type,return-value]
    with pytest.raises(ApprovalError, match="returned `str`; expected bool or ApprovalResponse"):
        kernel.enforce(PAY)
    assert [r.approval.approved for r in log.records() if r.approval] == [False, False]


# -- ConsoleApproval -------------------------------------------------------------------------------


def test_console_shows_the_whole_request_and_records_the_answer() -> None:
    out = io.StringIO()
    console = ConsoleApproval(timeout=30, input=io.StringIO("yes\n"), output=out, approver="ops-oncall")
    outcome, _ = enforce(console)
    assert outcome.allowed
    assert (outcome.approval.approver, outcome.approval.reason) == ("ops-oncall", "approved at the console")
    shown = out.getvalue()
    assert "requires approval from finance, security" in shown
    assert "'pay' via tool 'payments'" in shown
    assert "{'amount': 120, 'to': 'acme'}" in shown
    assert "'agent-1'" in shown
    assert "waiting 30 s" in shown


# -- RateLimiter -------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pruning_idle_agents_never_forgets_an_active_agents_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert limiter.acquire("busy", [("p", "r", "1/hour")]) is None
    # Enough calls of other agents to run the pruning several times, all within the hour.
    for i in range(3 * 4096):
        clock.now += 0.1
        limiter.acquire(f"idle-{i}", [("p", "r", "1/second")])
    assert clock.now < 3600
    hit = limiter.acquire("busy", [("p", "r", "1/hour")])
    assert hit is not None
    assert hit[:3] == ("p", "r", "1/hour")
    assert hit[3] == pytest.approx(3600 - clock.now)


def test_a_console_refusal_records_who_refused() -> None:
    console = ConsoleApproval(
        timeout=30, input=io.StringIO("n\n"), output=io.StringIO(), approver="ops-oncall"
    )
    outcome, _ = enforce(console)
    assert not outcome.allowed
    assert (outcome.approval.approver, outcome.approval.reason) == ("ops-oncall", "refused at the console")
