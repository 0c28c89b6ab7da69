"""The Python evaluator's tie-breaks and errors, and Pipeline.remove, where mutation testing found them untested.

Run against the mutants of ``agent_os._python_evaluator`` and ``_pipeline`` by
``packages/agent-os/mutation/run_mutation.py kernel``.
"""

from __future__ import annotations

from typing import Any

import pytest

import agent_os
from agent_os import PolicyError, compile_policies


def policy(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "governance.toolkit/v1",
        "name": fields.pop("name", "p"),
        "rules": list(rules),
        **fields,
    }


def rule(name: str, condition: str, action: str = "deny", **fields: Any) -> dict[str, Any]:
    return {"name": name, "condition": condition, "action": action, **fields}


def req(action: str) -> dict[str, Any]:
    return {
        "action": {"type": action, "tool": "t"},
        "args": {},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }


@pytest.mark.parametrize(
    "strategy", ["deny_overrides", "allow_overrides", "priority_first_match", "most_specific_wins"]
)
def test_a_full_tie_goes_to_the_first_rule_in_document_order(strategy: str) -> None:
    # Same effect, priority and condition shape: only the order tells them apart, and the rule
    # named in the decision (and its approvers) must be the first one.
    ps = compile_policies(
        policy(
            rule("first", "action.type == 'pay'", "require_approval", approvers=["finance"]),
            rule("second", "action.type == 'pay'", "require_approval", approvers=["cfo"]),
            conflict_strategy=strategy,
        )
    )
    decision = ps.evaluate(req("pay"))
    assert (decision.rule, decision.approvers) == ("first", ("finance",))
    assert [m.rule for m in decision.matched] == ["first", "second"]


def test_the_duplicate_policy_name_is_the_one_named() -> None:
    with pytest.raises(PolicyError, match="two policies are named `b`"):
        compile_policies([policy(name="a"), policy(name="b"), policy(name="b")])


@pytest.mark.parametrize(("request_value", "kind"), [(5, "int"), ("text", "str"), (None, "NoneType")])
def test_a_request_that_is_not_a_mapping_is_denied_naming_its_type(request_value: Any, kind: str) -> None:
    decision = compile_policies(policy(rule("r", "true", "allow"))).evaluate(request_value)
    assert not decision.allowed
    assert f"request is a `{kind}`, not a mapping" in (decision.message or "")


class Named:
    name = "toy"

    def enrich(self, request: Any) -> None:
        return None

    def check(self, request: Any) -> None:
        return None

    def on_decision(self, outcome: Any) -> None:
        return None

    def on_completion(self, outcome: Any, result: Any, error: Any, duration_s: float) -> None:
        return None


def test_remove_unregisters_an_extension_everywhere_and_only_it() -> None:
    pipe = agent_os.Pipeline()
    toy, other = Named(), Named()
    pipe.add_enricher(toy)
    pipe.add_guard(toy)
    pipe.add_observer(toy)
    pipe.add_guard(other)
    pipe.remove(toy)
    assert (pipe.enrichers, pipe.guards, pipe.observers) == ((), (other,), ())
    pipe.remove(toy)  # not registered any more: no error
    assert pipe.guards == (other,)
