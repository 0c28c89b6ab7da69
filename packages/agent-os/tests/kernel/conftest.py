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
