"""`agt policy migrate`: a thin command over agent_os.migrate_policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import agent_compliance
from agent_os import compile_policies

PEER = """\
version: "1.0"
name: peer policy
default_action: deny
rules:
  - name: allow-search
    condition: "tool_name == 'search'"
    ruleAction: allow
  - name: http
    condition: "tool_name == 'http'"
    action: rate_limit
    limit: "3/minute"
  - name: audit-everything
    condition: "true"
    action: log
"""


def test_a_file_is_migrated_and_every_change_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "peer.yaml"
    source.write_text(PEER)
    out = tmp_path / "policy.yaml"
    code = agent_compliance.main(["policy", "migrate", str(source), "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    for phrase in (
        "apiVersion",
        "version: removed",
        "`peer policy` -> `peer-policy`",
        "ruleAction",
        "rate_limit",
        "`tool_name` -> `action.tool`",
    ):
        assert phrase in printed, phrase
    document = yaml.safe_load(out.read_text())
    assert document["rules"][1] == {
        "name": "http",
        "condition": "action.tool == 'http'",
        "action": "allow",
        "limit": "3/minute",
    }
    policy = compile_policies(str(out))
    request = {"action": {"type": "call", "tool": "delete"}, "args": {}, "agent": {"id": "a"}, "context": {}}
    assert not policy.evaluate(request).allowed  # the log-everything rule grants nothing


def test_a_folder_migrates_what_it_can_and_refuses_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "peer"
    source.mkdir()
    (source / "good.yaml").write_text(PEER)
    (source / "tenant.yaml").write_text(
        "name: t\nscope: tenant\nconflict_strategy: most_specific_wins\nrules: []\n"
    )
    out = tmp_path / "ours"
    code = agent_compliance.main(["policy", "migrate", str(source), "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 2
    assert (out / "good.yaml").exists()
    assert not (out / "tenant.yaml").exists()
    assert "tenant.yaml: not migrated" in printed and "scope: tenant" in printed
