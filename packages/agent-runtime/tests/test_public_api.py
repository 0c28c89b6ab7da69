"""The package's public API is exactly `__all__`, and every name in it resolves."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import agent_runtime


def test_all_names_resolve() -> None:
    for name in agent_runtime.__all__:
        assert getattr(agent_runtime, name) is not None, name
    assert sorted(dir(agent_runtime)) == sorted(agent_runtime.__all__)


def test_lazy_table_matches_all() -> None:
    lazy = set(agent_runtime._LAZY)
    assert lazy | {"__version__"} == set(agent_runtime.__all__)


def test_private_modules_declare_all() -> None:
    for info in pkgutil.iter_modules(agent_runtime.__path__):
        if info.name in ("_sandbox_helper", "_version"):
            continue  # a standalone script; the version string
        module = importlib.import_module(f"agent_runtime.{info.name}")
        assert hasattr(module, "__all__"), info.name


def test_import_is_cheap() -> None:
    code = "import sys, agent_runtime; print(sorted(m for m in ('pydantic', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
