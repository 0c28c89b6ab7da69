"""The missing-field lint: a restrictive rule that reads a field not every request has is named at
load time with the guard to add, and a refusal caused by a missing field says how to guard it."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from agent_os import AuditLog, GovernanceDenied, PolicyError, PolicyWarning, govern, load_policies
from agent_os._loading._missing import unguarded_reads


def _policy(condition: str, action: str = "deny", **rule: Any) -> str:
    extra = "".join(f"\n    {key}: {value}" for key, value in rule.items())
    return (
        "apiVersion: governance.toolkit/v1\n"
        "name: p\n"
        "default_action: allow\n"
        "rules:\n"
        "  - name: r\n"
        f'    condition: "{condition}"\n'
        f"    action: {action}{extra}\n"
    )


def _lint(condition: str, action: str = "deny", *, lint: bool = True, **rule: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_policies(_policy(condition, action, **rule), lint=lint)
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, PolicyWarning) and "unguarded" in str(w.message)
    ]


def test_a_facet_read_without_a_tool_scope_is_named_with_the_guard() -> None:
    (text,) = _lint("k8s.namespace == 'production'")
    assert text.startswith(
        "rule `r` denies every request without `k8s.namespace`: it reads that field unguarded, "
        "and a missing field fails closed (at <policy>:6:17)"
    )
    assert "`k8s` exist only for tools governed with `facets=`" in text
    assert "`action.tool == '<tool>' && (...)`" in text


def test_without_lint_only_facet_reads_are_named() -> None:
    assert _lint("args.amount > 10000", lint=False) == []
    assert _lint("context.env != 'prod'", lint=False) == []
    (text,) = _lint("sql.verb == 'DROP'", lint=False)
    assert "denies every request without `sql.verb`" in text
    assert _lint("action.tool == 'db' && sql.verb == 'DROP'", lint=False) == []


def test_an_argument_read_without_a_scope_shows_has_and_scope() -> None:
    (text,) = _lint("args.amount > 10000", "require_approval")
    assert "requires approval for every request without `args.amount`" in text
    assert "guard it: `has(args.amount) && (...)`" in text


@pytest.mark.parametrize(
    "condition",
    [
        "action.type == 'transfer' && args.amount > 10000",
        "action.tool in ['kubectl', 'helm'] && k8s.namespace == 'production'",
        "has(args.amount) && args.amount > 10000",
        "has(args.amount) ? args.amount > 10000 : false",
        "!(has(context.env) && context.env == 'prod')",
        "(has(args.a) && args.a > 1) || (action.type == 'x' && args.b == 2)",
        "action.type in ['drop', 'delete']",
        "agent.id == 'x' && stage == 'pre_tool' && size(args) > 3",
        "has(args.target) && has(args.target.host) && args.target.host == 'prod'",
    ],
)
def test_guarded_reads_are_not_named(condition: str) -> None:
    assert _lint(condition) == []


@pytest.mark.parametrize(
    ("condition", "paths"),
    [
        ("action.type == 'x' || args.amount > 5", ["args.amount"]),
        ("(has(args.a) && args.a > 1) || args.b == 2", ["args.b"]),
        ("args.items.exists(i, i.price > 5)", ["args.items"]),
        ("has(sql.verb) && sql.verb == 'DROP'", ["sql", "sql.verb"]),
        ("has(args.target.host) && args.target.host == 'prod'", ["args.target"]),
        ("context.env != 'dev' && agent.trust < 3", ["context.env", "agent.trust"]),
        ("has(args.a) && args.b == 1", ["args.b"]),
    ],
)
def test_unguarded_reads(condition: str, paths: list[str]) -> None:
    assert [read.dotted for read in unguarded_reads(condition)] == paths


def test_permissive_and_disabled_rules_are_not_linted() -> None:
    assert _lint("args.amount > 10000", "allow") == []
    assert _lint("args.amount > 10000", "log") == []
    assert _lint("args.amount > 10000", enabled="false") == []


def test_strict_mode_makes_it_an_error_with_the_guard_as_help() -> None:
    with pytest.raises(PolicyError) as info:
        load_policies(_policy("args.amount > 10000"), strict=True)
    assert "denies every request without `args.amount`" in info.value.reason
    assert info.value.help is not None and "has(args.amount)" in info.value.help
    assert (info.value.line, info.value.column) == (6, 17)


def test_a_refusal_for_a_missing_field_says_which_and_how_to_guard_it() -> None:
    def transfer(to: str) -> str:
        return to

    tool = govern(transfer, policy=_policy("args.amount > 10000"), audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("bob")
    assert "no such key `amount` in `args`" in str(info.value)
    assert info.value.help is not None and "guard it: `has(args.amount) && (...)`" in info.value.help


def test_a_refusal_for_a_facet_root_the_tool_lacks_names_facets() -> None:
    def search(query: str) -> str:
        return query

    with pytest.warns(PolicyWarning, match="unguarded"):
        tool = govern(search, policy=_policy("sql.verb == 'DROP'"), audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("cats")
    assert "variable `sql` is not set" in str(info.value)
    assert info.value.help is not None and "facets={'sql': ...}" in info.value.help


def test_other_refusals_get_no_missing_field_help() -> None:
    def drop(table: str) -> str:
        return table

    tool = govern(drop, policy=_policy("action.type == 'drop'"), audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("users")
    assert info.value.help is None
