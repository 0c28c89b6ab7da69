from __future__ import annotations

import json
from pathlib import Path

import pytest
from compliance_helpers import agt, agt_process


def test_cases_report_each_failure_with_the_deciding_rule(data: Path) -> None:
    result = agt("policy", "test", "weak.yaml", "--cases", "cases.yaml", "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["summary"] == {"cases": 3, "passed": 2, "failed": 1}
    [finding] = report["findings"]
    assert finding["location"] == {"file": "cases.yaml", "line": 10, "column": None}
    assert "case `renamed drops are denied too`: expected deny, got allow" in finding["message"]
    assert finding["evidence"][0]["decision"]["rule"] is None


def test_cases_pass_on_a_policy_that_meets_them(data: Path) -> None:
    (data / "fixed.yaml").write_text(
        "apiVersion: governance.toolkit/v1\nname: fixed\ndefault_action: allow\nrules:\n"
        "- name: block-destructive\n  condition: \"action.type.lowerAscii() in ['drop', 'delete']\"\n  action: deny\n"
    )
    result = agt_process("policy", "test", "fixed.yaml", "--cases", "cases.yaml", cwd=data)
    assert result.code == 0, result.out + result.err
    assert "3 of 3 case(s) passed" in result.out


def test_bad_cases_file_exits_2(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "bad.yaml").write_text("cases:\n- request: {action: drop}\n  expect: denied\n")
    result = agt("policy", "test", "weak.yaml", "--cases", "bad.yaml", capsys=capsys)
    assert result.code == 2 and "bad.yaml:2: `expect` must be one of" in result.err
    (data / "bad.yaml").write_text("cases:\n- request: {action: drop, agent: {name: x}}\n  expect: deny\n")
    result = agt("policy", "test", "weak.yaml", "--cases", "bad.yaml", capsys=capsys)
    assert result.code == 2 and "invalid request at `agent.id`" in result.err


def test_eval_shows_every_matched_rule(data: Path) -> None:
    request = json.dumps({"action": "run_sql", "args": {"query": 7}})
    result = agt("policy", "eval", "weak.yaml", "--request", request)
    assert result.code == 0
    # args.query is a number: `.contains` errors, and a deny rule that errors counts as matched.
    assert "decision: deny by rule `block-drop-statements` of policy `weak-policy`" in result.out
    assert "(condition errored: counted as matched, fail closed)" in result.out
    (data / "req.yaml").write_text("action: drop\nargs: {table: users}\n")
    report = json.loads(agt("policy", "eval", "weak.yaml", "--request", "@req.yaml", "--format", "json").out)
    assert report["summary"]["decision"]["matched"] == [
        {"policy": "weak-policy", "rule": "block-destructive", "action": "deny"}
    ]


def test_eval_bad_request_exits_2(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = agt("policy", "eval", "weak.yaml", "--request", "{nope", capsys=capsys)
    assert result.code == 2 and "--request is not valid JSON" in result.err


def test_schema(data: Path) -> None:
    result = agt("policy", "schema")
    assert result.code == 0
    schema = json.loads(result.out)
    assert "rules" in json.dumps(schema)
    assert agt("policy", "schema", "--kind", "request").code == 0
