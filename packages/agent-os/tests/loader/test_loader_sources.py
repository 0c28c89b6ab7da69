"""Source kinds: files, folders, YAML text, dicts, models and lists; what each is taken to be."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest
from pydantic import ValidationError

from agent_os._loading import load_policies
from agent_os._loading._document import MAX_FILE_BYTES
from agt_core import PolicyDocument, PolicyError, ResolvedPolicy, content_hash, policy_content_hash

from .conftest import SEED_POLICY, policy, position_of, rule, rules, write


def test_seed_policy_loads_from_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.yaml", SEED_POLICY)
    [loaded] = load_policies(str(path))
    doc = loaded.document
    assert loaded.source == str(path)
    assert doc.name == "production-policy"
    assert doc.default_action == "allow"
    assert [(r.name, r.action) for r in doc.rules] == [
        ("block-destructive", "deny"),
        ("require-approval-for-send", "require_approval"),
    ]
    assert doc.rules[1].approvers == ("security-team",)
    assert loaded.sealed_rules == frozenset()
    assert loaded.content_hash == policy_content_hash(doc)
    assert loaded.warnings == ()
    assert loaded.sealed_rules == frozenset()
    assert loaded.warnings == ()
    assert loaded.content_hash == content_hash(doc.model_dump(mode="json", by_alias=True))


def test_the_same_policy_from_every_source_kind_has_the_same_hash(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.yaml", SEED_POLICY)
    data = {
        "apiVersion": "governance.toolkit/v1",
        "name": "production-policy",
        "default_action": "allow",
        "rules": [
            {
                "name": "block-destructive",
                "condition": "action.type in ['drop', 'delete', 'truncate']",
                "action": "deny",
            },
            {
                "name": "require-approval-for-send",
                "condition": "action.type == 'send_email'",
                "action": "require_approval",
                "approvers": ["security-team"],
            },
        ],
    }
    hashes = {
        load_policies(source)[0].content_hash
        for source in (
            path,
            str(path),
            SEED_POLICY,
            data,
            PolicyDocument.model_validate(data),
            json.dumps(data),
        )
    }
    assert len(hashes) == 1


def test_content_hash_changes_with_any_rule_change() -> None:
    a = load_policies(policy(body=rules(rule("r", action="deny"))))[0]
    b = load_policies(policy(body=rules(rule("r", action="warn"))))[0]
    assert a.content_hash != b.content_hash


def test_a_missing_path_is_an_error_and_never_parsed_as_yaml(tmp_path: Path) -> None:
    missing = tmp_path / "x.yaml"
    for source in (str(missing), missing):
        with pytest.raises(PolicyError) as info:
            load_policies(source)
        assert info.value.reason == f"policy file `{missing}` does not exist"
        assert info.value.file == str(missing)


def test_a_one_line_str_is_a_path_even_when_it_looks_like_yaml() -> None:
    # PyYAML would read this as a mapping; as a path it does not exist, which is the honest answer.
    with pytest.raises(PolicyError, match="does not exist") as info:
        load_policies("apiVersion: governance.toolkit/v1")
    assert info.value.help is not None
    assert "line break" in info.value.help


def test_a_str_with_a_line_break_or_a_brace_is_yaml_text() -> None:
    assert load_policies(policy("multi"))[0].document.name == "multi"
    one_line = '{"apiVersion": "governance.toolkit/v1", "name": "flow"}'
    assert load_policies(one_line)[0].document.name == "flow"
    assert load_policies(policy("crlf").replace("\n", "\r\n"))[0].document.name == "crlf"


def test_yaml_text_errors_have_lines_but_no_file() -> None:
    text = policy(body=rules(rule("r", action="dney")))
    with pytest.raises(PolicyError) as info:
        load_policies(text)
    assert info.value.file is None
    assert (info.value.line, info.value.column) == position_of(text, "dney")
    assert str(info.value).startswith(f"<policy>:{info.value.line}:{info.value.column}: rules[0].action: ")


def test_folder_loads_policy_files_directly_inside_sorted_by_name(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", policy("b"))
    write(tmp_path, "a.yml", policy("a"))
    write(tmp_path, "c.json", json.dumps({"apiVersion": "governance.toolkit/v1", "name": "c"}))
    write(tmp_path, "D.YAML", policy("d-upper"))
    write(tmp_path, "notes.txt", "not a policy")
    write(tmp_path, "nested/e.yaml", policy("e"))  # folders are not searched recursively
    (tmp_path / "dir.yaml").mkdir()  # a folder named like a policy file is not a file
    loaded = load_policies(tmp_path)
    assert [p.document.name for p in loaded] == ["d-upper", "a", "b", "c"]
    assert [p.source for p in loaded] == [str(tmp_path / n) for n in ("D.YAML", "a.yml", "b.yaml", "c.json")]


def test_a_folder_without_policy_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"holds no \.yaml, \.yml or \.json files"):
        load_policies(tmp_path)
    write(tmp_path, "readme.md", "# policies")
    with pytest.raises(PolicyError, match="holds no"):
        load_policies(str(tmp_path))


def test_a_dangling_symlink_in_a_folder_fails_closed(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy("a"))
    (tmp_path / "b.yaml").symlink_to(tmp_path / "gone.yaml")
    with pytest.raises(PolicyError, match="does not exist"):
        load_policies(tmp_path)


def test_each_document_of_a_multi_document_file_is_a_policy(tmp_path: Path) -> None:
    path = write(tmp_path, "many.yaml", "---\n" + policy("one") + "---\n" + policy("two") + "---\n")
    loaded = load_policies(path)
    assert [p.document.name for p in loaded] == ["one", "two"]
    assert {p.source for p in loaded} == {str(path)}


def test_errors_in_a_later_document_point_into_that_document(tmp_path: Path) -> None:
    text = policy("one") + "---\n" + policy("two", rules(rule("r", action="dney")))
    path = write(tmp_path, "many.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    assert (info.value.file, info.value.line, info.value.column) == (str(path), *position_of(text, "dney"))


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "---\n", "---\n...\n"])
def test_an_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "empty.yaml", text)
    with pytest.raises(PolicyError, match="is empty"):
        load_policies(path)


def test_two_policies_with_one_name_are_refused_at_the_second(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy("same"))
    second = policy("same")
    write(tmp_path, "b.yaml", second)
    with pytest.raises(PolicyError) as info:
        load_policies(tmp_path)
    assert info.value.reason == "two policies are named `same`"
    assert info.value.file == str(tmp_path / "b.yaml")
    assert (info.value.line, info.value.column) == position_of(second, "same")
    assert info.value.help is not None
    assert str(tmp_path / "a.yaml") in info.value.help


def test_the_same_name_twice_in_one_file_or_list_is_refused() -> None:
    with pytest.raises(PolicyError, match="two policies are named `p`"):
        load_policies(policy("p") + "---\n" + policy("p"))
    with pytest.raises(PolicyError, match="two policies are named `p`"):
        load_policies([policy("p"), {"apiVersion": "governance.toolkit/v1", "name": "p"}])


def test_a_list_of_mixed_sources_loads_in_order(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", policy("from-file"))
    doc = PolicyDocument.model_validate({"apiVersion": "governance.toolkit/v1", "name": "model"})
    loaded = load_policies(
        [path, policy("text"), {"apiVersion": "governance.toolkit/v1", "name": "dict"}, doc]
    )
    assert [p.document.name for p in loaded] == ["from-file", "text", "dict", "model"]
    assert [p.source for p in loaded] == [str(path), None, None, None]


@pytest.mark.parametrize(
    "source",
    [[], (), b"policy.yaml", 42, None, [[{"apiVersion": "governance.toolkit/v1", "name": "p"}]], [b"x"]],
)
def test_sources_that_are_not_policies_are_refused(source: object) -> None:
    with pytest.raises(PolicyError):
        load_policies(source)  # type: ignore[arg-type]


def test_mappings_that_are_not_dicts_are_accepted_and_copied() -> None:
    rule_data = {"name": "r", "condition": "true", "action": "deny", "approvers": ()}
    data = MappingProxyType(
        {"apiVersion": "governance.toolkit/v1", "name": "p", "rules": (MappingProxyType(rule_data),)}
    )
    assert load_policies(data)[0].document.rules[0].name == "r"


def test_a_dict_source_is_not_affected_by_later_changes_to_the_dict() -> None:
    data = {
        "apiVersion": "governance.toolkit/v1",
        "name": "p",
        "rules": [{"name": "r", "condition": "true", "action": "deny"}],
    }
    loaded = load_policies(data)[0]
    data["rules"][0]["action"] = "allow"  # type: ignore[index]
    assert loaded.document.rules[0].action == "deny"


def test_dict_keys_must_be_strings() -> None:
    with pytest.raises(PolicyError, match="mapping keys must be strings"):
        load_policies({"apiVersion": "governance.toolkit/v1", "name": "p", 1: "x"})  # type: ignore[dict-item]


def test_a_self_referencing_dict_is_refused_not_a_crash() -> None:
    data: dict[str, object] = {"apiVersion": "governance.toolkit/v1", "name": "p"}
    data["request_schema"] = data
    with pytest.raises(PolicyError, match="nests deeper than"):
        load_policies(data)


def test_a_file_larger_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(policy().encode() + b"#" * MAX_FILE_BYTES)
    with pytest.raises(PolicyError, match="larger than 10 MiB"):
        load_policies(path)


def test_yaml_text_larger_than_the_limit_is_refused() -> None:
    with pytest.raises(PolicyError, match="larger than 10 MiB"):
        load_policies(policy() + "#" + "é" * (MAX_FILE_BYTES // 2))


def test_a_file_that_is_not_utf8_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(policy().encode() + b"description: caf\xe9\n")
    with pytest.raises(PolicyError, match="not UTF-8") as info:
        load_policies(path)
    assert (info.value.line, info.value.column) == (3, 17)


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    text = policy(body=rules(rule("r", action="dney")))
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    assert (info.value.line, info.value.column) == position_of(text, "dney")


def test_json_files_load_with_tab_indentation(tmp_path: Path) -> None:
    data = {
        "apiVersion": "governance.toolkit/v1",
        "name": "j",
        "rules": [{"name": "r", "condition": "action.type == 'a\\tb'", "action": "deny"}],
    }
    path = write(tmp_path, "p.json", json.dumps(data, indent="\t"))
    [loaded] = load_policies(path)
    assert loaded.document.rules[0].condition == "action.type == 'a\\tb'"


def test_json_files_refuse_duplicate_keys(tmp_path: Path) -> None:
    text = '{"apiVersion": "governance.toolkit/v1", "name": "a", "name": "b"}'
    path = write(tmp_path, "p.json", text)
    with pytest.raises(PolicyError, match="duplicate key `name`") as info:
        load_policies(path)
    assert (info.value.line, info.value.column) == position_of(text, '"name"', 2)


def test_json_surrogate_pair_escapes_become_one_character(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.json",
        '{"apiVersion": "governance.toolkit/v1", "name": "p", "description": "\\ud83d\\ude00"}',
    )
    assert load_policies(path)[0].document.description == "\U0001f600"


def test_loaded_policy_is_plain_frozen_data() -> None:
    loaded = load_policies(SEED_POLICY)[0]
    assert isinstance(loaded, ResolvedPolicy)
    with pytest.raises(ValidationError, match="frozen"):
        loaded.source = "x"  # type: ignore[misc]
    # The evaluator boundary is JSON data: it survives a round trip unchanged.
    data = loaded.model_dump(mode="json", by_alias=True)
    json.dumps(data)
    assert ResolvedPolicy.model_validate(data) == loaded


def test_disabled_rules_have_their_conditions_compiled_and_checked() -> None:
    loaded = load_policies(policy(body=rules(rule("off", "action.type == 'x'", extra="  enabled: false\n"))))[
        0
    ]
    assert [r.name for r in loaded.document.rules] == ["off"]
    with pytest.raises(PolicyError, match="invalid condition"):
        load_policies(policy(body=rules(rule("off", "'action.type =='", extra="  enabled: false\n"))))


def test_base_dir_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="is not an existing folder"):
        load_policies(SEED_POLICY, base_dir=tmp_path / "nope")
