"""Governance for A2A (a2a-sdk 1.x): outgoing agent-to-agent requests and incoming tasks.

Client side, `ClientGovernance` is a `ClientCallInterceptor` (``ClientFactory(...).create(card,
interceptors=[...])``). Its ``before`` decides each outgoing ``send_message`` (streaming or not)
on the request's message; a refused request never reaches the transport: the interceptor sets
``early_return`` to a local answer, an agent message carrying the refusal, of the type the call
expects (`SendMessageResponse`, or one `StreamResponse` when streaming). Raise mode raises
`GovernanceDenied` from ``before``, which the SDK propagates to the caller.

Server side, `GovernedAgentExecutor` wraps the app's `AgentExecutor`: each incoming message is
decided before the wrapped executor sees it; a refused one is answered with an agent message
carrying the refusal (or, for a message continuing an existing task, the task moves to
``TASK_STATE_REJECTED`` with that message) and the wrapped executor never runs. The served
agent's card is the request's ``agent`` (``agent.id`` is the card's name unless ``agent_id`` is
given).
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from a2a.client.interceptors import AfterArgs, BeforeArgs, ClientCallInterceptor
from a2a.helpers.proto_helpers import get_message_text, new_text_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import AgentCard, Message, SendMessageResponse, StreamResponse
from google.protobuf.json_format import MessageToDict

from agent_os import ToolGate
from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ClientGovernance", "GovernedAgentExecutor"]

SEND = "send_message"
"""The action type of an outgoing request (``action.type`` in conditions)."""
RECEIVE = "receive_message"
"""The action type of an incoming request."""

_SEND_METHODS = frozenset({"send_message", "send_message_streaming"})

# The verdict of the call in flight, from ``before`` to ``after`` (the SDK runs both in the caller's context).
_in_flight: ContextVar[Verdict | None] = ContextVar("agt_a2a_in_flight", default=None)


def _card_identity(card: AgentCard) -> dict[str, Any]:
    identity: dict[str, Any] = {"name": card.name, "version": card.version}
    urls = [i.url for i in card.supported_interfaces if i.url]
    if urls:
        identity["url"] = urls[0]
    if card.HasField("provider"):
        identity["provider"] = card.provider.organization
    return {k: v for k, v in identity.items() if v}


def _governor(
    policy: Any,
    on_refusal: OnRefusal,
    gate: ToolGate | None,
    agent_card: AgentCard | None,
    options: dict[str, Any],
) -> ToolGovernor:
    if agent_card is not None and gate is None:
        # The card is the acting agent's identity: agent.id is its name unless given.
        options.setdefault("agent_id", agent_card.name)
        options.setdefault("agent", _card_identity(agent_card))
    return ToolGovernor(
        policy,
        framework="a2a",
        framework_version=importlib.metadata.version("a2a-sdk"),
        on_refusal=on_refusal,
        gate=gate,
        **options,
    )


def _message_args(message: Message, peer_key: str, peer: Mapping[str, Any]) -> dict[str, Any]:
    return {
        peer_key: dict(peer),
        "text": get_message_text(message),
        "message": MessageToDict(message, preserving_proto_field_name=True),
    }


class ClientGovernance(ClientCallInterceptor):
    """Governs the outgoing requests of an A2A client (delegation to another agent).

    Usage::

        client = ClientFactory(config).create(card, interceptors=[ClientGovernance(policy="policy.yaml")])

    Put it last in ``interceptors``, so it judges the request as every other interceptor left it.
    The request's args hold ``to`` (the remote agent card's name, version, url, provider),
    ``text`` (the message's text parts) and ``message`` (the whole message as JSON).

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` answers a refused request locally with an agent message
            carrying the refusal; ``"raise"`` raises `GovernanceDenied` (or the gate's own error).
        agent_card: The card of the agent making the requests: its identity becomes the
            request's ``agent`` (``agent.id`` is its name unless ``agent_id`` is given).
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        agent_card: AgentCard | None = None,
        gate: ToolGate | None = None,
        **gate_options: Any,
    ) -> None:
        self.governor = _governor(policy, on_refusal, gate, agent_card, gate_options)

    @property
    def gate(self) -> ToolGate:
        """The `agent_os.ToolGate` deciding the requests."""
        return self.governor.gate

    async def before(self, args: BeforeArgs) -> None:
        """Decide an outgoing ``send_message``; answer it locally (or raise) when refused."""
        _in_flight.set(None)
        if args.method not in _SEND_METHODS:
            return
        message: Message = args.input.message
        target = _card_identity(args.agent_card)
        fields = {
            "method": args.method,
            "peer": target.get("name"),
            "context_id": message.context_id,
            "task_id": message.task_id,
            "message_id": message.message_id,
        }
        verdict = await self.governor.check_async(SEND, _message_args(message, "to", target), **fields)
        if verdict.allowed:
            _in_flight.set(verdict)
            return
        if self.governor.raises:
            raise verdict.exception()
        args.early_return = _local_answer(args.method, message, verdict)

    async def after(self, args: AfterArgs) -> None:
        """Hand an allowed request's (first) answer to post_tool rules; a refused answer is replaced."""
        verdict = _in_flight.get()
        if verdict is None or args.early_return:
            return
        _in_flight.set(None)  # a streamed answer is judged on its first event only
        # Converting the answer to JSON costs more than the rest of the hook: only post_tool rules need it.
        result = args.result
        if "post_tool" in self.gate.policy_set.stages:
            result = MessageToDict(result, preserving_proto_field_name=True)
        post = self.governor.complete(verdict, result=result)
        if post.allowed:
            return
        if self.governor.raises:
            raise post.exception()
        message = verdict.outcome.request["args"]["message"] if verdict.outcome is not None else {}
        refusal = new_text_message(post.message, context_id=message.get("context_id") or None)
        args.result = _wrap(args.method, refusal)


def _local_answer(method: str, message: Message, verdict: Verdict) -> SendMessageResponse | StreamResponse:
    refusal = new_text_message(verdict.message, context_id=message.context_id or None)
    refusal.metadata.update({"governance": {"refused": True, "by": "agt"}})
    return _wrap(method, refusal)


def _wrap(method: str, message: Message) -> SendMessageResponse | StreamResponse:
    if method == "send_message_streaming":
        return StreamResponse(message=message)
    return SendMessageResponse(message=message)


class GovernedAgentExecutor(AgentExecutor):
    """Wraps an A2A `AgentExecutor` so every incoming message is decided before it runs.

    Usage::

        executor = GovernedAgentExecutor(MyExecutor(), agent_card=card, policy="policy.yaml")
        handler = DefaultRequestHandler(agent_executor=executor, task_store=..., agent_card=card)

    The request's args hold ``from`` (the caller as the server knows it: ``user`` and whether
    it is authenticated), ``text`` (the message's text parts) and ``message`` (the whole
    message as JSON); ``agent`` is the served agent's card.

    Args:
        executor: The agent's own executor; it runs only for allowed messages.
        agent_card: The served agent's card (its identity becomes the request's ``agent``).
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` answers a refused message with the refusal; ``"raise"`` raises
            `GovernanceDenied` from ``execute``, which the SDK answers with an internal error
            (the client raises `InternalError` with the refusal): the executor never runs.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        executor: AgentExecutor,
        *,
        agent_card: AgentCard | None = None,
        policy: Any = None,
        on_refusal: OnRefusal = "refuse",
        gate: ToolGate | None = None,
        **gate_options: Any,
    ) -> None:
        self.executor = executor
        self.agent_card = agent_card
        self.governor = _governor(policy, on_refusal, gate, agent_card, gate_options)

    @property
    def gate(self) -> ToolGate:
        """The `agent_os.ToolGate` deciding the incoming messages."""
        return self.governor.gate

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Decide the incoming message; run the wrapped executor only if allowed."""
        message = context.message
        if message is None:
            await self.executor.execute(context, event_queue)
            return
        user = context.call_context.user
        caller = {"user": user.user_name, "authenticated": user.is_authenticated}
        fields = {
            "peer": user.user_name,
            "context_id": context.context_id,
            "task_id": context.task_id,
            "message_id": message.message_id,
            "tenant": context.tenant,
        }
        verdict = await self.governor.check_async(RECEIVE, _message_args(message, "from", caller), **fields)
        if not verdict.allowed:
            if self.governor.raises:
                raise verdict.exception()
            await _reject(context, event_queue, verdict.message)
            return
        started = time.perf_counter()
        try:
            await self.executor.execute(context, event_queue)
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        self.governor.complete(verdict, duration_s=time.perf_counter() - started)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Cancellation goes to the wrapped executor (it stops work; it starts none)."""
        await self.executor.cancel(context, event_queue)


async def _reject(context: RequestContext, event_queue: EventQueue, text: str) -> None:
    if context.current_task is None:
        await event_queue.enqueue_event(new_text_message(text, context_id=context.context_id))
        return
    updater = TaskUpdater(event_queue, context.current_task.id, context.current_task.context_id)
    await updater.reject(updater.new_agent_message([new_text_part(text)]))
