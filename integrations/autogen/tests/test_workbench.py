"""agt-autogen's workbench against a real AssistantAgent driven by AutoGen's `ReplayChatCompletionClient`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import ToolCallExecutionEvent
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import CreateResult, FunctionExecutionResultMessage, LLMMessage, RequestUsage
from autogen_core.tools import FunctionTool, StaticWorkbench
from autogen_ext.models.replay import ReplayChatCompletionClient

from agent_os import AuditLog
from agt_autogen import GovernedWorkbench
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)


class RecordingReplay(ReplayChatCompletionClient):
    """AutoGen's replay client, also keeping the messages of every model call (what the model saw)."""

    def __init__(self, completions: Sequence[str | CreateResult]) -> None:
        super().__init__(completions)
        self.seen: list[Sequence[LLMMessage]] = []

    async def create(self, messages: Sequence[LLMMessage], *args: Any, **kwargs: Any) -> CreateResult:
        self.seen.append(list(messages))
        return await super().create(messages, *args, **kwargs)

    async def create_stream(  # type: ignore[override]
        self, messages: Sequence[LLMMessage], *args: Any, **kwargs: Any
    ) -> AsyncGenerator[str | CreateResult, None]:
        self.seen.append(list(messages))
        async for chunk in super().create_stream(messages, *args, **kwargs):
            yield chunk

    def results(self) -> dict[str, tuple[str, bool]]:
        """Function results (content, is_error) the model was shown on its second call, by call id."""
        out = {}
        for message in self.seen[1]:
            if isinstance(message, FunctionExecutionResultMessage):
                for result in message.content:
                    out[result.call_id] = (result.content, bool(result.is_error))
        return out


def call(name: str, call_id: str, /, **args: Any) -> FunctionCall:
    return FunctionCall(id=call_id, name=name, arguments=json.dumps(args))


def script(*calls: FunctionCall) -> RecordingReplay:
    first = CreateResult(
        finish_reason="function_calls", content=list(calls), usage=RequestUsage(0, 0), cached=False
    )
    return RecordingReplay([first, "done"])


def tools(ledger: ToolLedger) -> list[FunctionTool]:
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    async def send_email(to: str) -> str:
        """Send an email."""
        await asyncio.sleep(0)
        return ledger.record("send_email", to=to)

    return [
        FunctionTool(read_table, description="Read a table."),
        FunctionTool(delete_db, description="Delete a database."),
        FunctionTool(send_email, description="Send an email."),
    ]


def run(model: RecordingReplay, workbench: GovernedWorkbench, *, stream: bool = False) -> TaskResult:
    agent = AssistantAgent(
        "ops_agent",
        model_client=model,
        workbench=workbench,
        reflect_on_tool_use=True,
        model_client_stream=stream,
    )

    async def go() -> TaskResult:
        if not stream:
            return await agent.run(task="tidy up")
        result = None
        async for item in agent.run_stream(task="tidy up"):
            if isinstance(item, TaskResult):
                result = item
        assert result is not None
        return result

    return asyncio.run(go())


@pytest.mark.parametrize("stream", [False, True])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(stream: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    model = script(call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod"))
    workbench = GovernedWorkbench(
        tools(ledger), POLICY, audit=log, agent_id="ops-bot", agent_name="ops_agent"
    )
    result = run(model, workbench, stream=stream)

    assert ledger.calls == [("read_table", {"name": "users"})]
    shown = model.results()
    assert shown["c1"] == ("read_table done", False)
    assert DENY_MESSAGE in shown["c2"][0] and "block-destructive" in shown["c2"][0] and shown["c2"][1]
    assert result.messages[-1].to_text() == "done"
    [event] = [m for m in result.messages if isinstance(m, ToolCallExecutionEvent)]
    assert [r.is_error for r in event.content] == [False, True]

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "autogen"
        assert entry["framework"]["agent"] == "ops_agent"
        assert entry["framework"]["version"]
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    model = script(*calls)
    run(model, GovernedWorkbench(tools(ledger), POLICY, audit=log))

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    shown = model.results()
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
    model = script(call("send_email", "e1", to="cfo@example.com"))
    run(model, GovernedWorkbench(tools(ledger), POLICY, audit=log, approval_handler=approver))

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert model.results()["e1"][1] is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    model = script(call("read_table", "c1", name="users"))
    run(model, GovernedWorkbench(tools(ledger), CrashingPolicySet(), audit=log))

    assert ledger.calls == []
    assert model.results()["c1"][1] is True
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    model = script(call("read_table", "c1", name="users"))
    run(model, GovernedWorkbench(tools(ledger), POLICY, audit=failing_audit_log()))

    assert ledger.calls == []
    content, is_error = model.results()["c1"]
    assert is_error and "governance check failed" in content


def test_there_is_no_raise_mode() -> None:
    with pytest.raises(TypeError, match="hangs"):
        GovernedWorkbench([], POLICY, on_refusal="raise")


def test_the_judged_arguments_are_the_ones_that_run() -> None:
    """The inner workbench receives the gate's copy of the arguments, not the caller's mapping."""
    seen: list[Mapping[str, Any]] = []

    class Inner(StaticWorkbench):
        async def call_tool(
            self, name: str, arguments: Mapping[str, Any] | None = None, *a: Any, **k: Any
        ) -> Any:
            seen.append(arguments or {})
            return await super().call_tool(name, arguments, *a, **k)

    ledger = ToolLedger()
    log = AuditLog()
    workbench = GovernedWorkbench(Inner(tools(ledger)), POLICY, audit=log)
    given = {"name": "users"}
    result = asyncio.run(workbench.call_tool("read_table", given, CancellationToken(), "c1"))
    assert not result.is_error and ledger.calls == [("read_table", {"name": "users"})]
    assert seen == [log.records()[0].request["args"]] and seen[0] is not given


def test_non_streaming_inner_workbench_and_lifecycle_delegate() -> None:
    ledger = ToolLedger()
    inner = StaticWorkbench(tools(ledger))
    workbench = GovernedWorkbench(inner, POLICY, audit=AuditLog())

    async def go() -> list[Any]:
        async with workbench:
            names = [t["name"] for t in await workbench.list_tools()]
            events = [e async for e in workbench.call_tool_stream("read_table", {"name": "t"}, None, "c1")]
            refused = [e async for e in workbench.call_tool_stream("delete_db", {"name": "p"}, None, "c2")]
            return [names, events, refused]

    names, events, refused = asyncio.run(go())
    assert names == ["read_table", "delete_db", "send_email"]
    assert [e.is_error for e in events] == [False] and [e.is_error for e in refused] == [True]
    assert ledger.names() == ["read_table"]
    with pytest.raises(TypeError, match="cannot be dumped"):
        workbench.dump_component()
