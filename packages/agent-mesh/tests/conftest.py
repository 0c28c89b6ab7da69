from __future__ import annotations

import pytest

from agentmesh import AgentIdentity


class FakeClock:
    """A clock the test moves by hand (Unix seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def seeded(n: int, name: str) -> AgentIdentity:
    return AgentIdentity.from_seed(bytes([n]) * 32, name=name)


@pytest.fixture
def root() -> AgentIdentity:
    return seeded(1, "root")


@pytest.fixture
def alice() -> AgentIdentity:
    return seeded(2, "alice")


@pytest.fixture
def bob() -> AgentIdentity:
    return seeded(3, "bob")


@pytest.fixture
def mallory() -> AgentIdentity:
    return seeded(4, "mallory")
