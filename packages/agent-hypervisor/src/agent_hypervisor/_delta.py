"""The delta engine: a session's shared state document, changed only by hash-chained JSON Patches.

Every change is a `Delta`: a JSON Patch (RFC 6902), the agent that made it, the governed call
that caused it (its audit record hash), the hash of the state it produced, and the previous
delta's hash; its own hash is the SHA-256 of the canonical JSON of all of that. History is never
rewritten: rolling back to a step appends a compensating delta. Writers use optimistic
concurrency: a delta names the version it was computed against and is refused with
`DeltaConflict` when another delta got there first (re-read, recompute, retry).
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from agent_hypervisor._events import is_event, record_event
from agent_hypervisor._json_patch import PatchError, apply_patch, diff
from agt_core import (
    GENESIS_HASH,
    AuditIntegrityError,
    AuditSink,
    GovernanceError,
    UtcClock,
    canonical_json,
    content_hash,
)

if TYPE_CHECKING:
    from agent_hypervisor._log_base import AuditLogBase

__all__ = ["Delta", "DeltaConflict", "DeltaEngine", "DeltaRejected"]


class DeltaConflict(GovernanceError):
    """The state moved on since the delta was computed (optimistic concurrency).

    Attributes:
        expected: The version the writer computed its delta against.
        actual: The current version.
    """

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"state is at version {actual}, not {expected}: another delta was applied first",
            help="re-read the state, recompute the patch and apply it with expected_version=<current>",
        )
        self.expected = expected
        self.actual = actual


class DeltaRejected(GovernanceError):
    """A delta does not apply to the current state (bad path, failed test, malformed patch).

    Attributes:
        op_index: The failing operation's index in the patch, when known.
    """

    def __init__(self, message: str, *, op_index: int | None = None) -> None:
        super().__init__(message)
        self.op_index = op_index


class Delta(BaseModel):
    """One recorded change of the state document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    kind: Literal["change", "rollback"]
    agent: str
    patch: tuple[dict[str, Any], ...]
    cause: str | None
    """The audit record hash of the governed call that caused this change, if any."""
    state_hash: str
    """``sha256:`` content hash of the state after this delta."""
    timestamp: str
    prev_hash: str
    hash: str

    @staticmethod
    def compute_hash(fields: Mapping[str, Any]) -> str:
        """SHA-256 of the canonical JSON of every field but ``hash``."""
        body = {k: v for k, v in fields.items() if k != "hash"}
        return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


