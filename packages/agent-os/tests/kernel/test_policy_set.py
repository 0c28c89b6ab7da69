"""The compiled policy set: strategies, fail-closed errors, agents, stages, and an exact index."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os import Kernel, compile_policies
from agent_os._python_evaluator import _StageIndex

# These tests are about decisions; permissive test policies draw a load warning, tested in loader/.
# Their rules read fields unguarded on purpose (what a missing field decides, and that the index
# never changes it), which the missing-field lint names at load; it is tested in loader/ too.
pytestmark = [
    pytest.mark.filterwarnings("ignore:policy .* allows every call:agt_core.PolicyWarning"),
    pytest.mark.filterwarnings("ignore:rule .* every request without:agt_core.PolicyWarning"),
]


def policy(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "governance.toolkit/v1",
        "name": fields.pop("name", "p"),
        "rules": list(rules),
        **fields,
    }


def rule(name: str, condition: str, action: str = "deny", **fields: Any) -> dict[str, Any]:
    return {"name": name, "condition": condition, "action": action, **fields}


def req(
    action: str | None = "read", agent: str = "a", stage: str = "pre_tool", **args: Any
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "action": {"tool": "t"},
        "args": args,
        "agent": {"id": agent},
        "context": {},
        "stage": stage,
    }
    if action is not None:
        request["action"]["type"] = action
    return request


def test_default_action_absent_means_deny() -> None:
    ps = compile_policies(policy(rule("r", "action.type == 'x'", "allow")))
    d = ps.evaluate(req("read"))
    assert (d.effect, d.allowed, d.rule, d.policy) == ("deny", False, None, "p")
    assert d.policy_hash and d.policy_hash.startswith("sha256:")
    assert d.policy_set_hash == ps.hash


def test_decision_lists_every_matched_rule_in_document_order() -> None:
    ps = compile_policies(
        policy(
            rule("w", "action.type == 'x'", "warn"),
            rule("a", "true", "allow"),
            rule("d", "args.n > 3", "deny", message="too many"),
            default_action="allow",
        )
    )
    d = ps.evaluate(req("x", n=5))
    assert [m.rule for m in d.matched] == ["w", "a", "d"]
    assert (d.effect, d.rule, d.message, d.conflict_strategy) == ("deny", "d", "too many", "deny_overrides")


@pytest.mark.parametrize(
    ("strategy", "winner"),
    [
        ("deny_overrides", "deny-low"),
        ("allow_overrides", "allow-high"),
        ("priority_first_match", "allow-high"),
        ("most_specific_wins", "specific-allow"),
    ],
)
def test_conflict_strategies(strategy: str, winner: str) -> None:
    ps = compile_policies(
        policy(
            rule("deny-low", "true", "deny", priority=1),
            rule("allow-high", "true", "allow", priority=10),
            rule("specific-allow", "action.type == 'x' && args.n == 1", "allow", priority=0),
            conflict_strategy=strategy,
        )
    )
    d = ps.evaluate(req("x", n=1))
    assert d.rule == winner
    assert d.conflict_strategy == strategy


def test_ties_break_by_priority_then_document_order() -> None:
    ps = compile_policies(
        policy(
            rule("first", "true", "deny"),
            rule("second", "true", "deny"),
            rule("third", "true", "deny", priority=2),
        )
    )
    assert ps.evaluate(req()).rule == "third"
    ps = compile_policies(policy(rule("first", "true", "deny"), rule("second", "true", "deny")))
    assert ps.evaluate(req()).rule == "first"


def test_restrictive_error_matches_permissive_error_does_not() -> None:
    ps = compile_policies(
        policy(
            rule("allow-small", "args.amount < 100", "allow"),
            rule("deny-big", "args.amount >= 100", "deny"),
            default_action="allow",
        )
    )
    d = ps.evaluate(req("pay"))  # no amount at all
    assert d.effect == "deny"
    assert [(m.rule, m.errored) for m in d.matched] == [("deny-big", True)]
    assert {e.rule for e in d.errors} == {"allow-small", "deny-big"}
    assert "fails closed" in d.message


def test_several_policies_most_restrictive_wins() -> None:
    ps = compile_policies(
        [
            policy(rule("ok", "true", "allow"), name="permissive", default_action="allow"),
            policy(
                rule("needs-ok", "action.type == 'pay'", "require_approval", approvers=["cfo"]),
                name="finance",
                default_action="allow",
            ),
        ]
    )
    d = ps.evaluate(req("pay"))
    assert (d.effect, d.policy, d.approvers) == ("require_approval", "finance", ("cfo",))
    assert ps.evaluate(req("read")).effect == "allow"
    ps = compile_policies([policy(name="a", default_action="allow"), policy(name="b")])
    assert ps.evaluate(req()).policy == "b"


def test_agent_targeting() -> None:
    ps = compile_policies(
        [
            policy(name="billing", agents=["billing-*"], default_action="allow"),
            policy(
                rule("no-pay", "action.type == 'pay'"),
                name="support",
                agents=["support-bot"],
                default_action="allow",
            ),
        ]
    )
    assert ps.evaluate(req("pay", agent="billing-eu")).effect == "allow"
    assert ps.evaluate(req("pay", agent="support-bot")).effect == "deny"
    d = ps.evaluate(req("pay", agent="stranger"))
    assert (d.effect, d.rule) == ("deny", None)
    assert "no policy applies" in d.message


@pytest.mark.parametrize(
    "bad",
    [
        {"action": {"type": "x"}, "args": {}, "context": {}},
        {"action": {"type": "x"}, "agent": {"id": 7}},
        {"action": {"type": "x"}, "agent": {"id": "a"}, "stage": "launch"},
    ],
)
def test_malformed_requests_are_denied(bad: dict[str, Any]) -> None:
    ps = compile_policies(policy(default_action="allow"))
    d = ps.evaluate(bad)
    assert (d.effect, d.allowed) == ("deny", False)
    assert d.errors


def test_stages_are_separate() -> None:
    ps = compile_policies(
        policy(rule("no-leaks", "result.contains('secret')", stage="post_tool"), default_action="allow")
    )
    assert ps.stages == frozenset({"post_tool"})
    assert ps.evaluate(req("read")).effect == "allow"  # never evaluated before the tool runs
    post = {**req("read", stage="post_tool"), "result": "a secret"}
    assert ps.evaluate(post).rule == "no-leaks"


def test_disabled_rules_never_match() -> None:
    ps = compile_policies(policy(rule("off", "true", enabled=False), default_action="allow"))
    assert ps.evaluate(req()).effect == "allow"


def test_kernel_rate_limits_a_matched_rule() -> None:
    now = [0.0]
    from agent_os import RateLimiter

    ps = compile_policies(policy(rule("quota", "action.type == 'q'", "allow", limit="2/minute")))
    kernel = Kernel(ps, audit=None, rate_limiter=RateLimiter(clock=lambda: now[0]))
    assert [kernel.decide(req("q")).effect for _ in range(3)] == ["allow", "allow", "deny"]
    d = kernel.decide(req("q"))
    assert d.rate_limited and d.rule == "quota" and "2/minute" in d.message
    assert kernel.decide(req("q", agent="b")).effect == "allow"
    now[0] = 60.0
    assert kernel.decide(req("q")).effect == "allow"


# -- the index ------------------------------------------------------------------------------


def test_index_is_used_for_pinned_rules() -> None:
    rules = [rule(f"r{i}", f"action.type == 'op{i}'") for i in range(100)]
    rules.append(rule("big", "args.amount > 10"))
    ps = compile_policies(policy(*rules, default_action="allow"), evaluator="python")
    index = ps._policies[0].stages["pre_tool"]
    assert index.path == ("action", "type")
    assert [r.name for r in index.candidates(req("op7"))] == ["r7", "big"]
    assert [r.name for r in index.candidates(req("nothing"))] == ["big"]
    assert len(index.candidates(req(None))) == 101  # no action.type: every rule, so errors fail closed


def test_a_value_of_another_kind_than_the_literals_runs_the_pinned_rules() -> None:
    # `7 == 'drop'` is an error, not false: the deny rule must run and fail closed.
    ps = compile_policies(
        policy(
            rule("no-drop", "action.type == 'drop'"),
            rule("no-delete", "action.type in ['delete', 'truncate']"),
            rule("null-pinned", "action.type == null", "allow"),
            rule("ok", "true", "allow"),
        ),
        evaluator="python",
    )
    index = ps._policies[0].stages["pre_tool"]
    assert index.path == ("action", "type")
    assert [r.name for r in index.candidates(req("read"))] == ["ok"]
    assert [r.name for r in index.candidates(req(None) | {"action": {"type": 7}})] == [
        "no-drop",
        "no-delete",
        "ok",
    ]
    decision = ps.evaluate(req(None) | {"action": {"type": 7, "tool": "t"}})
    assert (decision.effect, decision.rule) == ("deny", "no-drop")
    assert [m.rule for m in decision.matched if m.errored] == ["no-drop", "no-delete"]


TYPES = ["read", "drop", "send", "pay", "op1", "op2"]
literal = st.sampled_from(["'read'", "'drop'", "'send'", "'pay'", "1", "true", "null", "'op1'", "1.0"])
value = st.one_of(
    st.sampled_from(TYPES),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.floats(0, 2),
    st.lists(st.just("read")),
    st.just({"k": "read"}),
    st.just({"$opaque": "deque"}),
)


@st.composite
def conditions(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return f"action.type == {draw(literal)}"
    if kind == 1:
        items = draw(st.lists(literal, min_size=1, max_size=3))
        return f"action.type in [{', '.join(items)}]"
    if kind == 2:
        return f"action.type == {draw(literal)} && args.n > {draw(st.integers(-1, 1))}"
    if kind == 3:
        return f"{draw(literal)} == action.type || args.n == 0"
    return f"args.n != {draw(st.integers(-1, 1))}"


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(
        st.tuples(conditions(), st.sampled_from(["allow", "deny", "warn", "require_approval"])),
        min_size=2,
        max_size=12,
    ),
    strategy=st.sampled_from(
        ["deny_overrides", "allow_overrides", "priority_first_match", "most_specific_wins"]
    ),
    requests=st.lists(
        st.fixed_dictionaries({"type": st.one_of(value, st.just(...)), "n": st.one_of(value, st.just(...))}),
        min_size=1,
        max_size=6,
    ),
)
def test_index_gives_the_same_decision_as_evaluating_every_rule(
    rules: list[tuple[str, str]], strategy: str, requests: list[dict[str, Any]]
) -> None:
    doc = policy(
        *[
            rule(f"r{i}", c, a, **({"approvers": ["x"]} if a == "require_approval" else {}))
            for i, (c, a) in enumerate(rules)
        ],
        conflict_strategy=strategy,
        default_action="allow",
    )
    indexed = compile_policies(doc, evaluator="python")
    full = compile_policies(doc, evaluator="python")
    for index in full._policies[0].stages.values():
        index.path = None  # evaluate every rule
    for r in requests:
        request = req(None)
        if r["type"] is not ...:
            request["action"]["type"] = r["type"]
        if r["n"] is not ...:
            request["args"]["n"] = r["n"]
        a, b = indexed.evaluate(request), full.evaluate(request)
        assert a == b, request


def test_stage_index_skips_indexing_when_it_would_not_help() -> None:
    ps = compile_policies(
        policy(rule("one", "action.type == 'a'"), rule("two", "args.x == 1")), evaluator="python"
    )
    index: _StageIndex = ps._policies[0].stages["pre_tool"]
    assert index.path is None


def test_evaluate_accepts_the_request_model_and_other_mappings() -> None:
    from types import MappingProxyType

    from agt_core import EvaluationRequest

    ps = compile_policies(policy(rule("no-drop", "action.type == 'drop'"), default_action="allow"))
    model = EvaluationRequest.model_validate(
        {"action": {"type": "drop", "tool": "db"}, "agent": {"id": "a"}, "args": {"table": "t"}}
    )
    assert ps.evaluate(model).rule == "no-drop"
    assert ps.evaluate(MappingProxyType(req("drop"))).rule == "no-drop"
    refused = ps.evaluate(["not", "a", "mapping"])
    assert (refused.effect, refused.allowed) == ("deny", False)
    assert "not a mapping" in refused.message


def test_when_the_default_decides_because_permissive_rules_errored_the_message_says_why() -> None:
    ps = compile_policies(
        policy(
            rule("allow-small", "args.amount < 100", "allow"),
            rule("allow-reads", "action.type == 'read'", "allow"),
            rule("never", "action.type == 'never'", "deny"),
        )
    )
    d = ps.evaluate(req("pay"))  # no amount: allow-small errors, so the default (deny) decides
    assert (d.effect, d.rule) == ("deny", None)
    assert d.message.startswith("no rule of policy `p` matched; default_action is deny; ")
    assert "rule `allow-small` could not be evaluated (" in d.message
    assert "amount" in d.message  # the CEL error names the missing field
    assert "allow-reads" not in d.message
    # Without errors the message is the plain default one.
    assert (
        ps.evaluate(req("pay", amount=500)).message == "no rule of policy `p` matched; default_action is deny"
    )


# -- the evaluator boundary: plain resolved data in ---------------------------------------------


def test_the_python_evaluator_compiles_resolved_policies_from_json_data() -> None:
    from agent_os import load_policies
    from agent_os._python_evaluator import PythonEvaluator
    from agt_core import ResolvedPolicy

    doc = policy(rule("no-drop", "action.type == 'drop'"), rule("ok", "true", "allow"), name="p")
    [loaded] = load_policies(doc)
    # What another evaluator receives: JSON data, nothing compiled.
    data = json.loads(json.dumps(loaded.model_dump(mode="json", by_alias=True)))
    rebuilt = ResolvedPolicy.model_validate(data)
    ps = PythonEvaluator().compile([rebuilt])
    assert ps.evaluator == "python"
    assert ps.hash == compile_policies(doc).hash
    assert ps.evaluate(req("drop")).rule == "no-drop"
    assert ps.evaluate(req("read")).rule == "ok"


def test_a_content_hash_that_does_not_name_the_document_is_refused() -> None:
    from agent_os import load_policies
    from agent_os._python_evaluator import PythonPolicySet
    from agt_core import PolicyError, ResolvedPolicy

    [loaded] = load_policies(policy(rule("no-drop", "action.type == 'drop'"), rule("ok", "true", "allow")))
    forged = ResolvedPolicy(document=loaded.document, content_hash="sha256:" + "0" * 64)
    with pytest.raises(PolicyError, match="but its document hashes to"):
        PythonPolicySet([forged])


def test_a_condition_that_skipped_the_loader_is_refused_at_compile() -> None:
    from agent_os._python_evaluator import PythonPolicySet
    from agt_core import PolicyDocument, PolicyError, ResolvedPolicy

    document = PolicyDocument.model_validate(policy(rule("r", "nosuch(1)")))
    with pytest.raises(PolicyError, match="invalid condition in rule `r` of policy `p`"):
        PythonPolicySet([ResolvedPolicy(document=document)])


def test_duplicate_policy_names_are_refused_at_compile() -> None:
    from agent_os import load_policies
    from agent_os._python_evaluator import PythonPolicySet
    from agt_core import PolicyError

    [loaded] = load_policies(policy(rule("d", "true")))
    with pytest.raises(PolicyError, match="two policies are named `p`"):
        PythonPolicySet([loaded, loaded])


def test_severity_comes_from_agt_core() -> None:
    from agent_os import _python_evaluator
    from agt_core import EFFECT_SEVERITY

    assert not hasattr(_python_evaluator, "SEVERITY")
    ordered = sorted(EFFECT_SEVERITY, key=EFFECT_SEVERITY.__getitem__)
    assert ordered == ["allow", "log", "warn", "require_approval", "deny"]


def test_an_index_on_a_dollar_key_never_steps_into_an_opaque_stand_in() -> None:
    doc = policy(
        rule("a", "args['$opaque'] == 'deque'"),
        rule("b", "args['$opaque'] in ['set', 'map']"),
        rule("ok", "true", "allow"),
    )
    indexed = compile_policies(doc, evaluator="python")
    assert indexed._policies[0].stages["pre_tool"].path == ("args", "$opaque")
    full = compile_policies(doc, evaluator="python")
    for index in full._policies[0].stages.values():
        index.path = None
    for args in ({"$opaque": "deque"}, {"$opaque": "other", "x": 1}, {"$bytes": 3}, {}):
        request = req("x") | {"args": args}
        assert indexed.evaluate(request) == full.evaluate(request), args
