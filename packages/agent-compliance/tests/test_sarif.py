"""SARIF output validates against the SARIF 2.1.0 schema (vendored: tests/data/sarif-schema-2.1.0.json).

The vendored file is the schema published as `sarif-2.1.0-rtm.5.json` on SchemaStore (the 2.1.0
release schema; GitHub code scanning accepts logs valid against it), copied from the MIT-licensed
npm package @microsoft/jest-sarif 1.0.0-beta.0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from compliance_helpers import DATA, agt

SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def sarif(*args: str) -> tuple[int, dict[str, Any]]:
    result = agt(*args, "--format", "sarif")
    log = json.loads(result.out)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    return result.code, log


def test_the_schema_rejects_a_broken_log() -> None:
    validator = jsonschema.Draft4Validator(SCHEMA)
    bad = {
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "agt"}}, "results": [{"level": "fatal"}]}],
    }
    assert list(validator.iter_errors(bad))


def test_lint_sarif_has_policy_locations(data: Path) -> None:
    (data / "open.yaml").write_text("apiVersion: governance.toolkit/v1\nname: open\ndefault_action: allow\n")
    code, log = sarif("policy", "lint", "open.yaml")
    assert code == 1
    [run] = log["runs"]
    [result] = run["results"]
    assert result["ruleId"] == "AGT-L001" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "open.yaml"},
        "region": {"startLine": 3, "startColumn": 1},
    }
    rules = run["tool"]["driver"]["rules"]
    assert rules[result["ruleIndex"]]["id"] == "AGT-L001"


def test_load_error_sarif(data: Path) -> None:
    (data / "broken.yaml").write_text("apiVersion: governance.toolkit/v1\nname: [x\n")
    code, log = sarif("policy", "lint", "broken.yaml")
    assert code == 2
    [result] = log["runs"][0]["results"]
    assert result["ruleId"] == "AGT-L000"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.yaml"


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "--policy", "weak.yaml"),
        ("verify", "--policy", "strong.yaml"),
        ("red-team", "scan", "prompts"),
        ("red-team", "attack", "--policy", "weak.yaml"),
        ("policy", "test", "weak.yaml", "--cases", "cases.yaml"),
        ("doctor",),
    ],
)
def test_every_command_writes_valid_sarif(data: Path, args: tuple[str, ...]) -> None:
    _, log = sarif(*args)
    results = log["runs"][0]["results"]
    for result in results:
        if result["level"] != "note" or args[0] != "doctor":
            assert result.get("locations"), result  # code scanning needs a location


def test_verify_sarif_results_and_evidence(data: Path) -> None:
    code, log = sarif("verify", "--policy", "weak.yaml")
    assert code == 1
    run = log["runs"][0]
    ids = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {f"ASI{n:02d}" for n in range(1, 11)} <= ids
    smuggled = next(r for r in run["results"] if "sql-smuggled" in r["message"]["text"])
    evidence = smuggled["properties"]["evidence"][0]
    assert evidence["request"]["args"]["options"] == {"query": "DROP TABLE users"}
    assert evidence["decision"]["effect"] == "allow"
