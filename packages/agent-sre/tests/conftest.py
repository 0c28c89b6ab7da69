from __future__ import annotations

from typing import Any

import pytest


def make_request(agent: str = "bot", tool: str = "search", stage: str = "pre_tool") -> dict[str, Any]:
    return {
        "action": {"type": tool, "tool": tool},
        "args": {},
        "agent": {"id": agent},
        "context": {},
        "stage": stage,
    }


class FakeClock:
    """Seconds that move only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
