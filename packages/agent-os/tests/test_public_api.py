"""The public API is exactly `__all__`, and importing the package stays cheap."""

from __future__ import annotations

import inspect
import subprocess
import sys

import agent_os

# Names the package module binds for its own use; they are not API.
PLUMBING = {"TYPE_CHECKING", "Any", "annotations"}


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return 0, name
    if name[:1].isupper():
        return 1, name
    return 2, name


def test_all_is_sorted_unique_and_resolves() -> None:
    assert list(agent_os.__all__) == sorted(agent_os.__all__, key=_isort_key)
    assert len(agent_os.__all__) == len(set(agent_os.__all__))
    for name in agent_os.__all__:
        assert getattr(agent_os, name) is not None, name


def test_no_public_name_is_missing_from_all() -> None:
    # vars(), not dir(): the package's __dir__ returns __all__, so a dir()-based check cannot fail.
    eager = {
        name
        for name, value in vars(agent_os).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name not in PLUMBING
    }
    lazy = set(agent_os._LAZY)
    assert lazy <= set(agent_os.__all__)
    assert set(agent_os.__all__) == eager | lazy | {"__version__"}


def test_import_does_not_load_the_engine() -> None:
    code = (
        "import sys; from agent_os import govern; "
        "heavy = [m for m in ('pydantic', 'yaml', 're2') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
