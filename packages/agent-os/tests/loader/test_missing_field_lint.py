"""The missing-field lint (issue 21): on every load, a restrictive rule that reads a field not every
request has is named with the guard to add; strict makes it an error, ``lint=False`` turns it off,
and a refusal caused by a missing field says how to guard it."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from agent_os import (
    AuditLog,
    GovernanceDenied,
    PolicyError,
    PolicyWarning,
    compile_policies,
    govern,
    load_policies,
)
from agent_os._loading import STRICT_ENV
from agent_os._loading._missing import unguarded_reads

_GUARD = re.compile(r"guard it: `(.+?) && \(\.\.\.\)`")
_REFUSE = re.compile(r"say so: `(.+?) \|\| \(\.\.\.\)`")


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


def _document(*rules: tuple[str, str], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "governance.toolkit/v1",
        "name": "p",
        "default_action": "allow",
        "rules": [{"name": name, "condition": condition, "action": "deny"} for name, condition in rules],
    }
    if schema is not None:
        doc["request_schema"] = schema
    return doc


def _caught(source: Any, **kwargs: Any) -> list[str]:
    """Every missing-field warning one load raises, by default with the loader's defaults."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_policies(source, **kwargs)
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, PolicyWarning) and "every request without" in str(w.message)
    ]


def _lint(condition: str, action: str = "deny", **rule: Any) -> list[str]:
    return _caught(_policy(condition, action, **rule))


# -- on by default: the issue's examples --------------------------------------------------------


def test_the_issues_unscoped_amount_is_named_on_a_plain_load() -> None:
    with pytest.warns(PolicyWarning) as record:
        [loaded] = load_policies(_policy("args.amount > 10000"))
    [message] = [str(w.message) for w in record]
    assert message.startswith(
        "rule `r` denies every request without `args.amount`: it reads that field unguarded, "
        "and a missing field fails closed (at <policy>:6:17); "
    )
    assert "guard it: `has(args.amount) && (...)`" in message
    assert "say so: `!has(args.amount) || (...)`" in message
    assert "scope it to the tools that have it: `action.tool == '<tool>' && (...)`" in message
    assert loaded.warnings == (message,)
    assert record[0].filename == __file__  # points at the caller, not into the loader


def test_a_k8s_rule_in_a_policy_that_also_governs_sql_tools_is_named() -> None:
    policy = _document(
        ("no-drop", "action.tool == 'db' && sql.verb == 'DROP'"),  # scoped: fine
        ("hands-off-production", "k8s.namespace == 'production'"),
    )
    [message] = _caught(policy)
    assert message.startswith("rule `hands-off-production` denies every request without `k8s.namespace`")
    assert "`k8s` exists only for tools governed with `facets=`" in message
    assert "`action.tool == '<tool>' && (...)`" in message
    assert "has(" not in message  # has() cannot test a variable that is not set


def test_compile_policies_and_govern_warn_too() -> None:
    def pay(to: str, amount: int = 0) -> str:
        return to

    with pytest.warns(PolicyWarning, match="denies every request without `args.amount`"):
        compile_policies(_policy("args.amount > 10000"))
    with pytest.warns(PolicyWarning, match="denies every request without `args.amount`"):
        govern(pay, policy=_policy("args.amount > 10000"), audit=AuditLog())


def test_one_warning_per_rule_naming_every_field() -> None:
    policy = _document(
        ("a", "context.env != 'prod' && agent.trust < 3"),
        ("b", "args.to.endsWith('@external.com')"),
        ("c", "action.type == 'drop'"),
    )
    first, second = _caught(policy)
    assert first.startswith("rule `a` denies every request without `context.env` or `agent.trust`: it reads")
    assert "those fields unguarded" in first
    assert "guard it: `has(context.env) && has(agent.trust) && (...)`" in first
    assert "say so: `!has(context.env) || !has(agent.trust) || (...)`" in first
    assert second.startswith("rule `b` denies every request without `args.to`")


def test_require_approval_is_named_with_its_own_words() -> None:
    (text,) = _lint("args.amount > 10000", "require_approval", approvers="[finance]")
    assert "requires approval for every request without `args.amount`" in text


