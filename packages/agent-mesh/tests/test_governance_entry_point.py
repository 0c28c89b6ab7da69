"""`agentmesh.governance` is the seed's entry point; it must be the kernel's API, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

import agent_os
import agentmesh
import agentmesh.governance as governance

SEED = """\
apiVersion: governance.toolkit/v1
name: production-policy
default_action: allow
rules:
- name: block-destructive
  condition: "action.type in ['drop', 'delete', 'truncate']"
  action: deny
- name: require-approval-for-send
  condition: "action.type == 'send_email'"
  action: require_approval
  approvers: ["security-team"]
"""


def test_reexports_are_the_kernels_objects() -> None:
    assert list(governance.__all__) == sorted(governance.__all__)
    for name in governance.__all__:
        assert getattr(governance, name) is getattr(agent_os, name), name


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = governance.not_a_thing  # type: ignore[attr-defined]


def test_version() -> None:
    assert agentmesh.__version__


def test_seed_two_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("policy.yaml").write_text(SEED)

    def my_tool(action: str, table: str) -> str:
        return f"ran {action} on {table}"

    from agentmesh.governance import govern

    safe_tool = govern(my_tool, policy="policy.yaml")
    assert safe_tool(action="read", table="users") == "ran read on users"
    with pytest.raises(governance.GovernanceDenied, match="block-destructive"):
        safe_tool(action="drop", table="users")


def test_seed_import_line_does_not_load_the_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from agentmesh.governance import govern; "
        "print(','.join(m for m in ('pydantic', 'yaml', 're2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
