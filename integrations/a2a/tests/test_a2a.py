"""agt-a2a over the real a2a-sdk: a client and a server in process (the SDK's ASGI app on `httpx.ASGITransport`)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.helpers.proto_helpers import get_message_text, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Message,
    Part,
    Role,
    SendMessageRequest,
)
from a2a.utils.errors import InternalError
from starlette.applications import Starlette

from agent_os import AuditLog
from agt_a2a import ClientGovernance, GovernedAgentExecutor
from agt_core import GovernanceDenied
from agt_integrations.testing import CrashingPolicySet, ScriptedApprover, audit_entries, failing_audit_log

URL = "http://ops-agent.test"

POLICY: dict[str, Any] = {
    "apiVersion": "governance.toolkit/v1",
    "name": "a2a-tests",
    "default_action": "allow",
    "rules": [
        {
            "name": "no-prod-drops",
            "condition": "action.type == 'receive_message' && args.text.contains('drop prod')",
            "action": "deny",
            "message": "destructive requests are not accepted",
        },
        {
            "name": "no-secrets-out",
            "condition": "action.type == 'send_message' && args.text.contains('secret')",
            "action": "deny",
            "message": "secrets stay here",
        },
        {
            "name": "approve-payments",
            "condition": "action.type == 'send_message' && args.text.contains('pay')",
            "action": "require_approval",
            "approvers": ["finance"],
        },
    ],
}


def card(name: str = "ops-agent", streaming: bool = False) -> AgentCard:
    return AgentCard(
        name=name,
        description="test agent",
        version="1.0.0",
        supported_interfaces=[AgentInterface(url=URL, protocol_binding="JSONRPC", protocol_version="1.0")],
        capabilities=AgentCapabilities(streaming=streaming),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="ops", name="ops", description="ops", tags=["ops"])],
    )


class EchoExecutor(AgentExecutor):
    """The real agent: echoes what it was asked, and remembers it."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = context.get_user_input()
        self.received.append(text)
        await event_queue.enqueue_event(new_text_message(f"echo: {text}", context_id=context.context_id))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise AssertionError("these tests never cancel a task")


def app(executor: AgentExecutor, agent_card: AgentCard) -> Starlette:
    handler = DefaultRequestHandler(
        agent_executor=executor, task_store=InMemoryTaskStore(), agent_card=agent_card
    )
    return Starlette(
        routes=[*create_agent_card_routes(agent_card), *create_jsonrpc_routes(handler, rpc_url="/")]
    )


async def ask(
    server: Starlette, text: str, *, interceptors: list[Any] = (), streaming: bool = False
) -> list[str]:  # type: ignore[assignment]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url=URL) as http:
        config = ClientConfig(httpx_client=http, streaming=streaming)
        client = ClientFactory(config).create(card(streaming=streaming), interceptors=list(interceptors))
        message = Message(role=Role.ROLE_USER, message_id="m-1", context_id="ctx-1", parts=[Part(text=text)])
        answers = []
        async for event in client.send_message(SendMessageRequest(message=message)):
            if event.HasField("message"):
                answers.append(get_message_text(event.message))
        return answers


def governed_server(log: AuditLog, **options: Any) -> tuple[Starlette, EchoExecutor]:
    echo = EchoExecutor()
    agent_card = card(streaming=True)
    executor = GovernedAgentExecutor(
        echo, agent_card=agent_card, policy=options.pop("policy", POLICY), audit=log, **options
    )
    return app(executor, agent_card), echo


def test_server_refuses_incoming_tasks_by_policy() -> None:
    log = AuditLog()
    server, echo = governed_server(log)

    assert asyncio.run(ask(server, "hello")) == ["echo: hello"]
    [refusal] = asyncio.run(ask(server, "please drop prod"))

    assert echo.received == ["hello"]  # the refused task never reached the agent
    assert "no-prod-drops" in refusal and "destructive requests are not accepted" in refusal
    entries = audit_entries(log)
    assert [(e["tool"], e["allowed"]) for e in entries] == [
        ("receive_message", True),
        ("receive_message", False),
    ]
    for entry in entries:
        assert entry["agent_id"] == "ops-agent"  # the served agent's card
        assert entry["framework"]["name"] == "a2a" and entry["framework"]["version"]
        assert entry["framework"]["context_id"] == "ctx-1"
        assert entry["framework"]["message_id"] == "m-1"
    record = log.records()[0]
    assert record.request["agent"]["url"] == URL and record.request["agent"]["version"] == "1.0.0"
    assert record.request["args"]["from"] == {"user": "", "authenticated": False}
    assert log.verify() == 2


