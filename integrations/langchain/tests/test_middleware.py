"""agt-langchain against a real ``create_agent`` agent, driven by LangChain's fake chat model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import Field

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
from agt_langchain import GovernanceMiddleware


class ScriptedChatModel(FakeMessagesListChatModel):
    """LangChain's list-driven fake, with tool binding (the fake itself refuses `bind_tools`)."""

    seen: list[list[Any]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, stop, run_manager, **kwargs)


def build_agent(
    middleware: GovernanceMiddleware,
    ledger: ToolLedger,
    turns: list[AIMessage],
    extra: list[Any] | None = None,
) -> tuple[Any, ScriptedChatModel]:
    @tool
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    @tool
    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    @tool
    def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    model = ScriptedChatModel(responses=turns, seen=[])
    agent = create_agent(
        model, [read_table, delete_db, send_email], middleware=[middleware, *(extra or [])], name="ops-agent"
    )
    return agent, model


def call(tool_name: str, call_id: str, /, **args: Any) -> dict[str, Any]:
    return {"name": tool_name, "args": args, "id": call_id, "type": "tool_call"}


def two_turns(*calls: dict[str, Any]) -> list[AIMessage]:
    return [AIMessage(content="", tool_calls=list(calls)), AIMessage(content="done")]


def run(agent: Any, *, use_async: bool = False) -> dict[str, Any]:
    inputs = {"messages": [HumanMessage("go")]}
    config = {"configurable": {"thread_id": "thread-7"}}
    if use_async:
        return asyncio.run(agent.ainvoke(inputs, config))  # type: ignore[no-any-return]
    return agent.invoke(inputs, config)  # type: ignore[no-any-return]


def tool_messages(result: dict[str, Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    middleware = GovernanceMiddleware(POLICY, audit=log, agent_id="ops-bot")
    agent, model = build_agent(
        middleware,
        ledger,
        two_turns(call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod")),
    )
    result = run(agent, use_async=use_async)

    assert ledger.calls == [("read_table", {"name": "users"})]
    messages = tool_messages(result)
    assert messages["c1"].content == "read_table done"
    assert messages["c2"].status == "error" and DENY_MESSAGE in messages["c2"].content
    shown = [m for m in model.seen[1] if isinstance(m, ToolMessage) and m.tool_call_id == "c2"]
    assert shown and DENY_MESSAGE in shown[0].content
    assert result["messages"][-1].content == "done"

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "langchain"
        assert entry["framework"]["agent"] == "ops-agent"
        assert entry["framework"]["thread_id"] == "thread-7"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    agent, _ = build_agent(GovernanceMiddleware(POLICY, audit=log), ledger, two_turns(*calls))
    result = run(agent, use_async=True)

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    messages = tool_messages(result)
    assert all(messages[f"d{i}"].status == "error" for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    agent, _ = build_agent(
        GovernanceMiddleware(POLICY, audit=log, approval_handler=approver),
        ledger,
        two_turns(call("send_email", "e1", to="cfo@example.com")),
    )
    result = run(agent)

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (tool_messages(result)["e1"].status == "error") is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, _ = build_agent(
        GovernanceMiddleware(CrashingPolicySet(), audit=log),
        ledger,
        two_turns(call("read_table", "c1", name="users")),
    )
    result = run(agent)

    assert ledger.calls == []
    assert tool_messages(result)["c1"].status == "error"
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    agent, _ = build_agent(
        GovernanceMiddleware(POLICY, audit=failing_audit_log()),
        ledger,
        two_turns(call("read_table", "c1", name="users")),
    )
    result = run(agent, use_async=True)

    assert ledger.calls == []
    assert "governance check failed" in tool_messages(result)["c1"].content


def test_raise_mode_stops_the_agent() -> None:
    ledger = ToolLedger()
    agent, _ = build_agent(
        GovernanceMiddleware(POLICY, audit=AuditLog(), on_refusal="raise"),
        ledger,
        two_turns(call("delete_db", "c1", name="prod")),
    )
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        run(agent)
    assert ledger.calls == []


def test_inner_middleware_cannot_run_a_refused_tool() -> None:
    """Middleware after ours (inner) only runs for calls the policy allowed."""
    reached: list[str] = []

    class Inner(AgentMiddleware):  # type: ignore[type-arg]
        def wrap_tool_call(self, request: Any, handler: Any) -> Any:
            reached.append(request.tool_call["name"])
            return handler(request)

    ledger = ToolLedger()
    agent, _ = build_agent(
        GovernanceMiddleware(POLICY, audit=AuditLog()),
        ledger,
        two_turns(call("delete_db", "c1", name="prod"), call("read_table", "c2", name="users")),
        extra=[Inner()],
    )
    run(agent)
    assert reached == ["read_table"]
    assert ledger.names() == ["read_table"]


def test_interrupt_approvals_pause_and_resume_the_agent() -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    log = AuditLog()
    ledger = ToolLedger()

    @tool
    def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    model = ScriptedChatModel(responses=two_turns(call("send_email", "e1", to="cfo@example.com")), seen=[])
    agent = create_agent(
        model,
        [send_email],
        middleware=[GovernanceMiddleware(POLICY, audit=log, approvals="interrupt")],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "hitl"}}
    paused = agent.invoke({"messages": [HumanMessage("go")]}, config)
    assert paused["__interrupt__"][0].value["rule"] == "approve-email"
    assert ledger.calls == []

    resumed = agent.invoke(Command(resume={"approved": True, "approver": "carol"}), config)
    assert ledger.calls == [("send_email", {"to": "cfo@example.com"})]
    assert resumed["messages"][-1].content == "done"
    assert [r.approval.approver for r in log.records()] == [None, "carol"]
