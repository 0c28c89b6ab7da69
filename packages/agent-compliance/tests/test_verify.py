"""agt verify attacks the user's policies: weak ones fail the right risks, strong ones pass."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from compliance_helpers import agt, agt_process, needs

ALL_RISKS = [f"ASI{n:02d}" for n in range(1, 11)]
OFFICIAL = {
    "ASI01": "Agent Goal Hijack",
    "ASI02": "Tool Misuse and Exploitation",
    "ASI03": "Identity and Privilege Abuse",
    "ASI04": "Agentic Supply Chain Vulnerabilities",
    "ASI05": "Unexpected Code Execution",
    "ASI06": "Memory and Context Poisoning",
    "ASI07": "Insecure Inter-Agent Communication",
    "ASI08": "Cascading Failures",
    "ASI09": "Human-Agent Trust Exploitation",
    "ASI10": "Rogue Agents",
}


def verify(*args: str) -> tuple[int, dict[str, Any]]:
    result = agt("verify", *args, "--format", "json")
    assert result.code in (0, 1), result
    return result.code, json.loads(result.out)


def risks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {risk["id"]: risk for risk in report["risks"]}


def checks(risk: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"].split(":")[0]: check for check in risk["checks"]}


def test_official_names_and_every_risk_reported(data: Path) -> None:
    _, report = verify("--policy", "weak.yaml")
    assert {r["id"]: r["name"] for r in report["risks"]} == OFFICIAL


def test_weak_policy_fails_the_right_risks(data: Path) -> None:
    code, report = verify("--policy", "weak.yaml")
    assert code == 1
    by_id = risks(report)
    asi02 = checks(by_id["ASI02"])
    # The deny-list stops the verbs it names ...
    for probe in ("destructive-drop", "destructive-delete", "destructive-truncate", "sql-direct"):
        assert asi02[probe]["status"] == "pass", probe
    # ... and misses the same tool under another name, and the statement smuggled in a nested argument.
    for probe in ("renamed-uppercase", "renamed-alias", "sql-smuggled"):
        assert asi02[probe]["status"] == "fail", probe
    assert by_id["ASI02"]["status"] == "partial"
    evidence = asi02["renamed-uppercase"]["evidence"][0]
    assert evidence["request"]["action"] == {"type": "DROP", "tool": "DROP"}
    assert evidence["decision"]["effect"] == "allow" and evidence["decision"]["rule"] is None
    for risk in ("ASI03", "ASI04", "ASI05", "ASI06", "ASI07", "ASI09", "ASI10"):
        assert by_id[risk]["status"] == "fail", risk
    assert by_id["ASI01"]["status"] == "fail"
    assert all(by_id[r]["advice"] for r in ALL_RISKS)
    # Failing probes point at the line that let them through: default_action of weak.yaml.
    finding = next(f for f in report["findings"] if "renamed-uppercase" in f["message"])
    assert finding["location"] == {"file": "weak.yaml", "line": 4, "column": 1}
    assert finding["level"] == "warning"  # ASI02 is partial
    assert any(f["level"] == "error" and f["rule_id"] == "ASI10" for f in report["findings"])


def test_strong_policy_stops_every_probe(data: Path) -> None:
    (data / "agt.yaml").write_text("policies: strong.yaml\nagent_id: billing-agent\n")
    code, report = verify("--config", "agt.yaml")
    for risk in report["risks"]:
        for check in risk["checks"]:
            if check["requires"] is None and not check["name"].startswith(("rate limits", "audit trail")):
                assert check["status"] == "pass", (risk["id"], check)
    by_id = risks(report)
    for risk in ("ASI01", "ASI02", "ASI04", "ASI06", "ASI09"):
        assert by_id[risk]["status"] == "pass", risk
    rate = checks(by_id["ASI08"])["rate limits refuse calls past their limit"]
    assert rate["status"] == "pass"
    [limit] = rate["evidence"]
    assert limit == {
        "policy": "strong-policy",
        "rule": "billing-reads",
        "limit": "20/minute",
        "exercised": True,
        "calls": 21,
        "last_decision": limit["last_decision"],
        "refused": True,
    }
    assert "rate limited" in limit["last_decision"]
    # ASI10 is partial: its probes are stopped, but no audit trail (and no kill switch) is configured.
    assert by_id["ASI10"]["status"] == "partial"
    assert code == 1
    [audit] = [f for f in report["findings"] if "audit trail verifies" in f["message"]]
    assert audit["level"] == "error"


def test_approval_without_approvers_does_not_count_for_human_oversight(data: Path) -> None:
    (data / "noapprovers.yaml").write_text(
        "apiVersion: governance.toolkit/v1\nname: n\nrules:\n- name: pay\n"
        "  condition: \"action.type in ['transfer_funds', 'send_email', 'delete_account']\"\n"
        "  action: require_approval\n"
    )
    _, report = verify("--policy", "noapprovers.yaml")
    asi09 = risks(report)["ASI09"]
    assert asi09["status"] == "fail"
    assert "names no approvers" in asi09["checks"][0]["detail"]


def test_not_applicable_is_declared_never_passed(data: Path) -> None:
    (data / "agt.yaml").write_text(
        "policies: [weak.yaml]\nnot_applicable:\n  ASI07: single agent, no inter-agent messages\n"
    )
    _, report = verify("--config", "agt.yaml")
    asi07 = risks(report)["ASI07"]
    assert asi07["status"] == "not-applicable" and asi07["reason"] == "single agent, no inter-agent messages"
    assert not [f for f in report["findings"] if f["rule_id"] == "ASI07"]


def test_bad_config_and_missing_policy_exit_2(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "agt.yaml").write_text("policies: weak.yaml\nkill_swich: s.db\n")
    result = agt("verify", "--config", "agt.yaml", capsys=capsys)
    assert result.code == 2 and "agt.yaml: `kill_swich`" in result.err
    (data / "agt.yaml").write_text("not_applicable:\n  ASI11: x\n")
    assert agt("verify", "--config", "agt.yaml").code == 2
    result = agt("verify", capsys=capsys)
    assert result.code == 2 and "--policy" in result.err
    result = agt("verify", "--policy", "missing.yaml", capsys=capsys)
    assert result.code == 2 and "missing.yaml" in result.err


def test_missing_packages_are_not_run_never_pass(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("agent_runtime", "agent_sre", "agentmesh", "agent_hypervisor"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed: imports of it fail
    (data / "agt.yaml").write_text(
        "policies: strong.yaml\nagent_id: billing-agent\ncommand_policy: commands.yaml\nkill_switch: s.db\n"
        "circuit_breaker: {failure_threshold: 3}\naudit: audit.db\n"
    )
    _, report = verify("--config", "agt.yaml")
    by_id = risks(report)
    not_run = {
        (risk["id"], check["requires"]): check["detail"]
        for risk in report["risks"]
        for check in risk["checks"]
        if check["status"] == "not-run"
    }
    assert not_run[("ASI05", "agent-runtime")] == "agent-runtime is not installed: pip install agent-runtime"
    assert ("ASI08", "agent-sre") in not_run and ("ASI10", "agent-sre") in not_run
    assert ("ASI03", "agent-mesh") in not_run and ("ASI10", "agent-hypervisor") in not_run
    assert not_run[("ASI07", "agent-mesh")] == "agent-mesh is not installed: pip install agent-mesh"
    for risk in ("ASI03", "ASI05", "ASI08", "ASI10"):
        assert by_id[risk]["status"] != "pass", risk
    notes = [f for f in report["findings"] if f["level"] == "note"]
    assert any("agent-runtime is not installed" in f["message"] for f in notes)


@needs("agent_runtime", "agent-runtime")
def test_command_policy_evasions(data: Path) -> None:
    (data / "agt.yaml").write_text("policies: strong.yaml\ncommand_policy: commands.yaml\n")
    _, report = verify("--config", "agt.yaml")
    check = checks(risks(report)["ASI05"])["command policy stops shell evasions"]
    assert check["status"] == "pass" and len(check["evidence"]) == 13
    (data / "agt.yaml").write_text("policies: strong.yaml\ncommand_policy: commands-weak.yaml\n")
    _, report = verify("--config", "agt.yaml")
    check = checks(risks(report)["ASI05"])["command policy stops shell evasions"]
    assert check["status"] == "fail"
    assert [e["command"] for e in check["evidence"]] == ["find / -delete"]


@needs("agent_sre", "agent-sre")
def test_circuit_breaker_and_kill_switch(data: Path) -> None:
    from agent_sre import KillSwitch

    KillSwitch(str(data / "switch.db")).close()
    (data / "agt.yaml").write_text(
        "policies: strong.yaml\nkill_switch: switch.db\ncircuit_breaker: {failure_threshold: 3}\n"
    )
    _, report = verify("--config", "agt.yaml")
    breaker = checks(risks(report)["ASI08"])["circuit breaker opens on a failing tool"]
    assert breaker["status"] == "pass" and breaker["evidence"][0]["failures"] == 3
    switch = checks(risks(report)["ASI10"])["kill switch configured and readable"]
    assert switch["status"] == "pass" and switch["evidence"][0]["pulled"] == 0
    # A kill switch store that is not there is a failure, not a pass.
    (data / "agt.yaml").write_text("policies: strong.yaml\nkill_switch: nowhere.db\n")
    _, report = verify("--config", "agt.yaml")
    assert checks(risks(report)["ASI10"])["kill switch configured and readable"]["status"] == "fail"
    assert not (data / "nowhere.db").exists()  # verify never creates state


def signed_trail(data: Path, policy: str, agent: str) -> tuple[list[str], str]:
    from agent_os import AuditLog, ToolGate
    from agentmesh import AgentIdentity

    identity = AgentIdentity.create(agent)
    log = AuditLog()
    gate = ToolGate(policy=str(data / policy), audit=log, **identity.govern_options())
    gate.check("search", {"query": "invoices"})
    gate.check("drop", {"table": "users"})
    return log.lines(), log.head[1]


@needs("agentmesh", "agent-mesh")
def test_full_deployment_passes_and_tampering_is_caught(data: Path) -> None:
    pytest.importorskip("agent_sre", reason="agent-sre is not installed in this session")
    pytest.importorskip("agent_runtime", reason="agent-runtime is not installed in this session")
    from agent_sre import KillSwitch

    lines, head = signed_trail(data, "strong.yaml", "billing-agent")
    (data / "trail.jsonl").write_text("\n".join(lines) + "\n")
    KillSwitch(str(data / "switch.db")).close()
    config = (
        "policies: strong.yaml\nagent_id: billing-agent\ncommand_policy: commands.yaml\nkill_switch: switch.db\n"
        f"circuit_breaker: {{failure_threshold: 5}}\naudit: trail.jsonl\naudit_head: {head}\n"
    )
    (data / "agt.yaml").write_text(config)
    code, report = verify("--config", "agt.yaml")
    statuses = {r["id"]: r["status"] for r in report["risks"]}
    assert statuses == dict.fromkeys(ALL_RISKS, "pass"), report
    assert code == 0 and report["findings"] == []
    signatures = checks(risks(report)["ASI03"])["audited requests carry valid agent signatures"]
    assert signatures["evidence"] == [{"altered_request_accepted": False}]

    # An edited record (a denial turned into an allow) breaks the audit check ...
    forged = [lines[0], lines[1].replace('"effect":"deny"', '"effect":"allow"')]
    (data / "trail.jsonl").write_text("\n".join(forged) + "\n")
    code, report = verify("--config", "agt.yaml")
    audit = checks(risks(report)["ASI10"])["audit trail verifies"]
    assert code == 1 and audit["status"] == "fail" and "record 1" in audit["detail"]
    # ... and unsigned requests break the identity check.
    from agent_os import AuditLog, ToolGate

    log = AuditLog()
    ToolGate(policy=str(data / "strong.yaml"), audit=log, agent_id="billing-agent").check("search", {})
    (data / "trail.jsonl").write_text("\n".join(log.lines()) + "\n")
    (data / "agt.yaml").write_text(config.replace(head, log.head[1]))
    _, report = verify("--config", "agt.yaml")
    signatures = checks(risks(report)["ASI03"])["audited requests carry valid agent signatures"]
    assert signatures["status"] == "fail" and signatures["evidence"][0]["seq"] == 0


@needs("agentmesh", "agent-mesh")
def test_control_records_need_no_agent_signature(data: Path) -> None:
    """A kill switch pull (or a saga or ring event) in the trail is the control's record, not an
    unsigned agent request: before the fix every deployment using one failed ASI03."""
    pytest.importorskip("agent_sre", reason="agent-sre is not installed in this session")
    from agent_os import AuditLog, ToolGate
    from agent_sre import KillSwitch
    from agentmesh import AgentIdentity

    identity = AgentIdentity.create("billing-agent")
    log = AuditLog()
    gate = ToolGate(policy=str(data / "strong.yaml"), audit=log, **identity.govern_options())
    gate.check("search", {"query": "invoices"})
    switch = KillSwitch(str(data / "switch.db"), audit=log)
    switch.pull("agent", identity.did, by="oncall@example.com", reason="INC-7")
    switch.close()
    assert [r.request["action"]["type"] for r in log.records()] == ["search", "kill_switch.pull"]
    (data / "trail.jsonl").write_text("\n".join(log.lines()) + "\n")
    (data / "agt.yaml").write_text(f"policies: strong.yaml\naudit: trail.jsonl\naudit_head: {log.head[1]}\n")
    _, report = verify("--config", "agt.yaml")
    signatures = checks(risks(report)["ASI03"])["audited requests carry valid agent signatures"]
    assert signatures["status"] == "pass", signatures
    assert "1 control record(s) need none" in signatures["detail"]

    # A governed call without a signature still fails, next to the control record.
    ToolGate(policy=str(data / "strong.yaml"), audit=log, agent_id="billing-agent").check("search", {})
    (data / "trail.jsonl").write_text("\n".join(log.lines()) + "\n")
    (data / "agt.yaml").write_text(f"policies: strong.yaml\naudit: trail.jsonl\naudit_head: {log.head[1]}\n")
    _, report = verify("--config", "agt.yaml")
    signatures = checks(risks(report)["ASI03"])["audited requests carry valid agent signatures"]
    assert signatures["status"] == "fail" and [e.get("seq") for e in signatures["evidence"][:1]] == [2]


def test_markdown_report(data: Path) -> None:
    result = agt("verify", "--policy", "weak.yaml", "--format", "md")
    assert result.code == 1
    assert "| ASI02 | Tool Misuse and Exploitation | PARTIAL |" in result.out
    assert "To reach full coverage:" in result.out


def test_verify_subprocess_demo_policies(data: Path) -> None:
    demo = Path(__file__).resolve().parents[3] / "demo" / "policies"
    result = agt_process("verify", "--policy", str(demo), cwd=data)
    assert result.code == 1, result.err
    assert "ASI02 Tool Misuse and Exploitation: PARTIAL (3/8 checks passed)" in result.out
    assert "destructive-drop" not in result.out  # text lists what needs attention
    assert "[fail] renamed-uppercase" in result.out
    assert "agt verify:" in result.out


@needs("agentmesh", "agent-mesh")
def test_mesh_channel_and_delegation_attacks(data: Path) -> None:
    _, report = verify("--policy", "strong.yaml")
    channel = checks(risks(report)["ASI07"])["agent-mesh channel refuses replayed and altered messages"]
    assert channel["status"] == "pass"
    assert channel["evidence"][0]["replayed"] == "refused (replayed)"
    assert channel["evidence"][0]["altered"] == "refused (altered)"
    delegation = checks(risks(report)["ASI03"])["agent-mesh refuses a widened delegation"]
    assert delegation["status"] == "pass" and delegation["evidence"][0]["refused"] == "widens"


def test_policies_scoped_away_from_the_probe_agent_are_refused_not_passed(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data / "scoped.yaml").write_text(
        "apiVersion: governance.toolkit/v1\nname: scoped\nagents: ['billing-*']\ndefault_action: allow\n"
    )
    # Every probe would be refused by the kernel ("no policy applies"): that is no evidence.
    result = agt("verify", "--policy", "scoped.yaml", capsys=capsys)
    assert result.code == 2 and "no policy applies to agent `agt-verify-probe`" in result.err
    code, report = verify("--policy", "scoped.yaml", "--agent-id", "billing-7")
    assert code == 1 and risks(report)["ASI02"]["status"] == "fail"
    code, report = verify("--policy", "scoped.yaml", "--policy", "weak.yaml")
    assert report["summary"]["not_exercised"] == ["scoped"]


def test_a_limit_the_probe_agent_cannot_reach_is_not_exercised_not_failed(data: Path) -> None:
    # strong.yaml's limit applies to billing-* agents only: as the default probe agent, it is never reached.
    _, report = verify("--policy", "strong.yaml")
    rate = checks(risks(report)["ASI08"])["rate limits refuse calls past their limit"]
    assert rate["status"] == "not-run"
    assert rate["evidence"][0]["exercised"] is False
    assert "does not match the rule; set agent_id" in rate["evidence"][0]["why"]
