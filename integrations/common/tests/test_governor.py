"""ToolGovernor: the framework-neutral core every adapter shares, tested against the real ToolGate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_os import AuditLog, ToolGate
from agt_core import GovernanceDenied, GovernanceError
from agt_integrations import ToolGovernor, Verdict
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    audit_entries,
    failing_audit_log,
)

POST_TOOL_POLICY: dict[str, Any] = {
    **POLICY,
    "rules": [
        *POLICY["rules"],
        {
            "name": "no-secrets-out",
            "stage": "post_tool",
            "condition": "result.contains('SECRET')",
            "action": "deny",
            "message": "results must not carry secrets",
        },
    ],
}


def governor(policy: Any = POLICY, **options: Any) -> ToolGovernor:
    return ToolGovernor(
        policy, framework="testfw", framework_version="9.9", audit=options.pop("audit", AuditLog()), **options
    )


def test_allowed_call_carries_framework_context_and_drops_empty_fields() -> None:
    log = AuditLog()
    verdict = governor(audit=log).check(
        "read_table", {"name": "users"}, agent="ops", run_id="r1", thread_id=None, tool_call_id="", node="n"
    )
    assert verdict.allowed and verdict.message == "" and verdict.error is None
    [entry] = audit_entries(log)
    assert entry["framework"] == {
        "name": "testfw",
        "version": "9.9",
        "agent": "ops",
        "run_id": "r1",
        "node": "n",
    }


def test_refusal_names_rule_and_message() -> None:
    verdict = governor().check("delete_db", {"name": "prod"})
    assert not verdict.allowed
    assert "block-destructive" in verdict.message and DENY_MESSAGE in verdict.message
    assert isinstance(verdict.exception(), GovernanceDenied)


def test_agent_id_override_reaches_the_request() -> None:
    log = AuditLog()
    governor(audit=log, agent_id="default-bot").check("read_table", {"name": "x"}, agent_id="other-bot")
    assert audit_entries(log)[0]["agent_id"] == "other-bot"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_failing_audit_refuses_without_raising(use_async: bool) -> None:
    gov = governor(audit=failing_audit_log())
    if use_async:
        verdict = asyncio.run(gov.check_async("read_table", {"name": "x"}))
    else:
        verdict = gov.check("read_table", {"name": "x"})
    assert not verdict.allowed and verdict.outcome is None
    assert "governance check failed" in verdict.message
    assert isinstance(verdict.exception(), GovernanceError)


def test_any_gate_exception_refuses() -> None:
    class BrokenGate(ToolGate):
        def check(self, *args: Any, **kwargs: Any) -> Any:
            raise ZeroDivisionError("boom")

    verdict = ToolGovernor(gate=BrokenGate(policy=POLICY, audit=False), framework="x").check("read_table", {})
    assert not verdict.allowed and isinstance(verdict.error, ZeroDivisionError)
    error = verdict.exception()
    assert isinstance(error, GovernanceError) and isinstance(error.__cause__, ZeroDivisionError)


def test_crashing_evaluator_is_an_audited_refusal() -> None:
    log = AuditLog()
    verdict = governor(CrashingPolicySet(), audit=log).check("read_table", {"name": "x"})
    assert not verdict.allowed and verdict.outcome is not None
    assert [e["allowed"] for e in audit_entries(log)] == [False]


def test_async_approval_handler_is_awaited() -> None:
    asked: list[str] = []

    async def handler(request: Any) -> Any:
        asked.append(request.args["to"])
        return request.approve("alice")

    verdict = asyncio.run(governor(approval_handler=handler).check_async("send_email", {"to": "cfo"}))
    assert verdict.allowed and asked == ["cfo"]


def test_sync_approval_handler_refusal() -> None:
    approver = ScriptedApprover(False)
    verdict = governor(approval_handler=approver).check("send_email", {"to": "cfo"})
    assert not verdict.allowed and len(approver.requests) == 1


def test_complete_withholds_a_result_a_post_tool_rule_denies() -> None:
    log = AuditLog()
    gov = governor(POST_TOOL_POLICY, audit=log)
    verdict = gov.check("read_table", {"name": "x"})
    assert gov.complete(verdict, result="all fine", duration_s=0.01).allowed
    withheld = gov.complete(verdict, result="the SECRET is 42", duration_s=0.01)
    assert not withheld.allowed and "results must not carry secrets" in withheld.message


def test_complete_passes_refusals_through_untouched() -> None:
    gov = governor()
    refused = gov.check("delete_db", {"name": "prod"})
    assert gov.complete(refused, result="x") is refused


def test_constructor_checks() -> None:
    with pytest.raises(TypeError, match="policy="):
        ToolGovernor(framework="x")
    with pytest.raises(TypeError, match="not both"):
        ToolGovernor(POLICY, gate=ToolGate(policy=POLICY), framework="x")
    with pytest.raises(ValueError, match="on_refusal"):
        ToolGovernor(POLICY, framework="x", on_refusal="explode")  # type: ignore[arg-type]
    assert ToolGovernor(POLICY, framework="x", on_refusal="raise").raises


def test_shared_gate_means_one_trail() -> None:
    log = AuditLog()
    gate = ToolGate(policy=POLICY, audit=log)
    a = ToolGovernor(gate=gate, framework="a")
    b = ToolGovernor(gate=gate, framework="b")
    a.check("read_table", {"name": "x"})
    b.check("read_table", {"name": "y"})
    assert [e["framework"]["name"] for e in audit_entries(log)] == ["a", "b"]
    assert log.verify() == 2


def test_verdict_is_a_plain_tuple() -> None:
    verdict = Verdict(False, "no", None, None)
    assert verdict.exception().message == "no"
