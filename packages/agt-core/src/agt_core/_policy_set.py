"""The contract between the kernel and a policy evaluator.

A policy set is compiled once and then evaluates requests without re-parsing anything. The
pure-Python evaluator (agent-os) and the native evaluator (agt-evaluator) both implement it, and
both are held to the shared conformance vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agt_core._decision import Decision

__all__ = ["PolicySet"]


@runtime_checkable
class PolicySet(Protocol):
    """A compiled, immutable set of policies.

    Implementations never raise from `evaluate` for anything the request contains: a condition
    that fails becomes part of the decision (fail closed), and a request that breaks the limits is
    denied with the reason in ``Decision.errors``.
    """

    @property
    def hash(self) -> str:
        """``sha256:<hex>`` over the canonical JSON of every resolved policy in the set."""
        ...

    @property
    def evaluator(self) -> str:
        """The name of the evaluator that compiled the set (``"python"``, ``"native"``)."""
        ...

    @property
    def policy_names(self) -> tuple[str, ...]:
        """Names of the policies in the set, in load order."""
        ...

    @property
    def stages(self) -> frozenset[str]:
        """The stages at which at least one enabled rule applies."""
        ...

    @property
    def policy_hashes(self) -> Mapping[str, str]:
        """Policy name -> content hash of the resolved policy."""
        ...

    @property
    def limits(self) -> Mapping[tuple[str, str], str]:
        """``(policy, rule) -> limit`` for every enabled rule that declares a rate limit."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every warning raised while the policies were loaded (empty when there were none)."""
        ...

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        """Decide one request (plain JSON data shaped like `EvaluationRequest`)."""
        ...
