"""Every decision names the evaluator that reached it, and the audit hash covers that name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agent_os
from agt_core import AuditIntegrityError, PolicyError, canonical_json, verify_audit_lines

POLICY: dict[str, Any] = {
    "apiVersion": "governance.toolkit/v1",
    "name": "p",
    "default_action": "allow",
    "rules": [{"name": "no-drop", "condition": "action.type == 'drop'", "action": "deny"}],
}

REGO = """package rules

default allow := true

deny if input.action.type == "drop"
"""

CEDAR = """@id("no-drop")
forbid(principal, action == Action::"drop", resource);

@id("everything-else")
permit(principal, action, resource);
"""


def _request(action: str, stage: str = "pre_tool") -> dict[str, Any]:
    return {
        "action": {"type": action, "tool": "t"},
        "args": {},
        "agent": {"id": "a"},
        "context": {},
        "stage": stage,
    }


def test_python_decisions_name_python() -> None:
    policy_set = agent_os.compile_policies(POLICY, evaluator="python")
    assert policy_set.evaluate(_request("drop")).evaluator == "python"
    assert policy_set.evaluate(_request("read")).evaluator == "python"
    # a refusal the evaluator makes itself (no agent id) is still its decision
    refused = policy_set.evaluate({**_request("read"), "agent": {}})
    assert (refused.effect, refused.evaluator) == ("deny", "python")


def test_native_decisions_name_native() -> None:
    pytest.importorskip("agt_evaluator")
    policy_set = agent_os.compile_policies(POLICY, evaluator="native")
    assert policy_set.evaluate(_request("drop")).evaluator == "native"
    refused = policy_set.evaluate({**_request("read"), "agent": {}})
    assert (refused.effect, refused.evaluator) == ("deny", "native")


def test_kernel_refusals_name_no_evaluator() -> None:
    kernel = agent_os.Kernel(agent_os.compile_policies(POLICY, evaluator="python"), audit=None)
    refusal = kernel.refusal("guard said no", by="guard:test")
    assert (refusal.refused_by, refusal.evaluator) == ("guard:test", None)


def test_a_rate_limited_decision_keeps_its_evaluator() -> None:
    policy = {
        **POLICY,
        "default_action": "deny",
        "rules": [{"name": "reads", "condition": "true", "action": "allow", "limit": "1/minute"}],
    }
    limiter = agent_os.RateLimiter(clock=lambda: 0.0)
    kernel = agent_os.Kernel(
        agent_os.compile_policies(policy, evaluator="python"), audit=None, rate_limiter=limiter
    )
    assert kernel.decide(_request("read")).allowed
    limited = kernel.decide(_request("read"))
    assert (limited.rate_limited, limited.evaluator) == (True, "python")


def test_evaluator_backend_names_what_auto_compiles_with(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGT_EVALUATOR", raising=False)
    backend = agent_os.evaluator_backend()
    assert backend in agent_os.evaluator_names()
    assert agent_os.compile_policies(POLICY).evaluator == backend
    assert agent_os.compile_policies(POLICY).evaluate(_request("read")).evaluator == backend
    monkeypatch.setenv("AGT_EVALUATOR", "python")
    assert agent_os.evaluator_backend() == "python"


def test_evaluator_backend_refuses_an_evaluator_that_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGT_EVALUATOR", "no-such-evaluator")
    with pytest.raises(PolicyError, match="`no-such-evaluator` is not installed"):
        agent_os.evaluator_backend()


def test_the_evaluator_is_part_of_the_hashed_decision() -> None:
    """Rewriting which evaluator decided breaks the audit chain like any other edit."""
    log = agent_os.AuditLog()
    kernel = agent_os.Kernel(agent_os.compile_policies(POLICY, evaluator="python"), audit=log)
    assert not kernel.enforce(_request("drop")).allowed
    lines = log.lines()
    record = json.loads(lines[-1])
    assert record["decision"]["evaluator"] == "python"
    verify_audit_lines(lines, expected_count=len(lines))
    record["decision"]["evaluator"] = "native"
    forged = [*lines[:-1], canonical_json(record)]
    with pytest.raises(AuditIntegrityError):
        verify_audit_lines(forged, expected_count=len(lines))


def test_mixed_sets_name_every_engine_that_decided(tmp_path: Path) -> None:
    pytest.importorskip("regopy")
    pytest.importorskip("cedarpy")
    (tmp_path / "a.yaml").write_text(json.dumps(POLICY), encoding="utf-8")
    (tmp_path / "b.rego").write_text(REGO, encoding="utf-8")
    (tmp_path / "c.cedar").write_text(CEDAR, encoding="utf-8")
    mixed = agent_os.compile_policies(str(tmp_path), evaluator="python")
    assert mixed.evaluate(_request("drop")).evaluator == "python+rego+cedar"
    # only the YAML policies decide other stages
    assert mixed.evaluate(_request("x", stage="post_tool")).evaluator == "python"
    only_rego = agent_os.compile_policies(str(tmp_path / "b.rego"))
    assert only_rego.evaluate(_request("drop")).evaluator == "rego"
    only_cedar = agent_os.compile_policies(str(tmp_path / "c.cedar"))
    assert only_cedar.evaluate(_request("drop")).evaluator == "cedar"
    assert only_cedar.evaluate(_request("x", stage="post_tool")).evaluator == "cedar"
