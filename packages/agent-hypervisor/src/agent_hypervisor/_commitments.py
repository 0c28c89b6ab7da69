"""Commitment tracking: promises agents make about their future governed calls, and who relies on them.

A commitment names the agent, what is promised (a CEL condition over a future governed call's
request, written exactly like a policy rule's condition), a deadline, and who relies on it. The
tracker is an `agt_core.Observer`: each call that ran and matches the condition fulfils the
agent's pending commitment; `check()` marks commitments whose deadline passed as broken and runs
the configured callbacks (notify, lower trust, pull a kill switch). Every transition is written
to the audit log. Time comes from an injectable clock, so tests drive it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from agent_hypervisor._events import is_event, record_event
from agt_core import AuditSink, Enforcement, PolicySet

if TYPE_CHECKING:
    from agent_hypervisor._log_base import AuditLogBase

__all__ = ["Commitment", "CommitmentTracker"]

logger = logging.getLogger("agent_hypervisor")

Status = Literal["pending", "fulfilled", "broken", "withdrawn"]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _compile(commitment_id: str, condition: str) -> PolicySet:
    from agent_os import compile_policies

    # The condition is compiled as the one allow rule of a deny-by-default policy: the policy
    # engine's own semantics, so a condition that errors never counts as fulfilled.
    return compile_policies(
        {
            "apiVersion": "governance.toolkit/v1",
            "name": f"commitment-{commitment_id}",
            "default_action": "deny",
            "rules": [{"name": "fulfils", "condition": condition, "action": "allow"}],
        }
    )


class Commitment(BaseModel):
    """One promise and where it stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    agent: str
    promise: str
    condition: str
    deadline: dt.datetime
    relied_on_by: tuple[str, ...] = ()
    status: Status = "pending"
    settled_at: dt.datetime | None = None
    fulfilled_by: str | None = None
    """Audit record hash of the governed call that fulfilled it."""
    reason: str | None = None


class CommitmentTracker:
    """Tracks commitments against governed calls; register it as an observer. Thread-safe.

    Args:
        audit: Where transitions are recorded (made, fulfilled, broken, withdrawn).
        clock: Returns the current time (timezone-aware); tests pass a synthetic one.
        on_broken: Called with each commitment when it breaks, in order. One that raises is
            logged on the ``agent_hypervisor`` logger and counted in `callback_failures`; the
            others still run.
    """

    name = "hypervisor-commitments"

    def __init__(
        self,
        *,
        audit: AuditSink | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        on_broken: Sequence[Callable[[Commitment], None]] = (),
    ) -> None:
        self.audit = audit
        self._clock = clock
        self._on_broken = tuple(on_broken)
        self._lock = threading.Lock()
        self._items: dict[str, Commitment] = {}
        self._conditions: dict[str, PolicySet] = {}
        self.callback_failures = 0

    @classmethod
    def restore(
        cls,
        log: AuditLogBase,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        on_broken: Sequence[Callable[[Commitment], None]] = (),
    ) -> CommitmentTracker:
        """Rebuild a tracker from the commitment events in the audit log (after a restart).

        The restored tracker records its next transitions to the same log; conditions are
        compiled again.
        """
        tracker = cls(audit=log, clock=clock, on_broken=on_broken)
        for record in log:
            request = record.request
            if not is_event(request) or not request["action"]["type"].startswith("commitment."):
                continue
            item = Commitment.model_validate(request["args"])
            if item.id not in tracker._conditions:
                tracker._conditions[item.id] = _compile(item.id, item.condition)
            tracker._items[item.id] = item
        return tracker

    def _now(self) -> dt.datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the tracker's clock must return timezone-aware datetimes")
        return now

    def promise(
        self,
        agent: str,
        promise: str,
        *,
        condition: str,
        deadline: dt.datetime,
        relied_on_by: Iterable[str] = (),
    ) -> Commitment:
        """Record a commitment.

        Args:
            agent: Who promises.
            promise: What, in words (recorded).
            condition: CEL over the fulfilling call's request, e.g.
                ``action.type == 'send_report' && args.to == 'cfo'``.
            deadline: When it breaks if unfulfilled (timezone-aware).
            relied_on_by: Who relies on it (agents or people, recorded).

        Raises:
            PolicyError: if the condition does not compile (with its position).
            ValueError: for a naive deadline.
        """
        if deadline.tzinfo is None:
            raise ValueError("deadline must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
        commitment_id = "cmt-" + secrets.token_hex(6)
        # The condition is compiled as the one allow rule of a deny-by-default policy: the
        # policy engine's own semantics, so a condition that errors never counts as fulfilled.
        checker = _compile(commitment_id, condition)
        item = Commitment(
            id=commitment_id,
            agent=agent,
            promise=promise,
            condition=condition,
            deadline=deadline,
            relied_on_by=tuple(relied_on_by),
        )
        with self._lock:
            self._event("commitment.made", item)
            self._items[item.id] = item
            self._conditions[item.id] = checker
        return item

    def _event(self, kind: str, item: Commitment) -> None:
        record_event(self.audit, kind, agent=item.agent, data=item.model_dump(mode="json"))

    def get(self, commitment_id: str) -> Commitment:
        """The commitment with that id (KeyError if unknown)."""
        with self._lock:
            return self._items[commitment_id]

    @property
    def commitments(self) -> list[Commitment]:
        """Every commitment, in the order made."""
        with self._lock:
            return list(self._items.values())

    def withdraw(self, commitment_id: str, *, reason: str) -> Commitment:
        """Withdraw a pending commitment (recorded with the reason).

        Raises:
            ValueError: if it is no longer pending.
        """
        with self._lock:
            item = self._items[commitment_id]
            if item.status != "pending":
                raise ValueError(f"commitment `{commitment_id}` is {item.status}, not pending")
            done = item.model_copy(
                update={"status": "withdrawn", "settled_at": self._now(), "reason": reason}
            )
            self._event("commitment.withdrawn", done)
            self._items[commitment_id] = done
        return done

    def check(self) -> list[Commitment]:
        """Mark pending commitments past their deadline as broken and act on them; return those."""
        broken: list[Commitment] = []
        with self._lock:
            now = self._now()
            for key, item in list(self._items.items()):
                if item.status == "pending" and now >= item.deadline:
                    done = item.model_copy(
                        update={"status": "broken", "settled_at": now, "reason": "deadline passed"}
                    )
                    self._event("commitment.broken", done)
                    self._items[key] = done
                    broken.append(done)
        for item in broken:
            for callback in self._on_broken:
                try:
                    callback(item)
                except Exception:
                    self.callback_failures += 1
                    logger.exception("commitment callback %r failed for %s", callback, item.id)
        return broken

    # -- agt_core.Observer --------------------------------------------------------------------

    def on_decision(self, outcome: Enforcement) -> None:
        """Nothing to do before the tool runs: a commitment is fulfilled by a call that ran."""

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Fulfil the agent's pending commitments that this successful call satisfies."""
        if error is not None or not outcome.allowed:
            return
        request: Mapping[str, Any] = outcome.request
        agent = (request.get("agent") or {}).get("id")
        self.check()  # a deadline that passed before this call is broken, not fulfilled
        with self._lock:
            now = self._now()
            for key, item in list(self._items.items()):
                if item.status != "pending" or item.agent != agent:
                    continue
                if self._conditions[key].evaluate(request).effect != "allow":
                    continue
                done = item.model_copy(
                    update={"status": "fulfilled", "settled_at": now, "fulfilled_by": outcome.audit_hash}
                )
                self._event("commitment.fulfilled", done)
                self._items[key] = done
