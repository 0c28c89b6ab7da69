from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent / "data"


def load(name: str) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> object:
    """Each test starts with the process pipeline as a new process has it, and leaves it that way."""
    import agent_os

    agent_os.pipeline().reset()
    yield
    agent_os.pipeline().reset()
