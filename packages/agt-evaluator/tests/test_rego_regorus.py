"""Rego through regorus, the engine compiled into the native module: the default where installed.

The Rego contract and its failure paths are tested engine by engine in
packages/agent-os/tests/formats/test_rego.py and by the equivalence vectors; these tests hold
what only regorus gives (the time limit) and the engine choice itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import agent_os
from agt_core import GovernanceDenied, PolicyError

DATA_POLICY = """package tools
import rego.v1

default decision := {"effect": "deny", "reason": "not on the list"}

decision := {"effect": "allow", "rule": "listed"} if input.action.type in data.allowed_actions
"""

RUNAWAY = """package slow
import rego.v1

default allow := false

allow if count([x | some i in numbers.range(1, 20000); some j in numbers.range(1, 20000); x := i * j]) > 0
"""


def _request(action: str) -> dict[str, object]:
    return {
        "action": {"type": action, "tool": "tool"},
        "args": {},
        "agent": {"id": "agent-1"},
        "context": {},
        "stage": "pre_tool",
    }


def test_regorus_is_the_default_engine_with_the_native_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_os._rego import rego_engine

    monkeypatch.delenv("AGT_REGO_ENGINE", raising=False)
    assert rego_engine() == "regorus"


def test_a_runaway_evaluation_is_stopped_and_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGT_REGO_TIME_LIMIT_MS", "50")
    (tmp_path / "slow.rego").write_text(RUNAWAY)
    with pytest.raises(PolicyError, match="time limit"):
        # The load-time contract probe runs the rule too: a policy that cannot finish never loads.
        agent_os.compile_policies(str(tmp_path / "slow.rego"))


def test_a_time_limit_hit_at_run_time_denies_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slow only for requests that ask for it, so the policy loads and the limit bites on a call.
    monkeypatch.setenv("AGT_REGO_TIME_LIMIT_MS", "50")
    (tmp_path / "slow.rego").write_text(
        "package slow\nimport rego.v1\n\ndefault allow := false\n\n"
        "allow if input.args.n < 10\n"
        "allow if {\n  input.args.n >= 10\n"
        "  count([x | some i in numbers.range(1, input.args.n); some j in numbers.range(1, input.args.n); x := i * j]) > 0\n}\n"
    )
    policy = agent_os.compile_policies(str(tmp_path / "slow.rego"))

    def work(n: int) -> int:
        return n

    safe = agent_os.govern(work, policy=policy)
    assert safe(n=3) == 3
    with pytest.raises(GovernanceDenied) as caught:
        safe(n=20000)
    decision = caught.value.decision
    assert decision.effect == "deny"
    assert "time limit" in decision.message or any("time limit" in e.message for e in decision.errors)


def test_data_documents_beside_the_module_decide(tmp_path: Path) -> None:
    (tmp_path / "tools.rego").write_text(DATA_POLICY)
    (tmp_path / "tools.data.yaml").write_text("allowed_actions: [read, list]\n")
    policy = agent_os.compile_policies(str(tmp_path))  # the folder: the data file is not a policy
    assert policy.evaluate(_request("read")).effect == "allow"
    assert policy.evaluate(_request("drop")).effect == "deny"
    before = policy.hash
    (tmp_path / "tools.data.yaml").write_text("allowed_actions: [read, list, drop]\n")
    changed = agent_os.compile_policies(str(tmp_path))
    assert changed.evaluate(_request("drop")).effect == "allow"
    assert changed.hash != before  # the audit trail pins the data too


def test_a_broken_data_document_is_a_load_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "tools.rego").write_text(DATA_POLICY)
    (tmp_path / "tools.data.json").write_text('{\n  "allowed_actions": [read]\n}\n')
    with pytest.raises(PolicyError) as caught:
        agent_os.compile_policies(str(tmp_path / "tools.rego"))
    assert caught.value.file == str(tmp_path / "tools.data.json")
    assert caught.value.line == 2


def test_a_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.rego"
    path.write_text("package bad\n\ndecision := {\n")
    with pytest.raises(PolicyError) as caught:
        agent_os.compile_policies(str(path))
    assert caught.value.file == str(path)
    assert caught.value.line is not None
    assert caught.value.column is not None


def test_an_unknown_engine_name_is_a_load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGT_REGO_ENGINE", "opa")
    (tmp_path / "tools.rego").write_text(DATA_POLICY)
    with pytest.raises(PolicyError, match="AGT_REGO_ENGINE"):
        agent_os.compile_policies(str(tmp_path / "tools.rego"))


def test_a_builtin_this_build_lacks_is_refused_at_load_where_it_is_called(tmp_path: Path) -> None:
    path = tmp_path / "t.rego"
    path.write_text("package t\nimport rego.v1\ndefault allow := false\nallow if time.now_ns() > 0\n")
    with pytest.raises(PolicyError, match=r"time\.now_ns") as caught:
        agent_os.compile_policies(str(path))
    assert (caught.value.file, caught.value.line, caught.value.column) == (str(path), 4, 21)
    assert "AGT_REGO_ENGINE=regopy" in (caught.value.help or "")
