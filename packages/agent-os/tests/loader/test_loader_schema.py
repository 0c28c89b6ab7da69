"""request_schema: a condition reading an undeclared field draws a PolicyWarning at load time."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from agent_os._loading import load_policies
from agt_core import PolicyWarning

from .conftest import policy, position_of, rule, rules, write

SCHEMA = "request_schema:\n  args:\n    amount: number\n    meta: map\n    tags: list\n    blob: any\n"


def load_quietly(source: object, **kwargs: object) -> list[str]:
    """Load and return the warning messages, asserting they were both emitted and recorded.

    The missing-field lint is off here (these rules read fields unguarded; test_missing_field_lint
    covers that warning, and how it treats request_schema).
    """
    kwargs.setdefault("lint", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_policies(source, **kwargs)  # type: ignore[arg-type]
    emitted = [str(w.message) for w in caught if issubclass(w.category, PolicyWarning)]
    recorded = [m for p in loaded for m in p.warnings]
    assert emitted == recorded
    return recorded


def test_a_typo_in_a_deny_rule_is_caught_with_location_and_suggestion(tmp_path: Path) -> None:
    text = policy(body=SCHEMA + rules(rule("big-payments", "args.ammount > 10000", "deny")))
    path = write(tmp_path, "p.yaml", text)
    line, column = position_of(text, "args.ammount")
    with pytest.warns(PolicyWarning) as record:
        [loaded] = load_policies(path)
    expected = (
        f"rule `big-payments` reads `args.ammount`, which request_schema does not declare "
        f"(at {path}:{line}:{column}); did you mean `args.amount`?"
    )
    assert [str(w.message) for w in record] == [expected]
    assert loaded.warnings == (expected,)
    # The warning points at the caller of load_policies, not into the loader.
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    "condition",
    [
        "args.amount > 5",
        "has(args.amount)",
        "args['amount'] > 5",
        "args.meta.anything.below == 1",  # map accepts any deeper path
        "args.blob.x.y == 1",  # so does any
        "size(args.tags) > 0 && args.tags[0] == 'x'",
        "action.type == 'pay' && action.tool == 'stripe'",  # always set by the toolkit
        "agent.id == 'a' && stage == 'pre_tool'",
        "args == {}",  # a bare variable reads no field path
    ],
)
def test_declared_and_builtin_fields_do_not_warn(condition: str) -> None:
    assert load_quietly(policy(body=SCHEMA + rules(rule("r", f'"{condition}"')))) == []


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ("args.amount.cents > 5", "args.amount.cents"),  # below a scalar type
        ("args.tags.first == 'x'", "args.tags.first"),
        ("context.user == 'x'", "context.user"),  # a variable the schema does not declare
        ("agent.team == 'x'", "agent.team"),
        ("action.kind == 'x'", "action.kind"),
        ("result.ok", "result.ok"),
    ],
)
def test_undeclared_paths_warn(condition: str, path: str) -> None:
    [message] = load_quietly(policy(body=SCHEMA + rules(rule("r", f'"{condition}"'))))
    assert f"reads `{path}`" in message


def test_declaring_a_builtin_variable_extends_it() -> None:
    schema = "request_schema:\n  agent:\n    team: string\n"
    assert (
        load_quietly(policy(body=schema + rules(rule("r", "\"agent.team == 'x' && agent.id == 'y'\"")))) == []
    )


def test_no_schema_no_warnings() -> None:
    assert load_quietly(policy(body=rules(rule("r", "args.ammount > 5")))) == []


def test_each_rule_and_path_warns_once_in_rule_order() -> None:
    body = SCHEMA + rules(
        rule("first", '"args.zzz == 1 && args.ammount > 1 && args.ammount < 9"'),
        rule("second", "args.amout > 1", extra="  enabled: false\n"),
    )
    messages = load_quietly(policy(body=body))
    assert [m.split(",")[0] for m in messages] == [
        "rule `first` reads `args.ammount`",
        "rule `first` reads `args.zzz`",
        "rule `second` reads `args.amout`",
    ]
    assert "did you mean" not in messages[1]


def test_inherited_rules_are_checked_against_the_merged_schema_at_their_own_file(tmp_path: Path) -> None:
    base_text = policy("base", rules(rule("b", "context.usr == 'x'")))
    write(tmp_path, "base.yaml", base_text)
    text = policy("app", "extends: base.yaml\nrequest_schema:\n  context:\n    user: string\n")
    messages = load_quietly(write(tmp_path, "app.yaml", text))
    line, column = position_of(base_text, "context.usr")
    assert messages == [
        f"rule `b` reads `context.usr`, which request_schema does not declare "
        f"(at {tmp_path / 'base.yaml'}:{line}:{column}); did you mean `context.user`?"
    ]


def test_a_parent_schema_declares_fields_for_the_child(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", "request_schema:\n  args:\n    amount: number\n"))
    text = policy("app", "extends: base.yaml\n" + rules(rule("r", "args.amount > 1")))
    assert load_quietly(write(tmp_path, "app.yaml", text)) == []


def test_dict_sources_name_the_policy_instead_of_a_position() -> None:
    data = {
        "apiVersion": "governance.toolkit/v1",
        "name": "payments",
        "request_schema": {"args": {"amount": "number"}},
        "rules": [{"name": "r", "condition": "args.ammount > 5", "action": "deny"}],
    }
    assert load_quietly(data) == [
        "rule `r` reads `args.ammount`, which request_schema does not declare (in policy `payments`); "
        "did you mean `args.amount`?"
    ]


def test_warnings_are_errors_under_an_error_filter() -> None:
    # How CI can refuse a policy with a typo: run with -W error::agt_core.PolicyWarning.
    text = policy(body=SCHEMA + rules(rule("r", "args.ammount > 5")))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PolicyWarning)
        with pytest.raises(PolicyWarning, match=r"args\.ammount"):
            load_policies(text)
