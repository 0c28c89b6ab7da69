"""agt-semantic-kernel against a real Kernel and auto-invoke loop, driven by a scripted chat service.

Semantic Kernel ships no offline fake model; `ScriptedChat` is the documented extension point (a
`ChatCompletionClientBase` subclass with function calling), answering with scripted calls.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, ClassVar

import pytest
from pydantic import Field
from semantic_kernel import Kernel
from semantic_kernel.agents import ChatCompletionAgent
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import (
    AuthorRole,
    ChatHistory,
    ChatMessageContent,
    FunctionCallContent,
    FunctionResultContent,
)
from semantic_kernel.exceptions import KernelInvokeException
from semantic_kernel.filters import FilterTypes, FunctionInvocationContext
from semantic_kernel.functions import KernelArguments, kernel_function

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
from agt_semantic_kernel import KernelGovernance


class ScriptedChat(ChatCompletionClientBase):
    """Answers its first request with the scripted function calls, then "done"; keeps every history."""

    SUPPORTS_FUNCTION_CALLING: ClassVar[bool] = True
    calls: list[FunctionCallContent] = Field(default_factory=list)
    seen: list[list[ChatMessageContent]] = Field(default_factory=list)

    async def _inner_get_chat_message_contents(
        self, chat_history: ChatHistory, settings: PromptExecutionSettings
    ) -> list[ChatMessageContent]:
        self.seen.append(list(chat_history.messages))
        if len(self.seen) == 1:
            return [ChatMessageContent(role=AuthorRole.ASSISTANT, items=list(self.calls))]
        return [ChatMessageContent(role=AuthorRole.ASSISTANT, content="done")]

    def results(self) -> dict[str, str]:
        """Function results the model was shown on its second request, by call id."""
        out = {}
        for message in self.seen[1]:
            for item in message.items:
                if isinstance(item, FunctionResultContent):
                    out[str(item.id)] = str(item.result)
        return out


class Ops:
    def __init__(self, ledger: ToolLedger) -> None:
        self.ledger = ledger

    @kernel_function(description="Read a table.")
    def read_table(self, name: Annotated[str, "table"]) -> str:
        return self.ledger.record("read_table", name=name)

    @kernel_function(description="Delete a database.")
    def delete_db(self, name: Annotated[str, "database"]) -> str:
        return self.ledger.record("delete_db", name=name)

    @kernel_function(description="Send an email.")
    async def send_email(self, to: Annotated[str, "recipient"]) -> str:
        return self.ledger.record("send_email", to=to)


def call(name: str, call_id: str, /, **args: Any) -> FunctionCallContent:
    return FunctionCallContent(id=call_id, name=f"ops-{name}", arguments=json.dumps(args))


def build(
    ledger: ToolLedger, governance: KernelGovernance, *calls: FunctionCallContent
) -> tuple[Kernel, ScriptedChat]:
    kernel = Kernel()
    kernel.add_plugin(Ops(ledger), "ops")
    chat = ScriptedChat(ai_model_id="scripted", calls=list(calls))
    kernel.add_service(chat)
    governance.install(kernel)
    return kernel, chat


def run(kernel: Kernel, chat: ScriptedChat) -> ChatMessageContent | None:
    history = ChatHistory()
    history.add_user_message("tidy up")
    settings = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())
    return asyncio.run(chat.get_chat_message_content(history, settings, kernel=kernel))


def test_allowed_runs_refused_never_runs_and_model_sees_refusal() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = KernelGovernance(POLICY, audit=log, agent_id="ops-bot", agent_name="ops_agent")
    kernel, chat = build(
        ledger, governance, call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod")
    )
    answer = run(kernel, chat)

    assert ledger.calls == [("read_table", {"name": "users"})]
    shown = chat.results()
    assert shown["c1"] == "read_table done"
    assert DENY_MESSAGE in shown["c2"] and "block-destructive" in shown["c2"]
    assert answer is not None and answer.content == "done"

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert len(audit_entries(log)) == 2  # one decision per call, not one per filter
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "semantic-kernel"
        assert entry["framework"]["agent"] == "ops_agent"
        assert entry["framework"]["plugin"] == "ops"
        assert entry["framework"]["function"].startswith("ops-")
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    kernel, chat = build(ledger, KernelGovernance(POLICY, audit=log), *calls)
    run(kernel, chat)

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    shown = chat.results()
    assert all(DENY_MESSAGE in shown[f"d{i}"] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    kernel, chat = build(
        ledger,
        KernelGovernance(POLICY, audit=log, approval_handler=approver),
        call("send_email", "e1", to="cfo@x"),
    )
    run(kernel, chat)

    assert [r.args for r in approver.requests] == [{"to": "cfo@x"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert ("refused" in chat.results()["e1"]) is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    kernel, chat = build(
        ledger, KernelGovernance(CrashingPolicySet(), audit=log), call("read_table", "c1", name="u")
    )
    run(kernel, chat)
    assert ledger.calls == []
    assert "refused" in chat.results()["c1"]
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    kernel, chat = build(
        ledger, KernelGovernance(POLICY, audit=failing_audit_log()), call("read_table", "c1", name="u")
    )
    run(kernel, chat)
    assert ledger.calls == []
    assert "governance check failed" in chat.results()["c1"]


def test_raise_mode_stops_the_auto_invoke_loop() -> None:
    ledger = ToolLedger()
    governance = KernelGovernance(POLICY, audit=AuditLog(), on_refusal="raise")
    kernel, chat = build(ledger, governance, call("delete_db", "c1", name="prod"))
    with pytest.raises(GovernanceDenied):
        run(kernel, chat)
    assert ledger.calls == []
    assert len(chat.seen) == 1


def test_direct_invocations_are_governed_with_the_judged_arguments() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    kernel, _ = build(ledger, KernelGovernance(POLICY, audit=log))
    seen: list[KernelArguments] = []

    async def spy(context: FunctionInvocationContext, next: Any) -> None:
        seen.append(context.arguments)
        await next(context)

    given = KernelArguments(name="users")

    async def go() -> tuple[Any, Any]:
        allowed = await kernel.invoke(plugin_name="ops", function_name="read_table", arguments=given)
        refused = await kernel.invoke(plugin_name="ops", function_name="delete_db", name="prod")
        return allowed, refused

    # A filter added before install() runs outside governance; one added after runs inside it.
    kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, spy)
    allowed, refused = asyncio.run(go())
    assert str(allowed) == "read_table done" and ledger.calls == [("read_table", {"name": "users"})]
    assert DENY_MESSAGE in str(refused) and refused.metadata["agt_refused"] is True
    assert [e["allowed"] for e in audit_entries(log)] == [True, False]
    assert seen[0] is not given  # inner filters and the function get the judged copy


def test_raise_mode_on_a_direct_invocation() -> None:
    ledger = ToolLedger()
    kernel, _ = build(ledger, KernelGovernance(POLICY, audit=AuditLog(), on_refusal="raise"))
    # Kernel.invoke wraps what the function stack raises; the denial is its cause.
    with pytest.raises(KernelInvokeException) as caught:
        asyncio.run(kernel.invoke(plugin_name="ops", function_name="delete_db", name="prod"))
    assert isinstance(caught.value.__cause__, GovernanceDenied)
    assert ledger.calls == []


def test_install_is_idempotent() -> None:
    kernel = Kernel()
    governance = KernelGovernance(POLICY)
    governance.install(kernel)
    governance.install(kernel)
    assert len(kernel.function_invocation_filters) == 1
    assert len(kernel.auto_function_invocation_filters) == 1


def test_a_chat_completion_agent_is_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    kernel, chat = build(
        ledger,
        KernelGovernance(POLICY, audit=log),
        call("read_table", "c1", name="users"),
        call("delete_db", "c2", name="p"),
    )
    agent = ChatCompletionAgent(
        kernel=kernel,
        name="ops_agent",
        arguments=KernelArguments(
            settings=PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())
        ),
    )

    async def go() -> str:
        response = await agent.get_response(messages="tidy up")
        return str(response.content)

    assert asyncio.run(go()) == "done"
    assert ledger.names() == ["read_table"]
    assert DENY_MESSAGE in chat.results()["c2"]
    assert [e["allowed"] for e in audit_entries(log)] == [True, False]
