"""Typos in request fields, policies that allow everything, strict mode, and every error at once."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from agent_os import compile_policies
from agent_os._loading import STRICT_ENV, PolicyProblems, load_policies
from agent_os._loading._fields import KNOWN_FIELDS, TOOLKIT_FIELDS
from agt_core import PolicyError, PolicyWarning

from .conftest import SEED_POLICY, policy, position_of, rule, rules, write


def recorded(source: object, **kwargs: object) -> list[str]:
    """Load and return the warnings, checking they were both emitted and recorded on the policies.

    The missing-field lint is off here (these rules read fields unguarded; test_missing_field_lint
    covers that warning).
    """
    kwargs.setdefault("lint", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_policies(source, **kwargs)  # type: ignore[arg-type]
    emitted = [str(w.message) for w in caught if issubclass(w.category, PolicyWarning)]
    assert emitted == [m for p in loaded for m in p.warnings]
    return emitted


# -- field typos, without request_schema ----------------------------------------------------------


def test_the_seed_typo_warns_with_position_and_suggestion(tmp_path: Path) -> None:
    text = policy(body=rules(rule("block", "\"action.typ == 'drop'\"")))
    path = write(tmp_path, "p.yaml", text)
    line, column = position_of(text, "action.typ")
    [message] = recorded(path)
    assert message == (
        "rule `block` reads `action.typ`, which requests never hold (declare it in request_schema if an "
        f"enricher of yours adds it) (at {path}:{line}:{column}); did you mean `action.type`?"
    )


@pytest.mark.parametrize(
    ("condition", "suggestion"),
    [
        ("agent.idd == 'a'", "agent.id"),
        ("action.tol == 'sql'", "action.tool"),
        ("agent.trsut > 0.5", "agent.trust"),
        ("action.type.x == 1", None),  # type is a string: nothing below it
        ("stage.name == 'x'", "agent.name"),  # stage is a string; the nearest known field
    ],
)
def test_fields_the_toolkit_fixes_are_checked(condition: str, suggestion: str | None) -> None:
    [message] = recorded(policy(body=rules(rule("r", f'"{condition}"'))))
    assert "which requests never hold" in message
    if suggestion:
        assert message.endswith(f"did you mean `{suggestion}`?")
    else:
        assert "did you mean" not in message


@pytest.mark.parametrize(
    "condition",
    [
        "action.type == 'x' && action.tool == 't' && agent.id == 'a' && stage == 'pre_tool'",
        # keys the toolkit's enrichers add (agent-mesh, agent-runtime, agent-hypervisor)
        "agent.did == 'd' && agent.trust > 0.5 && agent.ring == 1 && 'admin' in agent.roles",
        "has(agent.capabilities) && context.session.id == 's'",
        # the caller's own data is not checked without a request_schema
        "args.anything.deep == 1 && context.user == 'u' && result.rows > 0",
        "has(args.x)",
    ],
)
def test_known_and_open_fields_do_not_warn(condition: str) -> None:
    assert recorded(policy(body=rules(rule("r", f'"{condition}"')))) == []


def test_request_schema_declares_more_fields() -> None:
    body = "request_schema:\n  agent:\n    team: string\n" + rules(rule("r", "\"agent.team == 'x'\""))
    assert recorded(policy(body=body)) == []


def test_the_documented_field_lists() -> None:
    assert set(KNOWN_FIELDS) == {"action", "agent", "stage", "args", "context", "result", "sql", "k8s"}
    assert set(TOOLKIT_FIELDS["agent"]) == {
        "id", "did", "trust", "ring", "roles", "capabilities",  # agent-mesh and agent-runtime enrichers
        "name", "trust_tier", "capability_granted", "delegation", "signature",
    }  # fmt: skip
    assert TOOLKIT_FIELDS["context"] == {"session": "any", "required_capability": "string"}


def test_a_typo_is_reported_once_per_rule_and_path() -> None:
    text = policy(body=rules(rule("r", "\"action.typ == 'a' || action.typ == 'b'\"")))
    assert len(recorded(text)) == 1


# -- default allow without a restrictive rule ---------------------------------------------------------


def test_allow_by_default_without_a_restrictive_rule_warns(tmp_path: Path) -> None:
    text = policy(body=rules(rule("read", "\"action.type == 'read'\"", "allow")), default_action="allow")
    path = write(tmp_path, "p.yaml", text)
    line, column = position_of(text, "default_action")
    [message] = recorded(path)
    assert message == (
        "policy `p` allows every call: default_action is allow and no enabled rule denies or requires "
        f"approval (at {path}:{line}:{column})"
    )


@pytest.mark.parametrize("extra", ["", "  enabled: false\n"])
def test_a_disabled_deny_rule_does_not_count(extra: str) -> None:
    text = policy(body=rules(rule("d", "'true'", "deny", extra=extra)), default_action="allow")
    assert len(recorded(text)) == (1 if extra else 0)


@pytest.mark.parametrize("action", ["deny", "require_approval"])
def test_one_restrictive_rule_is_enough(action: str) -> None:
    extra = "  approvers: [x]\n" if action == "require_approval" else ""
    assert (
        recorded(policy(body=rules(rule("r", "'true'", action, extra=extra)), default_action="allow")) == []
    )


def test_deny_by_default_and_the_seed_do_not_warn() -> None:
    assert recorded(policy(body=rules(rule("r", "'true'", "allow")))) == []
    assert recorded(SEED_POLICY) == []


def test_an_inherited_deny_rule_counts(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("no-drop")), default_action="allow"))
    child = policy("app", "extends: base.yaml\n", default_action="allow")
    assert recorded(write(tmp_path, "app.yaml", child)) == []


# -- strict mode -----------------------------------------------------------------------------------


def test_strict_turns_warnings_into_errors_with_positions(tmp_path: Path) -> None:
    text = policy(body=rules(rule("r", "\"action.typ == 'x'\"", "allow")), default_action="allow")
    path = write(tmp_path, "p.yaml", text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # strict raises instead of warning
        with pytest.raises(PolicyProblems) as info:
            compile_policies(path, strict=True)
    problems = info.value.problems
    assert [(p.path, p.line, p.column) for p in problems] == [
        ("rules[0].condition", *position_of(text, "action.typ")),
        ("default_action", *position_of(text, "default_action")),
    ]
    assert problems[0].help == "did you mean `action.type`?"
    assert "allows every call" in str(info.value)


def test_strict_loads_a_clean_policy() -> None:
    assert compile_policies(SEED_POLICY, strict=True).policy_names == ("production-policy",)


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_environment_variable_turns_strict_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(STRICT_ENV, value)
    with pytest.raises(PolicyError, match="which requests never hold"):
        compile_policies(policy(body=rules(rule("r", "\"action.typ == 'x'\""))))


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_the_environment_variable_can_say_no(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(STRICT_ENV, value)
    with pytest.warns(PolicyWarning):
        compile_policies(policy(body=rules(rule("r", "\"action.typ == 'x'\""))))


def test_a_garbled_environment_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "strict")
    with pytest.raises(PolicyError, match=f"environment variable {STRICT_ENV} is `strict`"):
        compile_policies(SEED_POLICY)


# -- every problem at once ----------------------------------------------------------------------------


def test_every_document_of_a_file_reports_its_problems(tmp_path: Path) -> None:
    text = policy("a", "default_action: alow\n") + "---\n" + policy("b", rules(rule("r", "'nosuch.x'")))
    path = write(tmp_path, "p.yaml", text)
    with pytest.raises(PolicyProblems) as info:
        load_policies(path)
    assert [(p.file, p.path, p.line, p.column) for p in info.value.problems] == [
        (str(path), "default_action", *position_of(text, "alow")),
        (str(path), "rules[0].condition", *position_of(text, "nosuch")),
    ]
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{path}:{position_of(text, 'alow')[0]}:")
    assert any(line.startswith(f"{path}:{position_of(text, 'nosuch')[0]}:") for line in lines[1:])


def test_every_file_of_a_folder_and_every_source_reports(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy("a", "default_action: maybe\n"))
    write(tmp_path, "b.yaml", policy("b", "conflict_strategy: first\n"))
    with pytest.raises(PolicyProblems) as info:
        load_policies([str(tmp_path), {"apiVersion": "governance.toolkit/v1", "name": "c", "x": 1}])
    assert [(Path(p.file).name if p.file else None, p.path) for p in info.value.problems] == [
        ("a.yaml", "default_action"),
        ("b.yaml", "conflict_strategy"),
        (None, "x"),
    ]


def test_one_problem_is_a_plain_policy_error() -> None:
    with pytest.raises(PolicyError) as info:
        load_policies(policy(body="default_action: alow\n"))
    assert not isinstance(info.value, PolicyProblems)


# -- extends with a NUL byte -----------------------------------------------------------------------


def test_extends_with_a_nul_byte_is_a_policy_error(tmp_path: Path) -> None:
    text = policy("app", 'extends: "base\\0.yaml"\n')
    with pytest.raises(PolicyError, match="NUL character") as info:
        load_policies(write(tmp_path, "app.yaml", text))
    assert info.value.path == "extends"


def test_a_path_with_a_nul_byte_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="NUL character"):
        load_policies("policy\0.yaml")


def test_warnings_point_at_the_callers_line_through_compile_policies() -> None:
    with pytest.warns(PolicyWarning) as record:
        compile_policies(policy(body=rules(rule("r", "\"action.typ == 'x'\""))))
    assert record[0].filename == __file__