class DeltaEngine:
    """A state document changed only through recorded, hash-chained JSON Patches. Thread-safe.

    Args:
        initial: The state at version 0 (a JSON object).
        audit: Where each delta is also written as an event (durable with a `SqliteAuditLog`).
        session: The session id the deltas belong to (recorded with each event); one engine per
            session, so that `restore` can rebuild it.
        record_initial: Record the initial state in `audit` (what `restore` starts from).
    """

    def __init__(
        self,
        initial: Mapping[str, Any] | None = None,
        *,
        audit: AuditSink | None = None,
        session: str | None = None,
        record_initial: bool = True,
    ) -> None:
        self._initial = copy.deepcopy(dict(initial or {}))
        canonical_json(self._initial)  # refuse a state with no canonical form up front
        self._state = copy.deepcopy(self._initial)
        self._deltas: list[Delta] = []
        self._lock = threading.Lock()
        self._clock = UtcClock()
        self.audit = audit
        self.session = session
        if record_initial:
            record_event(
                audit,
                "state.init",
                agent="hypervisor",
                session=session,
                data={"initial": self._initial, "state_hash": content_hash(self._initial)},
            )

    @classmethod
    def restore(cls, log: AuditLogBase, *, session: str) -> DeltaEngine:
        """Rebuild a session's engine from the audit log (after a restart), re-checking every delta.

        The restored engine records its next deltas to the same log.

        Raises:
            KeyError: if the log holds no state of that session.
            AuditIntegrityError: if a recorded delta does not match its hash, link or state hash.
        """
        records = [r for r in log.query(session=session) if is_event(r.request)]
        inits = [r for r in records if r.request["action"]["type"] == "state.init"]
        if not inits:
            raise KeyError(f"the audit log holds no state of session `{session}`")
        engine = cls(inits[0].request["args"]["initial"], audit=log, session=session, record_initial=False)
        for record in records:
            if record.request["action"]["type"] != "state.delta":
                continue
            fields = record.request["args"]
            at = len(engine._deltas)
            try:
                delta = Delta.model_validate(fields)
            except ValueError as exc:
                raise AuditIntegrityError(
                    f"recorded delta {at} is malformed: {exc}", index=record.seq
                ) from exc
            expected_prev = engine._deltas[-1].hash if engine._deltas else GENESIS_HASH
            if (
                delta.seq != at
                or delta.prev_hash != expected_prev
                or Delta.compute_hash(fields) != delta.hash
            ):
                raise AuditIntegrityError(
                    f"recorded delta {at} does not match its hash or link", index=record.seq
                )
            state = apply_patch(engine._state, delta.patch)
            if content_hash(state) != delta.state_hash:
                raise AuditIntegrityError(f"recorded delta {at} does not produce its state", index=record.seq)
            engine._deltas.append(delta)
            engine._state = state
        return engine

    @property
    def version(self) -> int:
        """Number of deltas applied so far."""
        return len(self._deltas)

    @property
    def deltas(self) -> tuple[Delta, ...]:
        """Every delta, oldest first."""
        with self._lock:
            return tuple(self._deltas)

    def read(self) -> tuple[int, Any]:
        """``(version, a copy of the state)``, read together: compute a patch from these."""
        with self._lock:
            return len(self._deltas), copy.deepcopy(self._state)

    @property
    def state(self) -> Any:
        """A copy of the current state."""
        return self.read()[1]

    def apply(
        self,
        patch: Sequence[Mapping[str, Any]],
        *,
        agent: str,
        expected_version: int,
        cause: str | None = None,
    ) -> Delta:
        """Apply `patch` if the state is still at `expected_version`; record and return the delta.

        Raises:
            DeltaConflict: another delta was applied since `expected_version`.
            DeltaRejected: the patch does not apply; the state is unchanged.
            AuditError: the delta could not be recorded; the state is unchanged.
        """
        return self._apply(patch, agent=agent, expected_version=expected_version, cause=cause, kind="change")

    def _apply(
        self,
        patch: Sequence[Mapping[str, Any]],
        *,
        agent: str,
        expected_version: int,
        cause: str | None,
        kind: Literal["change", "rollback"],
    ) -> Delta:
        with self._lock:
            version = len(self._deltas)
            if expected_version != version:
                raise DeltaConflict(expected_version, version)
            try:
                new_state = apply_patch(self._state, patch)
                ops = tuple(copy.deepcopy(dict(op)) for op in patch)
                state_hash = content_hash(new_state)
            except PatchError as exc:
                raise DeltaRejected(f"delta refused: {exc.message}", op_index=exc.op_index) from exc
            except GovernanceError as exc:
                raise DeltaRejected(f"delta refused: {exc.message}") from exc
            fields: dict[str, Any] = {
                "seq": version,
                "kind": kind,
                "agent": agent,
                "patch": [dict(op) for op in ops],
                "cause": cause,
                "state_hash": state_hash,
                "timestamp": self._clock.now(),
                "prev_hash": self._deltas[-1].hash if self._deltas else GENESIS_HASH,
            }
            fields["hash"] = Delta.compute_hash(fields)
            delta = Delta.model_validate(fields)
            record_event(self.audit, "state.delta", agent=agent, session=self.session, data=fields)
            self._deltas.append(delta)
            self._state = new_state
            return delta

    def state_at(self, step: int) -> Any:
        """The state after the first `step` deltas (0: the initial state), rebuilt by replaying them."""
        with self._lock:
            deltas = self._deltas[:step]
            if not 0 <= step <= len(self._deltas):
                raise ValueError(f"step {step} is outside 0..{len(self._deltas)}")
        state = copy.deepcopy(self._initial)
        for delta in deltas:
            state = apply_patch(state, delta.patch)
        return state

    def diff(self, from_step: int, to_step: int) -> list[dict[str, Any]]:
        """A JSON Patch turning the state at `from_step` into the state at `to_step`."""
        return diff(self.state_at(from_step), self.state_at(to_step))

    def rollback_to(self, step: int, *, agent: str, cause: str | None = None) -> Delta:
        """Return the state to what it was at `step` by appending a compensating delta.

        Raises:
            DeltaConflict: a delta was applied concurrently; retry.
        """
        target = self.state_at(step)
        version, current = self.read()
        return self._apply(
            diff(current, target), agent=agent, expected_version=version, cause=cause, kind="rollback"
        )

    def verify(self) -> int:
        """Re-check the chain and replay every delta against its recorded state hash.

        Returns:
            The number of deltas verified.

        Raises:
            AuditIntegrityError: naming the first delta that does not verify.
        """
        state = copy.deepcopy(self._initial)
        prev = GENESIS_HASH
        for i, delta in enumerate(self.deltas):
            fields = delta.model_dump(mode="json")
            if delta.seq != i or delta.prev_hash != prev or Delta.compute_hash(fields) != delta.hash:
                raise AuditIntegrityError(f"delta {i} does not match its hash or link", index=i)
            state = apply_patch(state, delta.patch)
            if content_hash(state) != delta.state_hash:
                raise AuditIntegrityError(f"delta {i} does not produce the state it recorded", index=i)
            prev = delta.hash
        if content_hash(state) != content_hash(self._state):
            raise AuditIntegrityError("the current state is not what the deltas produce", index=self.version)
        return self.version
