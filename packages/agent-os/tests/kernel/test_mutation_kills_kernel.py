"""The kernel's refusal and approval paths, attacked where mutation testing found them untested.

Each test drives `Kernel` through its public methods with a toy policy set, handler, guard or
rate-limit store and asserts what is audited and returned. Run against the mutants of
``agent_os._kernel`` by ``packages/agent-os/mutation/run_mutation.py kernel``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_os import (
    ApprovalError,
    ApprovalRequest,
    ApprovalResponse,
    AuditLog,
    Kernel,
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
  approvers: [finance]
- name: counted
  condition: "action.type == 'count'"
  action: allow
  limit: "5/minute"
- name: result-check
  stage: post_tool
  condition: "result == 'secret'"
  action: deny
"""


def request(action: str, stage: str = "pre_tool", **extra: Any) -> dict[str, Any]:
    return {
        "action": {"type": action, "tool": "t"},
        "args": {},
        "agent": {"id": "agent-1"},
        "context": {},
        "stage": stage,
        **extra,
    }


POST = request("read", "post_tool", result="fine")


class Failing:
    """A policy set whose evaluator raises: the kernel must deny, in the stage it was asked about."""

    def __init__(self) -> None:
        inner = compile_policies(POLICY)
        self.hash, self.policy_names, self.stages = inner.hash, inner.policy_names, inner.stages
        self.policy_hashes, self.limits, self.warnings = inner.policy_hashes, {}, ()

    def evaluate(self, request: Any) -> Any:
        raise RuntimeError("evaluator crashed")


# -- async approvals -------------------------------------------------------------------------------


def test_an_async_approval_that_never_answers_is_recorded_as_refused_and_the_call_is_refused() -> None:
    async def never(request: ApprovalRequest) -> ApprovalResponse:
        await asyncio.Event().wait()  # nobody ever sets it
        raise AssertionError("unreachable")

    log = AuditLog()
    kernel = Kernel(compile_policies(POLICY), audit=log, approval_handler=never, approval_timeout=0.01)
    outcome = asyncio.run(kernel.enforce_async(request("pay")))
    assert not outcome.allowed
    assert outcome.approval is not None and outcome.approval.approved is False
    assert outcome.approval.reason == "approval handler gave no answer within 0.01 s"
    record = log.records()[-1]
    assert record.decision.effect == "require_approval"
    assert record.approval is not None and record.approval.approved is False


def test_a_sync_approval_that_never_answers_is_refused_too() -> None:
    import threading

    release = threading.Event()

    def stuck(request: ApprovalRequest) -> ApprovalResponse:
        release.wait()
        return request.approve("too-late")

    log = AuditLog()
    kernel = Kernel(compile_policies(POLICY), audit=log, approval_handler=stuck, approval_timeout=0.01)
    try:
        outcome = kernel.enforce(request("pay"))
    finally:
        release.set()
    assert not outcome.allowed
    assert outcome.approval is not None and outcome.approval.approved is False
    assert log.records()[-1].approval == outcome.approval


def test_an_async_approval_handler_that_raises_is_audited_then_raised_as_approval_error() -> None:
    async def broken(request: ApprovalRequest) -> ApprovalResponse:
        raise OSError("approval service down")

    log = AuditLog()
    kernel = Kernel(compile_policies(POLICY), audit=log, approval_handler=broken)
    with pytest.raises(ApprovalError, match="OSError: approval service down") as info:
        asyncio.run(kernel.enforce_async(request("pay")))
    assert isinstance(info.value.__cause__, OSError)
    record = log.records()[-1]
    assert record.approval is not None and record.approval.approved is False
    assert record.approval.reason == "approval handler failed: OSError: approval service down"
    assert record.approval.request_hash.startswith("sha256:")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (lambda r: ApprovalResponse(True, 5, request_hash=r.request_hash), "not `int`"),  # type: ignore[arg-type]
        (
            lambda r: ApprovalResponse(True, "alice", reason=None, request_hash=r.request_hash),
            "not `NoneType`",
        ),  # type: ignore[arg-type]
        (lambda r: ApprovalResponse(True, "alice"), "not bound to a request"),
    ],
)
def test_malformed_approvals_are_refused_saying_what_is_wrong(answer: Any, problem: str) -> None:
    kernel = Kernel(compile_policies(POLICY), audit=None, approval_handler=answer)
    for outcome in (kernel.enforce(request("pay")), asyncio.run(kernel.enforce_async(request("pay")))):
        assert not outcome.allowed
        assert outcome.approval is not None
        assert problem in outcome.approval.reason


