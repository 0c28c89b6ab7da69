"""agt-dspy against a real `dspy.ReAct` driven by DSPy's own `DummyLM`."""

from __future__ import annotations

import asyncio
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from agent_os import AuditLog
from agt_dspy import GovernedTool, govern_tools
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)


def functions(ledger: ToolLedger) -> list[Any]:
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    async def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    return [read_table, delete_db, send_email]


def step(tool: str, **args: Any) -> dict[str, Any]:
    return {"next_thought": "go", "next_tool_name": tool, "next_tool_args": args}


def run(tools: list[GovernedTool], *steps: dict[str, Any], use_async: bool = False) -> dict[str, Any]:
    answers = [*steps, step("finish"), {"reasoning": "ok", "answer": "done"}]
    react = dspy.ReAct("question -> answer", tools=tools, max_iters=len(steps) + 1)
    with dspy.context(lm=DummyLM(answers), adapter=dspy.ChatAdapter()):
        prediction = asyncio.run(react.acall(question="tidy up")) if use_async else react(question="tidy up")
    assert prediction.answer == "done"
    return dict(prediction.trajectory)


@pytest.mark.parametrize("use_async", [False, True])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    tools = govern_tools(functions(ledger), POLICY, audit=log, agent_id="ops-bot", agent_name="ops_agent")
    trajectory = run(
        tools, step("read_table", name="users"), step("delete_db", name="prod"), use_async=use_async
    )

    assert ledger.calls == [("read_table", {"name": "users"})]
    assert trajectory["observation_0"] == "read_table done"
    assert DENY_MESSAGE in trajectory["observation_1"] and "block-destructive" in trajectory["observation_1"]
    entries = {e["tool"]: e for e in audit_entries(log)}
    assert entries["read_table"]["allowed"] is True and entries["read_table"]["args"] == {"name": "users"}
    assert entries["delete_db"]["allowed"] is False and entries["delete_db"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "dspy" and entry["framework"]["agent"] == "ops_agent"
    assert log.verify() == 2


def test_concurrent_calls_are_each_governed() -> None:
    """ReAct calls one tool per step; concurrent calls (dspy.Parallel, asyncio) are each decided."""
    log = AuditLog()
    ledger = ToolLedger()
    read, delete, _ = govern_tools(functions(ledger), POLICY, audit=log)

    async def go() -> list[Any]:
        return await asyncio.gather(
            *[delete.acall(name=f"db{i}") for i in range(3)], *[read.acall(name=f"t{i}") for i in range(3)]
        )

    results = asyncio.run(go())
    assert all(DENY_MESSAGE in r for r in results[:3]) and results[3:] == ["read_table done"] * 3
    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    assert len(audit_entries(log)) == 6


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    tools = govern_tools(functions(ledger), POLICY, audit=log, approval_handler=approver)
    trajectory = run(tools, step("send_email", to="cfo@x"), use_async=True)
    assert [r.args for r in approver.requests] == [{"to": "cfo@x"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert ("refused" in trajectory["observation_0"]) is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    trajectory = run(
        govern_tools(functions(ledger), CrashingPolicySet(), audit=log), step("read_table", name="u")
    )
    assert ledger.calls == [] and "refused" in trajectory["observation_0"]
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    trajectory = run(
        govern_tools(functions(ledger), POLICY, audit=failing_audit_log()), step("read_table", name="u")
    )
    assert ledger.calls == [] and "governance check failed" in trajectory["observation_0"]


def test_callbacks_still_see_the_calls() -> None:
    seen: list[str] = []

    class Spy(dspy.utils.callback.BaseCallback):  # type: ignore[misc]
        def on_tool_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            seen.append(instance.name)

    ledger = ToolLedger()
    tools = govern_tools(functions(ledger)[:2], POLICY, audit=AuditLog())
    with dspy.context(callbacks=[Spy()]):
        tools[0](name="users")
        tools[1](name="prod")
    assert seen == ["read_table", "delete_db"] and ledger.names() == ["read_table"]


def test_no_raise_mode() -> None:
    with pytest.raises(TypeError, match="on_refusal"):
        govern_tools([], POLICY, on_refusal="raise")
