"""Governance for messages between AutoGen agents: an ``autogen_core`` intervention handler.

``SingleThreadedAgentRuntime(intervention_handlers=[...])`` calls the handler for every message
sent (``on_send``) or published (``on_publish``) through the runtime, before delivery. Each
message an agent sends to another is checked against policy as the action ``agent_message``
(configurable), with ``args``: ``sender`` (the sending agent), ``recipient`` (agent or topic),
``message_type`` and ``content`` (the message's JSON data; for AgentChat chat messages, their
text).

* Core API messages (any message an agent sends or publishes): a refused one is dropped with
  the runtime's own `DropMessage`; a direct send then fails with ``MessageDroppedException`` at
  the sender.
* AgentChat teams (``RoundRobinGroupChat(..., runtime=runtime)`` and the other group chats): an
  agent's turn reaches the team as one published ``GroupChatAgentResponse``. A refused response
  is dropped, its content never reaches another participant; in its place the team gets a
  ``TextMessage`` from the same agent holding the refusal, because the group chat manager waits
  for every turn's response and a bare drop would stall the team forever. Raise mode publishes
  a ``GroupChatError`` instead, and the team's run ends with it (``RuntimeError`` naming
  `GovernanceDenied`).

AgentChat's own control events (start, request-to-speak, reset, termination, the output-stream
copies ``GroupChatMessage``) pass unchecked. A failing check drops the message (fail closed).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from typing import Any

from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, TextMessage
from autogen_agentchat.teams._group_chat._events import (
    GroupChatAgentResponse,
    GroupChatError,
    GroupChatMessage,
    GroupChatPause,
    GroupChatRequestPublish,
    GroupChatReset,
    GroupChatResume,
    GroupChatStart,
    GroupChatTermination,
    SerializableException,
)
from autogen_core import AgentId, DefaultInterventionHandler, DropMessage, MessageContext
from pydantic import BaseModel

from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["MessageGovernance"]

# AgentChat's team plumbing: who speaks next, start/stop/reset, copies for the caller's stream.
_CONTROL = (
    GroupChatStart,
    GroupChatRequestPublish,
    GroupChatReset,
    GroupChatPause,
    GroupChatResume,
    GroupChatTermination,
    GroupChatError,
    GroupChatMessage,
)


class MessageGovernance(DefaultInterventionHandler):
    """An intervention handler that checks every agent-to-agent message against policy.

    Usage::

        runtime = SingleThreadedAgentRuntime(intervention_handlers=[MessageGovernance(policy="policy.yaml")])
        team = RoundRobinGroupChat([a, b], runtime=runtime, termination_condition=...)

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        action: The action type messages are checked as (``action.type`` in conditions).
        on_refusal: ``"refuse"`` drops the message (see the module docstring); ``"raise"``
            ends a team's run with a ``GroupChatError`` (core API messages are dropped either way).
        gate: An `agent_os.ToolGate` to share (e.g. with a `GovernedWorkbench`).
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        action: str = "agent_message",
        on_refusal: OnRefusal = "refuse",
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        self.action = action
        self.governor = ToolGovernor(
            policy,
            framework="autogen",
            framework_version=importlib.metadata.version("autogen-core"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the messages."""
        return self.governor.gate

    async def on_send(
        self, message: Any, *, message_context: MessageContext, recipient: AgentId
    ) -> Any | type[DropMessage]:
        """Decide a direct message; a refused one is dropped."""
        if isinstance(message, _CONTROL):
            return message
        verdict = await self._check(message, message_context, recipient=str(recipient), kind="send")
        return message if verdict.allowed else DropMessage

    async def on_publish(self, message: Any, *, message_context: MessageContext) -> Any | type[DropMessage]:
        """Decide a published message; a refused one is dropped (in a team: replaced by the refusal)."""
        if isinstance(message, _CONTROL):
            return message
        topic = message_context.topic_id
        recipient = f"{topic.type}/{topic.source}" if topic is not None else None
        verdict = await self._check(message, message_context, recipient=recipient, kind="publish")
        if verdict.allowed:
            return message
        if isinstance(message, GroupChatAgentResponse):
            return self._refused_turn(message, verdict)
        return DropMessage

    async def _check(
        self, message: Any, message_context: MessageContext, *, recipient: str | None, kind: str
    ) -> Verdict:
        sender = message_context.sender
        try:
            args = _message_args(message)
        except Exception as exc:
            return self.governor.failed(self.action, exc)
        if isinstance(message, GroupChatAgentResponse):
            args["sender"] = message.name
        elif sender is not None:
            args["sender"] = sender.type
        if recipient is not None:
            args["recipient"] = recipient
        return await self.governor.check_async(
            self.action,
            args,
            message_kind=kind,
            message_id=message_context.message_id,
            runtime_sender=str(sender) if sender is not None else None,
            agent=args.get("sender"),
        )

    def _refused_turn(self, message: GroupChatAgentResponse, verdict: Verdict) -> Any:
        if self.governor.raises:
            return GroupChatError(error=SerializableException.from_exception(verdict.exception()))
        notice = TextMessage(source=message.name, content=verdict.message)
        return GroupChatAgentResponse(response=Response(chat_message=notice), name=message.name)


def _message_args(message: Any) -> dict[str, Any]:
    """What the policy sees of a message: its type and content as JSON data."""
    if isinstance(message, GroupChatAgentResponse):
        chat = message.response.chat_message
        return {"message_type": type(chat).__name__, "content": _chat_content(chat)}
    if isinstance(message, BaseModel):
        content: Any = message.model_dump(mode="json")
    elif dataclasses.is_dataclass(message) and not isinstance(message, type):
        content = dataclasses.asdict(message)
    elif isinstance(message, str | int | float | bool | dict | list):
        content = message
    else:
        raise TypeError(f"cannot read a message of type `{type(message).__name__}` as JSON data")
    return {"message_type": type(message).__name__, "content": content}


def _chat_content(chat: BaseChatMessage) -> Any:
    return chat.to_model_text()
