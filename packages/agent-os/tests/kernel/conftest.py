from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> object:
    """Each test starts with the process pipeline as a new process has it, and leaves it that way."""
    import agent_os

    agent_os.pipeline().reset()
    yield
    agent_os.pipeline().reset()
