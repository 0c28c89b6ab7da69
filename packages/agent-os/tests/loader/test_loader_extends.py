"""extends: merge order, confinement, cycles, diamonds, depth, and a child never weakening a parent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_os._compile import compile_policies
from agent_os._loading import load_policies
from agent_os._loading._extends import MAX_EXTENDS_DEPTH
from agt_core import PolicyError

from .conftest import policy, position_of, rule, rules, write


def child(name: str, extends: str, body: str = "", *, default_action: str | None = None) -> str:
    return policy(name, f"extends: {extends}\n" + body, default_action=default_action)


def names(path: Path | str, **kwargs: object) -> list[str]:
    [loaded] = load_policies(path, **kwargs)  # type: ignore[arg-type]
    return [r.name for r in loaded.document.rules]


def test_parent_rules_come_first_and_extends_is_emptied(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("b1"), rule("b2", action="allow"))))
    path = write(tmp_path, "app.yaml", child("app", "base.yaml", rules(rule("own", action="allow"))))
    [loaded] = load_policies(path)
    assert [r.name for r in loaded.document.rules] == ["b1", "b2", "own"]
    assert loaded.document.extends == ()
    assert loaded.document.name == "app"
    assert loaded.source == str(path)


def test_depth_first_in_extends_order(tmp_path: Path) -> None:
    write(tmp_path, "g.yaml", policy("g", rules(rule("g1"))))
    write(tmp_path, "p1.yaml", child("p1", "g.yaml", rules(rule("p1r"))))
    write(tmp_path, "p2.yaml", policy("p2", rules(rule("p2r"))))
    path = write(tmp_path, "c.yaml", child("c", "[p1.yaml, p2.yaml]", rules(rule("own"))))
    assert names(path) == ["g1", "p1r", "p2r", "own"]


def test_a_diamond_parent_contributes_its_rules_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy("a", rules(rule("a1"))))
    write(tmp_path, "b.yaml", child("b", "a.yaml", rules(rule("b1"))))
    write(tmp_path, "c.yaml", child("c", "./a.yaml", rules(rule("c1"))))
    path = write(tmp_path, "d.yaml", child("d", "[b.yaml, c.yaml]", rules(rule("d1"))))
    assert names(path) == ["a1", "b1", "c1", "d1"]


def test_paths_are_relative_to_the_extending_files_folder(tmp_path: Path) -> None:
    write(tmp_path, "bases/root.yaml", policy("root", rules(rule("r1"))))
    write(tmp_path, "bases/team/mid.yaml", child("mid", "../root.yaml", rules(rule("m1"))))
    path = write(tmp_path, "app.yaml", child("app", "bases/team/mid.yaml"))
    assert names(path) == ["r1", "m1"]


def test_a_dot_dot_that_stays_inside_is_allowed(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("b"))))
    (tmp_path / "sub").mkdir()
    path = write(tmp_path, "app.yaml", child("app", "sub/../base.yaml"))
    assert names(path) == ["b"]


def test_escaping_the_folder_with_dot_dot_is_refused_even_if_the_file_exists(tmp_path: Path) -> None:
    write(tmp_path, "outside.yaml", policy("outside", rules(rule("o", action="allow"))))
    text = child("app", "../outside.yaml")
    path = write(tmp_path, "policies/app.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    err = info.value
    assert err.reason.startswith("`extends` path `../outside.yaml` leads outside the policy folder")
    assert (err.file, err.line, err.column) == (str(path), *position_of(text, "../outside.yaml"))
    assert err.path == "extends"


def test_an_absolute_path_is_refused_even_inside_the_folder(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", policy("base"))
    text = child("app", f"['{base}']")
    path = write(tmp_path, "app.yaml", text)
    with pytest.raises(PolicyError, match="is absolute") as info:
        load_policies(path)
    assert info.value.path == "extends[0]"
    assert (info.value.line, info.value.column) == position_of(text, f"'{base}'")


def test_a_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/base.yaml", policy("evil", rules(rule("open", action="allow"))))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "base.yaml").symlink_to(outside)
    path = write(tmp_path, "policies/app.yaml", child("app", "base.yaml"))
    with pytest.raises(PolicyError, match="leads outside the policy folder"):
        load_policies(path)


def test_a_symlinked_folder_pointing_outside_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "outside/base.yaml", policy("evil"))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "shared").symlink_to(tmp_path / "outside", target_is_directory=True)
    path = write(tmp_path, "policies/app.yaml", child("app", "shared/base.yaml"))
    with pytest.raises(PolicyError, match="leads outside the policy folder"):
        load_policies(path)


def test_a_grandparent_may_not_escape_either(tmp_path: Path) -> None:
    write(tmp_path, "outside.yaml", policy("outside"))
    write(tmp_path, "policies/mid.yaml", child("mid", "../outside.yaml"))
    path = write(tmp_path, "policies/app.yaml", child("app", "mid.yaml"))
    with pytest.raises(PolicyError, match="leads outside") as info:
        load_policies(path)
    assert info.value.file == os.path.join(str(tmp_path / "policies"), "mid.yaml")


def test_a_symlink_inside_the_folder_is_followed(tmp_path: Path) -> None:
    write(tmp_path, "policies/real/base.yaml", policy("base", rules(rule("b"))))
    (tmp_path / "policies" / "link.yaml").symlink_to(tmp_path / "policies" / "real" / "base.yaml")
    path = write(tmp_path, "policies/app.yaml", child("app", "link.yaml"))
    assert names(path) == ["b"]


def test_base_dir_widens_the_folder_for_file_sources(tmp_path: Path) -> None:
    write(tmp_path, "baseline.yaml", policy("baseline", rules(rule("company"))))
    path = write(tmp_path, "teams/payments.yaml", child("payments", "../baseline.yaml"))
    with pytest.raises(PolicyError, match="leads outside"):
        load_policies(path)
    assert names(path, base_dir=tmp_path) == ["company"]


def test_a_cycle_is_refused_and_shown(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", child("a", "b.yaml"))
    b_text = child("b", "a.yaml")
    write(tmp_path, "b.yaml", b_text)
    with pytest.raises(PolicyError) as info:
        load_policies(tmp_path / "a.yaml")
    err = info.value
    assert err.reason == "extends cycle: a.yaml -> b.yaml -> a.yaml"
    assert err.file == str(tmp_path / "b.yaml")
    assert (err.line, err.column) == position_of(b_text, "a.yaml")


def test_a_policy_extending_itself_is_a_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", child("a", "a.yaml"))
    with pytest.raises(PolicyError, match=r"extends cycle: a\.yaml -> a\.yaml"):
        load_policies(path)


def test_a_longer_cycle_below_the_root(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", child("b", "c.yaml"))
    write(tmp_path, "c.yaml", child("c", "d.yaml"))
    write(tmp_path, "d.yaml", child("d", "b.yaml"))
    path = write(tmp_path, "a.yaml", child("a", "b.yaml"))
    with pytest.raises(PolicyError, match=r"extends cycle: b\.yaml -> c\.yaml -> d\.yaml -> b\.yaml"):
        load_policies(path)


def test_a_cycle_from_yaml_text_with_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", child("a", "b.yaml"))
    write(tmp_path, "b.yaml", child("b", "a.yaml"))
    with pytest.raises(PolicyError, match=r"extends cycle: a\.yaml -> b\.yaml -> a\.yaml"):
        load_policies(child("inline", "a.yaml"), base_dir=tmp_path)


def _chain(tmp_path: Path, length: int) -> Path:
    """p0 extends p1 extends ... extends p<length>: `length` levels of extends."""
    write(tmp_path, f"p{length}.yaml", policy(f"p{length}", rules(rule(f"r{length}"))))
    for i in range(length - 1, -1, -1):
        write(tmp_path, f"p{i}.yaml", child(f"p{i}", f"p{i + 1}.yaml", rules(rule(f"r{i}"))))
    return tmp_path / "p0.yaml"


def test_the_depth_limit_allows_exactly_its_depth(tmp_path: Path) -> None:
    path = _chain(tmp_path, MAX_EXTENDS_DEPTH)
    assert names(path) == [f"r{i}" for i in range(MAX_EXTENDS_DEPTH, -1, -1)]


def test_one_level_more_than_the_depth_limit_is_refused(tmp_path: Path) -> None:
    path = _chain(tmp_path, MAX_EXTENDS_DEPTH + 1)
    with pytest.raises(PolicyError, match=f"deeper than {MAX_EXTENDS_DEPTH} levels") as info:
        load_policies(path)
    assert info.value.file is not None
    assert info.value.file.endswith(f"p{MAX_EXTENDS_DEPTH}.yaml")


def test_a_child_cannot_redefine_an_inherited_rule(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("block-destructive", action="deny"))))
    text = child("app", "base.yaml", rules(rule("block-destructive", action="allow")))
    path = write(tmp_path, "app.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    err = info.value
    assert (
        err.reason
        == "rule `block-destructive` is already defined by parent `"
        + os.path.join(str(tmp_path), "base.yaml")
        + "`"
    )
    assert (err.file, err.path) == (str(path), "rules[0].name")
    assert (err.line, err.column) == position_of(text, "block-destructive")
    assert err.help is not None
    assert "cannot override" in err.help


def test_a_child_cannot_redefine_a_grandparents_rule(tmp_path: Path) -> None:
    write(tmp_path, "g.yaml", policy("g", rules(rule("x"))))
    write(tmp_path, "p.yaml", child("p", "g.yaml"))
    path = write(tmp_path, "c.yaml", child("c", "p.yaml", rules(rule("x", action="allow"))))
    with pytest.raises(PolicyError, match="rule `x` is already defined by parent"):
        load_policies(path)


def test_two_parents_cannot_define_the_same_rule(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy("a", rules(rule("shared"))))
    b_text = policy("b", rules(rule("other"), rule("shared", action="allow")))
    write(tmp_path, "b.yaml", b_text)
    path = write(tmp_path, "c.yaml", child("c", "[a.yaml, b.yaml]"))
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    err = info.value
    assert err.reason.startswith("rule `shared` is defined both here and in `")
    assert err.file is not None
    assert err.file.endswith("b.yaml")
    assert (err.line, err.column) == position_of(b_text, "shared")


@pytest.mark.parametrize("parent_default", [None, "deny"])
def test_a_child_cannot_default_to_allow_under_a_deny_parent(
    tmp_path: Path, parent_default: str | None
) -> None:
    # No default_action means deny, so the absent case is the one that matters most.
    write(tmp_path, "base.yaml", policy("base", default_action=parent_default))
    text = child("app", "base.yaml", default_action="allow")
    path = write(tmp_path, "app.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    err = info.value
    assert err.path == "default_action"
    assert "would weaken parent" in err.reason
    assert (err.line, err.column) == position_of(text, "allow")
    assert err.help is not None
    assert "denies by default" in err.help


def test_the_default_check_reaches_through_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "g.yaml", policy("g"))
    write(tmp_path, "p.yaml", child("p", "g.yaml", default_action="deny"))
    path = write(tmp_path, "c.yaml", child("c", "p.yaml", default_action="allow"))
    with pytest.raises(PolicyError, match="would weaken parent"):
        load_policies(path)


def test_the_default_check_applies_to_a_diamond_parent_seen_twice(tmp_path: Path) -> None:
    write(tmp_path, "strict.yaml", policy("strict"))
    write(tmp_path, "open.yaml", policy("open", default_action="allow"))
    write(tmp_path, "mid.yaml", child("mid", "strict.yaml"))
    path = write(tmp_path, "c.yaml", child("c", "[mid.yaml, strict.yaml]", default_action="deny"))
    assert names(path) == []
    path = write(tmp_path, "c2.yaml", child("c2", "[open.yaml, strict.yaml]", default_action="allow"))
    with pytest.raises(PolicyError, match="would weaken parent"):
        load_policies(path)


@pytest.mark.parametrize(
    ("parent", "kid"), [("allow", "allow"), ("allow", "deny"), ("allow", None), ("deny", "deny")]
)
def test_defaults_that_do_not_weaken_are_allowed(tmp_path: Path, parent: str, kid: str | None) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("no-drop")), default_action=parent))
    [loaded] = load_policies(write(tmp_path, "app.yaml", child("app", "base.yaml", default_action=kid)))
    assert loaded.document.default_action == (kid or "deny")


def test_sealed_rules_are_exactly_the_inherited_deny_and_require_approval_rules(tmp_path: Path) -> None:
    write(
        tmp_path,
        "g.yaml",
        policy("g", rules(rule("g-deny", action="deny"), rule("g-log", action="log"))),
    )
    write(
        tmp_path,
        "base.yaml",
        child(
            "base",
            "g.yaml",
            rules(
                rule("b-deny", action="deny", extra="  enabled: false\n"),
                rule("b-approve", action="require_approval", extra="  approvers: [sec]\n"),
                rule("b-allow", action="allow"),
                rule("b-warn", action="warn"),
            ),
        ),
    )
    path = write(tmp_path, "app.yaml", child("app", "base.yaml", rules(rule("own-deny", action="deny"))))
    [loaded] = load_policies(path)
    assert loaded.sealed_rules == frozenset({"g-deny", "b-deny", "b-approve"})
    [alone] = load_policies(tmp_path / "g.yaml")
    assert alone.sealed_rules == frozenset()


def test_an_inherited_deny_beats_a_child_allow_under_allow_overrides(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("no-drop", "action.type == 'drop'", "deny"))))
    text = child(
        "app",
        "base.yaml",
        "conflict_strategy: allow_overrides\n"
        + rules(rule("anything-goes", "action.type != ''", "allow", extra="  priority: 100\n")),
    )
    policy_set = compile_policies(write(tmp_path, "app.yaml", text))
    request = {
        "action": {"type": "drop"},
        "args": {},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }
    decision = policy_set.evaluate(request)
    assert (decision.effect, decision.rule) == ("deny", "no-drop")


def test_request_schema_merges_and_other_fields_are_the_childs_own(tmp_path: Path) -> None:
    write(
        tmp_path,
        "base.yaml",
        policy(
            "base",
            "description: base\nconflict_strategy: priority_first_match\nagents: [billing-*]\n"
            "request_schema:\n  args:\n    amount: number\n",
        ),
    )
    text = child(
        "app", "base.yaml", "request_schema:\n  args:\n    currency: string\n  context:\n    user: string\n"
    )
    [loaded] = load_policies(write(tmp_path, "app.yaml", text))
    doc = loaded.document
    assert doc.request_schema == {
        "args": {"amount": "number", "currency": "string"},
        "context": {"user": "string"},
    }
    assert (doc.description, doc.conflict_strategy, doc.agents, doc.default_action) == (
        "",
        "deny_overrides",
        None,
        "deny",
    )


def test_request_schema_without_a_schema_in_the_child_is_the_parents(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", "request_schema:\n  args: map\n"))
    [loaded] = load_policies(write(tmp_path, "app.yaml", child("app", "base.yaml")))
    assert loaded.document.request_schema == {"args": "map"}


def test_a_child_cannot_change_a_parents_request_schema_field(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", "request_schema:\n  args:\n    amount: number\n"))
    text = child("app", "base.yaml", "request_schema:\n  args:\n    amount: string\n")
    with pytest.raises(PolicyError, match="already declared as `number`") as info:
        load_policies(write(tmp_path, "app.yaml", text))
    assert info.value.path == "request_schema.args.amount"
    assert (info.value.line, info.value.column) == position_of(text, "string")


def test_content_hash_covers_inherited_rules(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("b", "action.type == 'x'"))))
    path = write(tmp_path, "app.yaml", child("app", "base.yaml"))
    before = load_policies(path)[0].content_hash
    write(tmp_path, "base.yaml", policy("base", rules(rule("b", "action.type == 'y'"))))
    assert load_policies(path)[0].content_hash != before


def test_an_error_in_a_parent_points_into_the_parent_file(tmp_path: Path) -> None:
    base_text = policy("base", rules(rule("b", "nosuch.x")))
    write(tmp_path, "base.yaml", base_text)
    with pytest.raises(PolicyError) as info:
        load_policies(write(tmp_path, "app.yaml", child("app", "base.yaml")))
    assert info.value.file == os.path.join(str(tmp_path), "base.yaml")
    assert (info.value.line, info.value.column) == position_of(base_text, "nosuch")


def test_a_missing_parent_is_reported_at_the_extends_entry(tmp_path: Path) -> None:
    text = child("app", "[base.yaml, company-baseline]")
    write(tmp_path, "base.yaml", policy("base"))
    with pytest.raises(PolicyError) as info:
        load_policies(write(tmp_path, "app.yaml", text))
    assert info.value.reason == "parent policy `company-baseline` does not exist"
    assert info.value.path == "extends[1]"
    assert (info.value.line, info.value.column) == position_of(text, "company-baseline")


def test_a_parent_must_hold_exactly_one_policy(tmp_path: Path) -> None:
    write(tmp_path, "two.yaml", policy("one") + "---\n" + policy("two"))
    with pytest.raises(PolicyError, match="holds 2 policies"):
        load_policies(write(tmp_path, "app.yaml", child("app", "two.yaml")))
    write(tmp_path, "empty.yaml", "# nothing\n")
    with pytest.raises(PolicyError, match="is empty"):
        load_policies(write(tmp_path, "app2.yaml", child("app2", "empty.yaml")))


def test_a_parent_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bases").mkdir()
    with pytest.raises(PolicyError, match="is not a file"):
        load_policies(write(tmp_path, "app.yaml", child("app", "bases")))


def test_extends_in_yaml_text_or_a_dict_needs_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("b"))))
    text = child("inline", "base.yaml")
    with pytest.raises(PolicyError, match="`extends` needs a policy file or `base_dir`") as info:
        load_policies(text)
    assert (info.value.line, info.value.column) == position_of(text, "base.yaml")
    data = {"apiVersion": "governance.toolkit/v1", "name": "d", "extends": "base.yaml"}
    with pytest.raises(PolicyError, match="needs a policy file or `base_dir`"):
        load_policies(data)
    assert names(text, base_dir=tmp_path) == ["b"]
    assert names(data, base_dir=str(tmp_path)) == ["b"]  # type: ignore[arg-type]


def test_inline_sources_are_confined_to_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "outside.yaml", policy("outside"))
    (tmp_path / "base").mkdir()
    with pytest.raises(PolicyError, match="leads outside"):
        load_policies(child("inline", "../outside.yaml"), base_dir=tmp_path / "base")


def test_a_parent_shared_by_several_policies_is_merged_into_each(tmp_path: Path) -> None:
    write(tmp_path, "bases/base.yaml", policy("base", rules(rule("b", action="require_approval"))))
    write(tmp_path, "a.yaml", child("a", "bases/base.yaml", rules(rule("a1"))))
    write(tmp_path, "b.yaml", child("b", "bases/base.yaml"))
    loaded = load_policies(tmp_path)
    assert [[r.name for r in p.document.rules] for p in loaded] == [["b", "a1"], ["b"]]
    assert all(p.sealed_rules == {"b"} for p in loaded)


def test_extends_of_each_document_in_a_multi_document_file(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", policy("base", rules(rule("b"))))
    path = write(tmp_path, "many.yaml", child("one", "base.yaml") + "---\n" + policy("two"))
    loaded = load_policies(path)
    assert [[r.name for r in p.document.rules] for p in loaded] == [["b"], []]


def test_too_many_rules_counting_inherited_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_os._loading import _document as _load_document

    monkeypatch.setattr(_load_document, "MAX_RULES", 2)
    write(tmp_path, "base.yaml", policy("base", rules(rule("b1"), rule("b2"))))
    with pytest.raises(PolicyError, match="more than the limit of 2"):
        load_policies(write(tmp_path, "app.yaml", child("app", "base.yaml", rules(rule("own")))))
