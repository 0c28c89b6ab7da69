"""Which redactor a kernel uses: its policy set's ``redaction:`` blocks, plus the ``redaction=`` option.

Kept apart from `agent_os.redaction`, so a kernel without redaction imports no patterns.

An evaluator compiles rules, not redaction (the native engine never sees the block), so
`compile_policies` remembers each set's blocks here by the set's hash. The hash covers every
resolved policy, its redaction block included, so one hash always means one configuration.
Code can add redaction to a policy's (``govern(..., redaction=...)``) but never remove it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agt_core import Redaction

if TYPE_CHECKING:
    from agent_os.redaction._redactor import Redactor
    from agt_core import PolicySet, ResolvedPolicy

__all__ = ["as_redactor", "policy_redactor", "remember_policies"]

_lock = threading.Lock()
_by_set_hash: dict[str, tuple[Redaction, ...]] = {}


def remember_policies(set_hash: str, policies: Sequence[ResolvedPolicy]) -> None:
    """Record the redaction blocks of a compiled set's policies (nothing when none has one)."""
    blocks = tuple(p.document.redaction for p in policies if p.document.redaction is not None)
    if blocks:
        with _lock:
            _by_set_hash[set_hash] = blocks


def as_redactor(value: Any) -> Redactor | None:
    """A `Redactor` from the ``redaction=`` option: a Redactor, a `Redaction`, its mapping, True, or None."""
    from agent_os.redaction._redactor import Redactor

    if value is None or value is False:
        return None
    if value is True:
        return Redactor()
    if isinstance(value, Redactor):
        return value
    if isinstance(value, Redaction):
        return Redactor.from_policy(value)
    if isinstance(value, Mapping):
        return Redactor.from_policy(Redaction.model_validate(dict(value)))
    raise TypeError(
        f"redaction= must be True, a Redactor, an agt_core.Redaction or its mapping, not `{type(value).__name__}`"
    )


def policy_redactor(policy_set: PolicySet, extra: Any = None) -> Redactor | None:
    """The redactor for a kernel over `policy_set`: the policies' blocks and `extra` combined."""
    with _lock:
        blocks = _by_set_hash.get(policy_set.hash, ())
    given = as_redactor(extra)
    if not blocks and given is None:
        return None
    from agent_os.redaction._redactor import Redactor

    parts = [Redactor.from_policy(b) for b in blocks]
    if given is not None:
        parts.append(given)
    return Redactor.combine(parts)
