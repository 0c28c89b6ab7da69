"""Model validation: pydantic's errors as one PolicyError at the first problem in the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_os._loading import load_policies
from agent_os._loading._validate import MAX_RULES
from agt_core import PolicyError

from .conftest import policy, position_of, rule, rules, write

ACTIONS = "one of `allow`, `deny`, `require_approval`, `warn`, `log`"


def load_error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_policies(text)
    return info.value


def test_unknown_field_points_at_the_key_and_suggests_the_real_one(tmp_path: Path) -> None:
    text = policy(body=rules(rule("r", extra="  descripton: explains\n")))
    path = write(tmp_path, "p.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    err = info.value
    assert err.reason == "unknown field `descripton`"
    assert err.path == "rules[0].descripton"
    assert (err.file, err.line, err.column) == (str(path), *position_of(text, "descripton"))
    assert err.help == "did you mean `description`?"
    assert str(err).startswith(f"{path}:{err.line}:{err.column}: rules[0].descripton: unknown field")


def test_a_misspelt_condition_is_reported_as_the_typo_not_as_the_missing_field() -> None:
    text = policy(body=rules("- name: r\n  condtion: 'true'\n  action: deny\n"))
    err = load_error(text)
    assert err.reason == "unknown field `condtion` (first of 2 errors)"
    assert (err.line, err.column) == position_of(text, "condtion")
    assert err.help == "did you mean `condition`?"


@pytest.mark.parametrize(
    ("body", "field", "suggestion"),
    [
        ("rule:\n- name: r\n", "rule", "rules"),
        ("apiversion: x\n", "apiversion", "apiVersion"),
        ("defaultAction: deny\n", "defaultAction", "default_action"),
        ("conflict: deny_overrides\n", "conflict", None),
    ],
)
def test_unknown_top_level_fields(body: str, field: str, suggestion: str | None) -> None:
    err = load_error(policy(body=body))
    assert err.reason.startswith(f"unknown field `{field}`")
    if suggestion:
        assert err.help == f"did you mean `{suggestion}`?"
    else:
        assert err.help is not None
        assert "`conflict_strategy`" in err.help  # lists the fields instead


def test_a_missing_field_points_at_the_mapping_that_lacks_it() -> None:
    text = policy(body=rules("- name: r\n  action: deny\n"))
    err = load_error(text)
    assert err.reason == "missing required field `condition`"
    assert err.path == "rules[0].condition"
    assert (err.line, err.column) == position_of(text, "name: r")


def test_a_missing_api_version_says_how_a_policy_starts() -> None:
    err = load_error("name: p\nrules: []\n")
    assert err.reason == "missing required field `apiVersion`"
    assert (err.line, err.column) == (1, 1)
    assert err.help is not None
    assert "apiVersion: governance.toolkit/v1" in err.help


def test_wrong_api_version() -> None:
    text = "apiVersion: governance.toolkit/v2\nname: p\n"
    err = load_error(text)
    assert err.reason == "invalid value `governance.toolkit/v2`"
    assert err.expected == "`governance.toolkit/v1`"
    assert (err.line, err.column) == position_of(text, "governance")


def test_an_invalid_action_lists_the_actions_and_suggests_one() -> None:
    text = policy(body=rules(rule("r", action="dney")))
    err = load_error(text)
    assert err.reason == "invalid value `dney`"
    assert err.expected == ACTIONS
    assert err.help == "did you mean `deny`?"
    assert (err.line, err.column) == position_of(text, "dney")
    assert str(err).endswith(f"(expected {ACTIONS})\n  help: did you mean `deny`?")


def test_priority_as_a_string_is_refused_because_documents_are_strict() -> None:
    text = policy(body=rules(rule("r", extra='  priority: "5"\n')))
    err = load_error(text)
    assert err.path == "rules[0].priority"
    assert err.reason == "wrong type: found a string `5`"
    assert err.expected == "an integer"
    assert err.help == "remove the quotes: numbers are written without them"
    assert (err.line, err.column) == position_of(text, '"5"')


@pytest.mark.parametrize(
    ("extra", "path", "expected"),
    [
        ("  priority: 1.5\n", "rules[0].priority", "an integer"),
        ("  priority: 5.0\n", "rules[0].priority", "an integer"),
        ("  priority: true\n", "rules[0].priority", "an integer"),
        ("  enabled: 'true'\n", "rules[0].enabled", "`true` or `false`"),
        ("  enabled: 1\n", "rules[0].enabled", "`true` or `false`"),
        ("  message: 5\n", "rules[0].message", "a string"),
        ("  stage: 3\n", "rules[0].stage", "one of `pre_input`, `pre_tool`, `post_tool`, `pre_output`"),
    ],
)
def test_wrong_types_are_not_coerced(extra: str, path: str, expected: str) -> None:
    err = load_error(policy(body=rules(rule("r", action="allow", extra=extra))))
    assert err.path == path
    assert err.expected == expected


def test_a_single_approver_string_is_refused_with_the_list_spelling() -> None:
    err = load_error(
        policy(body=rules(rule("r", action="require_approval", extra="  approvers: security\n")))
    )
    assert err.path == "rules[0].approvers"
    assert err.expected == "a list of approver names"
    assert err.help == 'write a list: `["security"]`'


@pytest.mark.parametrize("limit", ["5/week", "0/minute", "ten/second", "5 per minute", "-1/day"])
def test_a_bad_limit_string_is_refused_with_the_accepted_forms(limit: str) -> None:
    text = policy(body=rules(rule("r", action="allow", extra=f"  limit: '{limit}'\n")))
    err = load_error(text)
    assert err.path == "rules[0].limit"
    assert err.reason == f"invalid rate limit `{limit}`"
    assert err.expected == "N/second, N/minute, N/hour or N/day with N >= 1"
    assert (err.line, err.column) == position_of(text, f"'{limit}'")


def test_approvers_on_a_deny_rule_points_at_approvers() -> None:
    text = policy(body=rules(rule("r", action="deny", extra="  approvers: [x]\n")))
    err = load_error(text)
    assert err.path == "rules[0].approvers"
    assert "`approvers` only applies to rules whose action is require_approval" in err.reason
    assert (err.line, err.column) == position_of(text, "approvers")


def test_a_limit_on_a_deny_rule_points_at_limit() -> None:
    text = policy(body=rules(rule("r", action="deny", extra="  limit: 5/minute\n")))
    err = load_error(text)
    assert err.path == "rules[0].limit"
    assert (err.line, err.column) == position_of(text, "limit")


def test_duplicate_rule_names_are_reported_at_the_second() -> None:
    text = policy(body=rules(rule("same"), rule("other"), rule("same")))
    err = load_error(text)
    assert err.reason == "duplicate rule name `same`"
    assert err.path == "rules[2].name"
    assert (err.line, err.column) == position_of(text, "same", 2)
    assert err.help is not None
    assert f"at line {position_of(text, 'same')[0]}" in err.help


def test_duplicate_rule_names_are_found_even_with_other_errors() -> None:
    # pydantic only checks names once every field is valid; we check them regardless.
    text = policy(body=rules(rule("same"), rule("same", action="dney")))
    err = load_error(text)
    assert err.reason == "duplicate rule name `same` (first of 2 errors)"


@pytest.mark.parametrize(
    ("name", "expected_fragment"),
    [("'my rule'", "letters, digits"), ("'-lead'", "starting with a letter"), ("''", "letters")],
)
def test_invalid_rule_names(name: str, expected_fragment: str) -> None:
    err = load_error(policy(body=rules(rule(name))))
    assert err.path == "rules[0].name"
    assert err.expected is not None
    assert expected_fragment in err.expected


def test_an_empty_condition_is_refused() -> None:
    err = load_error(policy(body=rules(rule("r", "''"))))
    assert err.path == "rules[0].condition"
    assert err.expected == "a CEL expression"


def test_priority_out_of_range() -> None:
    err = load_error(policy(body=rules(rule("r", extra="  priority: 2000000000\n"))))
    assert err.reason == "`2000000000` is out of range"
    assert err.expected == "at most 1000000000"


def test_a_name_too_long() -> None:
    err = load_error(policy("a" * 129))
    assert err.path == "name"
    assert err.expected == "at most 128 characters"


def test_the_first_error_in_document_order_is_reported_with_the_count() -> None:
    # pydantic lists model fields in declaration order (name before rules, condition before
    # priority); the author wants the first problem in their file.
    text = (
        policy(body="rules:\n- name: r\n  action: dney\n  condition: 'true'\n  bogus: 1\n  priority: x\n")
        + "description: 5\n"
    )
    err = load_error(text)
    assert err.reason == "invalid value `dney` (first of 4 errors)"
    assert (err.line, err.column) == position_of(text, "dney")


def test_non_mapping_rules_and_documents() -> None:
    text = policy(body="rules:\n- just a string\n")
    err = load_error(text)
    assert err.path == "rules[0]"
    assert err.reason == "wrong type: found a string `just a string`"
    assert err.expected == "a mapping"
    for top in ("- a\n- b\n", "just text\n", "42\n"):
        err = load_error(top)
        assert err.reason.startswith("a policy must be a mapping")


def test_request_schema_with_an_unknown_type_points_at_the_field() -> None:
    text = policy(body="request_schema:\n  args:\n    amount: float\n")
    err = load_error(text)
    assert err.path == "request_schema.args.amount"
    assert err.reason == "invalid request_schema type `float`"
    assert (err.line, err.column) == position_of(text, "float")


def test_too_many_rules_is_refused_before_validating_them() -> None:
    many: list[dict[str, Any]] = [
        {"name": f"r{i}", "condition": "true", "action": "deny"} for i in range(MAX_RULES + 1)
    ]
    with pytest.raises(PolicyError, match="more than the limit of 10,000") as info:
        load_policies({"apiVersion": "governance.toolkit/v1", "name": "p", "rules": many})
    assert info.value.path == "rules"


def test_dict_sources_report_the_path_without_a_position() -> None:
    with pytest.raises(PolicyError) as info:
        load_policies(
            {
                "apiVersion": "governance.toolkit/v1",
                "name": "p",
                "rules": [{"name": "r", "condition": "true", "action": "dney"}],
            }
        )
    err = info.value
    assert (err.file, err.line, err.column) == (None, None, None)
    assert err.path == "rules[0].action"
    assert str(err).startswith("<policy>: rules[0].action: invalid value `dney`")


def test_dict_sources_report_the_first_error_in_insertion_order() -> None:
    data = {
        "apiVersion": "governance.toolkit/v1",
        "rules": [{"name": "r", "condition": "true", "action": "dney"}],
        "name": 5,
    }
    with pytest.raises(PolicyError) as info:
        load_policies(data)
    assert info.value.path == "rules[0].action"
    assert "(first of 2 errors)" in info.value.reason
