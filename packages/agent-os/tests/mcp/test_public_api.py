"""agent_os.mcp's public API is its `__all__`; the kernel never imports it (or the SDK)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import agent_os.mcp


def test_all_is_sorted_and_complete() -> None:
    names = list(agent_os.mcp.__all__)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(agent_os.mcp, name) is not None
    public = {
        n
        for n, v in vars(agent_os.mcp).items()
        if not n.startswith("_") and not inspect.ismodule(v) and n != "annotations"
    }
    assert public == set(names)


def test_the_kernel_does_not_import_the_gateway() -> None:
    code = (
        "import sys, agent_os; from agentmesh.governance import govern\n"
        "from agent_os import ToolGate\n"
        "print(','.join(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'agent_os.mcp'))))"
    )
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('agentmesh') else 3)"
    if subprocess.run([sys.executable, "-c", probe], check=False).returncode == 3:
        code = code.replace("from agentmesh.governance import govern\n", "\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
