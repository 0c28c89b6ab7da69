"""Loading a peer policy without migrating names the migration, and still lists every problem."""

from __future__ import annotations

import pytest

from agent_os import PolicyError, compile_policies, migrate_policy

PEER = """\
version: "1.0"
name: legacy
scope: global
rules:
  - name: r
    condition: "action.type == 'x'"
    ruleAction: deny
"""


def test_a_peer_policy_names_the_migration() -> None:
    with pytest.raises(PolicyError) as info:
        compile_policies(PEER)
    text = str(info.value)
    assert "Microsoft's Agent Governance Toolkit" in text
    assert "agt policy migrate" in text
    assert "scope" in text and "ruleAction" in text  # every problem is still listed


def test_the_migrated_policy_loads() -> None:
    import yaml

    document = migrate_policy(yaml.safe_load(PEER)).document
    policy = compile_policies([document])
    request = {"action": {"type": "x", "tool": "t"}, "args": {}, "agent": {"id": "a"}, "context": {}}
    assert policy.evaluate(request).effect == "deny"


def test_our_own_invalid_policies_do_not_mention_the_peer() -> None:
    with pytest.raises(PolicyError) as info:
        compile_policies("apiVersion: governance.toolkit/v1\nname: p\nrules: 3\n")
    assert "Microsoft" not in str(info.value)
