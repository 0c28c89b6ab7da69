"""Puts the tests folder on sys.path (importlib mode) for `compliance_helpers`, and the `data` fixture."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from compliance_helpers import DATA  # noqa: E402


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tests/data as the working directory (so findings show relative paths)."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    monkeypatch.chdir(target)
    return target