@pytest.mark.parametrize("streaming", [False, True], ids=["send", "stream"])
def test_client_answers_refused_requests_locally(streaming: bool) -> None:
    log = AuditLog()
    server, echo = governed_server(AuditLog())
    client_side = ClientGovernance(POLICY, audit=log, agent_card=card("planner"))

    allowed = asyncio.run(ask(server, "hello", interceptors=[client_side], streaming=streaming))
    refused = asyncio.run(ask(server, "the secret is 42", interceptors=[client_side], streaming=streaming))

    assert allowed == ["echo: hello"]
    assert echo.received == ["hello"]  # the refused request never left the client
    [refusal] = refused
    assert "no-secrets-out" in refusal and "secrets stay here" in refusal
    entries = audit_entries(log)
    assert [(e["tool"], e["allowed"]) for e in entries] == [("send_message", True), ("send_message", False)]
    for entry in entries:
        assert entry["agent_id"] == "planner"  # the calling agent's card
        assert entry["framework"]["peer"] == "ops-agent"
        assert entry["framework"]["method"] == ("send_message_streaming" if streaming else "send_message")
    assert log.records()[1].request["args"]["to"]["url"] == URL


@pytest.mark.parametrize("approve", [True, False])
def test_client_approvals_go_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    server, echo = governed_server(AuditLog())
    approver = ScriptedApprover(approve)
    client_side = ClientGovernance(POLICY, audit=log, approval_handler=approver)

    answers = asyncio.run(ask(server, "pay invoice 7", interceptors=[client_side]))

    assert [r.args["text"] for r in approver.requests] == ["pay invoice 7"]
    assert echo.received == (["pay invoice 7"] if approve else [])
    assert (answers == ["echo: pay invoice 7"]) is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses_both_sides() -> None:
    log = AuditLog()
    server, echo = governed_server(log, policy=CrashingPolicySet(POLICY))
    [answer] = asyncio.run(ask(server, "hello"))
    assert echo.received == [] and "refused" in answer

    client_log = AuditLog()
    healthy, healthy_echo = governed_server(AuditLog())
    client_side = ClientGovernance(CrashingPolicySet(POLICY), audit=client_log)
    [answer] = asyncio.run(ask(healthy, "hello", interceptors=[client_side]))
    assert healthy_echo.received == [] and "refused" in answer
    assert [e["allowed"] for e in audit_entries(log) + audit_entries(client_log)] == [False, False]


def test_failing_audit_refuses() -> None:
    server, echo = governed_server(failing_audit_log())  # type: ignore[arg-type]
    [answer] = asyncio.run(ask(server, "hello"))
    assert echo.received == [] and "governance check failed" in answer


def test_raise_mode() -> None:
    server, echo = governed_server(AuditLog())
    client_side = ClientGovernance(POLICY, audit=AuditLog(), on_refusal="raise")
    with pytest.raises(GovernanceDenied, match="no-secrets-out"):
        asyncio.run(ask(server, "secret", interceptors=[client_side]))
    assert echo.received == []

    raising, raising_echo = governed_server(AuditLog(), on_refusal="raise")
    with pytest.raises(InternalError, match="no-prod-drops"):  # the SDK answers with a JSON-RPC error
        asyncio.run(ask(raising, "drop prod"))
    assert raising_echo.received == []


def test_concurrent_requests_are_each_governed() -> None:
    log = AuditLog()
    server, echo = governed_server(log)

    async def many() -> list[list[str]]:
        texts = [f"hello {i}" for i in range(3)] + [f"drop prod {i}" for i in range(3)]
        return list(await asyncio.gather(*(ask(server, t) for t in texts)))

    answers = asyncio.run(many())
    assert sorted(echo.received) == [f"hello {i}" for i in range(3)]
    assert sum("no-prod-drops" in a[0] for a in answers) == 3
    assert sorted(e["allowed"] for e in audit_entries(log)) == [False] * 3 + [True] * 3


def test_client_post_tool_rules_replace_a_refused_answer() -> None:
    policy = {
        **POLICY,
        "rules": [
            *POLICY["rules"],
            {
                "name": "no-echoes-back",
                "stage": "post_tool",
                "condition": "string(result).contains('echo')",
                "action": "deny",
                "message": "answer withheld",
            },
        ],
    }
    server, echo = governed_server(AuditLog())
    [answer] = asyncio.run(ask(server, "hello", interceptors=[ClientGovernance(policy, audit=AuditLog())]))
    assert echo.received == ["hello"]
    assert "answer withheld" in answer and "echo: hello" not in answer