# -- refusals keep the stage of the call they refuse ---------------------------------------------------


def test_an_evaluator_failure_on_a_post_tool_request_is_a_post_tool_refusal() -> None:
    log = AuditLog()
    kernel = Kernel(Failing(), audit=log)  # type: ignore[arg-type]
    for outcome in (kernel.enforce(POST), asyncio.run(kernel.enforce_async(POST))):
        assert not outcome.allowed
        assert outcome.decision.refused_by == "kernel:evaluator"
        assert outcome.decision.stage == "post_tool"
    assert [r.decision.stage for r in log.records()] == ["post_tool", "post_tool"]


def test_a_rate_limit_store_failure_on_a_post_tool_request_is_a_post_tool_refusal() -> None:
    class Unreachable:
        def acquire(self, agent_id: str, rules: Any) -> Any:
            raise ConnectionError("store unreachable")

    policy = POLICY + (
        "- name: counted-results\n  stage: post_tool\n  condition: \"result == 'counted'\"\n"
        '  action: allow\n  limit: "1/minute"\n'
    )
    kernel = Kernel(compile_policies(policy), audit=None, rate_limiter=Unreachable())  # type: ignore[arg-type]
    outcome = kernel.enforce(request("read", "post_tool", result="counted"))
    assert outcome.decision.refused_by == "kernel:rate_limiter"
    assert outcome.decision.stage == "post_tool"


@pytest.mark.parametrize(
    ("stage", "recorded"),
    [("post_tool", "post_tool"), ("pre_tool", "pre_tool"), ("later", "pre_tool"), (7, "pre_tool")],
)
def test_refuse_records_the_request_stage_or_pre_tool_when_it_is_not_a_stage(
    stage: Any, recorded: str
) -> None:
    log = AuditLog()
    kernel = Kernel(compile_policies(POLICY), audit=log)
    outcome = kernel.refuse(request("read", stage), "no", by="kernel:request")
    assert outcome.decision.stage == recorded
    assert kernel.refusal("no", stage).stage == recorded  # type: ignore[arg-type]
    assert log.records()[-1].decision.stage == recorded


def test_a_guard_without_a_name_is_named_by_its_class() -> None:
    class NightWatch:
        def check(self, request: Any) -> str | None:
            return "closed at night"

    class Crashing:
        def check(self, request: Any) -> str | None:
            raise RuntimeError("boom")

    for guard, by in ((NightWatch(), "guard:NightWatch"), (Crashing(), "guard:Crashing")):
        kernel = Kernel(compile_policies(POLICY), audit=None, guards=[guard])  # type: ignore[list-item]
        outcome = kernel.enforce(request("read"))
        assert not outcome.allowed
        assert outcome.decision.refused_by == by
        assert by.split(":")[1] in outcome.decision.message


def test_a_denied_call_consumes_no_rate_limit_quota() -> None:
    policy = POLICY + (
        "- name: no-weekend\n  condition: \"action.type == 'count' && has(context.day) && context.day == 'sun'\"\n  action: deny\n"
    )
    kernel = Kernel(compile_policies(policy), audit=None)
    sunday = {**request("count"), "context": {"day": "sun"}}
    for _ in range(10):  # matches `counted` (5/minute) too, but is denied: nothing is counted
        outcome = kernel.enforce(sunday)
        assert not outcome.allowed and outcome.decision.rule == "no-weekend"
        assert not outcome.decision.rate_limited
    assert all(kernel.enforce(request("count")).allowed for _ in range(5))
    assert kernel.enforce(request("count")).decision.rate_limited


def test_a_refusal_names_the_kernel_unless_told_who_refused() -> None:
    kernel = Kernel(compile_policies(POLICY), audit=None)
    assert kernel.refusal("no").refused_by == "kernel"
    assert kernel.refusal("no", by="guard:x").refused_by == "guard:x"
