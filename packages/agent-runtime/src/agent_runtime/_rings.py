"""Privilege rings, enforced on every governed call.

Four rings, lower is more privileged: 0 kernel/configuration (never held by an agent), 1
privileged, 2 standard, 3 sandbox (the default). A tool needs a ring (``@requires_ring(1)`` or
``Rings(tools={...})``); a call from an agent whose ring number is higher is refused by the
``rings`` guard before any policy rule runs, and the refusal is audited like every other.

An agent's ring, computed on every call:

1. its configured ring (``assign``), or the default (3);
2. never more privileged than its trust score allows, when a trust score is on the request
   (``agent.trust``, 0-1000, set by agent-mesh's enricher): >= 900 may hold ring 1, >= 600
   ring 2, below 600 ring 3. Trust only ever lowers privilege;
3. never more privileged than a demotion (``demote``), which lasts until ``assign`` resets it;
4. an unexpired elevation (``elevate``: time-limited, names who granted it, audited) replaces
   all of the above until it expires or is revoked. A demotion revokes it.

The ``rings`` enricher puts the result on the request as ``agent.ring`` (overriding anything the
caller put there), so policy conditions can read it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from agt_core import AuditSink

__all__ = [
    "MAX_ELEVATION_SECONDS",
    "TRUST_RING_THRESHOLDS",
    "Elevation",
    "RingEnricher",
    "RingGuard",
    "Rings",
    "requires_ring",
    "ring_for_trust",
]

F = TypeVar("F", bound=Callable[..., Any])

TRUST_RING_THRESHOLDS: tuple[tuple[int, int], ...] = ((900, 1), (600, 2))
"""(minimum trust score, most privileged ring it allows); below every threshold: ring 3."""
MAX_ELEVATION_SECONDS = 3600
"""Longest elevation that can be granted."""
_RINGS = (0, 1, 2, 3)

_tool_rings: dict[str, int] = {}
_tool_rings_lock = threading.Lock()


def _check_ring(ring: object, what: str) -> int:
    if type(ring) is not int or ring not in _RINGS:
        raise ValueError(f"{what} must be a ring 0-3, got {ring!r}")
    return ring


def requires_ring(ring: int, *, tool: str | None = None) -> Callable[[F], F]:
    """Declare the ring a tool needs; every `Rings` consults it for tools it has no mapping for.

    Example::

        @requires_ring(1)
        def deploy(service: str) -> str: ...

    The tool is known by its function name (the name `govern` gives it) unless `tool` is given.
    """
    _check_ring(ring, "a tool's ring")

    def decorate(fn: F) -> F:
        name = tool or getattr(fn, "__name__", None)
        if not isinstance(name, str) or not name:
            raise ValueError("requires_ring needs a named function or an explicit tool name")
        with _tool_rings_lock:
            _tool_rings[name] = ring
        fn.__agt_ring__ = ring  # type: ignore[attr-defined]
        return fn

    return decorate


def ring_for_trust(score: float) -> int:
    """The most privileged ring a trust score (0-1000) allows: see `TRUST_RING_THRESHOLDS`."""
    for minimum, ring in TRUST_RING_THRESHOLDS:
        if score >= minimum:
            return ring
    return 3


@dataclass(frozen=True, slots=True)
class Elevation:
    """A time-limited grant of a more privileged ring.

    Attributes:
        agent_id: Who is elevated.
        ring: The ring granted (1 or 2).
        granted_by: Who granted it (a person or an approver's id).
        reason: Why.
        granted_at: When, in seconds since the epoch.
        expires_at: When it stops applying, in seconds since the epoch.
    """

    agent_id: str
    ring: int
    granted_by: str
    reason: str
    granted_at: float
    expires_at: float

    def to_data(self) -> dict[str, Any]:
        """The elevation as JSON data (what goes on requests and in the audit trail)."""
        return {
            "ring": self.ring,
            "granted_by": self.granted_by,
            "reason": self.reason,
            "granted_at": _iso(self.granted_at),
            "expires_at": _iso(self.expires_at),
        }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class Rings:
    """Ring assignments, tool requirements, demotions and elevations; thread-safe.

    Args:
        assignments: Agent id -> configured ring (1-3).
        default: Ring of agents without an assignment.
        tools: Tool name -> ring it needs (0-3). Tools without a mapping use `requires_ring`'s
            registry, then `default_tool_ring`.
        default_tool_ring: Ring needed by tools nobody declared (3: any agent may call them;
            set it to 2 or 1 to make undeclared tools privileged).
        audit: Where elevations, revocations and demotions are recorded; default: the
            agent-os pipeline's default audit sink.
        clock: Seconds since the epoch (for elevation expiry; injectable for tests).
    """

    def __init__(
        self,
        *,
        assignments: Mapping[str, int] | None = None,
        default: int = 3,
        tools: Mapping[str, int] | None = None,
        default_tool_ring: int = 3,
        audit: AuditSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self.default = _check_ring(default, "the default ring")
        if self.default == 0:
            raise ValueError("ring 0 is never granted to agents")
        self.default_tool_ring = _check_ring(default_tool_ring, "the default tool ring")
        self._assigned: dict[str, int] = {}
        self._demoted: dict[str, int] = {}
        self._elevations: dict[str, Elevation] = {}
        for agent_id, ring in (assignments or {}).items():
            self._assign(agent_id, ring)
        self._tools = {str(t): _check_ring(r, f"tool {t!r}'s ring") for t, r in (tools or {}).items()}
        self._audit = audit
        self.clock = clock
        self.enricher = RingEnricher(self)
        self.guard = RingGuard(self)

    # -- configuration ------------------------------------------------------------------------

    def assign(self, agent_id: str, ring: int, *, by: str = "configuration") -> None:
        """Configure `agent_id`'s ring (1-3) and clear any demotion of it. Audited (``ring.assign``).

        A change of configuration at run time can raise privilege, so it is recorded, naming `by`,
        before it applies.
        """
        _check_ring(ring, "an agent's ring")
        if ring == 0:
            raise ValueError("ring 0 is never granted to agents")
        self._record("ring.assign", by, {"agent_id": agent_id, "ring": ring})
        self._assign(agent_id, ring)

    def _assign(self, agent_id: str, ring: int) -> None:
        _check_ring(ring, "an agent's ring")
        if ring == 0:
            raise ValueError("ring 0 is never granted to agents")
        with self._lock:
            self._assigned[agent_id] = ring
            self._demoted.pop(agent_id, None)

    def require(self, tool: str, ring: int) -> None:
        """Declare that `tool` needs `ring` (0 means no agent may call it)."""
        _check_ring(ring, "a tool's ring")
        with self._lock:
            self._tools[tool] = ring

    def required_ring(self, tool: str) -> int:
        """The ring `tool` needs."""
        ring = self._tools.get(tool)
        if ring is None:
            ring = _tool_rings.get(tool, self.default_tool_ring)
        return ring

    # -- run-time changes -----------------------------------------------------------------------

    def demote(self, agent_id: str, ring: int, *, by: str, reason: str) -> None:
        """Lower `agent_id`'s privilege to `ring` (or lower) now; revokes any elevation. Audited."""
        _check_ring(ring, "a demotion's ring")
        if ring == 0:
            raise ValueError("demoting to ring 0 would raise privilege")
        self._record("ring.demote", by, {"agent_id": agent_id, "ring": ring, "reason": reason})
        with self._lock:
            self._demoted[agent_id] = max(ring, self._demoted.get(agent_id, 0))
            self._elevations.pop(agent_id, None)

    def elevate(self, agent_id: str, ring: int, *, granted_by: str, ttl_s: float, reason: str) -> Elevation:
        """Grant `agent_id` ring `ring` (1 or 2) for `ttl_s` seconds (at most an hour). Audited.

        The grant is recorded before it applies: if the audit sink fails, there is no elevation.
        """
        _check_ring(ring, "an elevation's ring")
        if ring == 0:
            raise ValueError("ring 0 is never granted to agents")
        if ring == 3:
            raise ValueError("ring 3 is the least privileged ring; use demote() to lower privilege")
        if not isinstance(granted_by, str) or not granted_by.strip():
            raise ValueError("an elevation must name who granted it")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("an elevation must give a reason")
        if not isinstance(ttl_s, (int, float)) or not 0 < ttl_s <= MAX_ELEVATION_SECONDS:
            raise ValueError(f"an elevation lasts more than 0 and at most {MAX_ELEVATION_SECONDS} seconds")
        now = self.clock()
        grant = Elevation(agent_id, ring, granted_by, reason, now, now + float(ttl_s))
        self._record("ring.elevate", granted_by, {"agent_id": agent_id, **grant.to_data(), "ttl_s": ttl_s})
        with self._lock:
            self._elevations[agent_id] = grant
        return grant

    def revoke_elevation(self, agent_id: str, *, by: str, reason: str = "revoked") -> bool:
        """End `agent_id`'s elevation now; return whether there was one. Audited."""
        with self._lock:
            had = self._elevations.pop(agent_id, None) is not None
        if had:
            self._record("ring.revoke", by, {"agent_id": agent_id, "reason": reason})
        return had

    def elevation(self, agent_id: str) -> Elevation | None:
        """`agent_id`'s elevation, if one applies now."""
        grant = self._elevations.get(agent_id)
        if grant is None:
            return None
        if self.clock() >= grant.expires_at:
            with self._lock:
                if self._elevations.get(agent_id) is grant:
                    del self._elevations[agent_id]
            return None
        return grant

    def ring_of(self, agent_id: str, trust: float | None = None) -> int:
        """`agent_id`'s ring now (see the module docs for how it is computed)."""
        if self._elevations:
            grant = self.elevation(agent_id)
            if grant is not None:
                return grant.ring
        ring = self._assigned.get(agent_id, self.default)
        if trust is not None:
            ring = max(ring, ring_for_trust(trust))
        demoted = self._demoted.get(agent_id)
        if demoted is not None:
            ring = max(ring, demoted)
        return ring

    # -- wiring -----------------------------------------------------------------------------------

    def install(self, pipeline: Any = None) -> None:
        """Register the enricher and the guard with `pipeline` (default: ``agent_os.pipeline()``)."""
        if pipeline is None:
            import agent_os

            pipeline = agent_os.pipeline()
        pipeline.add_enricher(self.enricher)
        pipeline.add_guard(self.guard)

    def uninstall(self, pipeline: Any = None) -> None:
        """Unregister what `install` registered."""
        if pipeline is None:
            import agent_os

            pipeline = agent_os.pipeline()
        pipeline.remove(self.enricher)
        pipeline.remove(self.guard)

    def _record(self, kind: str, who: str, args: dict[str, Any]) -> None:
        from agt_core import Decision

        sink = self._audit
        if sink is None:
            import agent_os

            get_pipeline = getattr(agent_os, "pipeline", None)
            sink = (
                get_pipeline().default_audit() if get_pipeline is not None else agent_os.default_audit_log()
            )
        request = {
            "action": {"type": kind, "tool": "agent_runtime.rings"},
            "args": args,
            "agent": {"id": who},
            "context": {},
            "stage": "pre_tool",
        }
        decision = Decision(effect="allow", allowed=True, policy="rings", message=f"{kind} by {who!r}")
        sink.append(request, decision)


def _facts(request: Mapping[str, Any]) -> tuple[str, float | None]:
    agent = request.get("agent")
    if not isinstance(agent, Mapping):
        raise ValueError("the request has no agent")
    agent_id = agent.get("id")
    if not isinstance(agent_id, str):
        raise ValueError("the request's agent has no string id")
    trust = agent.get("trust")
    if trust is not None and (isinstance(trust, bool) or not isinstance(trust, (int, float))):
        raise ValueError(f"agent.trust must be a number, got {type(trust).__name__}")
    return agent_id, trust


class RingEnricher:
    """Puts the agent's ring (and any elevation) on the request: ``agent.ring``, ``agent.ring_elevation``."""

    name = "rings"

    def __init__(self, rings: Rings) -> None:
        self.rings = rings

    def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]] | None:
        """Return ``{"agent": {"ring": n}}`` (plus the elevation when one applies)."""
        agent_id, trust = _facts(request)
        ring = self.rings.ring_of(agent_id, trust)
        agent: dict[str, Any] = {"ring": ring}
        grant = self.rings.elevation(agent_id)
        agent["ring_elevation"] = grant.to_data() if grant is not None and grant.ring == ring else None
        action = request.get("action")
        tool = action.get("tool") if isinstance(action, Mapping) else None
        context = {"required_ring": self.rings.required_ring(tool)} if isinstance(tool, str) else {}
        return {"agent": agent, "context": context}


