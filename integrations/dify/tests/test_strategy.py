"""agt-dify: a real dify-plugin `AgentStrategy` driven with a scripted stand-in for the daemon session.

The Dify plugin daemon (which carries ``session.model.llm.invoke`` and ``session.tool.invoke`` to
the Dify server) is not available offline, so the session is a stand-in that answers with the
SDK's own entities (`LLMResult`, `ToolInvokeMessage`). Everything else is the real SDK.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest
from dify_plugin.entities.agent import AgentRuntime
from dify_plugin.entities.model.llm import LLMResult, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage, PromptMessage, ToolPromptMessage
from dify_plugin.entities.tool import ToolInvokeMessage

from agent_os import AuditLog
from agt_core import GovernanceDenied
from agt_dify import GovernedFunctionCallingStrategy, ToolGovernance
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


class ScriptedSession:
    """Stands in for the daemon session: a scripted model and a tool backend that records calls."""

    def __init__(self, ledger: ToolLedger, *calls: Call) -> None:
        self.calls = list(calls)
        self.ledger = ledger
        self.seen: list[list[PromptMessage]] = []
        self.app_id = "app-1"
        self.conversation_id = "conv-1"
        self.message_id = "msg-1"
        self.model = self
        self.llm = self
        self.tool = _Tools(ledger)

    def invoke(self, model_config: Any, prompt_messages: list[PromptMessage], **kwargs: Any) -> LLMResult:
        self.seen.append(list(prompt_messages))
        if len(self.seen) == 1:
            tool_calls = [
                AssistantPromptMessage.ToolCall(
                    id=cid,
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name=name, arguments=json.dumps(args)
                    ),
                )
                for cid, name, args in self.calls
            ]
            message = AssistantPromptMessage(content="", tool_calls=tool_calls)
        else:
            message = AssistantPromptMessage(content="done")
        return LLMResult(model="scripted", prompt_messages=[], message=message, usage=LLMUsage.empty_usage())

    def tool_results(self) -> dict[str, str]:
        return {m.tool_call_id: str(m.content) for m in self.seen[1] if isinstance(m, ToolPromptMessage)}


class _Tools:
    def __init__(self, ledger: ToolLedger) -> None:
        self.ledger = ledger

    def invoke(
        self,
        provider_type: Any,
        provider: str,
        tool_name: str,
        parameters: dict[str, Any],
        credential_id: Any = None,
    ) -> Generator[ToolInvokeMessage, None, None]:
        text = self.ledger.record(tool_name, **parameters)
        yield ToolInvokeMessage(
            type=ToolInvokeMessage.MessageType.TEXT, message=ToolInvokeMessage.TextMessage(text=text)
        )


def tool(name: str) -> dict[str, Any]:
    """A tool as Dify sends it in the strategy's ``tools`` parameter."""
    return {
        "identity": {"author": "ops", "name": name, "label": {"en_US": name}, "provider": "ops-tools"},
        "parameters": [
            {
                "name": "name",
                "label": {"en_US": "name"},
                "type": "string",
                "form": "llm",
                "required": True,
                "llm_description": "what to act on",
                "human_description": {"en_US": "what to act on"},
            }
        ],
        "description": {"human": {"en_US": name}, "llm": name},
        "provider_type": "builtin",
    }


def run(governance: ToolGovernance, session: ScriptedSession) -> list[str]:
    class Strategy(GovernedFunctionCallingStrategy):
        pass

    Strategy.governance = governance
    strategy = Strategy(runtime=AgentRuntime(user_id="u1"), session=session)  # type: ignore[arg-type]
    parameters = {
        "query": "tidy up",
        "model": {"provider": "scripted", "model": "scripted", "mode": "chat", "completion_params": {}},
        "tools": [tool("read_table"), tool("delete_db"), tool("send_email")],
        "maximum_iterations": 3,
    }
    return [str(m.message.text) for m in strategy.invoke(parameters)]  # type: ignore[union-attr]


def test_allowed_runs_refused_never_runs_and_model_sees_refusal() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    session = ScriptedSession(
        ledger, ("c1", "read_table", {"name": "users"}), ("c2", "delete_db", {"name": "prod"})
    )
    output = run(ToolGovernance(POLICY, audit=log, agent_id="ops-bot"), session)

    assert output == ["done"]
    assert ledger.calls == [("read_table", {"name": "users"})]
    shown = session.tool_results()
    assert shown["c1"] == "read_table done"
    assert DENY_MESSAGE in shown["c2"] and "block-destructive" in shown["c2"]
    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        framework = entry["framework"]
        assert framework["name"] == "dify" and framework["version"]
        assert framework["provider"] == "ops-tools" and framework["app_id"] == "app-1"
        assert framework["conversation_id"] == "conv-1"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls: list[Call] = [(f"d{i}", "delete_db", {"name": f"db{i}"}) for i in range(3)]
    calls += [(f"r{i}", "read_table", {"name": f"t{i}"}) for i in range(3)]
    session = ScriptedSession(ledger, *calls)
    run(ToolGovernance(POLICY, audit=log), session)

    assert ledger.calls == [("read_table", {"name": f"t{i}"}) for i in range(3)]
    shown = session.tool_results()
    assert all(DENY_MESSAGE in shown[f"d{i}"] for i in range(3))
    assert sorted(e["allowed"] for e in audit_entries(log)) == [False] * 3 + [True] * 3


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    session = ScriptedSession(ledger, ("e1", "send_email", {"name": "cfo"}))
    run(ToolGovernance(POLICY, audit=log, approval_handler=approver), session)

    assert [r.args for r in approver.requests] == [{"name": "cfo"}]
    assert ledger.names() == (["send_email"] if approve else [])
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_and_failing_audit_refuse() -> None:
    ledger = ToolLedger()
    session = ScriptedSession(ledger, ("c1", "read_table", {"name": "users"}))
    run(ToolGovernance(CrashingPolicySet(), audit=AuditLog()), session)
    assert ledger.calls == [] and "refused" in session.tool_results()["c1"]

    session = ScriptedSession(ledger, ("c1", "read_table", {"name": "users"}))
    run(ToolGovernance(POLICY, audit=failing_audit_log()), session)
    assert ledger.calls == [] and "governance check failed" in session.tool_results()["c1"]


def test_raise_mode_ends_the_invocation() -> None:
    ledger = ToolLedger()
    session = ScriptedSession(ledger, ("c1", "delete_db", {"name": "prod"}))
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        run(ToolGovernance(POLICY, audit=AuditLog(), on_refusal="raise"), session)
    assert ledger.calls == [] and len(session.seen) == 1
