"""warn and log annotate, they never grant: attacks on the claim through `govern` and the kernel.

The peer's tutorial ends a deny-by-default policy with an ``audit-everything`` rule
(``condition: "true"``, ``action: log``) meaning "record everything". Here that rule must not let
through a call the default refuses, and it must still be reported, logged and audited.
"""

from __future__ import annotations

import logging

import pytest

from agent_os import AuditLog, GovernanceDenied, compile_policies, evaluator_names, govern
from agt_core import PolicyWarning

TUTORIAL = """
apiVersion: governance.toolkit/v1
name: tutorial
default_action: deny
rules:
- name: allow-reads
  condition: "action.type == 'read'"
  action: allow
- name: audit-everything
  condition: "true"
  action: log
  message: record everything
"""

calls: list[str] = []


def tool(action: str) -> str:
    calls.append(action)
    return action


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


def test_log_everything_does_not_open_a_deny_by_default_policy(caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditLog()
    safe = govern(tool, policy=TUTORIAL, audit=audit)
    with caplog.at_level(logging.INFO, logger="agent_os"), pytest.raises(GovernanceDenied) as info:
        safe(action="delete")
    assert calls == []
    decision = info.value.decision
    assert (decision.effect, decision.allowed, decision.rule) == ("deny", False, None)
    assert [m.rule for m in decision.matched] == ["audit-everything"]
    assert "log `audit-everything`: record everything" in decision.message
    # logged although the call was refused ...
    notices = [r for r in caplog.records if "audit-everything" in r.getMessage()]
    assert len(notices) == 1 and notices[0].levelno == logging.INFO
    assert "refused" in notices[0].getMessage()
    # ... and audited, with the annotation in the recorded decision
    records = list(audit.records())
    assert len(records) == 1
    assert [m.rule for m in records[0].decision.matched] == ["audit-everything"]


def test_an_allow_rule_still_decides_and_the_log_annotates() -> None:
    audit = AuditLog()
    safe = govern(tool, policy=TUTORIAL, audit=audit)
    assert safe(action="read") == "read"
    decision = audit.records()[0].decision
    assert (decision.effect, decision.allowed, decision.rule) == ("log", True, "allow-reads")
    assert [m.rule for m in decision.matched] == ["allow-reads", "audit-everything"]


@pytest.mark.parametrize("evaluator", evaluator_names())
@pytest.mark.parametrize("annotation", ["warn", "log"])
@pytest.mark.parametrize(
    "strategy", ["deny_overrides", "allow_overrides", "priority_first_match", "most_specific_wins"]
)
def test_no_strategy_lets_an_annotation_decide(evaluator: str, annotation: str, strategy: str) -> None:
    # The annotation is as attractive as a rule can be under every strategy: highest priority,
    # most conjuncts, least severe after allow. It still never decides.
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "p",
        "default_action": "deny",
        "conflict_strategy": strategy,
        "rules": [
            {
                "name": "note",
                "condition": "action.type == 'x' && args.n == 1 && args.m == 1",
                "action": annotation,
                "priority": 1000,
            },
        ],
    }
    ps = compile_policies([policy], evaluator=evaluator)
    request = {
        "action": {"type": "x", "tool": "t"},
        "args": {"n": 1, "m": 1},
        "agent": {"id": "a"},
        "context": {},
    }
    decision = ps.evaluate(request)
    assert (decision.effect, decision.allowed, decision.rule) == ("deny", False, None)
    assert [(m.rule, m.action) for m in decision.matched] == [("note", annotation)]
    policy["default_action"] = "allow"
    with pytest.warns(PolicyWarning, match="allows every call"):
        allowing = compile_policies([policy], evaluator=evaluator)
    decision = allowing.evaluate(request)
    assert (decision.effect, decision.allowed, decision.rule) == (annotation, True, None)
