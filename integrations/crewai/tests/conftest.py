"""Offline CrewAI: telemetry and tracing off before crewai is imported, hooks cleared between tests."""

from __future__ import annotations

import os

os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["CREWAI_DISABLE_TRACKING"] = "true"
os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ["OTEL_SDK_DISABLED"] = "true"
os.environ.setdefault("CREWAI_STORAGE_DIR", "/tmp/agt-crewai-tests")

from collections.abc import Iterator

import pytest
from crewai.hooks import clear_all_global_hooks


@pytest.fixture(autouse=True)
def _no_leftover_hooks() -> Iterator[None]:
    clear_all_global_hooks()
    yield
    clear_all_global_hooks()
