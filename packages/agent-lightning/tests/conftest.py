from __future__ import annotations

from typing import Any

import gymnasium
import pytest
from gymnasium import spaces

POLICY = """\
apiVersion: governance.toolkit/v1
name: ops
default_action: allow
rules:
- name: no-delete
  condition: "action.type == 'delete'"
  action: deny
- name: slow-down
  condition: "action.type == 'escalate'"
  action: warn
- name: note-reads
  condition: "action.type == 'read'"
  action: log
"""

NAMES = ["read", "write", "delete", "escalate"]


class RecordingEnv(gymnasium.Env[int, Any]):
    """Counts steps and records every action it was given (to prove blocked ones never arrive)."""

    def __init__(self, action_space: spaces.Space[Any] | None = None, length: int = 5) -> None:
        self.action_space = action_space if action_space is not None else spaces.Discrete(len(NAMES))
        self.observation_space = spaces.Discrete(100)
        self.length = length
        self.seen: list[Any] = []
        self.t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return 0, {"phase": "start"}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        self.seen.append(action)
        self.t += 1
        return self.t, 1.0, self.t >= self.length, False, {"phase": "run", "t": self.t}


@pytest.fixture
def policy() -> str:
    return POLICY
