"""Trust scores: 0-1000 per DID, moved by events, decaying toward a baseline, kept in SQLite.

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
history is auditable. Writes take SQLite's write lock (``BEGIN IMMEDIATE``), so threads and
processes sharing one database file never lose an update.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

from agentmesh._errors import TrustError

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agentmesh_trust_scores (
    did TEXT PRIMARY KEY, score REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS agentmesh_trust_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, did TEXT NOT NULL, at REAL NOT NULL, event TEXT NOT NULL,
    delta REAL NOT NULL, before REAL NOT NULL, after REAL NOT NULL, cause TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS agentmesh_trust_events_did ON agentmesh_trust_events (did, seq);
"""


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
    """Trust scores of agents by DID, persisted in SQLite.

    Args:
        path: SQLite database file; ``":memory:"`` (default) keeps scores for this process only.
        baseline: Where scores decay to (default 500).
        initial: Score of an agent never seen (default: the baseline).
        half_life_s: Decay half-life in seconds (default 7 days); ``math.inf`` disables decay.
        weights: Event weights; defaults to `DEFAULT_WEIGHTS`.
        clock: Current time in Unix seconds (tests pass a controllable one).

    Raises:
        TrustError: if the database cannot be opened.
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
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
            if path != ":memory:":
                # WAL: readers never wait for the writer; NORMAL sync is durable across process crashes.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise TrustError(f"cannot open trust database `{path}`: {exc}", reason="store") from exc

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _decayed(self, score: float, updated_at: float, now: float) -> float:
        if math.isinf(self.half_life_s) or now <= updated_at:
            return score
        factor: float = 0.5 ** ((now - updated_at) / self.half_life_s)
        return self.baseline + (score - self.baseline) * factor

    def _read(self, did: str, now: float) -> float:
        row = self._db.execute(
            "SELECT score, updated_at FROM agentmesh_trust_scores WHERE did = ?", (did,)
        ).fetchone()
        if row is None:
            return float(self.initial)
        return float(self._decayed(float(row[0]), float(row[1]), now))

    def score(self, did: str) -> int:
        """The agent's current score (0-1000), decay applied.

        Raises:
            TrustError: if the store cannot be read (callers then refuse, never assume a score).
        """
        now = self.clock()
        try:
            with self._lock:
                return round(self._read(did, now))
        except sqlite3.Error as exc:
            raise TrustError(f"cannot read the trust score of `{did}`: {exc}", reason="store") from exc

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
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    before = self._read(did, now)
                    after = min(float(MAX_SCORE), max(float(MIN_SCORE), before + delta))
                    self._db.execute(
                        "INSERT INTO agentmesh_trust_scores (did, score, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(did) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at",
                        (did, after, now),
                    )
                    self._db.execute(
                        "INSERT INTO agentmesh_trust_events (did, at, event, delta, before, after, cause) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (did, now, event, float(delta), before, after, cause),
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise TrustError(f"cannot record trust event for `{did}`: {exc}", reason="store") from exc
        return TrustChange(did, now, event, delta, round(before), round(after), cause)

    def history(self, did: str, *, limit: int = 100) -> list[TrustChange]:
        """The agent's most recent changes, oldest first."""
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT did, at, event, delta, before, after, cause FROM agentmesh_trust_events "
                    "WHERE did = ? ORDER BY seq DESC LIMIT ?",
                    (did, limit),
                ).fetchall()
        except sqlite3.Error as exc:
            raise TrustError(f"cannot read the trust history of `{did}`: {exc}", reason="store") from exc
        return [
            TrustChange(r[0], r[1], r[2], round(r[3]), round(r[4]), round(r[5]), r[6]) for r in reversed(rows)
        ]
