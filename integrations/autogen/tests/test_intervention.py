"""agt-autogen's intervention handler in a real AgentChat team and on core runtime messages."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import (
    AgentId,
    MessageContext,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    message_handler,
)
from autogen_core.exceptions import MessageDroppedException
from autogen_core.models import LLMMessage

from agent_os import AuditLog
from agt_autogen import MessageGovernance
from agt_integrations.testing import CrashingPolicySet, audit_entries

from .test_workbench import RecordingReplay

# AutoGen's runtime warns whenever an RPC answers None (a team's start and reset requests do), on
# every intervention handler's behalf; under filterwarnings=error that warning would kill the runtime.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Intervention handler on_response returned None:RuntimeWarning"
)

POLICY: dict[str, Any] = {
    "apiVersion": "governance.toolkit/v1",
    "name": "messages",
    "default_action": "allow",
    "rules": [
        {
            "name": "no-secrets",
            "condition": "action.type == 'agent_message' && args.message_type == 'TextMessage'"
            " && args.content.contains('SECRET')",
            "action": "deny",
            "message": "secrets stay inside the agent",
        },
        {
            "name": "no-secret-notes",
            "condition": "action.type == 'agent_message' && args.message_type == 'Note'"
            " && args.content.text.contains('SECRET')",
            "action": "deny",
            "message": "secrets stay inside the agent",
        },
    ],
}


def _texts(messages: list[LLMMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


def run_team(governance: MessageGovernance, writer_says: str) -> tuple[TaskResult, RecordingReplay]:
    writer_model = RecordingReplay([writer_says])
    reviewer_model = RecordingReplay(["looks fine"])
    writer = AssistantAgent("writer", model_client=writer_model)
    reviewer = AssistantAgent("reviewer", model_client=reviewer_model)

    async def go() -> TaskResult:
        runtime = SingleThreadedAgentRuntime(intervention_handlers=[governance])
        runtime.start()
        team = RoundRobinGroupChat(
            [writer, reviewer], runtime=runtime, termination_condition=MaxMessageTermination(3)
        )
        try:
            return await team.run(task="write the report")
        finally:
            await runtime.stop_when_idle()

    return asyncio.run(go()), reviewer_model


def test_a_refused_message_never_reaches_the_other_agent() -> None:
    log = AuditLog()
    result, reviewer_model = run_team(MessageGovernance(POLICY, audit=log), "the key is SECRET-42")

    seen = _texts(list(reviewer_model.seen[0]))
    assert "SECRET" not in seen
    assert "secrets stay inside the agent" in seen and "no-secrets" in seen
    assert result.messages[-1].source == "reviewer"  # the team went on

    entries = [e for e in audit_entries(log) if e["framework"].get("agent") == "writer"]
    [refused] = [e for e in entries if not e["allowed"]]
    assert refused["rule"] == "no-secrets" and refused["args"]["sender"] == "writer"
    assert refused["framework"]["name"] == "autogen" and refused["framework"]["message_kind"] == "publish"
    assert any(e["allowed"] and e["args"]["sender"] == "reviewer" for e in audit_entries(log))


def test_an_allowed_message_is_delivered_unchanged() -> None:
    log = AuditLog()
    _, reviewer_model = run_team(MessageGovernance(POLICY, audit=log), "the report is ready")
    assert "the report is ready" in _texts(list(reviewer_model.seen[0]))
    assert all(e["allowed"] for e in audit_entries(log))


def test_raise_mode_ends_the_team_run() -> None:
    with pytest.raises(RuntimeError, match="GovernanceDenied"):
        run_team(MessageGovernance(POLICY, audit=AuditLog(), on_refusal="raise"), "the key is SECRET-42")


def test_a_crashing_evaluator_drops_the_message() -> None:
    log = AuditLog()
    _, reviewer_model = run_team(
        MessageGovernance(CrashingPolicySet(POLICY), audit=log), "the report is ready"
    )
    assert "the report is ready" not in _texts(list(reviewer_model.seen[0]))
    assert not any(e["allowed"] for e in audit_entries(log))


@dataclass
class Note:
    text: str


class Receiver(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("receives notes")
        self.got: list[str] = []

    @message_handler
    async def on_note(self, message: Note, ctx: MessageContext) -> str:
        self.got.append(message.text)
        return "ok"


class Sender(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("sends notes")

    @message_handler
    async def on_note(self, message: Note, ctx: MessageContext) -> str:
        try:
            forwarded = Note(message.text.replace("leak", "SECRET"))
            return str(await self.send_message(forwarded, AgentId("receiver", "default")))
        except MessageDroppedException:
            return "dropped"


def test_core_messages_between_agents_are_governed() -> None:
    log = AuditLog()
    receivers: list[Receiver] = []

    def make_receiver() -> Receiver:
        receivers.append(Receiver())
        return receivers[-1]

    async def go() -> list[str]:
        runtime = SingleThreadedAgentRuntime(intervention_handlers=[MessageGovernance(POLICY, audit=log)])
        await Sender.register(runtime, "sender", Sender)
        await Receiver.register(runtime, "receiver", make_receiver)
        runtime.start()
        answers = [
            await runtime.send_message(Note(text), AgentId("sender", "default"))
            for text in ("hello", "leak plan")
        ]
        # Not stop_when_idle(): AutoGen 0.7.5 never marks a dropped message's queue item done.
        await runtime.stop()
        return answers

    answers = asyncio.run(go())
    assert answers == ["ok", "dropped"]
    assert receivers[0].got == ["hello"]
    refused = [e for e in audit_entries(log) if not e["allowed"]]
    assert [(e["args"]["sender"], e["args"]["content"]) for e in refused] == [
        ("sender", {"text": "SECRET plan"})
    ]
