"""The toolkit packages agent-compliance uses when they are installed, found without importing them."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata

__all__ = ["OPTIONAL", "installed", "missing_note", "version_of"]

OPTIONAL: dict[str, str] = {
    "agent-mesh": "agentmesh",
    "agent-runtime": "agent_runtime",
    "agent-sre": "agent_sre",
    "agent-hypervisor": "agent_hypervisor",
    "agt-evaluator": "agt_evaluator",
}
"""Distribution name -> import name."""


def installed(distribution: str) -> bool:
    """Whether `distribution`'s package can be imported (checked without importing it)."""
    module = OPTIONAL.get(distribution, distribution.replace("-", "_"))
    if module in sys.modules:
        return sys.modules[module] is not None  # None: imports of it are blocked
    return importlib.util.find_spec(module) is not None


def version_of(distribution: str) -> str | None:
    """The installed version of `distribution`, or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def missing_note(distribution: str) -> str:
    """What to run to get a check that needs `distribution`."""
    return f"{distribution} is not installed: pip install {distribution}"
