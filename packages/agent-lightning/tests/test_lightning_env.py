from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from agent_lightning import GovernedEnv, Penalties
from agent_os import AuditLog, ToolGate

from .conftest import NAMES, POLICY, RecordingEnv

READ, WRITE, DELETE, ESCALATE = range(4)


def make(policy: str = POLICY, **options: Any) -> tuple[GovernedEnv, RecordingEnv]:
    inner = RecordingEnv()
    return GovernedEnv(inner, policy=policy, action_names=NAMES, **options), inner


def test_refused_action_never_reaches_the_env_and_is_penalised() -> None:
    env, inner = make()
    obs, _ = env.reset(seed=0)
    obs2, reward, terminated, truncated, info = env.step(DELETE)
    assert inner.seen == []  # the environment never saw it
    assert obs2 == obs
    assert reward == -1.0
    assert info["cost"] == 1.0
    gov = info["governance"]
    assert (gov["blocked"], gov["allowed"], gov["rule"], gov["policy"]) == (True, False, "no-delete", "ops")
    assert "no-delete" in gov["message"]
    assert not terminated and not truncated
    _, reward, *_ = env.step(WRITE)
    assert inner.seen == [WRITE]
    assert reward == 1.0


def test_warn_lets_through_with_penalty_and_log_only_annotates() -> None:
    env, inner = make()
    env.reset()
    _, reward, *_, info = env.step(ESCALATE)
    assert inner.seen == [ESCALATE]
    assert reward == pytest.approx(1.0 - 0.1)
    assert info["governance"]["blocked"] is False
    assert [v["rule"] for v in info["governance"]["violations"]] == ["slow-down"]
    _, reward, *_, info = env.step(READ)
    assert reward == 1.0 and info["cost"] == 0.0
    assert [v["rule"] for v in info["governance"]["violations"]] == ["note-reads"]


def test_cost_shaping_leaves_reward_and_reports_cmdp_cost() -> None:
    env, inner = make(shaping="cost")
    env.reset()
    _, reward, *_, info = env.step(DELETE)
    assert reward == 0.0 and info["cost"] == 1.0 and inner.seen == []
    _, reward, *_, info = env.step(ESCALATE)
    assert reward == 1.0 and info["cost"] == pytest.approx(0.1)
    _, reward, *_, info = env.step(WRITE)
    assert reward == 1.0 and info["cost"] == 0.0


def test_penalties_by_rule_override_by_severity() -> None:
    penalties = Penalties(rules={"ops/no-delete": 5.0, "slow-down": 0.7}, deny=2.0)
    env, _ = make(penalties=penalties)
    env.reset()
    assert env.step(DELETE)[1] == -5.0
    assert env.step(ESCALATE)[1] == pytest.approx(1.0 - 0.7)
    other = make(penalties={"deny": 2.0})[0]
    other.reset()
    assert other.step(DELETE)[1] == -2.0


def test_penalties_refuse_negative_and_nan() -> None:
    with pytest.raises(ValueError, match="finite number"):
        Penalties(deny=-1.0)
    with pytest.raises(ValueError, match="finite number"):
        Penalties(rules={"x": float("nan")})
    with pytest.raises(ValueError):
        Penalties(bogus=1.0)  # type: ignore[call-arg]


@pytest.mark.parametrize(("ends", "flag"), [("terminate", 2), ("truncate", 3)])
def test_violation_budget_ends_the_episode(ends: str, flag: int) -> None:
    env, _ = make(violation_budget=2, budget_ends=ends)
    env.reset()
    first = env.step(DELETE)
    assert not first[2] and not first[3]
    env.step(WRITE)
    last = env.step(ESCALATE)  # the second violation (let through, penalised) spends the budget
    assert last[flag] is True and last[5 - flag] is False
    assert last[4]["governance"]["budget_exhausted"] is True
    summary = last[4]["episode_governance"]
    assert summary["budget_exhausted"] and summary["violations"] == 2
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(WRITE)


