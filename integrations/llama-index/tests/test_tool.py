"""agt-llama-index against a real FunctionAgent driven by LlamaIndex's `MockFunctionCallingLLM`."""

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Context

from agent_os import AuditLog
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)
from agt_llama_index import GovernedTool, govern_tools

# LlamaIndex's workflow step discovery (inspect.getmembers on the agent) touches pydantic's
# deprecated `__fields__` and `model_computed_fields`; under filterwarnings=error that would fail every agent run.
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning")


class Script:
    """The mock LLM's response generator: the scripted calls first, then "done"; keeps what it saw."""

    def __init__(self, *calls: ToolCallBlock) -> None:
        self.calls = list(calls)
        self.seen: list[list[ChatMessage]] = []

    def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.seen.append(list(messages))
        if not any(m.role == MessageRole.TOOL for m in messages):
            return ChatMessage(role=MessageRole.ASSISTANT, blocks=list(self.calls))
        return ChatMessage(role=MessageRole.ASSISTANT, content="done")

    def results(self) -> dict[str, str]:
        """Tool results the model was shown, by tool-call id."""
        return {
            str(m.additional_kwargs.get("tool_call_id")): str(m.content)
            for m in self.seen[-1]
            if m.role == MessageRole.TOOL
        }


def call(name: str, call_id: str, /, **args: Any) -> ToolCallBlock:
    return ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=args)


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


def run(
    script: Script, tools: list[GovernedTool], *, stream: bool = False
) -> tuple[str, list[ToolCallResult]]:
    llm = MockFunctionCallingLLM(response_generator=script)
    agent = FunctionAgent(name="ops_agent", tools=tools, llm=llm, streaming=stream)

    async def go() -> tuple[str, list[ToolCallResult]]:
        handler = agent.run(user_msg="tidy up")
        results = [ev async for ev in handler.stream_events() if isinstance(ev, ToolCallResult)]
        return str(await handler), results

    return asyncio.run(go())


@pytest.mark.parametrize("stream", [False, True])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(stream: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    script = Script(call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod"))
    tools = govern_tools(functions(ledger), POLICY, audit=log, agent_id="ops-bot", agent_name="ops_agent")
    answer, results = run(script, tools, stream=stream)

    assert ledger.calls == [("read_table", {"name": "users"})]
    shown = script.results()
    assert shown["c1"] == "read_table done"
    assert DENY_MESSAGE in shown["c2"] and "block-destructive" in shown["c2"]
    assert "done" in answer
    assert {r.tool_id: r.tool_output.is_error for r in results} == {"c1": False, "c2": True}

    entries = {e["tool"]: e for e in audit_entries(log)}
    assert entries["read_table"]["allowed"] is True and entries["read_table"]["args"] == {"name": "users"}
    assert entries["delete_db"]["allowed"] is False and entries["delete_db"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "llama-index"
        assert entry["framework"]["agent"] == "ops_agent"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    script = Script(*calls)
    run(script, govern_tools(functions(ledger), POLICY, audit=log))

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    shown = script.results()
    assert all(DENY_MESSAGE in shown[f"d{i}"] for i in range(3))
    assert sorted((e["tool"], e["allowed"]) for e in audit_entries(log)) == sorted(
        [("delete_db", False)] * 3 + [("read_table", True)] * 3
    )


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    script = Script(call("send_email", "e1", to="cfo@example.com"))
    run(script, govern_tools(functions(ledger), POLICY, audit=log, approval_handler=approver))

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert ("refused" in script.results()["e1"]) is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    script = Script(call("read_table", "c1", name="users"))
    run(script, govern_tools(functions(ledger), CrashingPolicySet(), audit=log))
    assert ledger.calls == []
    assert "refused" in script.results()["c1"]
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    script = Script(call("read_table", "c1", name="users"))
    run(script, govern_tools(functions(ledger), POLICY, audit=failing_audit_log()))
    assert ledger.calls == []
    assert "governance check failed" in script.results()["c1"]


def test_sync_calls_and_the_judged_arguments() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    seen: list[dict[str, Any]] = []

    def read_table(name: str) -> str:
        """Read a table."""
        seen.append({"name": name})
        return ledger.record("read_table", name=name)

    [tool] = govern_tools([FunctionTool.from_defaults(fn=read_table)], POLICY, audit=log)
    given = {"name": "users"}
    output = tool.call(**given)
    assert not output.is_error and output.content == "read_table done"
    assert tool.metadata.name == "read_table"
    [delete] = govern_tools(functions(ledger)[1:2], POLICY, audit=log)
    assert delete.call(name="prod").is_error and ledger.names() == ["read_table"]


def test_no_raise_mode_and_context_tools_are_refused_at_wrap_time() -> None:
    with pytest.raises(TypeError, match="on_refusal"):
        govern_tools([], POLICY, on_refusal="raise")

    # No `from __future__ import annotations` in this module: LlamaIndex finds the Context
    # parameter by its (evaluated) annotation.
    async def needs_context(ctx: Context, name: str) -> str:
        """Uses the workflow context."""
        return name

    with pytest.raises(TypeError, match="Context"):
        govern_tools([FunctionTool.from_defaults(fn=needs_context)], POLICY)
