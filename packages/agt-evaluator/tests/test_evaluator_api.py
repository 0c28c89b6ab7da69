"""The package's public surface, its registration, and how compiling and evaluating behave."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest

import agent_os
import agt_evaluator
from agt_core import Decision, EvaluationRequest, Evaluator, PolicyError, PolicySet, ResolvedPolicy
from agt_evaluator import NativeEvaluator, NativePolicySet

# The native evaluator must decide errors as the Python one does, so these policies read fields
# unguarded on purpose; agent-os's missing-field lint names such rules at load (tested there).
pytestmark = pytest.mark.filterwarnings("ignore:rule .* every request without:agt_core.PolicyWarning")

POLICY: dict[str, Any] = {
    "apiVersion": "governance.toolkit/v1",
    "name": "p",
    "default_action": "allow",
    "rules": [
        {"name": "no-drop", "condition": "action.type in ['drop', 'delete']", "action": "deny"},
        {"name": "big", "condition": "args.amount > 100", "action": "require_approval", "approvers": ["ops"]},
        {"name": "limited", "condition": "action.type == 'read'", "action": "allow", "limit": "2/minute"},
    ],
}


def request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "action": {"type": "read", "tool": "sql"},
        "args": {},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }
    base.update(overrides)
    return base


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(agt_evaluator).items()
        if not name.startswith("_") and name != "annotations"
    }
    assert sorted(agt_evaluator.__all__) == agt_evaluator.__all__
    assert set(agt_evaluator.__all__) == public


def test_registered_as_the_native_entry_point() -> None:
    (entry,) = [ep for ep in importlib.metadata.entry_points(group="agt.evaluators") if ep.name == "native"]
    assert entry.load() is NativeEvaluator
    assert "native" in agent_os.evaluator_names()


def test_native_is_the_default_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGT_EVALUATOR", raising=False)
    assert agent_os.compile_policies(POLICY).evaluator == "native"
    monkeypatch.setenv("AGT_EVALUATOR", "python")
    assert agent_os.compile_policies(POLICY).evaluator == "python"


def test_implements_the_protocols() -> None:
    evaluator = NativeEvaluator()
    assert isinstance(evaluator, Evaluator)
    policy_set = agent_os.compile_policies(POLICY, evaluator="native")
    assert isinstance(policy_set, NativePolicySet)
    assert isinstance(policy_set, PolicySet)


def test_set_properties_match_the_python_evaluator() -> None:
    python = agent_os.compile_policies(POLICY, evaluator="python")
    native = agent_os.compile_policies(POLICY, evaluator="native")
    assert native.hash == python.hash
    assert native.policy_names == python.policy_names
    assert dict(native.policy_hashes) == dict(python.policy_hashes)
    assert native.stages == python.stages
    assert dict(native.limits) == dict(python.limits)
    assert native.warnings == python.warnings


@pytest.mark.parametrize(
    "req",
    [
        request(),
        request(action={"type": "drop", "tool": "sql"}),
        request(args={"amount": 500}),
        request(args={"amount": "500"}),
        request(args={"amount": 500.5}),
        request(stage="post_tool", result={"x": 1}),
        {k: v for k, v in request().items() if k != "stage"},
        request(stage="nowhere"),
        request(stage=None),
        request(agent={"name": "no id"}),
        request(action="drop"),
        "not a mapping",
        42,
    ],
)
def test_decisions_equal_the_python_evaluators(req: Any) -> None:
    python = agent_os.compile_policies(POLICY, evaluator="python")
    native = agent_os.compile_policies(POLICY, evaluator="native")
    expected = python.evaluate(req)
    got = native.evaluate(req)
    assert type(got) is Decision
    assert same(got, expected)
    # byte for byte apart from the evaluator's name
    assert got.canonical_json().replace('"native"', '"python"') == expected.canonical_json()


def test_evaluation_request_and_other_mappings_are_accepted() -> None:
    native = agent_os.compile_policies(POLICY, evaluator="native")
    from types import MappingProxyType

    data = request(action={"type": "drop", "tool": "sql"})
    assert native.evaluate(MappingProxyType(data)).rule == "no-drop"
    as_model = EvaluationRequest.model_validate(data)
    assert native.evaluate(as_model) == native.evaluate(data)


def test_the_request_is_not_modified() -> None:
    native = agent_os.compile_policies(POLICY, evaluator="native")
    req = {
        "action": {"type": "read", "tool": "sql"},
        "args": {"amount": 5},
        "agent": {"id": "a"},
        "context": {},
    }
    before = repr(req)
    native.evaluate(req)
    assert repr(req) == before


READS_ARGS = {
    "apiVersion": "governance.toolkit/v1",
    "name": "reads",
    "default_action": "allow",
    "rules": [
        {"name": "big", "condition": "args.v > 5", "action": "deny"},
        {"name": "sized", "condition": "size(args) > 3", "action": "deny"},
        {"name": "ok", "condition": "args.v == 1", "action": "allow"},
    ],
}


def _deep() -> Any:
    deep: Any = "leaf"
    for _ in range(10_000):
        deep = [deep]
    return deep


@pytest.mark.parametrize(
    "args",
    [{"v": 2**70}, {"v": "\ud800"}, {1: "non-string key", "v": 0}, {"v": "deep"}],
    ids=["int-beyond-64-bits", "lone-surrogate", "non-string-key", "nested-too-deeply"],
)
def test_values_the_engine_cannot_hold_fail_closed(args: dict[Any, Any]) -> None:
    native = agent_os.compile_policies(READS_ARGS, evaluator="native")
    if args.get("v") == "deep":
        args = {"v": _deep()}
    decision = native.evaluate(request(args=args))
    # a restrictive rule reading a value the engine cannot hold errors and counts as matched;
    # nothing unreadable ever lets a call through
    assert decision.effect == "deny"
    assert any(m.errored for m in decision.matched)


def same(native: Decision, python: Decision) -> bool:
    """Equal decisions apart from the evaluator each one names (which must be its own)."""
    assert (native.evaluator, python.evaluator) == ("native", "python")
    return native.model_copy(update={"evaluator": None}) == python.model_copy(update={"evaluator": None})


def test_only_what_policies_read_is_converted() -> None:
    unreadable = {"amount": 5, "blob": "\ud800", "huge": 2**100, "deep": _deep()}
    native = agent_os.compile_policies(POLICY, evaluator="native")
    python = agent_os.compile_policies(POLICY, evaluator="python")
    # the policy reads action.type and args.amount only: the rest is never converted
    assert same(native.evaluate(request(args=unreadable)), python.evaluate(request(args=unreadable)))


def test_non_json_values_are_opaque() -> None:
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "o",
        "default_action": "allow",
        "rules": [{"name": "r", "condition": "args.v == 'x'", "action": "deny"}],
    }
    native = agent_os.compile_policies(policy, evaluator="native")
    decision = native.evaluate(request(args={"v": ("x",)}))
    # a tuple is not JSON data: comparing it is an error, so the deny rule fails closed
    assert decision.effect == "deny"
    assert decision.matched[0].errored


def test_equal_decisions_are_shared() -> None:
    native = agent_os.compile_policies(POLICY, evaluator="native")
    quiet = request(args={"amount": 5})
    assert native.evaluate(quiet) is native.evaluate(quiet)


def test_a_content_hash_that_does_not_match_the_document_is_refused() -> None:
    (resolved,) = agent_os.load_policies(POLICY)
    forged = ResolvedPolicy(document=resolved.document, content_hash="sha256:" + "0" * 64)
    with pytest.raises(PolicyError, match="content_hash"):
        NativeEvaluator().compile([forged])


def test_a_condition_the_engine_refuses_is_a_policy_error_with_its_path() -> None:
    (resolved,) = agent_os.load_policies(POLICY)
    rules = list(resolved.document.rules)
    rules[1] = rules[1].model_copy(update={"condition": "args.amount >"})
    document = resolved.document.model_copy(update={"rules": tuple(rules)})
    with pytest.raises(PolicyError) as info:
        NativeEvaluator().compile([ResolvedPolicy(document=document)])
    assert info.value.path == "rules[1].condition"
    assert "line 1, column" in str(info.value)


def test_duplicate_policy_names_are_refused() -> None:
    (resolved,) = agent_os.load_policies(POLICY)
    with pytest.raises(PolicyError, match="two policies"):
        NativeEvaluator().compile([resolved, resolved])


@pytest.mark.parametrize(
    "args",
    [{"$opaque": [[None]]}, {"$opaque": "x.Y"}, {"$bytes": 3}, {"a": {"$opaque": 5}}],
    ids=["opaque-described-by-a-list", "opaque-named", "bytes", "nested-opaque"],
)
def test_errors_through_opaque_values_match_the_python_evaluators(args: dict[str, Any]) -> None:
    # found by the differential test: the description of an opaque value that a path cannot go
    # through must not depend on converting what it holds
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "p",
        "default_action": "allow",
        "rules": [
            {"name": "r1", "condition": "has(args.a)", "action": "deny"},
            {"name": "r2", "condition": "args.a == 'drop'", "action": "deny"},
            {"name": "r3", "condition": "args.a.b == 1", "action": "deny"},
        ],
    }
    python = agent_os.compile_policies(policy, evaluator="python")
    native = agent_os.compile_policies(policy, evaluator="native")
    assert same(native.evaluate(request(args=args)), python.evaluate(request(args=args)))
