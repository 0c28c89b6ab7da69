"""Execution plans: every step judged before any runs; forbidden sequences as policy; checked execution."""

from __future__ import annotations

from typing import Any

import pytest

from agent_os import AuditLog, govern
from agent_runtime import Plan, Rings, execute_plan, validate_plan

POLICY = {
    "apiVersion": "governance.toolkit/v1",
    "name": "plans",
    "default_action": "allow",
    "rules": [
        {"name": "no-drop", "condition": "action.type == 'drop'", "action": "deny"},
        {
            "name": "no-exfiltration",
            "condition": "action.tool == 'http_post' && 'read_secret' in context.plan.previous_tools",
            "action": "deny",
        },
        {"name": "two-reads", "condition": "action.tool == 'read_secret'", "action": "allow", "limit": "1/minute"},
        {"name": "review", "condition": "action.tool == 'deploy'", "action": "require_approval",
         "approvers": ["ops"]},
    ],
}  # fmt: skip


def plan(*steps: dict[str, Any], **kw: Any) -> Plan:
    return Plan.model_validate({"steps": list(steps), "agent_id": "agent-7", **kw})


def test_every_refused_step_is_reported_with_its_reason() -> None:
    report = validate_plan(
        plan(
            {"tool": "read_secret", "args": {"name": "db"}},
            {"tool": "http_post", "args": {"url": "https://x", "body": {"$step": 0}}},
            {"tool": "sql", "action": "drop", "args": {"table": "users"}},
            {"tool": "read_secret", "args": {"name": "api"}},
            {"tool": "deploy", "args": {}},
            {"tool": "list_files", "args": {}},
        ),
        POLICY,
    )
    assert not report.ok
    by_index = {s.index: s for s in report.steps}
    assert by_index[0].allowed
    assert by_index[1].rule == "no-exfiltration" and by_index[1].runtime_args
    assert by_index[2].rule == "no-drop"
    assert by_index[3].rule == "two-reads" and not by_index[3].allowed  # rate limit across the plan
    assert by_index[4].needs_approval and not by_index[4].allowed
    assert by_index[5].allowed
    assert [s.index for s in report.refused] == [1, 2, 3]


def test_sequence_rule_only_fires_after_the_secret_read() -> None:
    report = validate_plan(
        plan({"tool": "http_post", "args": {}}, {"tool": "read_secret", "args": {}}), POLICY
    )
    assert report.ok


def test_bounds() -> None:
    steps = [{"tool": "list_files", "cost": 2.0}] * 4
    report = validate_plan(plan(*steps, max_steps=3, max_cost=5), POLICY)
    assert not report.ok
    assert report.problems == (
        "the plan has 4 steps; at most 3 are allowed",
        "the plan's estimated cost 8 exceeds the bound 5",
    )
    forward = validate_plan(plan({"tool": "a", "args": {"x": {"$step": 1}}}, {"tool": "b"}), POLICY)
    assert forward.problems == ("step 0 uses the result of step 1, which does not run before it",)


def test_rings_refuse_steps_during_validation() -> None:
    rings = Rings(tools={"deploy": 1}, audit=AuditLog())
    report = validate_plan(plan({"tool": "list_files"}, {"tool": "deploy"}), POLICY, guards=[rings.guard])
    assert report.steps[1].refused_by == "guard:rings" and not report.steps[1].allowed
    rings.install()
    report = validate_plan(plan({"tool": "deploy"}), POLICY)
    assert report.steps[0].refused_by == "guard:rings"


def test_execution_rechecks_each_step_with_real_arguments_and_stops_at_the_first_refusal() -> None:
    log = AuditLog()
    ran: list[str] = []

    def read_secret(name: str) -> str:
        ran.append("read_secret")
        return f"secret-{name}"

    def http_post(url: str, body: str) -> str:
        ran.append("http_post")
        return "sent"

    def list_files() -> list[str]:
        ran.append("list_files")
        return ["a"]

    tools = {fn.__name__: govern(fn, policy=POLICY, agent_id="agent-7", audit=log)
             for fn in (read_secret, http_post, list_files)}  # fmt: skip
    run = execute_plan(
        plan(
            {"tool": "list_files"},
            {"tool": "read_secret", "args": {"name": "db"}},
            {"tool": "http_post", "args": {"url": "https://x", "body": {"$step": 1}}},
            {"tool": "list_files"},
        ),
        tools,
    )
    assert not run.ok and run.stopped_at == 2 and "no-exfiltration" in (run.reason or "")
    assert run.completed == (0, 1) and run.results[1] == "secret-db"
    assert ran == ["list_files", "read_secret"]
    trail = [(r.request["action"]["tool"], r.decision.allowed) for r in log.records()]
    assert trail == [("list_files", True), ("read_secret", True), ("http_post", False)]
    assert log.records()[-1].request["context"]["plan"]["previous_tools"] == ["list_files", "read_secret"]


def test_execution_refuses_ungoverned_tools_and_invalid_plans() -> None:
    run = execute_plan(plan({"tool": "list_files"}), {"list_files": lambda: 1})
    assert run.stopped_at == 0 and "not governed" in (run.reason or "")
    governed = {"sql": govern(lambda action, table: None, policy=POLICY, tool_name="sql", audit=False)}
    run = execute_plan(
        plan({"tool": "sql", "action": "drop", "args": {"table": "t"}}), governed, validate_with=POLICY
    )
    assert run.completed == () and "validation" in (run.reason or "")


def test_execution_passes_action_and_stops_on_tool_errors() -> None:
    def sql(action: str, table: str) -> str:
        if table == "boom":
            raise RuntimeError("db down")
        return f"{action} {table}"

    tools = {"sql": govern(sql, policy=POLICY, audit=False)}
    run = execute_plan(plan({"tool": "sql", "action": "select", "args": {"table": "t"}},
                            {"tool": "sql", "action": "select", "args": {"table": "boom"}}), tools)  # fmt: skip
    assert run.results == {0: "select t"} and run.stopped_at == 1
    assert run.reason == "step failed: RuntimeError: db down"


def test_validation_needs_a_policy() -> None:
    with pytest.raises(Exception):
        validate_plan(plan({"tool": "x"}), "no-such-policy-file.yaml")
