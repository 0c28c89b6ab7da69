"""YAML, Rego and Cedar under one decision: the most restrictive wins, hashes pin every source."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_os import compile_policies
from agt_core import PolicyError, PolicySet

from .conftest import request
from .test_cedar import SEED as CEDAR_SEED
from .test_rego import SEED as REGO_SEED

Write = Callable[[str, str], str]

YAML = """apiVersion: governance.toolkit/v1
name: base
default_action: allow
rules:
- name: warn-export
  condition: "action.type == 'export'"
  action: warn
- name: no-self-destruct
  condition: "action.type == 'self_destruct'"
  action: deny
- name: post
  condition: "true"
  action: log
  stage: post_tool
"""


def _mixed(write: Write) -> str:
    write("a-base.yaml", YAML)
    write("b-rules.rego", REGO_SEED)
    return str(Path(write("c-production.cedar", CEDAR_SEED)).parent)


def test_a_mixed_folder_is_one_policy_set(write: Write) -> None:
    policy = compile_policies(_mixed(write))
    assert isinstance(policy, PolicySet)
    assert policy.policy_names == ("base", "production_policy", "c-production")
    assert set(policy.policy_hashes) == set(policy.policy_names)
    assert policy.stages == frozenset({"pre_tool", "post_tool"})
    dropped = policy.evaluate(request("drop"))
    # Rego and Cedar both deny; the earlier policy (the Rego file) decides; every part's matches are
    # kept (on a Cedar deny, Cedar reports the forbids that held).
    assert (dropped.effect, dropped.policy, dropped.rule) == (
        "deny",
        "production_policy",
        "block-destructive",
    )
    assert {(m.policy, m.rule) for m in dropped.matched} == {
        ("production_policy", "block-destructive"),
        ("c-production", "block-destructive"),
    }
    assert dropped.policy_set_hash == policy.hash
    assert dropped.policy_hash == policy.policy_hashes["production_policy"]
    exported = policy.evaluate(request("export"))
    assert (exported.effect, exported.policy) == ("warn", "base")
    assert policy.evaluate(request("send_email")).effect == "require_approval"


def test_the_most_restrictive_part_wins_whatever_its_language(write: Write) -> None:
    write("a.yaml", YAML)
    path = write("z.cedar", 'permit(principal, action == Action::"export", resource);\n')
    policy = compile_policies([str(Path(path).parent / "a.yaml"), path])
    assert policy.evaluate(request("export")).effect == "warn"
    denied = policy.evaluate(request("read"))
    assert (denied.effect, denied.policy) == ("deny", "z")


def test_an_erroring_part_denies_the_whole_set(write: Write) -> None:
    write("a.yaml", YAML)
    write(
        "b.cedar",
        "permit(principal, action, resource);\nforbid(principal, action, resource) when { context.args.n > 1 };\n",
    )
    policy = compile_policies(str(Path(write("c.rego", REGO_SEED)).parent))
    decision = policy.evaluate(request("read", n="x"))
    assert (decision.effect, decision.policy) == ("deny", "b")
    assert decision.errors


def test_other_stages_go_to_the_yaml_policies_alone(write: Write) -> None:
    policy = compile_policies(_mixed(write))
    post = {**request("drop"), "stage": "post_tool"}
    assert policy.evaluate(post).effect == "log"
    alone = compile_policies(write("only.rego", REGO_SEED))
    assert alone.evaluate(post).effect == "deny"


def test_hash_changes_with_any_source(write: Write) -> None:
    folder = _mixed(write)
    before = compile_policies(folder).hash
    write("b-rules.rego", REGO_SEED + "\n# a comment\n")
    assert compile_policies(folder).hash != before


def test_duplicate_names_across_languages(write: Write) -> None:
    write("a.yaml", YAML)
    path = write("base.cedar", "permit(principal, action, resource);\n")
    with pytest.raises(PolicyError, match="two policies are named `base`"):
        compile_policies(str(Path(path).parent))


def test_every_broken_file_is_reported(write: Write) -> None:
    write("a.rego", "package a\nfoo := 1\n")
    path = write("b.cedar", "permitt(principal, action, resource);\n")
    with pytest.raises(PolicyError) as caught:
        compile_policies(str(Path(path).parent))
    text = str(caught.value)
    assert "a.rego" in text and "b.cedar" in text


def test_engines_load_only_for_rego_and_cedar_files(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(YAML)
    code = (
        "import sys, agent_os\n"
        f"agent_os.compile_policies({str(tmp_path / 'p.yaml')!r})\n"
        "assert 'regopy' not in sys.modules and 'cedarpy' not in sys.modules, 'engine imported'\n"
        "assert 'agent_os._rego' not in sys.modules and 'agent_os._cedar' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_audit_trail_pins_the_rego_and_cedar_sources(write: Write) -> None:
    import agent_os

    folder = _mixed(write)
    audit = agent_os.AuditLog()

    def sql(action: str, table: str) -> str:
        return "ok"

    safe = agent_os.govern(sql, policy=folder, audit=audit)
    safe(action="select", table="users")
    record = next(iter(audit))
    assert record.decision.policy_set_hash == compile_policies(folder).hash
