"""agt-strands against a real Strands agent, driven by a scripted `strands.models.Model` (Strands ships no fake)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

import pytest
from strands import Agent, tool
from strands.models import Model
from strands.tools.executors import ConcurrentToolExecutor, SequentialToolExecutor
from strands.types.exceptions import EventLoopException

from agent_os import AuditLog
from agt_core import GovernanceDenied
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)
from agt_strands import ToolGovernance

Call = tuple[str, str, dict[str, Any]]


class ScriptedModel(Model):
    """Streams Converse-style events: the scripted tool calls on the first turn, then "done"."""

    def __init__(self, *calls: Call) -> None:
        self.calls = list(calls)
        self.seen: list[list[Any]] = []

    def update_config(self, **model_config: Any) -> None:
        pass

    def get_config(self) -> Any:
        return {}

    def structured_output(self, *args: Any, **kwargs: Any) -> AsyncGenerator[dict[str, Any], None]:
        raise AssertionError("the scripted model is never asked for structured output")

    async def stream(
        self, messages: Any, tool_specs: Any = None, system_prompt: Any = None, **kwargs: Any
    ) -> AsyncIterable[Any]:  # type: ignore[override]
        self.seen.append(json.loads(json.dumps(messages, default=str)))
        yield {"messageStart": {"role": "assistant"}}
        if len(self.seen) == 1:
            for call_id, name, args in self.calls:
                yield {"contentBlockStart": {"start": {"toolUse": {"toolUseId": call_id, "name": name}}}}
                yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(args)}}}}
                yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use"}}
        else:
            yield {"contentBlockDelta": {"delta": {"text": "done"}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}

    def returns(self) -> dict[str, tuple[str, str]]:
        """Tool results the model was shown on its second turn: id -> (status, text)."""
        out = {}
        for message in self.seen[1]:
            for block in message["content"]:
                if "toolResult" in block:
                    result = block["toolResult"]
                    text = " ".join(c.get("text", "") for c in result["content"])
                    out[result["toolUseId"]] = (result["status"], text)
        return out


def build_agent(
    governance: ToolGovernance, ledger: ToolLedger, *calls: Call, concurrent: bool = True
) -> tuple[Agent, ScriptedModel]:
    @tool
    def read_table(name: str) -> str:
        """Read a table.

        Args:
            name: The table.
        """
        return ledger.record("read_table", name=name)

    @tool
    def delete_db(name: str) -> str:
        """Delete a database.

        Args:
            name: The database.
        """
        return ledger.record("delete_db", name=name)

    @tool
    async def send_email(to: str) -> str:
        """Send an email.

        Args:
            to: The recipient.
        """
        return ledger.record("send_email", to=to)

    model = ScriptedModel(*calls)
    agent = Agent(
        model=model,
        name="ops-agent",
        tools=[read_table, delete_db, send_email],
        interventions=[governance],
        callback_handler=None,
        tool_executor=ConcurrentToolExecutor() if concurrent else SequentialToolExecutor(),
    )
    return agent, model


def run(agent: Agent, mode: str) -> Any:
    if mode == "sync":
        return agent("go")
    if mode == "async":
        return asyncio.run(agent.invoke_async("go"))

    async def consume() -> list[Any]:
        return [event async for event in agent.stream_async("go")]

    return asyncio.run(consume())


@pytest.mark.parametrize("mode", ["sync", "async", "stream"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(mode: str) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=log, agent_id="ops-bot"),
        ledger,
        ("c1", "read_table", {"name": "users"}),
        ("c2", "delete_db", {"name": "prod"}),
        concurrent=False,
    )
    run(agent, mode)

    assert ledger.calls == [("read_table", {"name": "users"})]
    returns = model.returns()
    assert returns["c1"] == ("success", "read_table done")
    status, text = returns["c2"]
    assert status == "error" and DENY_MESSAGE in text and "block-destructive" in text
    assert len(model.seen) == 2

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "strands" and entry["framework"]["version"]
        assert entry["framework"]["agent"] == "ops-agent"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls: list[Call] = [(f"d{i}", "delete_db", {"name": f"db{i}"}) for i in range(3)]
    calls += [(f"r{i}", "read_table", {"name": f"t{i}"}) for i in range(3)]
    agent, model = build_agent(ToolGovernance(POLICY, audit=log), ledger, *calls)
    run(agent, "sync")

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    returns = model.returns()
    assert all(returns[f"d{i}"][0] == "error" and DENY_MESSAGE in returns[f"d{i}"][1] for i in range(3))
    assert all(returns[f"r{i}"] == ("success", "read_table done") for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=log, approval_handler=approver),
        ledger,
        ("e1", "send_email", {"to": "cfo@example.com"}),
    )
    run(agent, "sync")

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (model.returns()["e1"] == ("success", "send_email done")) is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(CrashingPolicySet(), audit=log), ledger, ("c1", "read_table", {"name": "users"})
    )
    run(agent, "sync")

    assert ledger.calls == []
    assert model.returns()["c1"][0] == "error"
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=failing_audit_log()), ledger, ("c1", "read_table", {"name": "users"})
    )
    run(agent, "sync")

    assert ledger.calls == []
    status, text = model.returns()["c1"]
    assert status == "error" and "governance check failed" in text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_raise_mode_stops_the_run(mode: str) -> None:
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=AuditLog(), on_refusal="raise"),
        ledger,
        ("c1", "delete_db", {"name": "prod"}),
    )
    with pytest.raises(EventLoopException) as raised:
        run(agent, mode)
    assert isinstance(raised.value.__cause__, GovernanceDenied)
    assert "block-destructive" in str(raised.value.__cause__)
    assert ledger.calls == []
    assert len(model.seen) == 1  # the model was not asked again


def test_post_tool_rules_withhold_a_result() -> None:
    policy = {
        **POLICY,
        "rules": [
            *POLICY["rules"],
            {
                "name": "no-secrets-out",
                "stage": "post_tool",
                "condition": "result.contains('done')",
                "action": "deny",
                "message": "result withheld",
            },
        ],
    }
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(policy, audit=AuditLog()), ledger, ("c1", "read_table", {"name": "users"})
    )
    run(agent, "sync")

    assert ledger.names() == ["read_table"]
    status, text = model.returns()["c1"]
    assert status == "error" and "result withheld" in text and "read_table done" not in text


def test_direct_tool_calls_are_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, _ = build_agent(ToolGovernance(POLICY, audit=log), ledger)
    refused = agent.tool.delete_db(name="prod", record_direct_tool_call=False)
    allowed = agent.tool.read_table(name="users", record_direct_tool_call=False)

    assert ledger.calls == [("read_table", {"name": "users"})]
    assert refused["status"] == "error" and DENY_MESSAGE in refused["content"][0]["text"]
    assert allowed["status"] == "success"
    assert [(e["tool"], e["allowed"]) for e in audit_entries(log)] == [
        ("delete_db", False),
        ("read_table", True),
    ]
