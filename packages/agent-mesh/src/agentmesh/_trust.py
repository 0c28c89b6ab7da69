"""Trust scores: 0-1000 per DID, moved by events, decaying toward a baseline, kept in SQLite or PostgreSQL.

A score is data a policy reads (``agent.trust``, ``agent.trust_tier`` in the request); it never
decides by itself. Events move it by documented weights:

=====================  ======  ==============================================================
event                  weight  meaning
=====================  ======  ==============================================================
``success``                +1  a governed call the policy allowed completed without error
``policy_violation``      -50  the policy denied one of the agent's calls
``handshake_failed``      -30  the agent failed a handshake (bad signature, replay, ...)
``credential_revoked``   -300  one of the agent's credentials or its identity was revoked
=====================  ======  ==============================================================

Gains are small and losses large on purpose: an agent can earn ``success`` by making many
harmless calls, so it takes 50 of them to undo one violation, and decay pulls any earned surplus
back toward the baseline. A successful handshake earns nothing (it proves only key possession).

Between events the score decays exponentially toward the baseline with a half-life
(default 7 days): after one half-life, half of the distance to the baseline is gone, so neither
a good nor a bad record lasts for ever, and decay never drives a score past the baseline (the
peer's linear decay drifts without bound). Tiers: ``verified`` >= 900, ``trusted`` >= 700,
``standard`` >= 500, ``probationary`` >= 300, else ``untrusted``.

Every change is stored with its event, delta, before and after values and cause, so the score's
history is auditable. Updates are atomic read-modify-write transactions (SQLite's write lock;
a per-agent lock in PostgreSQL), so threads, processes and machines sharing a store never lose
an update. Time comes from the ledger's clock: machines sharing a PostgreSQL store should keep
their clocks in sync (NTP), or decay is computed from slightly different "now"s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

from agentmesh._errors import TrustError
from agentmesh._trust_store import open_store

__all__ = ["DEFAULT_WEIGHTS", "TIERS", "TrustChange", "TrustLedger", "tier_of"]

MIN_SCORE = 0
MAX_SCORE = 1000
TIERS: tuple[tuple[str, int], ...] = (
    ("verified", 900),
    ("trusted", 700),
    ("standard", 500),
    ("probationary", 300),
    ("untrusted", 0),
)
DEFAULT_WEIGHTS: Mapping[str, int] = {
    "success": 1,
    "policy_violation": -50,
    "handshake_failed": -30,
    "credential_revoked": -300,
}


def tier_of(score: float) -> str:
    """The tier name of a score."""
    for name, floor in TIERS:
        if score >= floor:
            return name
    return "untrusted"


class TrustChange(NamedTuple):
    """One recorded change of a score."""

    did: str
    at: float
    event: str
    delta: int
    before: int
    after: int
    cause: str


class TrustLedger:
    """Trust scores of agents by DID, persisted in SQLite or PostgreSQL.

    Args:
        path: Where scores live: a SQLite database file (one machine; ``":memory:"``, the default,
            keeps them for this process only) or a ``postgresql://`` URL (a fleet; needs
            ``pip install 'agent-mesh[postgres]'``; tables in the ``agentmesh`` schema).
        baseline: Where scores decay to (default 500).
        initial: Score of an agent never seen (default: the baseline).
        half_life_s: Decay half-life in seconds (default 7 days); ``math.inf`` disables decay.
        weights: Event weights; defaults to `DEFAULT_WEIGHTS`.
        clock: Current time in Unix seconds (tests pass a controllable one).
        schema: The PostgreSQL schema holding the tables (ignored for SQLite).

    Raises:
        TrustError: if the store cannot be opened.
    """

    def __init__(
        self,
        path: str = ":memory:",
        *,
        baseline: int = 500,
        initial: int | None = None,
        half_life_s: float = 7 * 86400.0,
        weights: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        schema: str = "agentmesh",
    ) -> None:
        if not MIN_SCORE <= baseline <= MAX_SCORE:
            raise TrustError(f"baseline must be within 0-1000, got {baseline}", reason="bad-config")
        if not half_life_s > 0:
            raise TrustError("half_life_s must be positive", reason="bad-config")
        self.baseline = baseline
        self.initial = baseline if initial is None else initial
        self.half_life_s = half_life_s
        self.weights: dict[str, int] = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self.clock = clock
        self.path = path
        self._store = open_store(path, schema=schema)

    def close(self) -> None:
        """Close the store."""
        self._store.close()

    def _decayed(self, score: float, updated_at: float, now: float) -> float:
        if math.isinf(self.half_life_s) or now <= updated_at:
            return score
        factor: float = 0.5 ** ((now - updated_at) / self.half_life_s)
        return self.baseline + (score - self.baseline) * factor

    def _current(self, row: tuple[float, float] | None, now: float) -> float:
        return float(self.initial) if row is None else self._decayed(row[0], row[1], now)

    def score(self, did: str) -> int:
        """The agent's current score (0-1000), decay applied.

        Raises:
            TrustError: if the store cannot be read (callers then refuse, never assume a score).
        """
        return round(self._current(self._store.read(did), self.clock()))

    def tier(self, did: str) -> str:
        """The agent's current tier name."""
        return tier_of(self.score(did))

    def record(self, did: str, event: str, *, cause: str, delta: int | None = None) -> TrustChange:
        """Apply an event to the agent's score and store the change with its cause.

        Args:
            did: The agent.
            event: An event name from the weights (or any name when `delta` is given).
            cause: Why, in words (stored in the history: a rule name, a handshake failure, ...).
            delta: Overrides the event's weight.

        Raises:
            TrustError: for an unknown event without `delta`, or if the store cannot be written.
        """
        if delta is None:
            if event not in self.weights:
                raise TrustError(
                    f"unknown trust event `{event}`",
                    reason="unknown-event",
                    help=f"known events: {', '.join(sorted(self.weights))}; or pass delta=",
                )
            delta = self.weights[event]
        now = self.clock()
        weight = delta

        def compute(row: tuple[float, float] | None) -> tuple[float, float]:
            before = self._current(row, now)
            return before, min(float(MAX_SCORE), max(float(MIN_SCORE), before + weight))

        change = self._store.update(did, now, event, float(delta), cause, compute)
        return TrustChange(did, now, event, delta, round(change.before), round(change.after), cause)

    def history(self, did: str, *, limit: int = 100) -> list[TrustChange]:
        """The agent's most recent changes, oldest first."""
        rows = self._store.history(did, limit)
        return [
            TrustChange(r.did, r.at, r.event, round(r.delta), round(r.before), round(r.after), r.cause)
            for r in reversed(rows)
        ]
