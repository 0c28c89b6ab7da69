"""agt-openai-agents against a real Agents SDK run, driven by the SDK's own `ScriptedModel`."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")

import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.exceptions import ToolInputGuardrailTripwireTriggered
from agents.testing import ScriptedModel, assistant_message, function_call

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
from agt_openai_agents import ToolGovernance


def build_agent(
    ledger: ToolLedger, steps: list[Any], name: str = "ops-agent"
) -> tuple[Agent[Any], ScriptedModel]:
    @function_tool
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    @function_tool
    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    @function_tool
    async def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    model = ScriptedModel(steps)
    return Agent(name=name, model=model, tools=[read_table, delete_db, send_email]), model


def two_turns(*calls: Any) -> list[Any]:
    return [list(calls), [assistant_message("done")]]


def run(agent: Agent[Any], *, streamed: bool = False) -> Any:
    config = RunConfig(tracing_disabled=True, workflow_name="nightly-ops", group_id="thread-9")
    if streamed:

        async def consume() -> Any:
            result = Runner.run_streamed(agent, "go", run_config=config)
            async for _ in result.stream_events():
                pass
            return result

        return asyncio.run(consume())
    return asyncio.run(Runner.run(agent, "go", run_config=config))


def tool_outputs(model: ScriptedModel, turn: int) -> dict[str, str]:
    """The function-call outputs the model was shown on `turn`."""
    outputs = {}
    for item in model.calls[turn].input:
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            outputs[item["call_id"]] = item["output"]
    return outputs


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "streamed"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(streamed: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ledger,
        two_turns(
            function_call("read_table", {"name": "users"}, call_id="c1"),
            function_call("delete_db", {"name": "prod"}, call_id="c2"),
        ),
    )
    ToolGovernance(POLICY, audit=log, agent_id="ops-bot").install(agent)
    result = run(agent, streamed=streamed)

    assert ledger.calls == [("read_table", {"name": "users"})]
    outputs = tool_outputs(model, 1)
    assert outputs["c1"] == "read_table done"
    assert DENY_MESSAGE in outputs["c2"] and "block-destructive" in outputs["c2"]
    assert result.final_output == "done"

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "openai-agents"
        assert entry["framework"]["agent"] == "ops-agent"
        assert entry["framework"]["workflow"] == "nightly-ops"
        assert entry["framework"]["group_id"] == "thread-9"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls = [function_call("delete_db", {"name": f"db{i}"}, call_id=f"d{i}") for i in range(3)]
    calls += [function_call("read_table", {"name": f"t{i}"}, call_id=f"r{i}") for i in range(3)]
    agent, model = build_agent(ledger, two_turns(*calls))
    ToolGovernance(POLICY, audit=log).install(agent)
    run(agent)

    assert sorted(ledger.calls, key=lambda c: c[1]["name"]) == [
        ("read_table", {"name": f"t{i}"}) for i in range(3)
    ]
    outputs = tool_outputs(model, 1)
    assert all(DENY_MESSAGE in outputs[f"d{i}"] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    agent, model = build_agent(
        ledger, two_turns(function_call("send_email", {"to": "cfo@example.com"}, call_id="e1"))
    )
    ToolGovernance(POLICY, audit=log, approval_handler=approver).install(agent)
    run(agent)

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (tool_outputs(model, 1)["e1"] == "send_email done") is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    agent, model = build_agent(
        ledger, two_turns(function_call("read_table", {"name": "users"}, call_id="c1"))
    )
    ToolGovernance(CrashingPolicySet(), audit=log).install(agent)
    run(agent)

    assert ledger.calls == []
    assert "read_table done" not in tool_outputs(model, 1)["c1"]
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    agent, model = build_agent(
        ledger, two_turns(function_call("read_table", {"name": "users"}, call_id="c1"))
    )
    ToolGovernance(POLICY, audit=failing_audit_log()).install(agent)
    run(agent)

    assert ledger.calls == []
    assert "governance check failed" in tool_outputs(model, 1)["c1"]


def test_raise_mode_stops_the_run() -> None:
    ledger = ToolLedger()
    agent, _ = build_agent(ledger, two_turns(function_call("delete_db", {"name": "prod"}, call_id="c1")))
    ToolGovernance(POLICY, audit=AuditLog(), on_refusal="raise").install(agent)
    with pytest.raises(ToolInputGuardrailTripwireTriggered) as caught:
        run(agent)
    assert DENY_MESSAGE in caught.value.output.output_info["message"]
    assert ledger.calls == []


def test_handoff_agents_are_governed_and_install_is_idempotent() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    specialist, specialist_model = build_agent(
        ledger, two_turns(function_call("delete_db", {"name": "prod"}, call_id="s1")), name="dba"
    )
    triage = Agent(
        name="triage",
        model=ScriptedModel([[function_call("transfer_to_dba", "{}", call_id="h1")]]),
        handoffs=[specialist],
    )
    governance = ToolGovernance(POLICY, audit=log)
    governance.install(triage)
    governance.install(triage)
    assert all(len(t.tool_input_guardrails or []) == 1 for t in specialist.tools)
    run(triage)

    assert ledger.calls == []
    assert DENY_MESSAGE in tool_outputs(specialist_model, 1)["s1"]
    [entry] = audit_entries(log)
    assert entry["framework"]["agent"] == "dba"


def test_unreadable_arguments_are_refused() -> None:
    ledger = ToolLedger()
    agent, model = build_agent(ledger, two_turns(function_call("read_table", "[1, 2]", call_id="c1")))
    ToolGovernance(POLICY, audit=AuditLog()).install(agent)
    run(agent)
    assert ledger.calls == []
    assert "governance check failed" in tool_outputs(model, 1)["c1"]


def test_refusal_info_is_plain_data() -> None:
    ledger = ToolLedger()
    agent, _ = build_agent(ledger, two_turns(function_call("delete_db", {"name": "prod"}, call_id="c1")))
    ToolGovernance(POLICY, audit=AuditLog(), on_refusal="raise").install(agent)
    with pytest.raises(ToolInputGuardrailTripwireTriggered) as caught:
        run(agent)
    info = caught.value.output.output_info
    assert json.loads(json.dumps(info))["decision"]["rule"] == "block-destructive"
