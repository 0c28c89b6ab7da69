"""Sessions: what a set of agents does toward one task, recorded in the audit log and queryable from it.

A `Session` is an enricher (every governed call made inside it carries ``context.session``) and a
guard (an agent that has not joined, or a call after the session ended, is refused with an
audited deny). Its lifecycle (start, join, end) is written to the audit log as events, so
`session_summary` rebuilds a session from the log alone.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from agent_hypervisor._events import is_event, record_event
from agt_core import AuditSink, UtcClock

if TYPE_CHECKING:
    from agent_hypervisor._log_base import AuditLogBase
    from agt_core import AuditRecord

__all__ = ["Session", "SessionSummary", "session_summary"]


class Session:
    """A task shared by agents, with its own id, members and policy-set hash.

    Use it as a context manager (calls inside carry ``context.session`` and are checked for
    membership) or pass it to one tool: ``govern(tool, ..., enrichers=[s], guards=[s])``.

    Args:
        task: What the session is for (free text, recorded).
        agents: Agent ids allowed to act in the session (more can `join`).
        audit: Where lifecycle events go; normally the same log govern() writes to.
        policy_set_hash: The policy set in force (recorded with the start event).
        session_id: Fixed id (default: random).
        pipeline: Where `with session:` registers its membership guard (default:
            `agent_os.pipeline()`); pass the one your tools were governed with if it is not the default.
    """

    name = "hypervisor-session"

    def __init__(
        self,
        task: str,
        *,
        agents: Iterable[str] = (),
        audit: AuditSink | None = None,
        policy_set_hash: str | None = None,
        session_id: str | None = None,
        pipeline: Any = None,
    ) -> None:
        self.id = session_id or "sess-" + secrets.token_hex(8)
        self._pipeline = pipeline
        self.task = task
        self.audit = audit
        self.policy_set_hash = policy_set_hash
        self._agents = set(agents)
        self._lock = threading.Lock()
        self._clock = UtcClock()
        self.started_at: str | None = None
        self.ended_at: str | None = None
        self.status: str | None = None

    @property
    def agents(self) -> frozenset[str]:
        """The agents that joined."""
        with self._lock:
            return frozenset(self._agents)

    def start(self, *, by: str = "hypervisor") -> None:
        """Record the start (idempotent). Raises `AuditError` if it cannot be recorded."""
        with self._lock:
            if self.started_at is not None:
                return
            now = self._clock.now()
            record_event(
                self.audit,
                "session.start",
                agent=by,
                session=self.id,
                data={
                    "task": self.task,
                    "agents": sorted(self._agents),
                    "policy_set_hash": self.policy_set_hash,
                    "at": now,
                },
            )
            self.started_at = now

    def join(self, agent_id: str) -> None:
        """Add an agent to the session (recorded)."""
        with self._lock:
            if self.ended_at is not None:
                raise ValueError(f"session `{self.id}` has ended; `{agent_id}` cannot join")
            record_event(
                self.audit, "session.join", agent=agent_id, session=self.id, data={"at": self._clock.now()}
            )
            self._agents.add(agent_id)

    def end(self, status: str = "completed", *, by: str = "hypervisor") -> None:
        """Record the end (idempotent); later calls in this session are refused."""
        with self._lock:
            if self.ended_at is not None:
                return
            now = self._clock.now()
            record_event(
                self.audit, "session.end", agent=by, session=self.id, data={"status": status, "at": now}
            )
            self.ended_at, self.status = now, status

    # -- agt_core.Enricher and agt_core.Guard ----------------------------------------------

    def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]] | None:
        """Tag the call with this session's id."""
        return {"context": {"session": self.id}}

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Refuse calls of agents that did not join, and calls after the session ended."""
        context = request.get("context") or {}
        if context.get("session") != self.id:
            return None
        agent = (request.get("agent") or {}).get("id")
        with self._lock:
            if self.ended_at is not None:
                return f"session `{self.id}` ended at {self.ended_at}"
            if self.started_at is None:
                return f"session `{self.id}` has not started"
            if agent not in self._agents:
                return f"agent `{agent}` has not joined session `{self.id}`"
        return None

    # -- as a context manager ---------------------------------------------------------------

    def __enter__(self) -> Session:
        import agent_os

        self.start()
        self._scope = self._activate()
        self._scope.__enter__()
        (self._pipeline or agent_os.pipeline()).add_guard(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        import agent_os

        (self._pipeline or agent_os.pipeline()).remove(self)
        self._scope.__exit__(None, None, None)
        self.end("failed" if exc_type is not None else "completed")

    @contextmanager
    def _activate(self) -> Iterator[None]:
        import agent_os

        with agent_os.governance_context(session=self.id):
            yield


class SessionSummary(BaseModel):
    """A session as the audit log alone tells it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    task: str | None
    agents: tuple[str, ...]
    policy_set_hash: str | None
    started_at: str | None
    ended_at: str | None
    status: str | None
    calls: tuple[int, ...]
    """Sequence numbers of the governed calls (decisions) made in the session."""
    events: tuple[int, ...]
    """Sequence numbers of the session's hypervisor events (lifecycle, deltas, commitments)."""


def session_summary(log: AuditLogBase, session_id: str) -> SessionSummary:
    """Rebuild a session from the audit log: members, policy set, start/end, and every call in it.

    Raises:
        KeyError: if the log holds nothing of that session.
    """
    records: list[AuditRecord] = log.query(session=session_id)
    if not records:
        raise KeyError(f"the audit log holds no record of session `{session_id}`")
    task = policy = started = ended = status = None
    agents: list[str] = []
    calls: list[int] = []
    events: list[int] = []
    for record in records:
        request = record.request
        if not is_event(request):
            calls.append(record.seq)
            continue
        events.append(record.seq)
        kind = request["action"]["type"]
        args = request.get("args") or {}
        if kind == "session.start":
            task, policy, started = args.get("task"), args.get("policy_set_hash"), args.get("at")
            agents.extend(a for a in args.get("agents", []) if a not in agents)
        elif kind == "session.join":
            agent = request["agent"]["id"]
            if agent not in agents:
                agents.append(agent)
        elif kind == "session.end":
            ended, status = args.get("at"), args.get("status")
    return SessionSummary(
        id=session_id,
        task=task,
        agents=tuple(agents),
        policy_set_hash=policy,
        started_at=started,
        ended_at=ended,
        status=status,
        calls=tuple(calls),
        events=tuple(events),
    )
