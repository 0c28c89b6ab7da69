from __future__ import annotations

import json
from pathlib import Path

import pytest
from compliance_helpers import agt, agt_process


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return path.name


def lint_json(*paths: str) -> tuple[int, dict]:
    result = agt("policy", "lint", *paths, "--format", "json")
    return result.code, json.loads(result.out)


def rule_ids(report: dict) -> list[str]:
    return [f["rule_id"] for f in report["findings"]]


def test_load_error_reports_file_line_column_and_exits_2(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        data / "broken.yaml",
        'apiVersion: governance.toolkit/v1\nname: broken\nrules:\n- name: r\n  condtion: "true"\n  action: deny\n',
    )
    result = agt("policy", "lint", "broken.yaml", capsys=capsys)
    assert result.code == 2
    assert "agt: error: broken.yaml:5:3: " in result.err
    assert "unknown field `condtion`" in result.err
    assert "did you mean `condition`?" in result.err
    report = json.loads(agt("policy", "lint", "broken.yaml", "--format", "json").out)
    [finding] = report["findings"]
    assert finding["rule_id"] == "AGT-L000"
    assert finding["location"] == {"file": "broken.yaml", "line": 5, "column": 3}


def test_condition_error_position_inside_the_file(data: Path) -> None:
    write(
        data / "badcond.yaml",
        "apiVersion: governance.toolkit/v1\nname: b\nrules:\n- name: r\n  action: deny\n"
        "  condition: \"action.type == 'pay' && amount > 1\"\n",
    )
    code, report = lint_json("badcond.yaml")
    assert code == 2
    assert report["findings"][0]["location"] == {"file": "badcond.yaml", "line": 6, "column": 39}


def test_weak_policy_is_flagged_with_locations(data: Path) -> None:
    name = write(
        data / "lints.yaml",
        """apiVersion: governance.toolkit/v1
name: lints
default_action: allow
conflict_strategy: priority_first_match
request_schema:
  args:
    amount: number
rules:
- name: catch-all
  condition: "true"
  action: allow
  priority: 10
- name: never-reached
  condition: "action.type == 'drop'"
  action: allow
- name: contradiction
  condition: "action.type == 'a' && action.type == 'b'"
  action: allow
- name: bad-regex
  condition: "args.path.matches('^/etc$/passwd')"
  action: allow
- name: typo
  condition: "args.ammount > 10"
  action: allow
- name: quota-a
  condition: "action.type in ['search', 'fetch']"
  action: allow
  limit: "10/minute"
- name: quota-b
  condition: "action.type == 'search'"
  action: allow
  limit: "5/minute"
- name: off
  condition: "action.type == 'x'"
  action: allow
  enabled: false
""",
    )
    code, report = lint_json(name)
    assert code == 1  # lint fails on warnings by default
    by_rule = {}
    for finding in report["findings"]:
        by_rule.setdefault(finding["rule_id"], []).append(finding)
    assert by_rule["AGT-L001"][0]["location"] == {"file": name, "line": 3, "column": 1}
    assert by_rule["AGT-L001"][0]["level"] == "error"
    unreachable = {f["message"].split("`")[1] for f in by_rule["AGT-L004"]}
    assert "never-reached" in unreachable and "catch-all" not in unreachable
    assert by_rule["AGT-L004"][0]["location"]["line"] == 13
    [never] = by_rule["AGT-L003"]
    assert "`contradiction`" in never["message"]
    assert never["location"] == {"file": name, "line": 17, "column": 14}
    [regex] = by_rule["AGT-L005"]
    assert "`^/etc$/passwd`" in regex["message"]
    [overlap] = by_rule["AGT-L006"]
    assert "`quota-a`" in overlap["message"] and "calls to search" in overlap["message"]
    [typo] = [f for f in by_rule["AGT-L007"] if "args.ammount" in f["message"]]
    assert typo["location"]["line"] == 23
    assert "did you mean `args.amount`?" in typo["message"]
    [off] = by_rule["AGT-L008"]
    assert off["level"] == "note"


def test_approval_without_approvers(data: Path) -> None:
    name = write(
        data / "approvals.yaml",
        "apiVersion: governance.toolkit/v1\nname: a\nrules:\n- name: pay\n  condition: \"action.type == 'pay'\"\n"
        "  action: require_approval\n",
    )
    _, report = lint_json(name)
    assert rule_ids(report) == ["AGT-L002"]
    assert report["findings"][0]["location"]["line"] == 4


def test_deny_overrides_shadowing(data: Path) -> None:
    name = write(
        data / "shadow.yaml",
        'apiVersion: governance.toolkit/v1\nname: s\nrules:\n- name: deny-all\n  condition: "true"\n'
        "  action: deny\n- name: reads\n  condition: \"action.type == 'read'\"\n  action: allow\n",
    )
    _, report = lint_json(name)
    assert rule_ids(report) == ["AGT-L004"]
    assert "`reads`" in report["findings"][0]["message"]


def test_a_rule_that_refuses_every_request_without_a_field_is_named_with_its_guard(data: Path) -> None:
    name = write(
        data / "missing.yaml",
        "apiVersion: governance.toolkit/v1\nname: m\ndefault_action: allow\nrules:\n"
        '- name: big\n  condition: "args.amount > 10000"\n  action: deny\n'
        "- name: scoped\n  condition: \"action.type == 'pay' && args.amount > 10000\"\n  action: deny\n",
    )
    _, report = lint_json(name)
    [finding] = [f for f in report["findings"] if f["rule_id"] == "AGT-L007"]
    assert "rule `big` denies every request without `args.amount`" in finding["message"]
    assert "has(args.amount)" in finding["message"]


def test_strong_and_demo_policies_are_clean(data: Path) -> None:
    code, report = lint_json("strong.yaml")
    assert (code, report["findings"]) == (0, [])
    demo = Path(__file__).resolve().parents[3] / "demo" / "policies"
    code, report = lint_json(str(demo))
    assert (code, report["findings"]) == (0, [])


def test_disjoint_limits_and_or_conditions_are_not_flagged(data: Path) -> None:
    name = write(
        data / "fine.yaml",
        """apiVersion: governance.toolkit/v1
name: fine
rules:
- name: a
  condition: "action.type == 'search'"
  action: allow
  limit: "10/minute"
- name: b
  condition: "action.type == 'fetch'"
  action: allow
  limit: "10/minute"
- name: either
  condition: "action.type == 'a' || action.type == 'b'"
  action: allow
- name: regex-ok
  condition: "args.p.matches('^a$|^b$')"
  action: allow
""",
    )
    code, report = lint_json(name)
    assert (code, report["findings"]) == (0, [])


def test_lint_subprocess_text_and_fail_on(data: Path) -> None:
    result = agt_process("policy", "lint", "weak.yaml", cwd=data)
    assert result.code == 0, result.err  # weak.yaml has deny rules: nothing to lint
    write(data / "open.yaml", "apiVersion: governance.toolkit/v1\nname: open\ndefault_action: allow\n")
    result = agt_process("policy", "lint", "open.yaml", cwd=data)
    assert result.code == 1
    assert "open.yaml:3:1: error[AGT-L001]: policy `open` allows every call" in result.out
    assert agt("policy", "lint", "open.yaml", "--fail-on", "never").code == 0
