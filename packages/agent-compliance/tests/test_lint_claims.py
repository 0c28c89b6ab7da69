"""The lints' claims attacked with the real evaluator: a rule called never-matching never matches,
and a rule called unreachable never decides, over every request of a small universe."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_compliance import lint_policies

TYPES = ["a", "b", "c"]
ACTIONS = ["allow", "deny", "require_approval", "warn", "log"]
STRATEGIES = ["deny_overrides", "allow_overrides", "priority_first_match", "most_specific_wins"]


@st.composite
def conditions(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["true", "false", "eq", "in", "and"]))
    if kind in ("true", "false"):
        return kind
    if kind == "eq":
        return f"action.type == '{draw(st.sampled_from(TYPES))}'"
    if kind == "in":
        chosen = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True))
        return "action.type in [" + ", ".join(f"'{t}'" for t in chosen) + "]"
    parts = draw(st.lists(st.sampled_from(TYPES), min_size=2, max_size=3))
    return " && ".join(f"action.type == '{t}'" for t in parts)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    rules = []
    for i in range(draw(st.integers(1, 5))):
        action = draw(st.sampled_from(ACTIONS))
        rule: dict[str, Any] = {
            "name": f"r{i}",
            "condition": draw(conditions()),
            "action": action,
            "priority": draw(st.integers(0, 2)),
        }
        if action == "require_approval":
            rule["approvers"] = ["x"]
        rules.append(rule)
    return {
        "apiVersion": "governance.toolkit/v1",
        "name": "generated",
        "default_action": draw(st.sampled_from(["allow", "deny"])),
        "conflict_strategy": draw(st.sampled_from(STRATEGIES)),
        "rules": rules,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy=policies())
def test_never_and_unreachable_hold_on_every_request(policy: dict[str, Any], tmp_path_factory: Any) -> None:
    import yaml

    from agent_os import compile_policies

    folder = tmp_path_factory.mktemp("gen")
    path = folder / "p.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    report = lint_policies([str(path)])
    never = {f.message.split("`")[1] for f in report.findings if f.rule_id == "AGT-L003"}
    unreachable = {f.message.split("`")[1] for f in report.findings if f.rule_id == "AGT-L004"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy_set = compile_policies(str(path))
    for action in [*TYPES, "other"]:
        request = {
            "action": {"type": action, "tool": action},
            "args": {},
            "agent": {"id": "x"},
            "context": {},
        }
        decision = policy_set.evaluate({**request, "stage": "pre_tool"})
        matched = {m.rule for m in decision.matched}
        assert not (never & matched), (policy, action, decision)
        assert decision.rule not in unreachable, (policy, action, decision)
