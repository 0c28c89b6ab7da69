"""Conditions are compiled at load; a bad one is reported at the exact character in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os._cel import compile_condition
from agent_os._loading import PolicyProblems, load_policies
from agent_os._loading._yaml import parse_yaml
from agt_core import PolicyError

from .conftest import policy, position_of, rule, rules, write

UNKNOWN_VARIABLE = "unknown variable `nosuch`"


def condition_error(text: str, tmp_path: Path) -> PolicyError:
    path = write(tmp_path, "p.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    assert info.value.file == str(path)
    assert info.value.path is not None
    assert info.value.path.endswith(".condition")
    return info.value


@pytest.mark.parametrize(
    "condition",
    [
        "action.type == 'a' && nosuch.x",  # plain
        "'action.type == ''a'' && nosuch.x'",  # single-quoted, with an escaped quote before the error
        "\"action.type == 'a' && nosuch.x\"",  # double-quoted
        '"action.type == \\"a\\" && nosuch.x"',  # double-quoted with escapes before the error
        "\"action.type == '\\u00e9' && nosuch.x\"",  # a unicode escape before the error
    ],
)
def test_one_line_conditions_point_at_the_bad_token(condition: str, tmp_path: Path) -> None:
    text = policy(body=rules(rule("r", condition)))
    err = condition_error(text, tmp_path)
    assert (
        err.reason
        == f"invalid condition: {UNKNOWN_VARIABLE}; conditions can use action, args, agent, context, stage, result, sql, k8s"
    )
    assert (err.line, err.column) == position_of(text, "nosuch")
    assert err.path == "rules[0].condition"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("indicator", ["|", "|-", "|+", ">", ">-", "|2"])
def test_block_scalar_conditions_point_at_the_line_inside_the_block(
    indicator: str, newline: str, tmp_path: Path
) -> None:
    body = (
        "rules:\n"
        "- name: r\n"
        "  action: deny\n"
        f"  condition: {indicator}   # the condition\n"
        "    action.type == 'a' &&\n"
        "\n"
        "      args.x == 1 &&\n"
        "    nosuch.x\n"
    )
    text = policy(body=body).replace("\n", newline)
    path = tmp_path / "p.yaml"
    path.write_bytes(text.encode())
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    err = info.value
    assert UNKNOWN_VARIABLE in err.reason
    assert (err.line, err.column) == position_of(text, "nosuch")


def test_multi_line_plain_and_quoted_conditions(tmp_path: Path) -> None:
    for condition in (
        "action.type == 'a' &&\n    args.x == 1 &&\n    nosuch.x",
        "'action.type == ''a'' &&\n\n    nosuch.x'",
        '"action.type == \\"a\\" &&\n    args.x == 1 && \\\n    nosuch.x"',
    ):
        text = policy(body=rules(rule("r", condition)))
        err = condition_error(text, tmp_path)
        assert (err.line, err.column) == position_of(text, "nosuch"), condition


def test_an_error_at_the_end_of_the_condition_points_just_past_it(tmp_path: Path) -> None:
    text = policy(body=rules(rule("r", "action.type ==")))
    err = condition_error(text, tmp_path)
    assert "unexpected end of the condition" in err.reason
    line, column = position_of(text, "action.type ==")
    assert (err.line, err.column) == (line, column + len("action.type =="))


def test_unknown_function(tmp_path: Path) -> None:
    text = policy(body=rules(rule("ok"), rule("r", "\"action.type == 'a' && lower(args.x) == 'b'\"")))
    err = condition_error(text, tmp_path)
    assert err.reason.startswith("invalid condition: unknown function `lower`")
    assert err.path == "rules[1].condition"
    assert (err.line, err.column) == position_of(text, "lower")


def test_several_bad_conditions_are_all_reported_each_at_its_position(tmp_path: Path) -> None:
    text = policy(body=rules(rule("a", "'foo(1)'"), rule("b", "'bar(2)'")))
    err = condition_error(text, tmp_path)
    assert err.reason.startswith("invalid condition: unknown function `foo`")
    assert err.reason.endswith("(first of 2 errors)")
    assert isinstance(err, PolicyProblems)
    assert [(p.path, p.line, p.column) for p in err.problems] == [
        ("rules[0].condition", *position_of(text, "foo")),
        ("rules[1].condition", *position_of(text, "bar")),
    ]
    shown = str(err)
    assert "unknown function `foo`" in shown and "unknown function `bar`" in shown
    assert f"p.yaml:{position_of(text, 'bar')[0]}:{position_of(text, 'bar')[1]}:" in shown


def test_bad_conditions_are_reported_with_the_documents_other_errors(tmp_path: Path) -> None:
    text = policy(body=rules(rule("a", "'foo(1)'", action="dney")))
    err = condition_error(text, tmp_path)
    assert isinstance(err, PolicyProblems)
    assert [p.path for p in err.problems] == ["rules[0].condition", "rules[0].action"]


def test_dict_conditions_give_the_column_in_the_condition() -> None:
    data = {
        "apiVersion": "governance.toolkit/v1",
        "name": "p",
        "rules": [{"name": "r", "condition": "action.type == 'a' && nosuch.x", "action": "deny"}],
    }
    with pytest.raises(PolicyError) as info:
        load_policies(data)
    err = info.value
    assert (err.file, err.line, err.column) == (None, None, None)
    assert err.path == "rules[0].condition"
    assert err.reason.endswith("at column 23 of the condition")


def test_multi_line_dict_conditions_give_line_and_column() -> None:
    data = {
        "apiVersion": "governance.toolkit/v1",
        "name": "p",
        "rules": [{"name": "r", "condition": "action.type == 'a' &&\n  nosuch.x", "action": "deny"}],
    }
    with pytest.raises(PolicyError, match="at line 2, column 3 of the condition"):
        load_policies(data)


def test_yaml_text_conditions_have_positions_too() -> None:
    text = policy(body=rules(rule("r", "nosuch.x")))
    with pytest.raises(PolicyError) as info:
        load_policies(text)
    assert (info.value.file, info.value.line, info.value.column) == (None, *position_of(text, "nosuch"))


def test_peer_spellings_and_or_not_compile() -> None:
    loaded = load_policies(
        policy(body=rules(rule("r", "action.type == 'a' and not (args.x == 1 or args.y == 2)")))
    )
    assert [r.name for r in loaded[0].document.rules] == ["r"]


# -- the offset map, checked character by character --------------------------------------------

_CONDITION_TEXT = st.text(
    alphabet=st.sampled_from(list("abcxyz019 .=&|!()[]'\"\\#:-{},\t\ntéü€\U0001f600")),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    value=_CONDITION_TEXT,
    style=st.sampled_from([None, "'", '"', "|", ">"]),
    width=st.sampled_from([8, 20, 80]),
    indent=st.sampled_from([2, 4]),
)
def test_every_character_of_a_scalar_maps_to_where_it_is_written(
    value: str, style: str | None, width: int, indent: int
) -> None:
    """Whatever style and folding YAML writes a string in, offset i maps to the i-th character.

    The oracle is the source text itself: the character found at the reported line and column
    must be the value's character (or, in double quotes, the backslash of its escape; or, where
    a line break was folded into a space, the line break).
    """
    text = yaml.safe_dump(
        {"rules": [{"condition": value}]}, default_style=style, width=width, indent=indent, allow_unicode=True
    )
    [doc] = parse_yaml(text, file="t.yaml")
    assert doc.data["rules"][0]["condition"] == value
    lines = text.splitlines(keepends=True)
    for offset, ch in enumerate(value):
        found = doc.source_map.condition_location(("rules", 0, "condition"), offset)
        assert found is not None
        location, exact = found
        assert exact, (text, value)
        line = lines[location.line - 1]
        written = line[location.column - 1] if location.column - 1 < len(line) else "\n"
        if written == ch:
            continue
        if written == "\\":
            continue  # an escape sequence stands for this character
        if ch in " \n" and written in "\n\r":
            continue  # a folded line break
        pytest.fail(f"offset {offset}: value has {ch!r}, source has {written!r} at {location} in {text!r}")


@settings(max_examples=100, deadline=None)
@given(prefix=st.text(alphabet="abc xyz=.'", max_size=20), style=st.sampled_from([None, "'", '"', "|", ">"]))
def test_reported_position_is_the_unknown_variable_in_the_file(prefix: str, style: str | None) -> None:
    condition = f"{prefix} nosuch.x"
    try:
        compile_condition(condition)
    except Exception as exc:  # the prefix may itself be a syntax error; only take clean cases
        if "nosuch" not in str(exc):
            return
    else:
        return
    text = yaml.safe_dump(
        {
            "apiVersion": "governance.toolkit/v1",
            "name": "p",
            "rules": [{"name": "r", "condition": condition, "action": "deny"}],
        },
        default_style=style,
        sort_keys=False,
    )
    with pytest.raises(PolicyError) as info:
        load_policies(text)
    if "unknown variable" not in info.value.reason:
        return
    lines = text.splitlines()
    assert info.value.line is not None
    assert info.value.column is not None
    assert lines[info.value.line - 1][info.value.column - 1 :].startswith("nosuch")
