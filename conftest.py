"""Fixtures every test suite of the repository shares.

`pytest` runs with ``--import-mode=importlib`` (root pyproject.toml), so one run can collect the
tests of every package; the seed policy lives once, in conformance/seed-policy.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent
SEED_POLICY_FILE = ROOT / "conformance" / "seed-policy.yaml"


@pytest.fixture(scope="session")
def seed_policy_text() -> str:
    """The seed's policy.yaml, as text."""
    return SEED_POLICY_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_policy_data(seed_policy_text: str) -> dict[str, Any]:
    """The seed's policy as the YAML loads (a fresh copy is the caller's to deep-copy before changing)."""
    data: dict[str, Any] = yaml.safe_load(seed_policy_text)
    return data


@pytest.fixture
def seed_policy(tmp_path: Path, seed_policy_text: str) -> Path:
    """The seed's policy written to ``policy.yaml`` in a fresh folder."""
    path = tmp_path / "policy.yaml"
    path.write_text(seed_policy_text, encoding="utf-8")
    return path
