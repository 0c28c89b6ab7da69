"""agt-langgraph against the real LangGraph `ToolNode`, driven by LangChain's fake chat model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

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
from agt_langgraph import ToolCallGovernance


def build_graph(governance: ToolCallGovernance, ledger: ToolLedger, turns: list[AIMessage]) -> Any:
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

    model = FakeMessagesListChatModel(responses=turns)
    seen: list[list[Any]] = []

    def agent(state: MessagesState) -> dict[str, Any]:
        seen.append(list(state["messages"]))
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node(
        "tools",
        ToolNode(
            [read_table, delete_db, send_email],
            wrap_tool_call=governance.wrap_tool_call,
            awrap_tool_call=governance.awrap_tool_call,
        ),
    )
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    compiled = graph.compile(checkpointer=InMemorySaver())
    compiled.model_inputs = seen  # what the model was shown, turn by turn
    return compiled


def call(tool_name: str, call_id: str, /, **args: Any) -> dict[str, Any]:
    return {"name": tool_name, "args": args, "id": call_id, "type": "tool_call"}


def two_turns(*calls: dict[str, Any]) -> list[AIMessage]:
    return [AIMessage(content="", tool_calls=list(calls)), AIMessage(content="done")]


def run(graph: Any, *, thread: str = "t-1", use_async: bool = False) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}}
    inputs = {"messages": [HumanMessage("go")]}
    if use_async:
        return asyncio.run(graph.ainvoke(inputs, config))  # type: ignore[no-any-return]
    return graph.invoke(inputs, config)  # type: ignore[no-any-return]


def tool_messages(result: dict[str, Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolCallGovernance(POLICY, audit=log, agent_id="ops-bot")
    graph = build_graph(
        governance,
        ledger,
        two_turns(call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod")),
    )
    result = run(graph, use_async=use_async)

    assert ledger.calls == [("read_table", {"name": "users"})]
    messages = tool_messages(result)
    assert messages["c1"].content == "read_table done"
    assert messages["c2"].status == "error"
    assert DENY_MESSAGE in messages["c2"].content and "block-destructive" in messages["c2"].content
    # The model's second turn was shown the refusal.
    shown = [m for m in graph.model_inputs[1] if isinstance(m, ToolMessage) and m.tool_call_id == "c2"]
    assert shown and DENY_MESSAGE in shown[0].content
    assert result["messages"][-1].content == "done"

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "langgraph"
        assert entry["framework"]["thread_id"] == "t-1"
        assert entry["framework"]["node"] == "tools"
        assert entry["framework"]["version"]
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolCallGovernance(POLICY, audit=log)
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    result = run(build_graph(governance, ledger, two_turns(*calls)))

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
    governance = ToolCallGovernance(POLICY, audit=log, approval_handler=approver)
    result = run(build_graph(governance, ledger, two_turns(call("send_email", "e1", to="cfo@example.com"))))

    assert len(approver.requests) == 1
    assert approver.requests[0].args == {"to": "cfo@example.com"}
    assert approver.requests[0].request["context"]["framework"]["tool_call_id"] == "e1"
    assert ledger.names() == (["send_email"] if approve else [])
    assert (tool_messages(result)["e1"].status == "error") is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_crashing_evaluator_refuses(use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolCallGovernance(CrashingPolicySet(), audit=log)
    result = run(
        build_graph(governance, ledger, two_turns(call("read_table", "c1", name="users"))),
        use_async=use_async,
    )

    assert ledger.calls == []
    assert tool_messages(result)["c1"].status == "error"
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    governance = ToolCallGovernance(POLICY, audit=failing_audit_log())
    result = run(build_graph(governance, ledger, two_turns(call("read_table", "c1", name="users"))))

    assert ledger.calls == []
    message = tool_messages(result)["c1"]
    assert message.status == "error" and "governance check failed" in message.content


def test_raise_mode_stops_the_graph() -> None:
    ledger = ToolLedger()
    governance = ToolCallGovernance(POLICY, audit=AuditLog(), on_refusal="raise")
    graph = build_graph(governance, ledger, two_turns(call("delete_db", "c1", name="prod")))
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        run(graph)
    assert ledger.calls == []


def test_raise_mode_raises_the_gate_failure() -> None:
    ledger = ToolLedger()
    governance = ToolCallGovernance(POLICY, audit=failing_audit_log(), on_refusal="raise")
    graph = build_graph(governance, ledger, two_turns(call("read_table", "c1", name="users")))
    with pytest.raises(Exception, match="audit"):
        run(graph)
    assert ledger.calls == []


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "answer", [True, {"approved": True, "approver": "carol"}, False, {"approved": False}]
)
def test_interrupt_approvals_pause_and_resume(answer: Any, use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolCallGovernance(POLICY, audit=log, approvals="interrupt")
    graph = build_graph(governance, ledger, two_turns(call("send_email", "e1", to="cfo@example.com")))
    config = {"configurable": {"thread_id": f"hitl-{use_async}"}}

    def step(inputs: Any) -> Any:
        return asyncio.run(graph.ainvoke(inputs, config)) if use_async else graph.invoke(inputs, config)

    paused = step({"messages": [HumanMessage("go")]})
    [pending] = paused["__interrupt__"]
    assert pending.value["type"] == "agt_approval"
    assert pending.value["rule"] == "approve-email" and pending.value["args"] == {"to": "cfo@example.com"}
    assert ledger.calls == []
    assert [(e["effect"], e["approved"]) for e in audit_entries(log)] == [("require_approval", False)]

    resumed = step(Command(resume=answer))
    approved = answer is True or (isinstance(answer, dict) and answer["approved"])
    assert ledger.names() == (["send_email"] if approved else [])
    assert (tool_messages(resumed)["e1"].status == "error") is not approved
    final = log.records()[-1]
    assert len(log.records()) == 2 and final.approval is not None and final.approval.approved is approved
    if approved:
        assert final.approval.approver == ("carol" if isinstance(answer, dict) else "langgraph:interrupt")
    assert log.verify() == 2


def test_interrupt_mode_refuses_a_second_approver() -> None:
    with pytest.raises(TypeError, match="interrupt"):
        ToolCallGovernance(POLICY, approvals="interrupt", approval_handler=ScriptedApprover(True))
