from __future__ import annotations

from pathlib import Path

import pytest

SEED_POLICY = """\
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


@pytest.fixture
def seed_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(SEED_POLICY)
    return path


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> object:
    """Each test starts with the process pipeline as a new process has it, and leaves it that way."""
    import agent_os

    agent_os.pipeline().reset()
    yield
    agent_os.pipeline().reset()
