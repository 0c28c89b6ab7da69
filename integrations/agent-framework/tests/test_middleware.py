"""agt-agent-framework against a real Agent Framework `Agent`, driven by a scripted chat client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agent_framework import Agent, FunctionMiddleware, MiddlewareFailure

from agent_os import AuditLog
from agt_agent_framework import GovernanceMiddleware
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

from .fake_client import ScriptedChatClient


def build_agent(
    middleware: GovernanceMiddleware,
    ledger: ToolLedger,
    *calls: tuple[str, str, dict[str, Any]],
    extra: Any = (),
) -> tuple[Agent, ScriptedChatClient]:
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    async def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    client = ScriptedChatClient(calls)
    agent = Agent(
        client=client,
        name="ops-agent",
        tools=[read_table, delete_db, send_email],
        middleware=[middleware, *extra],
    )
    return agent, client


def call(tool_name: str, call_id: str, /, **args: Any) -> tuple[str, str, dict[str, Any]]:
    return (tool_name, call_id, args)


def run(agent: Agent, *, stream: bool = False) -> str:
    async def go() -> str:
        session = agent.create_session(session_id="sess-5")
        if stream:
            response = agent.run("go", session=session, stream=True)
            async for _ in response:
                pass
            return (await response.get_final_response()).text
        return (await agent.run("go", session=session)).text

    return asyncio.run(go())


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(stream: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    middleware = GovernanceMiddleware(POLICY, audit=log, agent_id="ops-bot", agent_name="ops-agent")
    agent, client = build_agent(
        middleware, ledger, call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod")
    )
    text = run(agent, stream=stream)

    assert ledger.calls == [("read_table", {"name": "users"})]
    results = client.results()
    assert results["c1"] == "read_table done"
    assert DENY_MESSAGE in results["c2"] and "block-destructive" in results["c2"]
    assert text == "done"

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "agent-framework"
        assert entry["framework"]["agent"] == "ops-agent"
        assert entry["framework"]["session_id"] == "sess-5"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    agent, client = build_agent(GovernanceMiddleware(POLICY, audit=log), ledger, *calls)
    run(agent)

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    results = client.results()
    assert all(DENY_MESSAGE in results[f"d{i}"] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    agent, client = build_agent(
        GovernanceMiddleware(POLICY, audit=log, approval_handler=approver),
        ledger,
        call("send_email", "e1", to="cfo@example.com"),
    )
    run(agent)

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (client.results()["e1"] == "send_email done") is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, client = build_agent(
        GovernanceMiddleware(CrashingPolicySet(), audit=log), ledger, call("read_table", "c1", name="users")
    )
    run(agent)

    assert ledger.calls == []
    assert client.results()["c1"] != "read_table done"
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    agent, client = build_agent(
        GovernanceMiddleware(POLICY, audit=failing_audit_log()),
        ledger,
        call("read_table", "c1", name="users"),
    )
    run(agent)

    assert ledger.calls == []
    assert "governance check failed" in client.results()["c1"]


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
def test_raise_mode_aborts_with_middleware_failure(stream: bool) -> None:
    ledger = ToolLedger()
    agent, client = build_agent(
        GovernanceMiddleware(POLICY, audit=AuditLog(), on_refusal="raise"),
        ledger,
        call("delete_db", "c1", name="prod"),
        call("read_table", "c2", name="users"),
    )
    with pytest.raises(MiddlewareFailure) as caught:
        run(agent, stream=stream)
    assert isinstance(caught.value.__cause__, GovernanceDenied)
    assert "delete_db" not in ledger.names()
    assert len(client.seen) == 1  # the loop stopped: the model was not called again


def test_inner_middleware_never_sees_a_refused_call() -> None:
    reached: list[str] = []

    class Inner(FunctionMiddleware):
        async def process(self, context: Any, call_next: Any) -> None:
            reached.append(context.function.name)
            await call_next()

    ledger = ToolLedger()
    agent, _ = build_agent(
        GovernanceMiddleware(POLICY, audit=AuditLog()),
        ledger,
        call("delete_db", "c1", name="prod"),
        call("read_table", "c2", name="users"),
        extra=[Inner()],
    )
    run(agent)
    assert reached == ["read_table"]
