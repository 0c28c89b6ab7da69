"""The YAML layer: what PyYAML would accept silently and a policy must not hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent_os._loading import _source_map, load_policies
from agent_os._loading import _yaml as _yaml_source
from agent_os._loading._source_map import MAX_NESTING, format_path
from agent_os._loading._yaml import parse_yaml
from agt_core import PolicyError

from .conftest import HEADER, policy, position_of, rule, rules, write


def test_a_duplicate_action_in_a_rule_is_refused_at_the_second_key(tmp_path: Path) -> None:
    # safe_load would keep `allow`: the deny rule would silently become an allow rule.
    text = policy(body=rules(rule("r", action="deny", extra="  action: allow\n")))
    path = write(tmp_path, "p.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    err = info.value
    assert err.reason == "duplicate key `action`"
    assert (err.file, err.line, err.column) == (str(path), *position_of(text, "action", 2))
    assert err.path == "rules[0].action"
    assert err.help is not None
    assert f"line {position_of(text, 'action')[0]}" in err.help


@pytest.mark.parametrize(
    ("text", "key", "path"),
    [
        (policy("a") + "name: b\n", "name", "name"),
        (policy(body="request_schema:\n  args:\n    x: string\n    x: int\n"), "x", "request_schema.args.x"),
        (policy(body="rules: []\nrules: []\n"), "rules", "rules"),
        ('{"apiVersion": "governance.toolkit/v1", "name": "a", "name": "b"}', '"name"', "name"),
    ],
)
def test_duplicate_keys_anywhere_are_refused(text: str, key: str, path: str) -> None:
    with pytest.raises(PolicyError, match="duplicate key") as info:
        load_policies(text)
    assert (info.value.line, info.value.column) == position_of(text, key, 2)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("body", "needle", "message"),
    [
        (rules("- &base\n  name: r\n  condition: 'true'\n  action: deny\n"), "&base", "anchor `&base`"),
        ("description: &d text\nrules: []\n", "&d", "anchor `&d`"),
        ("description: *d\n", "*d", "alias `*d`"),
        (rules("- <<: {name: r, condition: 'true'}\n  action: deny\n"), "<<", "merge keys"),
    ],
)
def test_anchors_aliases_and_merge_keys_are_refused(body: str, needle: str, message: str) -> None:
    text = policy(body=body)
    with pytest.raises(PolicyError, match=re.escape(message)) as info:
        load_policies(text)
    assert (info.value.line, info.value.column) == position_of(text, needle)


def test_a_billion_laughs_document_is_refused_at_its_first_anchor() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = HEADER + "name: p\n" + "\n".join(lines) + "\n"
    # Refused at the first anchor, before any alias could be expanded into 9**10 strings.
    with pytest.raises(PolicyError, match="anchor `&a0`") as info:
        load_policies(text)
    assert (info.value.line, info.value.column) == position_of(text, "&a0")


@pytest.mark.parametrize(
    "tagged", ["!!str 5", "!!python/object:os.system x", "!custom x", "! x", "!!binary aGk="]
)
def test_explicit_tags_are_refused(tagged: str) -> None:
    text = policy(body=f"description: {tagged}\n")
    with pytest.raises(PolicyError, match="YAML tag") as info:
        load_policies(text)
    assert (info.value.line, info.value.column) == position_of(text, tagged)


@pytest.mark.parametrize("key", ["1", "true", "null", "~", "1.5", "? [a]\n", "? {a: 1}\n"])
def test_keys_must_be_strings(key: str) -> None:
    body = f"{key}: x\n"  # `? [a]` is an explicit (complex) key
    with pytest.raises(PolicyError, match="mapping keys must be strings"):
        load_policies(policy(body=body))


def test_quoted_non_string_looking_keys_are_strings() -> None:
    # They are strings now, and the strict model then names them as unknown fields.
    with pytest.raises(PolicyError, match="unknown field `1`"):
        load_policies(policy(body="'1': x\n"))


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "Yes", "ON"])
def test_yaml_1_1_booleans_are_strings_and_refused_where_a_boolean_is_expected(word: str) -> None:
    text = policy(body=rules(rule("r", extra=f"  enabled: {word}\n")))
    with pytest.raises(PolicyError, match=f"wrong type: found a string `{word}`") as info:
        load_policies(text)
    assert info.value.expected == "`true` or `false`"


def test_yaml_1_2_scalars() -> None:
    data = parse_yaml(
        "a: true\nb: False\nc: null\nd: ~\ne:\nf: 0x1F\ng: 0o17\nh: -12\ni: 1.5\nj: 1e3\n"
        "k: 1_000\nl: 1:20\nm: yes\nn: '5'\no: .inf\np: 2001-12-14\nq: 012\n",
        file=None,
    )[0].data
    assert data == {
        "a": True,
        "b": False,
        "c": None,
        "d": None,
        "e": None,
        "f": 31,
        "g": 15,
        "h": -12,
        "i": 1.5,
        "j": 1000.0,
        "k": "1_000",
        "l": "1:20",
        "m": "yes",
        "n": "5",
        "o": float("inf"),
        "p": "2001-12-14",
        "q": 12,
    }
    assert type(data["a"]) is bool
    assert type(data["f"]) is int


def test_a_policy_name_that_yaml_1_1_reads_as_a_boolean_loads_as_a_string() -> None:
    assert load_policies(HEADER + "name: on\n")[0].document.name == "on"


def test_an_integer_with_thousands_of_digits_is_an_error_not_a_crash() -> None:
    with pytest.raises(PolicyError, match="too many digits"):
        load_policies(policy(body=rules(rule("r", extra="  priority: " + "9" * 5000 + "\n"))))


@pytest.mark.parametrize(
    ("text", "needle", "problem"),
    [
        (
            policy(body="rules:\n- name: r\n   condition: x\n"),
            "condition",
            "mapping values are not allowed here",
        ),
        (policy(body="description: 'unclosed\n"), "", "found unexpected end of stream"),
        (policy(body="rules: [a, b\n"), "", "expected ',' or ']'"),
    ],
)
def test_yaml_syntax_errors_carry_pyyaml_position_and_problem(text: str, needle: str, problem: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policies(text)
    assert info.value.reason.startswith("invalid YAML: ")
    assert problem in info.value.reason
    assert info.value.line is not None
    assert info.value.column is not None
    if needle:
        line, column = position_of(text, needle)
        assert (info.value.line, info.value.column) == (line, column + len(needle))


def test_tab_indentation_gets_a_hint() -> None:
    text = policy(body="rules:\n\t- name: r\n")
    with pytest.raises(PolicyError) as info:
        load_policies(text)
    assert (info.value.line, info.value.column) == position_of(text, "\t")
    assert info.value.help is not None
    assert "tabs" in info.value.help


def test_control_characters_are_refused_with_their_position() -> None:
    text = policy(body="description: a\x07b\n")
    with pytest.raises(PolicyError, match="U\\+0007") as info:
        load_policies(text)
    assert (info.value.line, info.value.column) == position_of(text, "\x07")


def test_nesting_beyond_the_limit_is_refused() -> None:
    deep = "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    with pytest.raises(PolicyError, match=f"nests deeper than {MAX_NESTING} levels"):
        load_policies(policy(body=f"description: {deep}\n"))
    block = "request_schema:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(MAX_NESTING + 2))
    with pytest.raises(PolicyError, match="nests deeper"):
        load_policies(policy(body=block))


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_NESTING - 1  # the document's own mapping is the first level
    data = parse_yaml("a: " + "[" * depth + "]" * depth + "\n", file=None)[0].data
    value = data["a"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_node_count_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml_source, "MAX_NODES", 10)
    with pytest.raises(PolicyError, match="more than 10 YAML nodes"):
        load_policies(policy(body="description: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"))


def test_positions_are_recorded_for_keys_values_and_list_items() -> None:
    text = policy(body=rules(rule("first"), rule("second", "action.type == 'x'")))
    smap = parse_yaml(text, file="p.yaml")[0].source_map
    assert smap.location(("rules", 1)) == _loc(position_of(text, "name: second"))
    assert smap.key_location(("rules", 1, "condition")) == _loc(position_of(text, "condition", 2))
    assert smap.location(("rules", 1, "condition")) == _loc(position_of(text, "action.type"))
    # A path that does not exist falls back to its nearest parent.
    assert smap.location(("rules", 1, "missing")) == smap.location(("rules", 1))


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(("rules", 2, "condition")) == "rules[2].condition"
    assert format_path(("request_schema", "content-type")) == 'request_schema["content-type"]'
    assert format_path(("a", 'q"b')) == 'a["q\\"b"]'


def _loc(position: tuple[int, int]) -> _source_map.Location:
    return _source_map.Location(*position)
