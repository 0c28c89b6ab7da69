"""The shared data models: policy documents, requests, decisions, audit records."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from pydantic import ValidationError
from seed_policy import SEED_POLICY

from agt_core import (
    API_VERSION,
    CONFLICT_STRATEGIES,
    GENESIS_HASH,
    PERMISSIVE_EFFECTS,
    STAGES,
    ApprovalRecord,
    AuditRecord,
    ConflictStrategy,
    Decision,
    Effect,
    EvaluationRequest,
    MatchedRule,
    PolicyDocument,
    Rule,
    RuleAction,
    RuleError,
    Stage,
    canonical_json,
    parse_limit,
)


def _policy(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "name": "p", **fields}


def _rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "condition": "true", "action": "allow", **fields}


def _error_types(exc: ValidationError) -> set[str]:
    return {e["type"] for e in exc.errors()}


# -- PolicyDocument -----------------------------------------------------------------------------


def test_seed_policy_loads() -> None:
    doc = PolicyDocument.model_validate(SEED_POLICY)
    assert doc.api_version == API_VERSION == "governance.toolkit/v1"
    assert doc.default_action == "allow"
    assert [r.name for r in doc.rules] == ["block-destructive", "require-approval-for-send"]
    block, send = doc.rules
    assert (block.action, block.approvers, block.stage, block.enabled, block.priority) == (
        "deny",
        (),
        "pre_tool",
        True,
        0,
    )
    assert (send.action, send.approvers) == ("require_approval", ("security-team",))


def test_defaults_fail_closed() -> None:
    doc = PolicyDocument.model_validate(_policy())
    assert doc.default_action == "deny"  # no default_action means deny
    assert doc.conflict_strategy == "deny_overrides"
    assert (doc.rules, doc.extends, doc.agents, doc.request_schema, doc.description) == (
        (),
        (),
        None,
        None,
        "",
    )


@pytest.mark.parametrize("missing", ["apiVersion", "name"])
def test_required_fields(missing: str) -> None:
    data = _policy()
    del data[missing]
    with pytest.raises(ValidationError) as info:
        PolicyDocument.model_validate(data)
    assert _error_types(info.value) == {"missing"}


@pytest.mark.parametrize("version", ["governance.toolkit/v2", "v1", "", 1])
def test_unknown_api_version_is_refused(version: Any) -> None:
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate(_policy(apiVersion=version))


@pytest.mark.parametrize("default_action", ["require_approval", "warn", "log", "Allow", None])
def test_default_action_is_allow_or_deny(default_action: Any) -> None:
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate(_policy(default_action=default_action))


@pytest.mark.parametrize(
    "extra",
    [
        {"defaultAction": "allow"},  # a misspelt field must not be silently ignored
        {"version": 2},
        {"rules": [_rule(when="x")]},
        {"rules": [_rule(approver=["a"])]},
    ],
)
def test_unknown_fields_are_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        PolicyDocument.model_validate(_policy(**extra))
    assert _error_types(info.value) == {"extra_forbidden"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "5"),
        ("priority", 5.0),
        ("priority", True),
        ("enabled", "yes"),
        ("enabled", 1),
        ("approvers", "security-team"),
        ("condition", 1),
        ("message", None),
        ("name", 7),
    ],
)
def test_rules_are_strict_about_types(field: str, value: Any) -> None:
    # YAML turns `priority: "5"` and `enabled: yes` into other types than the author may think;
    # strict models refuse them instead of guessing.
    fields = _rule(action="require_approval") if field == "approvers" else _rule()
    fields[field] = value
    with pytest.raises(ValidationError):
        Rule.model_validate(fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", 7), ("description", None), ("agents", "agent-1"), ("rules", {}), ("request_schema", [])],
)
def test_policy_is_strict_about_types(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate(_policy(**{field: value}))


@pytest.mark.parametrize("name", ["a", "A1", "block-destructive", "ns:rule.v2_x", "9lives", "x" * 128])
def test_valid_names(name: str) -> None:
    assert Rule.model_validate(_rule(name=name)).name == name
    assert PolicyDocument.model_validate(_policy(name=name)).name == name


@pytest.mark.parametrize(
    "name", ["", "-lead", "_lead", ".lead", "has space", "tab\t", "new\nline", "name\n", "é", "x" * 129]
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(_rule(name=name))
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate(_policy(name=name))


def test_condition_must_not_be_empty() -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(_rule(condition=""))


@pytest.mark.parametrize("action", get_args(RuleAction))
def test_every_rule_action(action: str) -> None:
    assert Rule.model_validate(_rule(action=action)).action == action


@pytest.mark.parametrize("action", ["block", "Deny", "approve", "", None])
def test_unknown_rule_action(action: Any) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(_rule(action=action))


@pytest.mark.parametrize("action", ["allow", "deny", "warn", "log"])
def test_approvers_only_on_require_approval(action: str) -> None:
    with pytest.raises(ValidationError, match="`approvers` only applies"):
        Rule.model_validate(_rule(action=action, approvers=["security-team"]))
    # An empty list is the default and says nothing, so it is fine on any rule.
    assert Rule.model_validate(_rule(action=action, approvers=[])).approvers == ()


def test_approvers_on_require_approval() -> None:
    rule = Rule.model_validate(_rule(action="require_approval", approvers=["a", "b"]))
    assert rule.approvers == ("a", "b")
    assert Rule.model_validate(_rule(action="require_approval")).approvers == ()


def test_limit_on_deny_is_refused() -> None:
    with pytest.raises(ValidationError, match="`limit` has no effect on a deny rule"):
        Rule.model_validate(_rule(action="deny", limit="10/minute"))


@pytest.mark.parametrize("action", ["allow", "require_approval", "warn", "log"])
def test_limit_on_other_actions(action: str) -> None:
    assert Rule.model_validate(_rule(action=action, limit="10/minute")).limit == "10/minute"


@pytest.mark.parametrize(
    "limit", ["0/minute", "10/week", "10 per minute", "ten/second", "1.5/second", "-1/hour", ""]
)
def test_bad_limit_is_refused_with_the_value(limit: str) -> None:
    with pytest.raises(ValidationError) as info:
        Rule.model_validate(_rule(limit=limit))
    assert f"invalid rate limit `{limit}`" in str(info.value)


def test_duplicate_rule_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate rule name `same`"):
        PolicyDocument.model_validate(
            _policy(rules=[_rule(name="same"), _rule(name="other"), _rule(name="same")])
        )


def test_rule_names_are_case_sensitive() -> None:
    doc = PolicyDocument.model_validate(_policy(rules=[_rule(name="a"), _rule(name="A")]))
    assert [r.name for r in doc.rules] == ["a", "A"]


@pytest.mark.parametrize(
    ("extends", "expected"),
    [("base", ("base",)), (["a", "b"], ("a", "b")), ([], ())],
)
def test_extends_accepts_one_name_or_a_list(extends: Any, expected: list[str]) -> None:
    assert PolicyDocument.model_validate(_policy(extends=extends)).extends == expected


@pytest.mark.parametrize("extends", [5, None, [1], {"a": 1}])
def test_extends_of_wrong_type(extends: Any) -> None:
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate(_policy(extends=extends))


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage(stage: str) -> None:
    assert Rule.model_validate(_rule(stage=stage)).stage == stage


def test_stage_constants_match_the_type() -> None:
    assert STAGES == get_args(Stage) == ("pre_input", "pre_tool", "post_tool", "pre_output")
    assert get_args(ConflictStrategy) == CONFLICT_STRATEGIES
    assert Rule.model_validate(_rule()).stage == "pre_tool"


@pytest.mark.parametrize("stage", ["post_output", "pre-tool", "PRE_TOOL", ""])
def test_unknown_stage(stage: str) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(_rule(stage=stage))


@pytest.mark.parametrize("strategy", CONFLICT_STRATEGIES)
def test_every_conflict_strategy(strategy: str) -> None:
    assert PolicyDocument.model_validate(_policy(conflict_strategy=strategy)).conflict_strategy == strategy


@pytest.mark.parametrize("strategy", ["first_match", "deny-overrides", ""])
def test_unknown_conflict_strategy(strategy: str) -> None:
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate(_policy(conflict_strategy=strategy))


def test_request_schema_accepts_nested_field_types() -> None:
    schema = {
        "args": {"amount": "number", "to": "string", "meta": {"tags": "list"}},
        "agent": {"id": "string"},
    }
    assert PolicyDocument.model_validate(_policy(request_schema=schema)).request_schema == schema


@pytest.mark.parametrize(
    ("schema", "where", "shown"),
    [
        ({"args": {"amount": "float"}}, "request_schema.args.amount", "`float`"),
        ({"args": ["x"]}, "request_schema.args", "`['x']`"),
        ({"agent": {"id": 3}}, "request_schema.agent.id", "`3`"),
    ],
)
def test_request_schema_refuses_unknown_types(schema: dict[str, Any], where: str, shown: str) -> None:
    with pytest.raises(ValidationError) as info:
        PolicyDocument.model_validate(_policy(request_schema=schema))
    assert where in str(info.value)
    assert shown in str(info.value)


def test_api_version_is_written_under_its_alias() -> None:
    doc = PolicyDocument.model_validate(SEED_POLICY)
    dumped = doc.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped["apiVersion"] == API_VERSION
    assert PolicyDocument.model_validate(dumped) == doc


def test_policy_and_rule_are_frozen() -> None:
    doc = PolicyDocument.model_validate(SEED_POLICY)
    with pytest.raises(ValidationError):
        doc.name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        doc.rules[0].action = "allow"  # type: ignore[misc]


def test_policy_lists_cannot_be_changed_in_place() -> None:
    doc = PolicyDocument.model_validate(SEED_POLICY)
    with pytest.raises((TypeError, AttributeError, ValidationError)):
        doc.rules.append(Rule.model_validate(_rule(name="sneaky")))


def test_priority_that_cannot_be_hashed_is_refused_at_load() -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(_rule(priority=2**53 + 1))


# -- parse_limit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1/second", (1, 1.0)),
        ("10/minute", (10, 60.0)),
        ("100/hour", (100, 3600.0)),
        ("5/day", (5, 86400.0)),
        ("999999999/day", (999_999_999, 86400.0)),
    ],
)
def test_parse_limit(text: str, expected: tuple[int, float]) -> None:
    assert parse_limit(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0/second",
        "010/minute",
        "1000000000/day",
        "10/Minute",
        "10/minutes",
        "10/sec",
        "10",
        "/minute",
        "10/",
        "1e3/hour",
        " 7 / minute ",
        "7/ minute",
    ],
)
def test_parse_limit_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=f"^invalid rate limit `{text}`: expected N/second") as info:
        parse_limit(text)
    assert "\n" not in str(info.value)


# -- Decision, MatchedRule, RuleError -----------------------------------------------------------


def test_decision_defaults() -> None:
    d = Decision(effect="allow", allowed=True)
    assert (d.rule, d.policy, d.policy_hash, d.policy_set_hash, d.conflict_strategy) == (None,) * 5
    assert (d.message, d.stage, d.matched, d.errors, d.approvers, d.rate_limited) == (
        "",
        "pre_tool",
        (),
        (),
        (),
        False,
    )


def test_decision_with_everything() -> None:
    d = Decision.model_validate(
        {
            "effect": "require_approval",
            "allowed": False,
            "rule": "require-approval-for-send",
            "policy": "production-policy",
            "message": "needs a human",
            "matched": [
                {
                    "policy": "production-policy",
                    "rule": "require-approval-for-send",
                    "action": "require_approval",
                },
                {
                    "policy": "production-policy",
                    "rule": "block-destructive",
                    "action": "deny",
                    "errored": True,
                },
            ],
            "errors": [
                {"policy": "production-policy", "rule": "block-destructive", "message": "no such key"}
            ],
            "approvers": ["security-team"],
            "conflict_strategy": "deny_overrides",
        }
    )
    assert isinstance(d.matched, tuple)
    assert d.matched[0] == MatchedRule(
        policy="production-policy", rule="require-approval-for-send", action="require_approval"
    )
    assert d.matched[1].errored
    assert d.errors == (
        RuleError(policy="production-policy", rule="block-destructive", message="no such key"),
    )
    assert d.approvers == ("security-team",)


@pytest.mark.parametrize("model", [Decision, MatchedRule, RuleError])
def test_decision_models_refuse_unknown_fields(model: Any) -> None:
    bases: dict[Any, dict[str, Any]] = {
        Decision: {"effect": "deny", "allowed": False},
        MatchedRule: {"policy": "p", "rule": "r", "action": "deny"},
        RuleError: {"policy": None, "rule": None, "message": "m"},
    }
    base = bases[model]
    model.model_validate(base)
    with pytest.raises(ValidationError):
        model.model_validate({**base, "extra": 1})


def test_decision_refuses_unknown_effect() -> None:
    with pytest.raises(ValidationError):
        Decision(effect="block", allowed=False)


def test_decision_is_frozen() -> None:
    d = Decision(
        effect="deny", allowed=False, rule="r", matched=(MatchedRule(policy="p", rule="r", action="deny"),)
    )
    with pytest.raises(ValidationError):
        d.effect = "allow"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        d.matched[0].action = "allow"  # type: ignore[misc]
    assert isinstance(d.matched, tuple)  # and the collection itself cannot change in place
    with pytest.raises(ValidationError):
        RuleError(policy=None, rule=None, message="m").message = "other"  # type: ignore[misc]


def test_effects() -> None:
    assert get_args(Effect) == get_args(RuleAction)
    assert frozenset({"allow", "warn", "log"}) == PERMISSIVE_EFFECTS
    assert set(get_args(RuleAction)) - PERMISSIVE_EFFECTS == {"deny", "require_approval"}


def test_decision_canonical_json() -> None:
    d = Decision(
        effect="deny",
        allowed=False,
        rule="r",
        message="é",
        matched=(MatchedRule(policy="p", rule="r", action="deny"),),
    )
    text = d.canonical_json()
    assert text == canonical_json(d.model_dump(mode="json"))
    assert d.canonical_json() is text  # computed once
    assert json.loads(text)["matched"] == [
        {"action": "deny", "errored": False, "policy": "p", "priority": 0, "rule": "r"}
    ]
    assert Decision.model_validate_json(text) == d
    assert Decision.model_validate_json(text).canonical_json() == text


def test_decision_allowed_must_agree_with_effect() -> None:
    with pytest.raises(ValidationError):
        Decision(effect="deny", allowed=True)


def test_decision_allowed_is_a_real_bool() -> None:
    with pytest.raises(ValidationError):
        Decision(effect="allow", allowed="yes")


def test_decision_copy_does_not_reuse_stale_canonical_json() -> None:
    d = Decision(effect="deny", allowed=False, rule="r")
    d.canonical_json()
    copy = d.model_copy(update={"rule": "other"})
    assert copy.canonical_json() == canonical_json(copy.model_dump(mode="json"))


# -- EvaluationRequest --------------------------------------------------------------------------


def test_request_to_data_minimal() -> None:
    req = EvaluationRequest.model_validate({"action": {"type": "read"}, "agent": {"id": "agent-1"}})
    assert req.to_data() == {
        "action": {"type": "read", "tool": None},
        "args": {},
        "agent": {"id": "agent-1"},
        "context": {},
        "stage": "pre_tool",
    }


def test_request_keeps_extra_action_and_agent_fields() -> None:
    req = EvaluationRequest.model_validate(
        {
            "action": {"type": "drop", "tool": "db.exec", "target": "users"},
            "agent": {"id": "did:key:z6Mk", "roles": ["ops"]},
            "args": {"table": "users", "rows": (1, 2)},
            "context": {"ticket": "T-1"},
        }
    )
    data = req.to_data()
    assert data["action"] == {"type": "drop", "tool": "db.exec", "target": "users"}
    assert data["agent"] == {"id": "did:key:z6Mk", "roles": ["ops"]}
    assert data["args"] == {"table": "users", "rows": [1, 2]}  # plain JSON data: tuples become lists
    assert canonical_json(data)  # and it has a canonical form


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "post_tool"])
def test_result_is_only_visible_after_the_tool(stage: str) -> None:
    base = {"action": {"type": "read"}, "agent": {"id": "a"}, "result": {"rows": 3}}
    assert "result" not in EvaluationRequest.model_validate({**base, "stage": stage}).to_data()
    data = EvaluationRequest.model_validate({**base, "stage": "post_tool"}).to_data()
    assert data["result"] == {"rows": 3}
    assert data["stage"] == "post_tool"


def test_to_data_is_a_fresh_copy() -> None:
    req = EvaluationRequest.model_validate(
        {"action": {"type": "read"}, "agent": {"id": "a"}, "args": {"x": [1]}}
    )
    req.to_data()["args"]["x"].append(2)
    assert req.to_data()["args"] == {"x": [1]}


@pytest.mark.parametrize(
    "data",
    [
        {"action": {"type": "read"}, "agent": {"id": "a"}, "user": "x"},  # unknown top-level field
        {"action": {"type": 5}, "agent": {"id": "a"}},
        {"action": {"type": "read"}, "agent": {"id": 7}},
        {"action": {"type": "read"}, "agent": {"id": "a"}, "stage": "post_output"},
        {"action": {"type": "read"}, "agent": {"id": "a"}, "args": [1]},
        {"action": {"tool": "t"}, "agent": {"id": "a"}},
        {"action": {"type": "read"}},
    ],
)
def test_request_validation(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EvaluationRequest.model_validate(data)


# -- AuditRecord, ApprovalRecord ----------------------------------------------------------------


def _approval(**fields: Any) -> ApprovalRecord:
    base: dict[str, Any] = {
        "approved": True,
        "approver": "security-team",
        "decided_at": "2026-01-01T00:00:00.000000Z",
        "request_hash": "sha256:" + "a" * 64,
        "handler": "console",
    }
    return ApprovalRecord.model_validate({**base, **fields})


def test_genesis_hash() -> None:
    assert GENESIS_HASH == "0" * 64


def test_audit_record_round_trips_through_json() -> None:
    record = AuditRecord(
        seq=0,
        timestamp="2026-01-01T00:00:00.000001Z",
        request={"action": {"type": "send_email"}, "agent": {"id": "a"}},
        decision=Decision(effect="require_approval", allowed=False, rule="r", approvers=("security-team",)),
        approval=_approval(),
        prev_hash=GENESIS_HASH,
        hash="b" * 64,
    )
    assert AuditRecord.model_validate_json(record.model_dump_json()) == record
    assert AuditRecord.model_validate(json.loads(canonical_json(record.model_dump(mode="json")))) == record
    assert record.approval is not None
    assert record.approval.reason == ""


def test_approval_without_approver() -> None:
    assert _approval(approved=False, approver=None, reason="timed out").approver is None
    with pytest.raises(ValidationError):
        ApprovalRecord.model_validate(
            {"approved": False, "decided_at": "t", "request_hash": "h", "handler": "x"}
        )


def test_audit_record_is_frozen_and_closed() -> None:
    record = AuditRecord(
        seq=1,
        timestamp="t",
        request={},
        decision=Decision(effect="allow", allowed=True),
        prev_hash=GENESIS_HASH,
        hash="c" * 64,
    )
    assert record.approval is None
    with pytest.raises(ValidationError):
        record.decision = Decision(effect="deny", allowed=False)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        AuditRecord.model_validate({**record.model_dump(), "signature": "x"})
    with pytest.raises(ValidationError):
        _approval(extra=1)
