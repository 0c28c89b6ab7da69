"""compile_policies(): the one entry point from policy sources to a compiled policy set."""

from __future__ import annotations

import os

from agent_os._evaluators import select_evaluator
from agent_os._loading import PolicySource, load_policies
from agent_os._redaction import remember_policies
from agt_core import Evaluator, PolicySet

__all__ = ["PolicySource", "compile_policies"]


def compile_policies(
    source: PolicySource,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    evaluator: str | Evaluator | None = None,
    strict: bool = False,
    lint: bool = True,
) -> PolicySet:
    """Load, check and compile policies once; evaluate requests with the result's ``evaluate``.

    Args:
        source: Where the policies come from (see `PolicySource`).
        base_dir: Folder that ``extends`` paths are relative to for inline (non-file) policies.
        evaluator: ``None``/``"auto"`` (the native evaluator when installed, else the Python one;
            the ``AGT_EVALUATOR`` environment variable overrides), ``"python"``, ``"native"``,
            another registered name, or an `agt_core.Evaluator` object. The result's
            ``evaluator`` attribute names the one used.
        strict: Turn policy warnings into load errors (also ``AGT_STRICT_POLICIES=1``).
        lint: Warn about restrictive rules that read a field not every request has (see
            `load_policies`); ``False`` silences that lint, not the other warnings.

    Returns:
        An immutable, thread-safe compiled policy set.

    Raises:
        PolicyError: With file, line and column of every problem, if any policy cannot be
            loaded; or if the requested evaluator is not installed (with the install command).
    """
    chosen = select_evaluator(evaluator)
    # Rego and Cedar (issue 11): .rego/.cedar files, or folders holding them, go to agent_os._combined.
    from agent_os._combined import compile_mixed, names_engine_policies

    if names_engine_policies(source):
        return compile_mixed(source, chosen, base_dir=base_dir, strict=strict, lint=lint)
    # end Rego and Cedar
    policies = load_policies(source, base_dir=base_dir, strict=strict, lint=lint)
    compiled = chosen.compile(policies)
    remember_policies(compiled.hash, policies)  # redaction: applied by the kernel, not the evaluator
    return compiled