# -- what silences it ----------------------------------------------------------------------------


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
        # the explicit refusal: a request without the field is refused on purpose, and says so
        "!has(context.env) || context.env != 'prod'",
        "!has(args.a) || !has(args.a.b) || args.a.b == 1",
        "has(context.env) ? context.env != 'prod' : true",
        # `'key' in map` is has() for keys that are not identifiers
        "'$opaque' in args && args['$opaque'] == 'deque'",
        "!('x-y' in args) || args['x-y'] == 1",
        "'x-y' not in args || args['x-y'] == 1",
    ],
)
def test_guarded_scoped_and_explicit_forms_are_not_named(condition: str) -> None:
    assert _lint(condition) == []


def test_lint_false_silences_it_facets_included() -> None:
    for condition in (
        "args.amount > 10000",
        "context.env != 'prod'",
        "sql.verb == 'DROP'",
        "k8s.verb == 'delete'",
    ):
        assert _caught(_policy(condition), lint=False) == []
        assert len(_caught(_policy(condition))) == 1


def test_permissive_and_disabled_rules_are_not_named() -> None:
    assert _lint("args.amount > 10000", "allow") == []
    assert _lint("args.amount > 10000", "log") == []
    assert _lint("args.amount > 10000", enabled="false") == []


def test_request_schema_does_not_silence_it() -> None:
    # request_schema declares a field's type, not that every request has it (it has no
    # "required"), so a declared field read unguarded is still named...
    declared = _document(("big", "args.amount > 10000"), schema={"args": {"amount": "number"}})
    [message] = _caught(declared)
    assert "denies every request without `args.amount`" in message
    # ...and an undeclared one draws the unknown-field warning instead, not both.
    typo = _document(("big", "args.ammount > 10000"), schema={"args": {"amount": "number"}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_policies(typo)
    assert [str(w.message).split(" (")[0] for w in caught] == [
        "rule `big` reads `args.ammount`, which request_schema does not declare"
    ]


# -- strict ---------------------------------------------------------------------------------------


def test_strict_mode_makes_it_an_error_with_the_guard_as_help() -> None:
    with pytest.raises(PolicyError) as info:
        load_policies(_policy("args.amount > 10000"), strict=True)
    assert "denies every request without `args.amount`" in info.value.reason
    assert info.value.help is not None and "has(args.amount)" in info.value.help
    assert (info.value.line, info.value.column) == (6, 17)
    with pytest.raises(PolicyError, match=re.escape("every request without `args.amount`")):
        compile_policies(_policy("args.amount > 10000"), strict=True)


def test_the_strict_environment_variable_makes_it_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(PolicyError, match=re.escape("every request without `context.env`")):
        load_policies(_policy("context.env != 'prod'"))
    load_policies(_policy("!has(context.env) || context.env != 'prod'"))  # the explicit form loads


def test_strict_with_lint_false_loads() -> None:
    [loaded] = load_policies(_policy("args.amount > 10000"), strict=True, lint=False)
    assert loaded.warnings == ()


# -- the advice is right: applying it silences the warning, and the refusal form decides alike -----

_CONDITIONS = [
    "args.amount > 10000",
    "context.env != 'prod'",
    "args.target.host == 'prod' || agent.trust < 3",
    "args['x-y'].z == 1",
    "args.items.exists(i, i.price > 5)",
]

_REQUESTS: list[dict[str, Any]] = [
    {},
    {"args": {"amount": 20000}},
    {"args": {"amount": 5}},
    {"context": {"env": "prod"}},
    {"context": {"env": "dev"}},
    {"args": {"target": {}}, "agent": {"id": "a", "trust": 5}},
    {"args": {"target": {"host": "prod"}}, "agent": {"id": "a", "trust": 5}},
    {"args": {"target": {"host": "dev"}}, "agent": {"id": "a", "trust": 1}},
    {"args": {"x-y": {"z": 1}}},
    {"args": {"x-y": {}}},
    {"args": {"items": [{"price": 9}]}},
    {"args": {"items": [{"price": 1}]}},
]


def _request(extra: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "action": {"type": "op", "tool": "t"},
        "args": {},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }
    request.update(extra)
    return request


@pytest.mark.parametrize("condition", _CONDITIONS)
def test_the_suggested_guards_silence_the_warning(condition: str) -> None:
    [message] = _lint(condition)
    guard = _GUARD.search(message)
    refuse = _REFUSE.search(message)
    assert guard is not None and refuse is not None, message
    assert _lint(f"{guard.group(1)} && ({condition})") == []
    assert _lint(f"{refuse.group(1)} || ({condition})") == []
    assert _lint(f"action.tool == 't' && ({condition})") == []


@pytest.mark.parametrize("condition", _CONDITIONS)
def test_the_explicit_refusal_decides_as_the_unguarded_rule(condition: str) -> None:
    [message] = _lint(condition)
    refuse = _REFUSE.search(message)
    assert refuse is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyWarning)
        unguarded = compile_policies(_document(("r", condition)))
    explicit = compile_policies(_document(("r", f"{refuse.group(1)} || ({condition})")))
    for extra in _REQUESTS:
        request = _request(extra)
        before, after = unguarded.evaluate(request), explicit.evaluate(request)
        assert (before.effect, before.rule) == (after.effect, after.rule), extra
        assert not [error for error in after.errors if "no such key" in error.message], extra


# -- the analysis ---------------------------------------------------------------------------------


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
        # `!has(P)` guards only inside its own `||` chain, and only P
        ("(!has(args.a) || args.a > 1) && args.a < 9", ["args.a"]),
        ("!has(args.a) || args.b > 1", ["args.b"]),
        ("!has(args.a) && args.a > 1", ["args.a"]),
        ("args['$opaque'] == 'x'", ["args['$opaque']"]),
    ],
)
def test_unguarded_reads(condition: str, paths: list[str]) -> None:
    assert [read.dotted for read in unguarded_reads(condition)] == paths


