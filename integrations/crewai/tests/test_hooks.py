"""agt-crewai against a real CrewAI crew, driven by a scripted `BaseLLM`."""

from __future__ import annotations

from typing import Any

import pytest
from crewai import Agent, Crew, Task
from crewai.hooks import HookAborted
from crewai.tools import tool

from agent_os import AuditLog
from agt_crewai import CrewGovernance
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)

from .fake_llm import ReActLLM, ScriptedLLM


def build_crew(ledger: ToolLedger, *calls: dict[str, Any], react: bool = False) -> tuple[Crew, Any]:
    @tool("read_table")
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    @tool("delete_db")
    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    @tool("send_email")
    def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    llm = (ReActLLM if react else ScriptedLLM)(model="scripted", script=list(calls), seen=[])
    agent = Agent(
        role="dba",
        goal="keep databases tidy",
        backstory="careful",
        llm=llm,
        tools=[read_table, delete_db, send_email],
        max_iter=3,
        verbose=False,
    )
    task = Task(name="tidy", description="tidy up", expected_output="a summary", agent=agent)
    return Crew(name="ops-crew", agents=[agent], tasks=[task], verbose=False), llm


def call(tool_name: str, call_id: str, /, **args: Any) -> dict[str, Any]:
    return {"name": tool_name, "id": call_id, "args": args}


def test_allowed_runs_refused_never_runs_and_model_sees_refusal() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    CrewGovernance(POLICY, audit=log, agent_id="ops-bot").install()
    crew, llm = build_crew(
        ledger, call("read_table", "c1", name="users"), call("delete_db", "c2", name="prod")
    )
    result = crew.kickoff()

    assert ledger.calls == [("read_table", {"name": "users"})]
    results = llm.tool_results()
    assert any("read_table done" in r for r in results)
    assert any(DENY_MESSAGE in r and "block-destructive" in r for r in results)
    assert str(result) == "done"

    entries = {e["tool"]: e for e in audit_entries(log)}
    assert entries["read_table"]["allowed"] is True and entries["read_table"]["args"] == {"name": "users"}
    assert entries["delete_db"]["allowed"] is False and entries["delete_db"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "crewai"
        assert entry["framework"]["agent"] == "dba"
        assert entry["framework"]["task"] == "tidy"
        assert entry["framework"]["crew"] == "ops-crew"
    assert log.verify() == 2


def test_react_text_protocol_is_governed_too() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    CrewGovernance(POLICY, audit=log).install()
    crew, llm = build_crew(
        ledger, call("delete_db", "c1", name="prod"), call("read_table", "c2", name="users"), react=True
    )
    assert str(crew.kickoff()) == "done"

    assert ledger.calls == [("read_table", {"name": "users"})]
    assert any(DENY_MESSAGE in text for text in llm.observations())
    assert [(e["tool"], e["allowed"]) for e in audit_entries(log)] == [
        ("delete_db", False),
        ("read_table", True),
    ]


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    CrewGovernance(POLICY, audit=log).install()
    calls = [call("delete_db", f"d{i}", name=f"db{i}") for i in range(3)]
    calls += [call("read_table", f"r{i}", name=f"t{i}") for i in range(3)]
    crew, llm = build_crew(ledger, *calls)
    crew.kickoff()

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    assert sum(DENY_MESSAGE in r for r in llm.tool_results()) == 3
    decided = sorted((e["args"]["name"], e["allowed"]) for e in audit_entries(log))
    assert decided == sorted([(f"db{i}", False) for i in range(3)] + [(f"t{i}", True) for i in range(3)])


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    CrewGovernance(POLICY, audit=log, approval_handler=approver).install()
    crew, llm = build_crew(ledger, call("send_email", "e1", to="cfo@example.com"))
    crew.kickoff()

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert any("send_email done" in r for r in llm.tool_results()) is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    CrewGovernance(CrashingPolicySet(), audit=log).install()
    crew, llm = build_crew(ledger, call("read_table", "c1", name="users"))
    crew.kickoff()

    assert ledger.calls == []
    assert not any("read_table done" in r for r in llm.tool_results())
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    CrewGovernance(POLICY, audit=failing_audit_log()).install()
    crew, llm = build_crew(ledger, call("read_table", "c1", name="users"))
    crew.kickoff()

    assert ledger.calls == []
    assert any("governance check failed" in r for r in llm.tool_results())


def test_raise_mode_halts_the_crew() -> None:
    ledger = ToolLedger()
    CrewGovernance(POLICY, audit=AuditLog(), on_refusal="raise").install()
    crew, llm = build_crew(ledger, call("delete_db", "c1", name="prod"))
    with pytest.raises(HookAborted, match="block-destructive"):
        crew.kickoff()
    assert ledger.calls == []
    assert len(llm.seen) == 1  # the model was not called again


def test_scoped_governs_only_inside_the_block() -> None:
    log = AuditLog()
    governance = CrewGovernance(POLICY, audit=log)
    ledger = ToolLedger()
    with governance.scoped():
        crew, _ = build_crew(ledger, call("delete_db", "c1", name="prod"))
        crew.kickoff()
    assert ledger.calls == []
    assert len(audit_entries(log)) == 1

    # Outside the block nothing is registered: the same call now runs (and is not audited).
    crew, _ = build_crew(ledger, call("delete_db", "c2", name="prod"))
    crew.kickoff()
    assert ledger.names() == ["delete_db"]
    assert len(audit_entries(log)) == 1


def test_install_is_idempotent_and_uninstall_removes_the_hooks() -> None:
    from crewai.hooks import get_after_tool_call_hooks, get_before_tool_call_hooks

    governance = CrewGovernance(POLICY, audit=AuditLog())
    governance.install().install()
    assert len(get_before_tool_call_hooks()) == 1 and len(get_after_tool_call_hooks()) == 1
    governance.uninstall()
    governance.uninstall()
    assert get_before_tool_call_hooks() == [] and get_after_tool_call_hooks() == []
