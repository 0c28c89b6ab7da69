"""agt-google-adk against a real ADK runner, driven by a scripted `BaseLlm` (ADK ships no offline fake)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from google.adk.agents import LlmAgent
from google.adk.apps import App
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.genai import types
from pydantic import Field

from agent_os import AuditLog
from agt_core import GovernanceDenied
from agt_google_adk import GovernancePlugin
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)


class ScriptedLlm(BaseLlm):
    """Answers its first turn with scripted function calls, then "done"; records every request."""

    calls: list[types.FunctionCall]
    seen: list[LlmRequest] = Field(default_factory=list)

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self.seen.append(llm_request)
        if len(self.seen) == 1:
            parts = [types.Part(function_call=c) for c in self.calls]
        else:
            parts = [types.Part(text="done")]
        yield LlmResponse(content=types.Content(role="model", parts=parts))

    def responses(self) -> dict[str, dict[str, Any]]:
        """Function responses the model was shown on its second turn, by call id."""
        out = {}
        for content in self.seen[1].contents:
            for part in content.parts or []:
                if part.function_response is not None:
                    out[part.function_response.id] = part.function_response.response
        return out


def call(tool_name: str, call_id: str, /, **args: Any) -> types.FunctionCall:
    return types.FunctionCall(name=tool_name, args=args, id=call_id)


def build_agent(ledger: ToolLedger, *calls: types.FunctionCall) -> tuple[LlmAgent, ScriptedLlm]:
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    async def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    model = ScriptedLlm(model="scripted", calls=list(calls), seen=[])
    return LlmAgent(name="ops_agent", model=model, tools=[read_table, delete_db, send_email]), model


def run(agent: LlmAgent, plugin: GovernancePlugin) -> list[Any]:
    async def go() -> list[Any]:
        runner = InMemoryRunner(app=App(name="ops", root_agent=agent, plugins=[plugin]))
        session = await runner.session_service.create_session(app_name="ops", user_id="u1", session_id="s-42")
        events = []
        async for event in runner.run_async(
            user_id="u1",
            session_id=session.id,
            new_message=types.Content(role="user", parts=[types.Part(text="go")]),
        ):
            events.append(event)
        await runner.close()
        return events

    return asyncio.run(go())


def test_allowed_runs_refused_never_runs_and_model_sees_refusal() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ledger, call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod")
    )
    events = run(agent, GovernancePlugin(POLICY, audit=log, agent_id="ops-bot"))

    assert ledger.calls == [("read_table", {"name": "users"})]
    responses = model.responses()
    assert responses["c1"] == {"result": "read_table done"}
    assert DENY_MESSAGE in responses["c2"]["error"] and "block-destructive" in responses["c2"]["error"]
    assert events[-1].content.parts[0].text == "done"

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "google-adk"
        assert entry["framework"]["agent"] == "ops_agent"
        assert entry["framework"]["session_id"] == "s-42"
        assert entry["framework"]["user_id"] == "u1"
        assert entry["framework"]["invocation_id"]
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    agent, model = build_agent(ledger, *calls)
    run(agent, GovernancePlugin(POLICY, audit=log))

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    responses = model.responses()
    assert all(DENY_MESSAGE in responses[f"d{i}"]["error"] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    agent, model = build_agent(ledger, call("send_email", "e1", to="cfo@example.com"))
    run(agent, GovernancePlugin(POLICY, audit=log, approval_handler=approver))

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert ("error" in model.responses()["e1"]) is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(ledger, call("read_table", "c1", name="users"))
    run(agent, GovernancePlugin(CrashingPolicySet(), audit=log))

    assert ledger.calls == []
    assert "error" in model.responses()["c1"]
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    agent, model = build_agent(ledger, call("read_table", "c1", name="users"))
    run(agent, GovernancePlugin(POLICY, audit=failing_audit_log()))

    assert ledger.calls == []
    assert "governance check failed" in model.responses()["c1"]["error"]


def test_raise_mode_stops_the_run() -> None:
    ledger = ToolLedger()
    agent, model = build_agent(ledger, call("delete_db", "c1", name="prod"))
    with pytest.raises(RuntimeError) as caught:
        run(agent, GovernancePlugin(POLICY, audit=AuditLog(), on_refusal="raise"))
    assert isinstance(caught.value.__cause__, GovernanceDenied)
    assert ledger.calls == []
    assert len(model.seen) == 1


@pytest.mark.parametrize("confirm", [True, False])
def test_confirmation_approvals_use_adk_tool_confirmation(confirm: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(ledger, call("send_email", "e1", to="cfo@example.com"))
    plugin = GovernancePlugin(POLICY, audit=log, approvals="confirmation")

    async def go() -> tuple[list[Any], list[Any]]:
        runner = InMemoryRunner(app=App(name="ops", root_agent=agent, plugins=[plugin]))
        session = await runner.session_service.create_session(app_name="ops", user_id="u1", session_id="s-9")
        first = [
            event
            async for event in runner.run_async(
                user_id="u1",
                session_id=session.id,
                new_message=types.Content(role="user", parts=[types.Part(text="go")]),
            )
        ]
        asks = [
            part.function_call
            for event in first
            for part in (event.content.parts if event.content else [])
            if part.function_call is not None and part.function_call.name == "adk_request_confirmation"
        ]
        assert len(asks) == 1
        assert ledger.calls == []
        answer = types.Part(
            function_response=types.FunctionResponse(
                name="adk_request_confirmation", id=asks[0].id, response={"confirmed": confirm}
            )
        )
        second = [
            event
            async for event in runner.run_async(
                user_id="u1", session_id=session.id, new_message=types.Content(role="user", parts=[answer])
            )
        ]
        await runner.close()
        return first, second

    asyncio.run(go())
    assert ledger.names() == (["send_email"] if confirm else [])
    assert ("error" in model.responses()["e1"]) is not confirm  # the model saw the outcome
    records = log.records()
    assert [(r.decision.effect, r.approval.approved) for r in records] == [
        ("require_approval", False),
        ("require_approval", confirm),
    ]
    if confirm:
        assert records[-1].approval.approver == "adk:tool-confirmation"
    assert log.verify() == 2


def test_confirmation_mode_refuses_a_second_approver() -> None:
    with pytest.raises(TypeError, match="confirmation"):
        GovernancePlugin(POLICY, approvals="confirmation", approval_handler=ScriptedApprover(True))
