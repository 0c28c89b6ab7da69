"""Shared fixtures: every test starts from an empty agent-os pipeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import agent_os


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> Iterator[None]:
    agent_os.pipeline().reset()
    yield
    agent_os.pipeline().reset()


ALLOW_ALL = {
    "apiVersion": "governance.toolkit/v1",
    "name": "allow-all",
    "default_action": "allow",
    "rules": [{"name": "no-drop", "condition": "action.type == 'drop'", "action": "deny"}],
}
