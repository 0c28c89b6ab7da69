"""agt-smolagents against real ToolCallingAgent and CodeAgent runs, driven by a scripted `Model` subclass.

smolagents ships no offline fake model; a `Model` subclass implementing `generate` is its
documented extension point.
"""

from __future__ import annotations

from typing import Any

import pytest
from smolagents import CodeAgent, ToolCallingAgent, tool
from smolagents.models import (
    ChatMessage,
    ChatMessageToolCall,
    ChatMessageToolCallFunction,
    MessageRole,
    Model,
)

from agent_os import AuditLog
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)
from agt_smolagents import govern_tools


class Scripted(Model):  # type: ignore[misc]
    """Returns the scripted messages in order; keeps every input it was given."""

    def __init__(self, *turns: ChatMessage) -> None:
        super().__init__(model_id="scripted")
        self.turns = list(turns)
        self.seen: list[Any] = []

    def generate(self, messages: list[Any], **kwargs: Any) -> ChatMessage:
        self.seen.append(messages)
        return self.turns.pop(0)


def calls(*items: tuple[str, str, dict[str, Any]]) -> ChatMessage:
    return ChatMessage(
        role=MessageRole.ASSISTANT,
        content="",
        tool_calls=[
            ChatMessageToolCall(
                id=i, type="function", function=ChatMessageToolCallFunction(name=n, arguments=a)
            )
            for n, i, a in items
        ],
    )


def tools(ledger: ToolLedger) -> list[Any]:
    @tool
    def read_table(name: str) -> str:
        """Read a table.

        Args:
            name: the table
        """
        return ledger.record("read_table", name=name)

    @tool
    def delete_db(name: str) -> str:
        """Delete a database.

        Args:
            name: the database
        """
        return ledger.record("delete_db", name=name)

    @tool
    def send_email(to: str) -> str:
        """Send an email.

        Args:
            to: the recipient
        """
        return ledger.record("send_email", to=to)

    return [read_table, delete_db, send_email]


def run_calling(
    ledger: ToolLedger, *items: tuple[str, str, dict[str, Any]], **options: Any
) -> tuple[Any, str]:
    model = Scripted(calls(*items), calls(("final_answer", "f", {"answer": "done"})))
    agent = ToolCallingAgent(
        tools=govern_tools(tools(ledger), **options), model=model, max_steps=3, verbosity_level=0
    )
    answer = agent.run("tidy up")
    observations = "\n".join(str(getattr(s, "observations", "") or "") for s in agent.memory.steps)
    return answer, observations


def test_allowed_runs_refused_never_runs_and_model_sees_refusal() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    answer, seen = run_calling(
        ledger,
        ("read_table", "c1", {"name": "users"}),
        ("delete_db", "c2", {"name": "prod"}),
        policy=POLICY,
        audit=log,
        agent_id="ops-bot",
        agent_name="ops_agent",
    )
    assert answer == "done"
    assert ledger.calls == [("read_table", {"name": "users"})]
    assert "read_table done" in seen and DENY_MESSAGE in seen and "block-destructive" in seen
    entries = {e["tool"]: e for e in audit_entries(log)}
    assert entries["read_table"]["allowed"] is True and entries["read_table"]["args"] == {"name": "users"}
    assert entries["delete_db"]["allowed"] is False and entries["delete_db"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "smolagents" and entry["framework"]["agent"] == "ops_agent"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    items = [("delete_db", f"d{i}", {"name": f"db{i}"}) for i in range(3)]
    items += [("read_table", f"r{i}", {"name": f"t{i}"}) for i in range(3)]
    run_calling(ledger, *items, policy=POLICY, audit=log)
    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    assert sorted((e["tool"], e["allowed"]) for e in audit_entries(log)) == sorted(
        [("delete_db", False)] * 3 + [("read_table", True)] * 3
    )


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    _, seen = run_calling(
        ledger, ("send_email", "e1", {"to": "cfo@x"}), policy=POLICY, audit=log, approval_handler=approver
    )
    assert [r.args for r in approver.requests] == [{"to": "cfo@x"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert ("refused" in seen) is not approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    _, seen = run_calling(ledger, ("read_table", "c1", {"name": "u"}), policy=CrashingPolicySet(), audit=log)
    assert ledger.calls == [] and "refused" in seen
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    _, seen = run_calling(
        ledger, ("read_table", "c1", {"name": "u"}), policy=POLICY, audit=failing_audit_log()
    )
    assert ledger.calls == [] and "governance check failed" in seen


def test_code_agent_calls_are_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    code = 'a = read_table(name="users")\nb = delete_db(name="prod")\nfinal_answer(a + " | " + b)'
    model = Scripted(ChatMessage(role=MessageRole.ASSISTANT, content=f"Thought: go\n<code>\n{code}\n</code>"))
    agent = CodeAgent(
        tools=govern_tools(tools(ledger), POLICY, audit=log), model=model, max_steps=2, verbosity_level=0
    )
    answer = str(agent.run("tidy up"))
    assert ledger.calls == [("read_table", {"name": "users"})]
    assert answer.startswith("read_table done | ") and DENY_MESSAGE in answer
    assert [e["allowed"] for e in audit_entries(log)] == [True, False]


def test_no_raise_mode() -> None:
    with pytest.raises(TypeError, match="on_refusal"):
        govern_tools([], POLICY, on_refusal="raise")
