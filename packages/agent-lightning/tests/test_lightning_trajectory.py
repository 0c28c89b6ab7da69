from __future__ import annotations

import json

import pytest

from agent_lightning import GovernedEnv, Penalties, TrajectoryScorer, score_trajectory
from agent_os import AuditLog, ToolGate

from .conftest import NAMES, POLICY, RecordingEnv

HISTORY_POLICY = """\
apiVersion: governance.toolkit/v1
name: exfil
default_action: allow
rules:
- name: no-send-after-secrets
  condition: "action.type == 'send_email' && 'read_secrets' in context.history"
  action: deny
- name: big-refunds
  condition: "action.type == 'refund' && args.amount > 100"
  action: deny
"""


def test_every_accepted_shape_is_judged() -> None:
    trajectory = [
        {"role": "user", "content": "clean up"},
        {"tool": "delete", "args": {"table": "t"}},
        {"name": "escalate", "arguments": {}},
        {"type": "function", "function": {"name": "write", "arguments": json.dumps({"x": 1})}},
        {
            "role": "assistant",
            "tool_calls": [{"type": "function", "function": {"name": "read", "arguments": ""}}],
        },
        {"role": "tool", "name": "read", "content": "rows"},
        ("delete", {}),
    ]
    score = score_trajectory(trajectory, POLICY)
    assert [s.tool for s in score.steps] == ["delete", "escalate", "write", "read", "delete"]
    assert score.penalties == pytest.approx([1.0, 0.1, 0.0, 0.0, 1.0])
    assert score.penalty == pytest.approx(2.1)
    assert (score.refused, score.violations) == (2, 3)
    assert score.by_rule == {"ops/no-delete": 2, "ops/slow-down": 1}
    assert not score.compliant


def test_history_and_args_rules() -> None:
    scorer = TrajectoryScorer(HISTORY_POLICY)
    assert scorer([("send_email", {}), ("read_secrets", {})]).compliant  # sending first is fine
    bad = scorer([("read_secrets", {}), ("send_email", {"to": "x"})])
    assert bad.steps[1].judgement.rule == "no-send-after-secrets"
    assert scorer([("refund", {"amount": 50})]).compliant
    assert scorer([("refund", {"amount": 500})]).refused == 1


def test_unreadable_calls_are_refused_fail_closed() -> None:
    scorer = TrajectoryScorer(POLICY, penalties=Penalties(refusal=3.0))
    score = scorer(
        [
            {"type": "function", "function": {"name": "write", "arguments": "{not json"}},
            {"tool": "write", "args": ["a", "list"]},
            {"args": {}},
            42,
            {"role": "assistant", "tool_calls": "nope"},
        ]
    )
    assert score.refused == 5
    assert score.penalties == [3.0] * 5
    assert "not valid JSON" in score.steps[0].judgement.message
    assert {s.judgement.refused_by for s in score.steps} == {"agent-lightning:trajectory"}
    log = scorer.audit_log
    assert isinstance(log, AuditLog) and len(log.records()) == 5


def test_an_erroring_condition_refuses() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: p
default_action: allow
rules:
- name: cap
  condition: "action.type == 'refund' && args.amount > 100"
  action: deny
"""
    score = score_trajectory([("refund", {"amount": "lots"})], policy)  # string > int: an error
    assert score.refused == 1 and score.steps[0].judgement.errored


def test_same_rules_and_penalties_as_online_enforcement() -> None:
    env = GovernedEnv(
        RecordingEnv(),
        policy=POLICY,
        action_names=NAMES,
        penalties={"warn": 0.4, "rules": {"no-delete": 2.0}},
    )
    env.reset()
    online = [env.step(a)[4]["governance"]["penalty"] for a in range(4)]
    offline = score_trajectory([(name, {"index": i}) for i, name in enumerate(NAMES)], env)
    assert online == pytest.approx([0.0, 0.0, 2.0, 0.4])
    assert offline.penalties == pytest.approx(online)
    # Scored with the environment's gate: the decisions are in the training audit trail.
    log = env.audit_log
    assert isinstance(log, AuditLog) and len(log.records()) == 8


def test_gate_input_and_bad_trajectory() -> None:
    gate = ToolGate(policy=POLICY, audit=False)
    assert score_trajectory([("delete", {})], gate).refused == 1
    with pytest.raises(TypeError, match="sequence of steps"):
        score_trajectory("delete", POLICY)


def test_offline_scores_equal_online_judgements_on_random_sequences() -> None:
    import random

    rng = random.Random(7)
    for _ in range(5):
        actions = [rng.randrange(len(NAMES)) for _ in range(40)]
        env = GovernedEnv(RecordingEnv(length=1000), policy=POLICY, action_names=NAMES)
        env.reset()
        online = []
        for a in actions:
            info = env.step(a)[4]["governance"]
            online.append((info["allowed"], info["rule"], info["penalty"]))
        score = score_trajectory([(NAMES[a], {"index": a}) for a in actions], env)
        offline = [(s.judgement.allowed, s.judgement.rule, s.judgement.penalty) for s in score.steps]
        assert offline == online
