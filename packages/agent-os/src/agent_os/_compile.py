"""compile_policies(): the one entry point from policy sources to an evaluator."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from agent_os._loader import load_policies
from agent_os._policy_set import PythonPolicySet
from agt_core import PolicyDocument

__all__ = ["PolicySource", "compile_policies"]

PolicySource = str | os.PathLike[str] | Mapping[str, Any] | PolicyDocument | Sequence[Any]
"""A policy file or directory path, YAML text, a dict, a `PolicyDocument`, or a list of those."""


def compile_policies(
    source: PolicySource, *, base_dir: str | os.PathLike[str] | None = None
) -> PythonPolicySet:
    """Load and compile policies once; evaluate requests with the result's ``evaluate``.

    Args:
        source: Where the policies come from (see `PolicySource`).
        base_dir: Folder that ``extends`` paths are relative to for inline (non-file) policies.

    Returns:
        An immutable, thread-safe compiled policy set.

    Raises:
        PolicyError: with file, line and column, if any policy cannot be loaded.
    """
    return PythonPolicySet(load_policies(source, base_dir=base_dir))