# -- at run time ------------------------------------------------------------------------------------


def test_a_refusal_for_a_missing_field_says_which_and_how_to_guard_it() -> None:
    def transfer(to: str) -> str:
        return to

    with pytest.warns(PolicyWarning, match="every request without `args.amount`"):
        tool = govern(transfer, policy=_policy("args.amount > 10000"), audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("bob")
    assert "no such key `amount` in `args`" in str(info.value)
    assert info.value.help is not None
    assert "guard it: `has(args.amount) && (...)`" in info.value.help
    assert "say so: `!has(args.amount) || (...)`" in info.value.help


def test_a_refusal_for_a_key_that_is_no_identifier_suggests_in() -> None:
    def call(**kwargs: Any) -> str:
        return "ran"

    policy = _policy("args['x-y'] == 1")
    with pytest.warns(PolicyWarning, match=re.escape("guard it: `'x-y' in args && (...)`")):
        tool = govern(call, policy=policy, audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool()
    assert info.value.help is not None
    assert "guard it: `'x-y' in args && (...)`" in info.value.help
    assert "say so: `!('x-y' in args) || (...)`" in info.value.help


def test_a_refusal_for_a_facet_root_the_tool_lacks_names_facets() -> None:
    def search(query: str) -> str:
        return query

    with pytest.warns(PolicyWarning, match="unguarded"):
        tool = govern(search, policy=_policy("sql.verb == 'DROP'"), audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("cats")
    assert "variable `sql` is not set" in str(info.value)
    assert info.value.help is not None and "facets={'sql': ...}" in info.value.help


def test_the_explicit_refusal_still_refuses_at_run_time_without_an_error() -> None:
    def transfer(to: str) -> str:
        return to

    tool = govern(transfer, policy=_policy("!has(args.amount) || args.amount > 10000"), audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("bob")
    assert "no such key" not in str(info.value)
    assert info.value.help is None


def test_other_refusals_get_no_missing_field_help() -> None:
    def drop(table: str) -> str:
        return table

    tool = govern(drop, policy=_policy("action.type == 'drop'"), audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("users")
    assert info.value.help is None


def test_compile_policies_and_govern_take_lint_false(tmp_path: Path) -> None:
    # The opt-out reaches the loader from every entry point, not only from load_policies.
    import agent_os

    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: governance.toolkit/v1\nname: p\ndefault_action: allow\nrules:\n"
        '- name: big\n  condition: "args.amount > 10000"\n  action: deny\n'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agent_os.compile_policies(str(path), lint=False)

        def pay(amount: int) -> int:
            return amount

        assert agent_os.govern(pay, policy=str(path), lint=False)(amount=5) == 5
    with pytest.warns(agent_os.PolicyWarning, match="args.amount"):
        agent_os.compile_policies(str(path))
