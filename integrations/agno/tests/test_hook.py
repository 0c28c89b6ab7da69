"""agt-agno against a real Agno agent, driven by a scripted `agno.models.base.Model` (Agno ships no fake)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

os.environ.setdefault("AGNO_TELEMETRY", "false")

from agno.agent import Agent
from agno.models.base import Model
from agno.models.message import Message
from agno.models.response import ModelResponse

from agent_os import AuditLog
from agt_agno import ToolGovernance
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)

Call = tuple[str, str, dict[str, Any]]


@dataclass
class ScriptedModel(Model):
    """Answers its first turn with scripted tool calls, then "done"; records what it was shown."""

    id: str = "scripted"
    calls: list[Call] = field(default_factory=list)
    seen: list[list[Message]] = field(default_factory=list)

    def _turn(self, messages: list[Message]) -> ModelResponse:
        self.seen.append(list(messages))
        if len(self.seen) == 1:
            tool_calls = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                for cid, name, args in self.calls
            ]
            return ModelResponse(role="assistant", tool_calls=tool_calls)
        return ModelResponse(role="assistant", content="done")

    def invoke(self, messages: list[Message], **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return self._turn(messages)

    async def ainvoke(self, messages: list[Message], **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return self._turn(messages)

    def invoke_stream(self, messages: list[Message], **kwargs: Any) -> Iterator[ModelResponse]:  # type: ignore[override]
        yield self._turn(messages)

    async def ainvoke_stream(  # type: ignore[override]
        self, messages: list[Message], **kwargs: Any
    ) -> AsyncIterator[ModelResponse]:
        yield self._turn(messages)

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]

    def returns(self) -> dict[str, Any]:
        """Tool results the model was shown on its second turn, by tool-call id."""
        return {m.tool_call_id: m.content for m in self.seen[1] if m.role == "tool"}


def build_agent(
    governance: ToolGovernance, ledger: ToolLedger, *calls: Call, async_tools: bool = False
) -> tuple[Agent, ScriptedModel]:
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    async def drop_table(name: str) -> str:
        """Drop a table (an async tool: only async runs may use it)."""
        await asyncio.sleep(0)
        return ledger.record("drop_table", name=name)

    async def count_rows(name: str) -> str:
        """Count a table's rows (an async tool)."""
        await asyncio.sleep(0)
        return ledger.record("count_rows", name=name)

    tools: list[Any] = [read_table, delete_db, send_email]
    if async_tools:
        tools += [drop_table, count_rows]
    model = ScriptedModel(calls=list(calls))
    agent = Agent(
        name="ops-agent",
        model=model,
        tools=tools,
        tool_hooks=[governance],
        telemetry=False,
    )
    return agent, model


def run(agent: Agent, mode: str) -> Any:
    if mode == "sync":
        return agent.run("go", user_id="u1")
    if mode == "stream":
        return list(agent.run("go", user_id="u1", stream=True))
    if mode == "async":
        return asyncio.run(agent.arun("go", user_id="u1"))

    async def consume() -> list[Any]:
        return [event async for event in agent.arun("go", user_id="u1", stream=True)]

    return asyncio.run(consume())


MODES = ["sync", "stream", "async", "astream"]


@pytest.mark.parametrize("mode", MODES)
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(mode: str) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=log, agent_id="ops-bot"),
        ledger,
        ("c1", "read_table", {"name": "users"}),
        ("c2", "delete_db", {"name": "prod"}),
    )
    run(agent, mode)

    assert ledger.calls == [("read_table", {"name": "users"})]
    returns = model.returns()
    assert returns["c1"] == "read_table done"
    assert DENY_MESSAGE in returns["c2"] and "block-destructive" in returns["c2"]
    assert len(model.seen) == 2

    entries = audit_entries(log)
    assert [(e["tool"], e["allowed"], e["args"]) for e in entries] == [
        ("read_table", True, {"name": "users"}),
        ("delete_db", False, {"name": "prod"}),
    ]
    assert entries[1]["rule"] == "block-destructive"
    for entry in entries:
        assert entry["agent_id"] == "ops-bot"
        framework = entry["framework"]
        assert framework["name"] == "agno" and framework["version"]
        assert framework["agent"] == "ops-agent"
        assert framework["user_id"] == "u1"
        assert framework["run_id"] and framework["session_id"]
    assert log.verify() == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_parallel_calls_are_each_governed(mode: str) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls: list[Call] = [(f"d{i}", "delete_db", {"name": f"db{i}"}) for i in range(3)]
    calls += [(f"r{i}", "read_table", {"name": f"t{i}"}) for i in range(3)]
    agent, model = build_agent(ToolGovernance(POLICY, audit=log), ledger, *calls)
    run(agent, mode)

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    returns = model.returns()
    assert all(DENY_MESSAGE in returns[f"d{i}"] for i in range(3))
    assert all(returns[f"r{i}"] == "read_table done" for i in range(3))
    assert sorted((e["args"]["name"], e["allowed"]) for e in audit_entries(log)) == sorted(
        [(f"db{i}", False) for i in range(3)] + [(f"t{i}", True) for i in range(3)]
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool, mode: str) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=log, approval_handler=approver),
        ledger,
        ("e1", "send_email", {"to": "cfo@example.com"}),
    )
    run(agent, mode)

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (model.returns()["e1"] == "send_email done") is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_crashing_evaluator_refuses(mode: str) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(CrashingPolicySet(), audit=log), ledger, ("c1", "read_table", {"name": "users"})
    )
    run(agent, mode)

    assert ledger.calls == []
    assert "refused" in model.returns()["c1"]
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_failing_audit_refuses(mode: str) -> None:
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=failing_audit_log()), ledger, ("c1", "read_table", {"name": "users"})
    )
    run(agent, mode)

    assert ledger.calls == []
    assert "governance check failed" in model.returns()["c1"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_raise_mode_stops_the_run(mode: str) -> None:
    ledger = ToolLedger()
    log = AuditLog()
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=log, on_refusal="raise"),
        ledger,
        ("c1", "delete_db", {"name": "prod"}),
    )
    output = run(agent, mode)

    assert ledger.calls == []
    assert len(model.seen) == 1  # the model was not asked again: the run stopped
    [tool] = output.tools
    assert tool.tool_call_error is True and "block-destructive" in str(tool.result)
    assert audit_entries(log)[0]["allowed"] is False


@pytest.mark.parametrize("mode", ["async", "astream"])
def test_async_tools_are_governed(mode: str) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ToolGovernance(POLICY, audit=log),
        ledger,
        ("c1", "count_rows", {"name": "users"}),
        ("c2", "drop_table", {"name": "users"}),
        async_tools=True,
    )
    run(agent, mode)

    assert ledger.calls == [("count_rows", {"name": "users"})]
    returns = model.returns()
    assert returns["c1"] == "count_rows done"
    assert DENY_MESSAGE in returns["c2"]
    assert [(e["tool"], e["allowed"]) for e in audit_entries(log)] == [
        ("count_rows", True),
        ("drop_table", False),
    ]


def test_the_hook_is_sync_so_sync_runs_never_skip_it() -> None:
    """Agno silently skips ``async def`` tool hooks in sync runs: the adapter's hook must not be one."""
    import inspect

    governance = ToolGovernance(POLICY)
    assert not inspect.iscoroutinefunction(governance)
    assert not inspect.iscoroutinefunction(governance.__call__)
