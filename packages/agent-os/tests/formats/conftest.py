from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> object:
    """Each test starts with the process pipeline as a new process has it, and leaves it that way."""
    import agent_os

    agent_os.pipeline().reset()
    yield
    agent_os.pipeline().reset()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a policy file into a fresh folder and return its path."""

    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return _write


def request(
    action: str, *, tool: str = "tool", agent: dict[str, Any] | None = None, **args: Any
) -> dict[str, Any]:
    """A request shaped as the kernel builds it."""
    return {
        "action": {"type": action, "tool": tool},
        "args": args,
        "agent": agent or {"id": "agent-1"},
        "context": {},
        "stage": "pre_tool",
    }
