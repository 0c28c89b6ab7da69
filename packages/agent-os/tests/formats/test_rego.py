"""Rego policies: the seed policy, the boolean pair, every failure path (deny), load errors."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

import agent_os
from agent_os import compile_policies
from agt_core import GovernanceDenied, PolicyError

from .conftest import request

SEED = """package production_policy
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "block-destructive", "reason": "destructive"} if {
  input.action.type in ["drop", "delete", "truncate"]
}

decision := {"effect": "require_approval", "rule": "require-approval-for-send", "approvers": ["security-team"]} if {
  input.action.type == "send_email"
}
"""

Write = Callable[[str, str], str]


def _engines() -> list[str]:
    """Every Rego engine installed here: each test runs on each (regorus comes with agt-evaluator)."""
    import importlib.util

    found = []
    try:
        from agt_evaluator import _native

        if hasattr(_native, "RegoEngine"):
            found.append("regorus")
    except ImportError:
        pass
    if importlib.util.find_spec("regopy") is not None:
        found.append("regopy")
    return found


@pytest.fixture(autouse=True, params=_engines())
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AGT_REGO_ENGINE", request.param)
    return str(request.param)


def test_seed_policy_decides_like_the_yaml_seed(write: Write) -> None:
    policy = compile_policies(write("seed.rego", SEED))
    dropped = policy.evaluate(request("drop"))
    assert (dropped.effect, dropped.rule, dropped.policy, dropped.message) == (
        "deny",
        "block-destructive",
        "production_policy",
        "destructive",
    )
    assert dropped.policy_set_hash == policy.hash
    assert dropped.policy_hash == policy.policy_hashes["production_policy"]
    sent = policy.evaluate(request("send_email"))
    assert (sent.effect, sent.approvers) == ("require_approval", ("security-team",))
    read = policy.evaluate(request("read"))
    assert (read.effect, read.allowed, read.rule) == ("allow", True, "decision")
    assert policy.policy_names == ("production_policy",)
    assert policy.stages == frozenset({"pre_tool"})


def test_govern_accepts_a_rego_file(write: Write) -> None:
    def sql(action: str, table: str) -> str:
        return f"{action} {table}"

    safe = agent_os.govern(sql, policy=write("seed.rego", SEED))
    assert safe(action="select", table="users") == "select users"
    with pytest.raises(GovernanceDenied):
        safe(action="drop", table="users")


def test_boolean_pair(write: Write) -> None:
    policy = compile_policies(
        write(
            "pair.rego",
            "package pair\nimport rego.v1\n\nallow if input.action.type == 'read'\n"
            'deny if input.args.table == "secrets"\n'.replace("'", '"'),
        )
    )
    assert policy.evaluate(request("read", table="users")).effect == "allow"
    denied = policy.evaluate(request("read", table="secrets"))
    assert (denied.effect, denied.rule) == ("deny", "deny")
    unmatched = policy.evaluate(request("write"))
    assert (unmatched.effect, unmatched.rule, unmatched.message) == (
        "deny",
        None,
        "no rego `allow` rule held",
    )


def test_only_allow_rule_denies_when_allow_is_undefined(write: Write) -> None:
    policy = compile_policies(
        write("a.rego", 'package a\nimport rego.v1\nallow if input.action.type == "read"\n')
    )
    assert policy.evaluate(request("write")).effect == "deny"


# Fail closed: each of these is a deny with the reason recorded.


def test_undefined_decision_denies(write: Write) -> None:
    policy = compile_policies(
        write(
            "u.rego",
            'package u\nimport rego.v1\ndecision := {"effect": "allow"} if input.action.type == "read"\n',
        )
    )
    decision = policy.evaluate(request("write"))
    assert decision.effect == "deny"
    assert "undefined" in decision.errors[0].message


def test_non_object_decision_at_run_time_denies(write: Write) -> None:
    policy = compile_policies(
        write(
            "n.rego",
            'package n\nimport rego.v1\ndefault decision := {"effect": "allow"}\n'
            'decision := "deny" if input.action.type == "drop"\n',
        )
    )
    decision = policy.evaluate(request("drop"))
    assert decision.effect == "deny"
    assert "must be an object" in decision.errors[0].message


@pytest.mark.parametrize("effect", ['"permit"', '"ALLOW"', "true"])
def test_unknown_effect_denies(write: Write, effect: str) -> None:
    policy = compile_policies(
        write(
            "e.rego",
            f'package e\nimport rego.v1\ndefault decision := {{"effect": "allow"}}\n'
            f'decision := {{"effect": {effect}}} if input.action.type == "x"\n',
        )
    )
    decision = policy.evaluate(request("x"))
    assert (decision.effect, decision.allowed) == ("deny", False)
    assert decision.errors


def test_conflicting_rule_values_deny(write: Write) -> None:
    policy = compile_policies(
        write(
            "c.rego",
            'package c\nimport rego.v1\ndefault decision := {"effect": "allow"}\n'
            'decision := {"effect": "allow", "rule": "one"} if input.args.a\n'
            'decision := {"effect": "warn", "rule": "two"} if input.args.b\n',
        )
    )
    decision = policy.evaluate(request("x", a=True, b=True))
    assert decision.effect == "deny"
    assert decision.errors


def test_builtin_error_in_a_deny_rule_denies(write: Write) -> None:
    # Without strict built-in errors, to_number("abc") is undefined: `deny` would not hold and
    # `allow` would let the call through. Here the error denies.
    policy = compile_policies(
        write(
            "b.rego",
            "package b\nimport rego.v1\nallow := true\ndeny if to_number(input.args.amount) > 100\n",
        )
    )
    assert policy.evaluate(request("pay", amount="50")).effect == "allow"
    assert policy.evaluate(request("pay", amount="500")).effect == "deny"
    errored = policy.evaluate(request("pay", amount="abc"))
    assert errored.effect == "deny"
    assert errored.errors


def test_request_that_is_not_json_denies(write: Write) -> None:
    policy = compile_policies(write("seed.rego", SEED))
    decision = policy.evaluate(request("read", amount=object()))
    assert decision.effect == "deny"
    assert decision.errors


# Load errors: file and line, and what to write instead.


def test_syntax_error_has_line_and_column(write: Write, engine: str) -> None:
    path = write("bad.rego", "package bad\n\ndecision := {\n")
    with pytest.raises(PolicyError) as caught:
        compile_policies(path)
    # Each engine points where it noticed: rego-cpp at the open brace, regorus at the end of input.
    where = (3, 13) if engine == "regopy" else (4, 1)
    assert (caught.value.file, caught.value.line, caught.value.column) == (path, *where)
    assert caught.value.help


def test_data_documents_beside_the_module(write: Write) -> None:
    path = write(
        "tools.rego",
        'package tools\nimport rego.v1\n\ndefault decision := {"effect": "deny"}\n\n'
        'decision := {"effect": "allow", "rule": "listed"} if input.action.type in data.allowed\n',
    )
    write("tools.data.json", '{"allowed": ["read"]}')
    policy = compile_policies(path)
    assert (policy.evaluate(request("read")).effect, policy.evaluate(request("drop")).effect) == (
        "allow",
        "deny",
    )


def test_a_data_document_that_is_not_an_object_is_a_load_error(write: Write) -> None:
    path = write("tools.rego", "package tools\nimport rego.v1\n\ndefault allow := false\n")
    data = write("tools.data.yaml", "- read\n- write\n")
    with pytest.raises(PolicyError, match="must be an object") as caught:
        compile_policies(path)
    assert caught.value.file == data


def test_module_without_decision_rule(write: Write) -> None:
    path = write("none.rego", "package none\nimport rego.v1\nfoo := 1\n")
    with pytest.raises(PolicyError, match="defines no `decision` rule") as caught:
        compile_policies(path)
    assert caught.value.line == 1
    assert "default decision :=" in (caught.value.help or "")


def test_decision_that_is_not_an_object_is_refused_at_load(write: Write) -> None:
    path = write("num.rego", "package num\nimport rego.v1\n\ndecision := 3\n")
    with pytest.raises(PolicyError, match="must be an object") as caught:
        compile_policies(path)
    assert caught.value.line == 4


def test_module_without_package(write: Write) -> None:
    with pytest.raises(PolicyError, match="no `package`"):
        compile_policies(write("np.rego", "decision := 1\n"))


def test_missing_engine_names_the_extra(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGT_REGO_ENGINE", "regopy")
    monkeypatch.setitem(sys.modules, "regopy", None)
    with pytest.raises(PolicyError) as caught:
        compile_policies(write("seed.rego", SEED))
    assert "pip install 'agent-os[rego]'" in (caught.value.help or "")


def test_hash_covers_the_source(write: Write, tmp_path: object) -> None:
    first = compile_policies(write("seed.rego", SEED))
    second = compile_policies(write("seed.rego", SEED.replace("truncate", "truncat")))
    assert first.hash != second.hash
    assert first.policy_hashes["production_policy"].startswith("sha256:")


def test_concurrent_calls_each_get_their_own_decision(write: Write) -> None:
    # One interpreter per policy, used under a lock: input set by one thread is never read by another.
    from concurrent.futures import ThreadPoolExecutor

    policy = compile_policies(write("seed.rego", SEED))
    actions = ["drop", "read", "send_email", "write"] * 50
    expected = {"drop": "deny", "read": "allow", "send_email": "require_approval", "write": "allow"}
    with ThreadPoolExecutor(max_workers=8) as pool:
        effects = list(pool.map(lambda action: policy.evaluate(request(action)).effect, actions))
    assert effects == [expected[action] for action in actions]