class RingGuard:
    """Refuses a call whose tool needs a more privileged ring than the agent holds."""

    name = "rings"

    def __init__(self, rings: Rings) -> None:
        self.rings = rings

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Return why the call is refused, or None."""
        # Runs on every governed call: plain item access, no ABC isinstance checks.
        try:
            agent = request["agent"]
            agent_id = agent["id"]
            trust = agent.get("trust")
        except (KeyError, TypeError, AttributeError):
            return "cannot determine the agent's ring: the request has no agent id"
        try:
            tool = request["action"]["tool"]
        except (KeyError, TypeError):
            tool = None
        if type(agent_id) is not str:
            return "cannot determine the agent's ring: the agent id is not a string"
        if type(tool) is not str:
            return "cannot determine the tool's ring: the request names no tool"
        if trust is not None and type(trust) is not int and type(trust) is not float:
            return (
                f"cannot determine the agent's ring: agent.trust must be a number, got {type(trust).__name__}"
            )
        rings = self.rings
        needed = rings._tools.get(tool)
        if needed is None:
            needed = _tool_rings.get(tool, rings.default_tool_ring)
        if needed == 0:
            return f"tool {tool!r} needs ring 0, which no agent holds"
        # Computed here, not read from agent.ring: the guard must not trust a caller-supplied ring.
        ring = rings.ring_of(agent_id, trust)
        if ring > needed:
            return f"agent {agent_id!r} holds ring {ring}; tool {tool!r} needs ring {needed} or lower"
        return None
