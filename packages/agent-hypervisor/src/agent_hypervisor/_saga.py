"""Sagas: multi-step actions across tools, undone step by step in reverse when one fails.

Each `SagaStep` has an action and, usually, a compensating action; both are normally governed
tools, so policy applies to compensations too (they run inside ``governance_context(saga=<id>,
saga_step=<name>, compensation=<bool>)``, which conditions can test). A step is retried with
backoff, may have a timeout, and a `GovernanceDenied` is final (never retried). When a step fails,
the steps that completed (and a step that timed out, whose effect is unknown) are compensated in
reverse order; a compensation that still fails after its retries is escalated (the `escalate`
callback, e.g. one that files an approval request) and the saga ends ``compensation_failed``.

Durability: with a `SagaStore`, the saga's progress is saved (``synchronous=FULL``) before and
after every step, so a saga interrupted by a crash is picked up with `Saga.resume`: a step that
was running when the process died is run again (steps must be idempotent: at-least-once), and a
saga that was compensating goes on compensating. Every transition is also an audit event.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_hypervisor._events import record_event
from agt_core import AuditSink, GovernanceDenied, GovernanceError, UtcClock

__all__ = ["Saga", "SagaError", "SagaEscalation", "SagaStep", "SagaStore"]

logger = logging.getLogger("agent_hypervisor")


class SagaError(GovernanceError):
    """A saga could not be run or resumed as asked (unknown id, steps that do not match, bad store)."""


class _StepTimeout(Exception):
    pass


@dataclass(frozen=True)
class SagaStep:
    """One step of a saga.

    Attributes:
        name: Unique within the saga; how progress is saved and matched on resume.
        action: What the step does (a governed tool), called with ``**args``.
        args: The action's keyword arguments (JSON data, so the saga can be resumed).
        compensate: Undoes the action (a governed tool); None for a step with nothing to undo.
        compensate_args: Keyword arguments for `compensate`, or a function of the action's
            result returning them.
        retries: Extra attempts of the action after a failure (not after a policy denial).
        compensation_retries: Extra attempts of the compensation.
        timeout: Seconds an attempt may take; the step then fails. The attempt's thread cannot be
            stopped and may still finish, which is why a timed-out step is compensated too.
    """

    name: str
    action: Callable[..., Any]
    args: Mapping[str, Any] = field(default_factory=dict)
    compensate: Callable[..., Any] | None = None
    compensate_args: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]] = field(default_factory=dict)
    retries: int = 0
    compensation_retries: int = 2
    timeout: float | None = None


@dataclass(frozen=True)
class SagaEscalation:
    """What `escalate` receives when a compensation failed for good."""

    saga_id: str
    saga_name: str
    step: str
    error: str


class SagaStore:
    """Durable saga progress in a SQLite file (WAL, ``synchronous=FULL``), safe across processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS sagas (id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise SagaError(f"cannot open saga store `{self.path}`: {exc}") from exc
        self._lock = threading.Lock()

    def save(self, saga_id: str, name: str, state: Mapping[str, Any]) -> None:
        """Persist a saga's state; durable when this returns."""
        text = json.dumps(state, sort_keys=True)
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO sagas (id, name, state) VALUES (?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET state = excluded.state",
                    (saga_id, name, text),
                )
            except sqlite3.Error as exc:
                raise SagaError(f"cannot save saga `{saga_id}` to `{self.path}`: {exc}") from exc

    def load(self, saga_id: str) -> dict[str, Any] | None:
        """A saga's saved state, or None."""
        with self._lock:
            row = self._conn.execute("SELECT state FROM sagas WHERE id = ?", (saga_id,)).fetchone()
        if row is None:
            return None
        try:
            state: dict[str, Any] = json.loads(row[0])
        except ValueError as exc:
            raise SagaError(f"saved state of saga `{saga_id}` is damaged: {exc}") from exc
        return state

    def unfinished(self) -> list[str]:
        """Ids of sagas that were running or compensating when last saved."""
        with self._lock:
            rows = self._conn.execute("SELECT id, state FROM sagas ORDER BY rowid").fetchall()
        return [r[0] for r in rows if json.loads(r[1]).get("status") in ("running", "compensating")]

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()


def _default_backoff(attempt: int) -> float:
    return float(min(0.05 * 2**attempt, 2.0))


def _json_or_none(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


class Saga:
    """A multi-step action with compensation. Run it with `run`; pick a crashed one up with `resume`.

    Args:
        name: What the saga does (recorded).
        steps: The steps, in order.
        saga_id: Fixed id (default: random); needed to resume.
        store: Where progress is saved; without one the saga cannot survive a crash.
        audit: Where transitions are recorded as events.
        escalate: Called when a compensation fails for good (e.g. to request human approval).
        backoff: Seconds to wait before retry number ``attempt`` (0-based).
        sleep: How to wait (tests pass a fake).
        agent: The agent id recorded with the saga's events.
        session: The session the saga's events belong to (`Session.id`).
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[SagaStep],
        *,
        saga_id: str | None = None,
        store: SagaStore | None = None,
        audit: AuditSink | None = None,
        escalate: Callable[[SagaEscalation], None] | None = None,
        backoff: Callable[[int], float] = _default_backoff,
        sleep: Callable[[float], None] = time.sleep,
        agent: str = "saga",
        session: str | None = None,
    ) -> None:
        names = [s.name for s in steps]
        if not steps or len(set(names)) != len(names):
            raise SagaError("a saga needs at least one step, and step names must be unique")
        self.name = name
        self.steps = tuple(steps)
        self.id = saga_id or "saga-" + secrets.token_hex(6)
        self.store = store
        self.audit = audit
        self.escalate = escalate
        self._backoff = backoff
        self._sleep = sleep
        self._agent = agent
        self._session = session
        self._clock = UtcClock()
        self.state: dict[str, Any] = {
            "name": name,
            "status": "running",
            "steps": [{"name": n, "status": "pending", "attempts": 0} for n in names],
        }

    @classmethod
    def resume(cls, saga_id: str, steps: Sequence[SagaStep], *, store: SagaStore, **options: Any) -> Saga:
        """The saga `saga_id` as last saved, ready to `run` on from where it stopped.

        Raises:
            SagaError: if the store has no such saga or its steps differ from `steps`.
        """
        saved = store.load(saga_id)
        if saved is None:
            raise SagaError(f"saga store `{store.path}` holds no saga `{saga_id}`")
        saga = cls(saved["name"], steps, saga_id=saga_id, store=store, **options)
        if [s["name"] for s in saved["steps"]] != [s.name for s in steps]:
            raise SagaError(f"the steps given do not match the saved steps of saga `{saga_id}`")
        saga.state = saved
        return saga

    # -- running -----------------------------------------------------------------------------

    def _save(self, event: str, step: str | None = None, **data: Any) -> None:
        if self.store is not None:
            self.store.save(self.id, self.name, self.state)
        payload = {"saga": self.id, "name": self.name, "status": self.state["status"], **data}
        if step is not None:
            payload["step"] = step
        record_event(self.audit, event, agent=self._agent, data=payload, session=self._session)

    def _call(self, fn: Callable[..., Any], args: Mapping[str, Any], timeout: float | None) -> Any:
        if timeout is None:
            return fn(**args)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = fn(**args)
            except BaseException as exc:
                box["error"] = exc

        worker = threading.Thread(target=target, daemon=True, name=f"saga-{self.id}")
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise _StepTimeout(f"timed out after {timeout} s")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def _attempt(
        self,
        fn: Callable[..., Any],
        args: Mapping[str, Any],
        step: SagaStep,
        entry: dict[str, Any],
        retries: int,
        compensation: bool,
    ) -> Any:
        import agent_os

        for attempt in range(retries + 1):
            entry["attempts"] = entry.get("attempts", 0) + 1
            try:
                with agent_os.governance_context(
                    saga=self.id, saga_step=step.name, compensation=compensation
                ):
                    return self._call(fn, args, step.timeout)
            except GovernanceDenied:
                raise  # a policy refusal is final: retrying would only be refused again
            except Exception:
                if attempt == retries:
                    raise
                self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def run(self) -> dict[str, Any]:
        """Run (or continue) the saga to ``completed``, ``compensated`` or ``compensation_failed``.

        Returns:
            The saga's final state (status and each step's status, attempts, error).

        Raises:
            SagaError: if progress cannot be saved (the saga stops where it is; resume it later).
        """
        if self.state["status"] == "running":
            self._save("saga.started")
            self._forward()
        if self.state["status"] == "compensating":
            self._backward()
        return self.state

    def _forward(self) -> None:
        for step, entry in zip(self.steps, self.state["steps"], strict=True):
            if entry["status"] == "done":
                continue
            entry["status"] = "running"
            self._save("saga.step.started", step.name)
            try:
                result = self._attempt(step.action, step.args, step, entry, step.retries, False)
            except Exception as exc:
                entry["status"] = "timed_out" if isinstance(exc, _StepTimeout) else "failed"
                entry["error"] = f"{type(exc).__name__}: {exc}"
                self.state["status"] = "compensating"
                self._save("saga.step.failed", step.name, error=entry["error"])
                return
            entry["status"] = "done"
            entry["result"] = _json_or_none(result)
            self._save("saga.step.done", step.name)
        self.state["status"] = "completed"
        self._save("saga.completed")

    def _backward(self) -> None:
        failed = False
        pairs = list(zip(self.steps, self.state["steps"], strict=True))
        for step, entry in reversed(pairs):
            if entry["status"] not in ("done", "timed_out", "compensating"):
                continue
            if step.compensate is None:
                entry["status"] = "compensated"
                self._save("saga.step.compensated", step.name, note="nothing to undo")
                continue
            entry["status"] = "compensating"
            self._save("saga.compensation.started", step.name)
            args = (
                step.compensate_args(entry.get("result"))
                if callable(step.compensate_args)
                else step.compensate_args
            )
            try:
                self._attempt(step.compensate, args, step, entry, step.compensation_retries, True)
            except Exception as exc:
                failed = True
                entry["status"] = "compensation_failed"
                entry["error"] = f"{type(exc).__name__}: {exc}"
                self._save("saga.compensation.failed", step.name, error=entry["error"])
                self._escalate(step, entry["error"])
                continue
            entry["status"] = "compensated"
            self._save("saga.step.compensated", step.name)
        self.state["status"] = "compensation_failed" if failed else "compensated"
        self._save("saga." + self.state["status"])

    def _escalate(self, step: SagaStep, error: str) -> None:
        escalation = SagaEscalation(saga_id=self.id, saga_name=self.name, step=step.name, error=error)
        self._save("saga.escalated", step.name, error=error)
        if self.escalate is not None:
            try:
                self.escalate(escalation)
            except Exception:  # an escalation that fails must not stop the other compensations
                logger.exception("saga %s: escalation of step %s failed", self.id, step.name)