def test_enforce_false_measures_without_blocking_or_shaping() -> None:
    env, inner = make(enforce=False, violation_budget=1)
    env.reset()
    _, reward, terminated, _, info = env.step(DELETE)
    assert inner.seen == [DELETE] and reward == 1.0 and not terminated
    assert info["cost"] == 1.0 and info["governance"]["allowed"] is False
    assert info["governance"]["blocked"] is False


def test_erroring_policy_blocks_fail_closed() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: strict
default_action: allow
rules:
- name: no-writes-when-locked
  condition: "action.type == 'write' && context.state.locked"
  action: deny
"""
    # `state` gives no `locked`: reading it errors, and an erroring deny rule counts as matched.
    env = GovernedEnv(RecordingEnv(), policy=policy, action_names=NAMES, state=lambda obs, info: {"t": 1})
    env.reset()
    _, reward, *_, info = env.step(WRITE)
    assert env.unwrapped.seen == []  # type: ignore[attr-defined]
    assert info["governance"]["blocked"] and info["governance"]["errored"]
    assert info["governance"]["violations"][0]["errored"] is True
    assert reward == -1.0
    _, reward, *_ = env.step(READ)  # the rule does not read `locked` for other actions
    assert reward == 1.0


def test_state_is_visible_to_conditions() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: phases
default_action: allow
rules:
- name: no-writes-at-start
  condition: "action.type == 'write' && context.state.phase == 'start'"
  action: deny
"""
    env = GovernedEnv(
        RecordingEnv(), policy=policy, action_names=NAMES, state=lambda obs, info: {"phase": info["phase"]}
    )
    env.reset()
    assert env.step(WRITE)[4]["governance"]["blocked"] is True
    env.step(READ)  # phase becomes "run"
    assert env.step(WRITE)[4]["governance"]["blocked"] is False


def test_context_has_episode_step_observation_and_violations_count() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: counts
default_action: allow
rules:
- name: third-strike
  condition: "context.violations >= 1 && action.type == 'escalate'"
  action: deny
- name: slow-down
  condition: "action.type == 'escalate'"
  action: warn
"""
    env = GovernedEnv(RecordingEnv(), policy=policy, action_names=NAMES)
    env.reset()
    assert env.step(ESCALATE)[4]["governance"]["blocked"] is False  # first: warned
    assert env.step(ESCALATE)[4]["governance"]["blocked"] is True  # then refused
    log = env.audit_log
    assert isinstance(log, AuditLog)
    contexts = [r.request["context"] for r in log.records()]
    assert [(c["episode"], c["step"], c["observation"], c["violations"]) for c in contexts] == [
        (0, 0, 0, 0),
        (0, 1, 1, 1),
    ]


def test_every_decision_audited_with_episode_and_step_and_chain_verifies() -> None:
    env, _ = make()
    for episode in range(2):
        env.reset(seed=episode)
        done = False
        actions = iter([DELETE, WRITE, ESCALATE, WRITE, WRITE, WRITE, WRITE])
        while not done:
            *_, terminated, truncated, _ = env.step(next(actions))
            done = terminated or truncated
    log = env.audit_log
    assert isinstance(log, AuditLog)
    records = log.records()
    assert len(records) == 2 * 6  # five env steps plus one blocked, per episode
    assert [(r.request["context"]["episode"], r.request["context"]["step"]) for r in records[:6]] == [
        (0, i) for i in range(6)
    ]
    assert records[0].decision.rule == "no-delete" and records[0].decision.effect == "deny"
    assert log.verify(deep=True) == 12


def test_episode_summaries_dict_and_line() -> None:
    lines: list[str] = []
    env, _ = make(on_episode=lambda s: lines.append(s.line()))
    env.reset()
    for action in [DELETE, DELETE, ESCALATE, WRITE, WRITE, WRITE, WRITE]:
        *_, info = env.step(action)
    summary = env.summaries[-1]
    assert summary.as_dict() == info["episode_governance"]
    assert summary.steps == 7 and summary.blocked == 2 and summary.violations == 3
    assert summary.by_rule == {"ops/no-delete": 2, "ops/slow-down": 1}
    assert summary.penalty_total == pytest.approx(2.1)
    assert summary.task_reward == 5.0
    assert summary.shaped_reward == pytest.approx(5.0 - 2.1)
    assert summary.violation_rate == pytest.approx(3 / 7)
    assert lines == [summary.line()]
    assert lines[0].startswith(
        "episode 0: 7 steps, 3 violations (ops/no-delete=2, ops/slow-down=1), 2 blocked"
    )


def test_reset_mid_episode_and_close_finish_the_summary() -> None:
    env, _ = make()
    env.reset()
    env.step(DELETE)
    env.reset()
    assert [s.episode for s in env.summaries] == [0]
    env.step(WRITE)
    env.close()
    assert [s.episode for s in env.summaries] == [0, 1]


def test_step_before_reset_is_refused() -> None:
    env, _ = make()
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(READ)


def test_unmappable_action_is_refused_and_audited() -> None:
    env, inner = make()
    env.reset()
    _, reward, *_, info = env.step(17)
    assert inner.seen == [] and reward == -1.0
    gov = info["governance"]
    assert gov["refused_by"] == "agent-lightning:mapping" and gov["tool"] == "unmapped-action"
    assert "outside the Discrete space" in gov["message"]
    log = env.audit_log
    assert isinstance(log, AuditLog)
    assert log.records()[-1].decision.refused_by == "agent-lightning:mapping"


def test_require_approval_is_refused_without_an_approver() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: approvals
default_action: allow
rules:
- name: writes-need-approval
  condition: "action.type == 'write'"
  action: require_approval
  approvers: ["ops"]
"""
    env, inner = make(policy)
    env.reset()
    _, reward, *_, info = env.step(WRITE)
    assert inner.seen == [] and reward == -1.0
    assert info["governance"]["violations"][0]["effect"] == "require_approval"


