"""agent_os.migrate_policy: every change reported, what cannot be translated refused, guards added
only where they keep the peer's decision. The peer corpus is measured in conformance/peer-corpus."""

from __future__ import annotations

from typing import Any

import pytest

from agent_os import MigrationError, PolicyWarning, compile_policies, migrate_policy
from agent_os._migrate import looks_like_peer_policy, rewrite_condition


def _request(tool: str, **context: Any) -> dict[str, Any]:
    return {
        "action": {"type": tool, "tool": tool},
        "args": {},
        "agent": {"id": "a"},
        "context": context,
        "stage": "pre_tool",
    }


LEGACY = {
    "version": "1.0",
    "name": "legacy policy",
    "scope": "global",
    "agent": "billing-*",
    "default_action": "deny",
    "rules": [
        {"name": "_allow search", "condition": "tool_name == 'search'", "ruleAction": "allow"},
        {
            "name": "http",
            "condition": "tool_name == 'http' and region == 'eu'",
            "action": "rate_limit",
            "limit": "2/minute",
        },
        {"name": "no-peer", "condition": "agent_did == 'did:key:bad'", "action": "deny", "reason": "blocked"},
        {"name": "strings-stay", "condition": "tool_name == 'tool_name region'", "action": "deny"},
    ],
}


def test_every_change_is_reported_and_the_result_loads() -> None:
    result = migrate_policy(LEGACY)
    doc = result.document
    assert doc["apiVersion"] == "governance.toolkit/v1"
    assert "version" not in doc and "scope" not in doc and "agent" not in doc
    assert doc["name"] == "legacy-policy"
    assert doc["agents"] == ["billing-*"]
    rules = doc["rules"]
    assert [r["name"] for r in rules] == ["allow-search", "http", "no-peer", "strings-stay"]
    assert rules[0] == {"name": "allow-search", "condition": "action.tool == 'search'", "action": "allow"}
    assert rules[1]["action"] == "allow" and rules[1]["limit"] == "2/minute"
    assert rules[1]["condition"] == "action.tool == 'http' and context.region == 'eu'"
    assert rules[2]["condition"] == "agent.id == 'did:key:bad'" and rules[2]["message"] == "blocked"
    # names inside string literals are data, not variables
    assert rules[3]["condition"] == "action.tool == 'tool_name region'"
    paths = [c.path for c in result.changes]
    for expected in (
        "apiVersion",
        "version",
        "name",
        "scope",
        "agent",
        "rules[0].name",
        "rules[0].ruleAction",
        "rules[1].action",
        "rules[1].condition",
        "rules[2].reason",
    ):
        assert expected in paths, expected
    assert all(c.why for c in result.changes)
    policy = compile_policies([doc])
    agent = {"id": "billing-1"}
    assert policy.evaluate({**_request("search"), "agent": agent}).allowed
    assert not policy.evaluate({**_request("other"), "agent": agent}).allowed


@pytest.mark.parametrize(
    ("document", "phrase"),
    [
        ([], "mapping"),
        ({"apiVersion": "2.0", "name": "p", "rules": []}, "apiVersion"),
        (
            {"name": "p", "scope": "tenant", "conflict_strategy": "most_specific_wins", "rules": []},
            "scope: tenant",
        ),
        ({"name": "p", "scope": "galaxy", "rules": []}, "scope: galaxy"),
        ({"name": "p", "rules": [{"name": "r", "condition": "true", "limit": "1/hour"}]}, "no action"),
        (
            {"name": "p", "rules": [{"name": "r", "condition": "true", "action": "rate_limit"}]},
            "without `limit`",
        ),
        (
            {
                "name": "p",
                "rules": [{"name": "r", "condition": "true", "action": "deny", "ruleAction": "allow"}],
            },
            "disagree",
        ),
        (
            {"name": "p", "rules": [{"name": "r", "condition": "true", "action": "deny | warn | allow"}]},
            "unknown action",
        ),
        (
            {"name": "p", "rules": [{"name": "r", "condition": {"field": "action"}, "action": "deny"}]},
            "condition",
        ),
        (
            {"name": "p", "rules": [{"name": "r", "condition": "x == 'open", "action": "deny"}]},
            "unterminated",
        ),
        ({"name": "p", "capabilities": {"allowed": ["x"]}, "rules": []}, "identity"),
        (
            {
                "name": "p",
                "rules": [
                    {"name": "r", "condition": "true", "action": "require_approval", "timeout_seconds": 5}
                ],
            },
            "timeout",
        ),
        (
            {
                "name": "p",
                "rules": [
                    {"name": "a b", "condition": "true", "action": "deny"},
                    {"name": "a-b", "condition": "true", "action": "deny"},
                ],
            },
            "two rules",
        ),
        ({"rules": []}, "no name"),
        ({"name": "p", "surprise": 1, "rules": []}, "unknown top-level"),
    ],
)
def test_what_cannot_be_translated_faithfully_is_refused(document: Any, phrase: str) -> None:
    with pytest.raises(MigrationError) as info:
        migrate_policy(document)
    assert phrase.lower() in str(info.value).lower()


