"""The public API is exactly `__all__`, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import agent_os


def test_all_is_sorted_and_resolves() -> None:
    assert list(agent_os.__all__) == sorted(agent_os.__all__)
    for name in agent_os.__all__:
        assert getattr(agent_os, name) is not None, name


def test_no_public_module_attribute_missing_from_all() -> None:
    public = {n for n in dir(agent_os) if not n.startswith("_")}
    assert public <= set(agent_os.__all__) | {"annotations", "TYPE_CHECKING", "Any"}


def test_import_does_not_load_the_engine() -> None:
    code = (
        "import sys; from agent_os import govern; "
        "heavy = [m for m in ('pydantic', 'yaml', 're2') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
