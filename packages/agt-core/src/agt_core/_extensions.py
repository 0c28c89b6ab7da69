"""The governed-call pipeline's extension points: what other packages plug into the kernel.

One governed call runs these steps, in this order, in the agent-os kernel::

    build request -> enrichers -> guards -> evaluator -> rate limits -> approval -> audit sink
                  -> observers.on_decision -> (the tool runs) -> observers.on_completion

Packages (agent-mesh, agent-runtime, agent-sre, agent-hypervisor, ...) implement these small
protocols and register them with the kernel; agent-os never imports them. Failure rules:

* **Enricher** adds facts to ``agent`` or ``context`` before anything decides. Enrichers run in
  registration order; each sees the request as enriched so far. An enricher that raises, or
  returns anything but a mapping of ``agent``/``context`` to JSON-data mappings, refuses the
  call (an audited deny naming it). Enrichers never touch ``action``, ``args`` or ``stage``:
  what the tool receives is what the policy judges. ``agent.id`` cannot be changed.
* **Guard** may refuse before evaluation (kill switch, circuit breaker, ring check). Guards run in
  registration order after the enrichers; the first that returns a reason refuses the call with
  a deny whose ``refused_by`` is ``guard:<name>``. A guard that raises refuses the call too.
* **Observer** sees every enforcement outcome (allowed or not, refusals included) and, when the
  tool ran, its result or exception. An observer that raises is reported on the ``agent_os``
  logger and counted; it never changes an outcome already decided.
* **AuditSink** stores each decision. If it raises, the call is refused with `AuditError`:
  nothing runs unaudited.

All hooks are synchronous and are called on the governed call's thread; keep them fast (the
kernel calls them on every governed call) and do I/O elsewhere if it can block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agt_core._audit_record import ApprovalRecord
    from agt_core._decision import Decision

__all__ = ["AuditSink", "Enforcement", "Enricher", "Guard", "Observer", "RateLimitStore"]


class Enforcement(NamedTuple):
    """The outcome of enforcing one request (a named tuple: cheap on the governed-call path).

    Attributes:
        allowed: Whether the action may run.
        decision: The decision (after guards, rate limits and approval).
        approval: The approval record, when the decision required one.
        audit_hash: The audit record's hash, or None when auditing is off.
        request: The request as judged (after enrichment); plain JSON data, not to be mutated.
    """

    allowed: bool
    decision: Decision
    approval: ApprovalRecord | None
    audit_hash: str | None
    request: Mapping[str, Any]


@runtime_checkable
class Enricher(Protocol):
    """Adds facts about the agent or the call's context before evaluation.

    Attributes:
        name: Short stable name, used in refusals and logs (e.g. ``"mesh-identity"``).
    """

    name: str

    def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]] | None:
        """Return additions, e.g. ``{"agent": {"did": "did:key:z6Mk..."}}``, or None for none.

        Keys of the result must be ``agent`` and/or ``context``; each maps to JSON data that is
        merged one level deep over what the request already holds (the enricher wins over the
        caller, because it is the authority on what it adds). Raise to refuse the call.
        """
        ...


@runtime_checkable
class Guard(Protocol):
    """May refuse a request before it is evaluated.

    Attributes:
        name: Short stable name; a refusal's decision says ``refused_by="guard:<name>"``.
    """

    name: str

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Return None to let the request go on to evaluation, or the reason for refusing it."""
        ...


@runtime_checkable
class Observer(Protocol):
    """Sees every enforcement outcome, and the tool's result when it ran."""

    def on_decision(self, outcome: Enforcement) -> None:
        """Called once per enforced request, after the audit append, whatever the outcome."""
        ...

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Called after an allowed tool ran: its result, or the exception it raised, and how long it took."""
        ...


@runtime_checkable
class AuditSink(Protocol):
    """Stores one audit record per decision and returns the record's hash.

    `agent_os.AuditLog` (in memory) and the durable stores of agent-hypervisor implement it. The
    record layout and hash are `agt_core.audit_record_body` and `agt_core.record_hash`, so every
    store writes records that every verifier checks the same way.
    """

    def append(
        self, request: Mapping[str, Any], decision: Decision, approval: ApprovalRecord | None = None
    ) -> str:
        """Append one record; return its hash. Raise `AuditError` (or anything) if it cannot be stored."""
        ...


@runtime_checkable
class RateLimitStore(Protocol):
    """Counts calls against rule limits (``limit: "N/period"``), per agent and rule.

    `agent_os.RateLimiter` keeps the counts in memory; agent-sre's shared limiter keeps them in
    SQLite or PostgreSQL so several processes share one limit. If `acquire` raises, the kernel
    refuses the call (audited): a limit that cannot be checked is not granted.
    """

    def acquire(
        self, agent_id: str, rules: Iterable[tuple[str, str, str]]
    ) -> tuple[str, str, str, float] | None:
        """Record one call against every ``(policy, rule, limit)`` if all have room.

        Returns:
            None when the call was recorded, else ``(policy, rule, limit, retry_after_seconds)``
            of the first exhausted limit (and nothing is recorded).
        """
        ...
