"""Cedar policies: the seed policy, the request mapping, every failure path (deny), load errors."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

import agent_os
from agent_os import compile_policies
from agt_core import GovernanceDenied, PolicyError

from .conftest import request

SEED = """// The seed policy in Cedar.
@id("allow-by-default")
permit(principal, action, resource);

@id("block-destructive")
@reason("destructive")
forbid(principal, action in [Action::"drop", Action::"delete", Action::"truncate"], resource);

@id("require-approval-for-send")
@effect("require_approval")
@approvers("security-team")
forbid(principal, action == Action::"send_email", resource);
"""

Write = Callable[[str, str], str]


def test_seed_policy_decides_like_the_yaml_seed(write: Write) -> None:
    policy = compile_policies(write("production.cedar", SEED))
    dropped = policy.evaluate(request("drop"))
    assert (dropped.effect, dropped.rule, dropped.policy, dropped.message) == (
        "deny",
        "block-destructive",
        "production",
        "destructive",
    )
    assert dropped.policy_set_hash == policy.hash
    sent = policy.evaluate(request("send_email"))
    assert (sent.effect, sent.rule, sent.approvers) == (
        "require_approval",
        "require-approval-for-send",
        ("security-team",),
    )
    read = policy.evaluate(request("read"))
    assert (read.effect, read.rule) == ("allow", "allow-by-default")


def test_govern_accepts_a_cedar_file(write: Write) -> None:
    def sql(action: str, table: str) -> str:
        return f"{action} {table}"

    safe = agent_os.govern(sql, policy=write("production.cedar", SEED))
    assert safe(action="select", table="users") == "select users"
    with pytest.raises(GovernanceDenied):
        safe(action="drop", table="users")


def test_no_permit_denies(write: Write) -> None:
    policy = compile_policies(write("p.cedar", 'permit(principal, action == Action::"read", resource);\n'))
    decision = policy.evaluate(request("write"))
    assert (decision.effect, decision.rule, decision.message) == (
        "deny",
        None,
        "no cedar permit policy matched",
    )


def test_forbid_beats_permit_and_severity_orders_forbids(write: Write) -> None:
    policy = compile_policies(
        write(
            "p.cedar",
            "permit(principal, action, resource);\n"
            '@id("ask") @effect("require_approval") forbid(principal, action, resource) when { context.args.amount > 10 };\n'
            '@id("stop") forbid(principal, action, resource) when { context.args.amount > 1000 };\n',
        )
    )
    assert policy.evaluate(request("pay", amount=5)).effect == "allow"
    assert policy.evaluate(request("pay", amount=50)).rule == "ask"
    big = policy.evaluate(request("pay", amount=5000))
    assert (big.effect, big.rule, [m.rule for m in big.matched]) == ("deny", "stop", ["ask", "stop"])


def test_warn_annotation_on_a_permit(write: Write) -> None:
    policy = compile_policies(
        write(
            "w.cedar",
            '@id("noted") @effect("warn") permit(principal, action == Action::"export", resource);\n',
        )
    )
    decision = policy.evaluate(request("export"))
    assert (decision.effect, decision.allowed, decision.rule) == ("warn", True, "noted")


def test_principal_attributes_and_resource(write: Write) -> None:
    policy = compile_policies(
        write(
            "t.cedar",
            'permit(principal, action, resource == Tool::"sql") when {\n'
            '  principal has trust && principal.trust.greaterThanOrEqual(decimal("0.7")) && principal.ring <= 2\n};\n',
        )
    )
    trusted = {"id": "a", "trust": 0.8, "ring": 1, "did": "did:key:z6Mk"}
    assert policy.evaluate(request("q", tool="sql", agent=trusted)).effect == "allow"
    assert policy.evaluate(request("q", tool="mail", agent=trusted)).effect == "deny"
    assert (
        policy.evaluate(request("q", tool="sql", agent={"id": "a", "trust": 0.5, "ring": 1})).effect == "deny"
    )
    # No trust: `has` is false, no error, no permit.
    assert policy.evaluate(request("q", tool="sql", agent={"id": "a", "ring": 1})).effect == "deny"


# Fail closed.


def test_evaluation_error_denies_where_cedar_would_skip_the_forbid(write: Write) -> None:
    policy = compile_policies(
        write(
            "e.cedar",
            "permit(principal, action, resource);\n"
            '@id("cap") forbid(principal, action, resource) when { context.args.amount > 100 };\n',
        )
    )
    # Cedar skips a policy whose evaluation errors: the permit alone would allow this call.
    decision = policy.evaluate(request("pay", amount="a lot"))
    assert (decision.effect, decision.allowed) == ("deny", False)
    assert "type error" in decision.errors[0].message


def test_missing_attribute_denies(write: Write) -> None:
    policy = compile_policies(
        write(
            "m.cedar",
            'permit(principal, action, resource);\nforbid(principal, action, resource) when { context.args.table == "secrets" };\n',
        )
    )
    assert policy.evaluate(request("read")).effect == "deny"


@pytest.mark.parametrize("key", ["__entity", "__extn", "__expr"])
def test_escape_keys_in_arguments_are_refused(write: Write, key: str) -> None:
    policy = compile_policies(write("seed.cedar", SEED))
    decision = policy.evaluate(request("read", target={key: {"type": "Agent", "id": "root"}}))
    assert decision.effect == "deny"
    assert "Cedar escape" in decision.errors[0].message


@pytest.mark.parametrize("value", [0.123456, 2**64, float("inf")])
def test_numbers_cedar_cannot_hold_deny(write: Write, value: float) -> None:
    policy = compile_policies(write("seed.cedar", SEED))
    decision = policy.evaluate(request("read", amount=value))
    assert decision.effect == "deny"
    assert decision.errors


def test_null_leaves_the_attribute_out(write: Write) -> None:
    policy = compile_policies(
        write("n.cedar", "permit(principal, action, resource) when { !(context.args has note) };\n")
    )
    assert policy.evaluate(request("read", note=None)).effect == "allow"


# Load errors.


def test_syntax_error_names_the_statement_line(write: Write) -> None:
    path = write(
        "bad.cedar",
        "permit(principal, action, resource);\n\npermit(principal, action, resource)\nwhen { context.x == };\n",
    )
    with pytest.raises(PolicyError, match="unexpected token") as caught:
        compile_policies(path)
    assert (caught.value.file, caught.value.line) == (path, 3)


def test_bad_effect_annotation(write: Write) -> None:
    path = write(
        "e.cedar",
        'permit(principal, action, resource);\n@effect("allow")\nforbid(principal, action, resource);\n',
    )
    with pytest.raises(PolicyError, match='forbid policy has @effect\\("allow"\\)') as caught:
        compile_policies(path)
    assert caught.value.line == 2


def test_schema_validation_errors_are_load_errors(write: Write) -> None:
    write(
        "s.cedarschema",
        'entity Agent = {"trust"?: decimal}; entity Tool;\n'
        'action "read" appliesTo { principal: [Agent], resource: [Tool], context: {} };\n',
    )
    ok = write("s.cedar", 'permit(principal, action == Action::"read", resource);\n')
    compile_policies(ok)
    bad = write(
        "s.cedar",
        'permit(principal, action == Action::"read", resource);\n\npermit(principal == User::"x", action, resource);\n',
    )
    with pytest.raises(PolicyError, match="unrecognized entity type `User`") as caught:
        compile_policies(bad)
    assert caught.value.line == 3


def test_schema_is_covered_by_the_hash(write: Write) -> None:
    path = write("s.cedar", 'permit(principal, action == Action::"read", resource);\n')
    before = compile_policies(path).hash
    write(
        "s.cedarschema",
        'entity Agent; entity Tool;\naction "read" appliesTo { principal: [Agent], resource: [Tool] };\n',
    )
    assert compile_policies(path).hash != before


def test_missing_engine_names_the_extra(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cedarpy", None)
    with pytest.raises(PolicyError) as caught:
        compile_policies(write("seed.cedar", SEED))
    assert "pip install 'agent-os[cedar]'" in (caught.value.help or "")