def test_default_deny_is_a_refusal_violation() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: allowlist
rules:
- name: reads
  condition: "action.type == 'read'"
  action: allow
"""
    env, _ = make(policy, penalties=Penalties(refusal=0.25))
    env.reset()
    *_, info = env.step(WRITE)
    [violation] = info["governance"]["violations"]
    assert (violation["rule"], violation["kind"], violation["penalty"]) == ("default", "refusal", 0.25)
    assert env.step(READ)[4]["governance"]["violations"] == []


def test_allow_overrides_overridden_deny_is_not_a_violation() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: lenient
default_action: deny
conflict_strategy: allow_overrides
rules:
- name: no-writes
  condition: "action.type == 'write'"
  action: deny
- name: writes-ok
  condition: "action.type == 'write'"
  action: allow
"""
    env, inner = make(policy)
    env.reset()
    _, reward, *_, info = env.step(WRITE)
    assert inner.seen == [WRITE] and reward == 1.0 and info["governance"]["violations"] == []


def test_shared_gate_and_option_errors() -> None:
    gate = ToolGate(policy=POLICY, audit=AuditLog())
    env = GovernedEnv(RecordingEnv(), gate=gate, action_names=NAMES)
    assert env.gate is gate
    with pytest.raises(TypeError, match="either policy= or gate="):
        GovernedEnv(RecordingEnv(), POLICY, gate=gate)
    with pytest.raises(TypeError, match="policy= is required"):
        GovernedEnv(RecordingEnv())
    with pytest.raises(ValueError, match="shaping"):
        GovernedEnv(RecordingEnv(), POLICY, shaping="bonus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="violation_budget"):
        GovernedEnv(RecordingEnv(), POLICY, violation_budget=0)
    with pytest.raises(ValueError, match="names has 2 entries"):
        GovernedEnv(RecordingEnv(), POLICY, action_names=["a", "b"])


def test_policy_that_cannot_load_fails_at_construction() -> None:
    from agent_os import PolicyError

    with pytest.raises(PolicyError):
        GovernedEnv(RecordingEnv(), "apiVersion: governance.toolkit/v1\nname: bad\nrules:\n- name: x\n")


# -- action spaces ----------------------------------------------------------------------------------


def test_discrete_without_names_and_with_numpy_actions() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: idx
default_action: allow
rules:
- name: no-two
  condition: "action.type == 'action_2' && args.index == 2"
  action: deny
"""
    env = GovernedEnv(RecordingEnv(), policy=policy)
    env.reset()
    assert env.step(np.int64(2))[4]["governance"]["blocked"] is True
    assert env.step(np.int64(1))[4]["governance"]["tool"] == "action_1"


def test_multi_discrete_dimensions_and_labels() -> None:
    space = spaces.MultiDiscrete([3, 2])
    policy = """\
apiVersion: governance.toolkit/v1
name: md
default_action: allow
rules:
- name: no-fast-left
  condition: "action.type == 'drive' && args.direction == 'left' && args.speed == 1"
  action: deny
"""
    env = GovernedEnv(
        RecordingEnv(space),
        policy=policy,
        tool="drive",
        dims=["direction", "speed"],
        action_names=[["left", "straight", "right"], None],
    )
    env.reset()
    assert env.step(np.array([0, 1]))[4]["governance"]["blocked"] is True
    assert env.step(np.array([0, 0]))[4]["governance"]["blocked"] is False
    assert env.step(np.array([2, 1]))[4]["governance"]["blocked"] is False
    assert env.step(np.array([5, 1]))[4]["governance"]["refused_by"] == "agent-lightning:mapping"


def test_text_actions() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: shell
default_action: allow
rules:
- name: no-rm
  condition: "action.type == 'shell' && args.text.startsWith('rm ')"
  action: deny
"""
    inner = RecordingEnv(spaces.Text(max_length=64))
    env = GovernedEnv(inner, policy=policy, tool="shell")
    env.reset()
    assert env.step("rm -rf /")[4]["governance"]["blocked"] is True
    assert env.step("ls -la")[4]["governance"]["blocked"] is False
    assert inner.seen == ["ls -la"]


def test_dict_actions_name_their_tool() -> None:
    space = spaces.Dict({"tool": spaces.Discrete(3), "amount": spaces.Box(0, 1000, shape=(1,))})
    policy = """\
apiVersion: governance.toolkit/v1
name: payments
default_action: allow
rules:
- name: big-refunds
  condition: "action.type == 'refund' && args.amount[0] > 500.0"
  action: deny
"""
    inner = RecordingEnv(space)
    env = GovernedEnv(inner, policy=policy, action_names=["quote", "refund", "close"])
    env.reset()
    big = {"tool": np.int64(1), "amount": np.array([900.0], dtype=np.float32)}
    small = {"tool": np.int64(1), "amount": np.array([50.0], dtype=np.float32)}
    assert env.step(big)[4]["governance"]["blocked"] is True
    info = env.step(small)[4]
    assert info["governance"]["blocked"] is False and info["governance"]["tool"] == "refund"
    assert len(inner.seen) == 1


def test_non_finite_action_cannot_be_judged_and_is_refused() -> None:
    env = GovernedEnv(RecordingEnv(spaces.Box(-1, 1, shape=(2,))), policy=POLICY)
    env.reset()
    info = env.step(np.array([np.nan, 0.0]))[4]
    assert info["governance"]["blocked"] is True and info["governance"]["refused_by"] == "kernel:request"
    assert env.step(np.array([0.5, 0.0]))[4]["governance"]["blocked"] is False


def test_deterministic_for_a_seed_except_audit_hashes() -> None:
    from agent_lightning.demo import POLICY as DEMO_POLICY
    from agent_lightning.demo import TOOLS, ToolDeskEnv

    def rollout() -> list[Any]:
        env = GovernedEnv(
            ToolDeskEnv(), policy=DEMO_POLICY, action_names=TOOLS, state=lambda o, i: {"pii": i["pii"]}
        )
        obs, _ = env.reset(seed=11)
        trace: list[Any] = [obs]
        for a in [1, 3, 3, 0, 5, 2, 4, 1, 3, 0, 0, 2, 2, 2]:
            obs, reward, terminated, truncated, info = env.step(a)
            gov = {k: v for k, v in info["governance"].items() if k != "audit_hash"}
            trace.append((obs, reward, terminated, truncated, info["cost"], gov))
            if terminated or truncated:
                break
        return trace

    first, second = rollout(), rollout()
    assert first == second
    assert any(step[5]["blocked"] for step in first[1:])  # the rollout exercised refusals