def test_condition_rewrite_leaves_fields_functions_and_our_variables_alone() -> None:
    text, renamed = rewrite_condition(
        "has(args.x) && size(data.items) > 0 && action.tool.startsWith(\"a\") && sql.verb in ['DROP']"
    )
    assert (
        text
        == "has(args.x) && size(context.data.items) > 0 && action.tool.startsWith(\"a\") && sql.verb in ['DROP']"
    )
    assert renamed == [("data", "context.data")]


def test_sql_target_becomes_membership_in_sql_tables_and_its_negation_is_refused() -> None:
    text, renamed = rewrite_condition("sql.target == 'payroll' and 'sql.target' != x")
    assert text == "'payroll' in sql.tables and 'sql.target' != context.x"
    assert ("sql.target", "sql.tables") in renamed
    with pytest.raises(MigrationError, match=r"sql\.target !="):
        rewrite_condition("sql.target != 'payroll'")


def test_peer_policies_are_recognised() -> None:
    assert looks_like_peer_policy({"version": "1.0", "rules": []})
    assert looks_like_peer_policy(
        {"apiVersion": "governance.toolkit/v1", "rules": [{"condition": "tool_name == 'x'"}]}
    )
    assert looks_like_peer_policy({"apiVersion": "governance.toolkit/v1", "rules": [{"ruleAction": "deny"}]})
    assert (
        looks_like_peer_policy(
            {"apiVersion": "governance.toolkit/v1", "rules": [{"condition": "action.tool_name == 'x'"}]}
        )
        is None
    )
    assert looks_like_peer_policy([]) is None


def test_the_tutorial_log_everything_rule_no_longer_opens_the_policy() -> None:
    peer = {
        "name": "tutorial",
        "default_action": "deny",
        "rules": [
            {"name": "allow-search", "condition": "tool_name == 'search'", "action": "allow"},
            {"name": "audit-everything", "condition": "true", "action": "log"},
        ],
    }
    policy = compile_policies([migrate_policy(peer).document])
    assert policy.evaluate(_request("search")).allowed
    denied = policy.evaluate(_request("delete"))
    assert (denied.effect, [m.rule for m in denied.matched]) == ("deny", ["audit-everything"])


def test_guards_keep_the_peers_missing_as_empty_only_where_it_is_safe() -> None:
    peer = {
        "name": "guards",
        "default_action": "allow",
        "rules": [
            {"name": "eq", "condition": "path == '/etc/passwd'", "action": "deny"},
            {"name": "ne", "condition": "env != 'dev'", "action": "deny"},
            {"name": "allow-eq", "condition": "zone == 'a'", "action": "allow"},
        ],
    }
    result = migrate_policy(peer)
    conditions = [r["condition"] for r in result.document["rules"]]
    assert conditions == [
        "(has(context.path) && context.path == '/etc/passwd')",
        "context.env != 'dev'",  # a guard would let a request without `env` through: fails closed
        "context.zone == 'a'",  # permissive: an error is already "not matched"
    ]
    notes = [str(c) for c in result.changes if c.path == "rules[1].condition"]
    assert any("no `has(context.env)` guard" in n for n in notes)
    with pytest.warns(PolicyWarning, match="rule `ne` denies every request without `context.env`"):
        policy = compile_policies([result.document])  # the loader names it
    # without `path` the peer did not match `eq`; neither do we
    assert policy.evaluate(_request("read", env="dev")).allowed
    assert not policy.evaluate(_request("read", env="dev", path="/etc/passwd")).allowed
    # without `env` the `!=` rule fails closed
    assert not policy.evaluate(_request("read")).allowed


@pytest.mark.parametrize(
    ("condition", "migrated"),
    [
        # one guard per comparison: `or` keeps the peer's reading when only one name is present
        (
            "a == 'x' or b == 'y'",
            "(has(context.a) && context.a == 'x') or (has(context.b) && context.b == 'y')",
        ),
        # nested names: one has() per level
        ("data.pii", "(has(context.data) && has(context.data.pii) && context.data.pii)"),
        # the peer reads a missing number as 0: `> 100` was false without it, `< 10` true
        ("amount > 100", "(has(context.amount) && context.amount > 100)"),
        ("amount < 10", "context.amount < 10"),
        ("action.path in ['/etc/passwd']", "(has(action.path) && action.path in ['/etc/passwd'])"),
        ("tool_name == 'x' and size(args.items) > 2", "action.tool == 'x' and size(args.items) > 2"),
        ("message == 'salt and pepper'", "(has(context.message) && context.message == 'salt and pepper')"),
    ],
)
def test_guards_are_per_comparison(condition: str, migrated: str) -> None:
    peer = {"name": "p", "rules": [{"name": "r", "condition": condition, "action": "deny"}]}
    assert migrate_policy(peer).document["rules"][0]["condition"] == migrated


def test_peer_api_version_and_scope_are_accepted_where_they_change_nothing() -> None:
    peer = {"apiVersion": "1.0", "name": "t", "scope": "tenant", "agent": "*", "rules": []}
    result = migrate_policy(peer)
    assert result.document["apiVersion"] == "governance.toolkit/v1"
    assert "scope" not in result.document
    assert any(c.path == "scope" and "most_specific_wins" in c.why for c in result.changes)
