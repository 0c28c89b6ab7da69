"""agt-pydantic-ai against a real PydanticAI agent, driven by PydanticAI's own `FunctionModel`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

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
from agt_pydantic_ai import ToolGovernance


class Script:
    """A FunctionModel script: one scripted turn of tool calls, then "done"; records what it was shown."""

    def __init__(self, *calls: ToolCallPart) -> None:
        self.calls = list(calls)
        self.seen: list[list[ModelMessage]] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.seen.append(list(messages))
        if len(self.seen) == 1:
            return ModelResponse(parts=list(self.calls))
        return ModelResponse(parts=[TextPart("done")])

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        """The same script, streamed: tool calls as deltas, then the text."""
        response = self(messages, info)
        for part in response.parts:
            if isinstance(part, TextPart):
                yield part.content
        deltas = {
            i: DeltaToolCall(name=p.tool_name, json_args=p.args_as_json_str(), tool_call_id=p.tool_call_id)
            for i, p in enumerate(response.parts)
            if isinstance(p, ToolCallPart)
        }
        if deltas:
            yield deltas

    def returns(self) -> dict[str, Any]:
        """Tool results the model was shown on its second turn, by tool-call id."""
        out = {}
        for message in self.seen[1]:
            if isinstance(message, ModelRequest):
                for part in message.parts:
                    if isinstance(part, ToolReturnPart):
                        out[part.tool_call_id] = part.content
        return out


def build_agent(governance: ToolGovernance, ledger: ToolLedger, script: Script) -> Agent[None, str]:
    agent: Agent[None, str] = Agent(
        FunctionModel(script, stream_function=script.stream), name="ops-agent", capabilities=[governance]
    )

    @agent.tool_plain
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    @agent.tool_plain
    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    @agent.tool_plain
    async def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    return agent


def call(tool_name: str, call_id: str, /, **args: Any) -> ToolCallPart:
    return ToolCallPart(tool_name=tool_name, args=args, tool_call_id=call_id)


def run(agent: Agent[None, str], *, streamed: bool = False) -> str:
    if streamed:

        async def consume() -> str:
            async with agent.run_stream("go") as result:
                return await result.get_output()

        return asyncio.run(consume())
    return asyncio.run(agent.run("go")).output


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "stream"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(streamed: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    script = Script(call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod"))
    output = run(
        build_agent(ToolGovernance(POLICY, audit=log, agent_id="ops-bot"), ledger, script), streamed=streamed
    )

    assert ledger.calls == [("read_table", {"name": "users"})]
    returns = script.returns()
    assert returns["c1"] == "read_table done"
    assert DENY_MESSAGE in returns["c2"] and "block-destructive" in returns["c2"]
    assert output == "done"

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "pydantic-ai"
        assert entry["framework"]["agent"] == "ops-agent"
        assert entry["framework"]["run_id"]
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    script = Script(*calls)
    run(build_agent(ToolGovernance(POLICY, audit=log), ledger, script))

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    returns = script.returns()
    assert all(DENY_MESSAGE in returns[f"d{i}"] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    script = Script(call("send_email", "e1", to="cfo@example.com"))
    run(build_agent(ToolGovernance(POLICY, audit=log, approval_handler=approver), ledger, script))

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (script.returns()["e1"] == "send_email done") is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    script = Script(call("read_table", "c1", name="users"))
    run(build_agent(ToolGovernance(CrashingPolicySet(), audit=log), ledger, script))

    assert ledger.calls == []
    assert script.returns()["c1"] != "read_table done"
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    script = Script(call("read_table", "c1", name="users"))
    run(build_agent(ToolGovernance(POLICY, audit=failing_audit_log()), ledger, script))

    assert ledger.calls == []
    assert "governance check failed" in script.returns()["c1"]


def test_raise_mode_stops_the_run() -> None:
    ledger = ToolLedger()
    script = Script(call("delete_db", "c1", name="prod"))
    agent = build_agent(ToolGovernance(POLICY, audit=AuditLog(), on_refusal="raise"), ledger, script)
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        run(agent)
    assert ledger.calls == []
    assert len(script.seen) == 1  # the model was not asked again


def test_validated_arguments_are_judged() -> None:
    """The policy sees the values the tool receives (after PydanticAI's validation), not the raw text."""
    log = AuditLog()
    ledger = ToolLedger()
    script = Script(ToolCallPart(tool_name="read_table", args='{"name": "users"}', tool_call_id="c1"))
    run(build_agent(ToolGovernance(POLICY, audit=log), ledger, script))
    assert ledger.calls == [("read_table", {"name": "users"})]
    assert audit_entries(log)[0]["args"] == {"name": "users"}


@pytest.mark.parametrize("approve", [True, False])
def test_deferred_approvals_use_pydantic_ai_human_in_the_loop(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    script = Script(call("send_email", "e1", to="cfo@example.com"))
    agent = build_agent(ToolGovernance(POLICY, audit=log, approvals="deferred"), ledger, script)

    first = asyncio.run(agent.run("go", output_type=[str, DeferredToolRequests]))
    assert isinstance(first.output, DeferredToolRequests)
    assert [c.tool_call_id for c in first.output.approvals] == ["e1"]
    assert "approve-email" in first.output.metadata["e1"]["governance"]
    assert ledger.calls == []
    [pending] = audit_entries(log)
    assert pending["effect"] == "require_approval" and pending["approved"] is False

    resumed = asyncio.run(
        agent.run(
            message_history=first.all_messages(),
            deferred_tool_results=DeferredToolResults(approvals={"e1": approve}),
            output_type=[str, DeferredToolRequests],
        )
    )
    assert resumed.output == "done"
    assert ledger.names() == (["send_email"] if approve else [])
    if approve:
        final = audit_entries(log)[-1]
        assert final["approved"] is True and final["args"] == {"to": "cfo@example.com"}
        assert log.records()[-1].approval.approver == "pydantic-ai:deferred-tool-results"
        assert final["framework"]["approved_by_framework"] is True


def test_deferred_approvals_do_not_approve_what_the_framework_did_not() -> None:
    """A denied call stays denied in deferred mode: only require_approval rules defer."""
    ledger = ToolLedger()
    script = Script(call("delete_db", "c1", name="prod"))
    agent = build_agent(ToolGovernance(POLICY, audit=AuditLog(), approvals="deferred"), ledger, script)
    result = asyncio.run(agent.run("go", output_type=[str, DeferredToolRequests]))
    assert result.output == "done"
    assert ledger.calls == []
    assert DENY_MESSAGE in script.returns()["c1"]


def test_deferred_mode_refuses_a_second_approver() -> None:
    with pytest.raises(TypeError, match="deferred"):
        ToolGovernance(POLICY, approvals="deferred", approval_handler=ScriptedApprover(True))
