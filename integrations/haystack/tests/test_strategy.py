"""agt-haystack against a real Haystack Agent driven by Haystack's own `MockChatGenerator`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from haystack.components.agents import Agent
from haystack.components.generators.chat import MockChatGenerator
from haystack.dataclasses import ChatMessage, ToolCall
from haystack.tools import Tool

from agent_os import AuditLog
from agt_core import GovernanceDenied
from agt_haystack import governance_hook
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)


def call(name: str, call_id: str, /, **args: Any) -> ToolCall:
    return ToolCall(tool_name=name, arguments=args, id=call_id)


def tools(ledger: ToolLedger) -> list[Tool]:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    email = {"type": "object", "properties": {"to": {"type": "string"}}, "required": ["to"]}
    return [
        Tool("read_table", "Read a table.", schema, lambda name: ledger.record("read_table", name=name)),
        Tool("delete_db", "Delete a database.", schema, lambda name: ledger.record("delete_db", name=name)),
        Tool("send_email", "Send an email.", email, lambda to: ledger.record("send_email", to=to)),
    ]


def run(
    ledger: ToolLedger, *calls: ToolCall, use_async: bool = False, **options: Any
) -> dict[str, tuple[str, bool]]:
    generator = MockChatGenerator(responses=[ChatMessage.from_assistant(tool_calls=list(calls)), "done"])
    agent = Agent(
        chat_generator=generator, tools=tools(ledger), hooks={"before_tool": [governance_hook(**options)]}
    )
    messages = [ChatMessage.from_user("tidy up")]
    result = asyncio.run(agent.run_async(messages=messages)) if use_async else agent.run(messages=messages)
    assert result["messages"][-1].text == "done"
    out = {}
    for message in result["messages"]:
        for tool_result in message.tool_call_results:
            out[str(tool_result.origin.id)] = (str(tool_result.result), tool_result.error)
    return out


@pytest.mark.parametrize("use_async", [False, True])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    shown = run(
        ledger,
        call("read_table", "c1", name="users"),
        call("delete_db", "c2", name="prod"),
        use_async=use_async,
        policy=POLICY,
        audit=log,
        agent_id="ops-bot",
        agent_name="ops_agent",
    )
    assert ledger.calls == [("read_table", {"name": "users"})]
    assert shown["c1"] == ("read_table done", False)
    assert DENY_MESSAGE in shown["c2"][0] and "block-destructive" in shown["c2"][0] and shown["c2"][1] is True

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "haystack" and entry["framework"]["agent"] == "ops_agent"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    shown = run(ledger, *calls, policy=POLICY, audit=log)
    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    assert all(DENY_MESSAGE in shown[f"d{i}"][0] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    shown = run(
        ledger, call("send_email", "e1", to="cfo@x"), policy=POLICY, audit=log, approval_handler=approver
    )
    assert [r.args for r in approver.requests] == [{"to": "cfo@x"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert shown["e1"][1] is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    shown = run(ledger, call("read_table", "c1", name="u"), policy=CrashingPolicySet(), audit=log)
    assert ledger.calls == [] and shown["c1"][1] is True
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    shown = run(ledger, call("read_table", "c1", name="u"), policy=POLICY, audit=failing_audit_log())
    assert ledger.calls == [] and "governance check failed" in shown["c1"][0]


def test_raise_mode_stops_the_run() -> None:
    ledger = ToolLedger()
    with pytest.raises(GovernanceDenied):
        run(
            ledger,
            call("read_table", "c0", name="u"),
            call("delete_db", "c1", name="prod"),
            policy=POLICY,
            on_refusal="raise",
        )
    assert ledger.calls == []  # the allowed call of the same turn did not run either
