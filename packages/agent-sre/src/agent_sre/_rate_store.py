"""Rate-limit counters shared by processes (SQLite) and machines (PostgreSQL).

`SharedRateLimiter` has the interface of agent-os's `RateLimiter` (``acquire(agent_id, rules)``)
and the same semantics, a sliding log per (agent, policy, rule): "N per period" holds over every
window of that length. The log lives in a store instead of process memory, so a rule's limit
holds across every process (and machine) that shares the store: pass it to
``govern(..., rate_limiter=SharedRateLimiter(...))``.

Checking every limit of a call and recording it happen in one transaction (SQLite: a write lock
on the file; PostgreSQL: advisory locks per key, taken in a fixed order), so concurrent calls in
different processes can never together exceed a limit. Times are Unix seconds, so the clocks of
the machines sharing a PostgreSQL store must be synchronised (NTP).

Fail closed: if the store cannot be read or written, `acquire` raises `StateStoreError` and the
call does not run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from agent_sre._errors import StateStoreError
from agt_core import parse_limit

__all__ = ["PostgresRateStore", "RateStore", "SQLiteRateStore", "SharedRateLimiter"]

Hit = tuple[str, str, str, float]
"""(policy, rule, limit, retry after seconds) of the first exhausted limit."""


class RateStore(Protocol):
    """Where a `SharedRateLimiter` keeps its sliding logs."""

    location: str

    def acquire(self, entries: Sequence[tuple[str, int, float, Hit]], now: float) -> Hit | None:
        """Record one event at `now` per key if every key has room, else report the first full one.

        Each entry is ``(key, count, period, hit)``: a key has room when it holds fewer than
        `count` events after ``now - period``. When one is full, its `hit` is returned with the
        retry time filled in and nothing is recorded.
        """
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class SharedRateLimiter:
    """A rate limiter whose counts are shared through a `RateStore` (drop-in for agent-os's `RateLimiter`).

    Args:
        store: A `RateStore`, or a SQLite file path (opened with `SQLiteRateStore`).
        clock: Unix seconds (injectable for tests); every sharer must use the same time base.
    """

    def __init__(self, store: RateStore | str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.store: RateStore = SQLiteRateStore(store) if isinstance(store, (str, Path)) else store
        self._clock = clock
        self._specs: dict[str, tuple[int, float]] = {}

    def acquire(self, agent_id: str, rules: Iterable[tuple[str, str, str]]) -> Hit | None:
        """Record one call against every ``(policy, rule, limit)`` in `rules`, if all have room.

        Returns:
            None when recorded; otherwise ``(policy, rule, limit, retry_after_seconds)``.

        Raises:
            StateStoreError: if the store cannot be used (the call must not run).
        """
        entries = []
        for policy, rule, limit in rules:
            spec = self._specs.get(limit)
            if spec is None:
                spec = self._specs[limit] = parse_limit(limit)
            key = json.dumps([agent_id, policy, rule], separators=(",", ":"), ensure_ascii=False)
            entries.append((key, spec[0], spec[1], (policy, rule, limit, 0.0)))
        if not entries:
            return None
        return self.store.acquire(entries, self._clock())

    def close(self) -> None:
        """Close the store."""
        self.store.close()


class SQLiteRateStore:
    """Sliding logs in a SQLite file (WAL), shared by the processes of one machine. Thread-safe.

    Commits use ``synchronous=NORMAL``: a crash of the process loses nothing; a power loss may
    forget the last calls counted (the limit then briefly allows that many more).

    Raises:
        StateStoreError: if the file cannot be opened or is not a database.
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 5.0) -> None:
        self.location = str(path)
        self._lock = threading.Lock()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.location, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateStoreError(
                f"cannot open rate-limit store {self.location!r}: {exc}", location=self.location
            ) from exc
        try:
            if self._conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                raise StateStoreError(
                    f"rate-limit store {self.location!r} failed its integrity check", location=self.location
                )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS rate_events (key TEXT NOT NULL, at REAL NOT NULL)")
            self._conn.execute("CREATE INDEX IF NOT EXISTS rate_events_key_at ON rate_events (key, at)")
        except (sqlite3.Error, StateStoreError) as exc:
            self._conn.close()
            if isinstance(exc, StateStoreError):
                raise
            raise StateStoreError(
                f"rate-limit store {self.location!r} cannot be used: {exc}", location=self.location
            ) from exc

    def acquire(self, entries: Sequence[tuple[str, int, float, Hit]], now: float) -> Hit | None:
        """Check and record in one write transaction."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for key, count, period, hit in entries:
                        conn.execute("DELETE FROM rate_events WHERE key = ? AND at <= ?", (key, now - period))
                        n, oldest = conn.execute(
                            "SELECT COUNT(*), MIN(at) FROM rate_events WHERE key = ?", (key,)
                        ).fetchone()
                        if n >= count:
                            conn.execute("COMMIT")  # keep the pruning
                            return (*hit[:3], float(oldest) + period - now)
                    conn.executemany("INSERT INTO rate_events VALUES (?, ?)", [(e[0], now) for e in entries])
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StateStoreError(
                    f"rate-limit store {self.location!r}: {exc}",
                    location=self.location,
                    help="the call was refused because its rate limits could not be checked",
                ) from exc
        return None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class PostgresRateStore:
    """Sliding logs in PostgreSQL, shared by processes on many machines. Thread-safe.

    Args:
        dsn: A libpq connection string or URL.
        schema: The schema holding the table (created on first use; default ``agt_sre``).

    Raises:
        StateStoreError: if the server cannot be reached.
        MissingDependencyError: if psycopg is not installed (``pip install 'agent-sre[postgres]'``).
    """

    def __init__(self, dsn: str, *, schema: str = "agt_sre", connect_timeout_s: float = 5.0) -> None:
        from agent_sre._pg_store import PostgresSwitchStore

        # Reuse the switch store's connection handling, schema checks and error translation.
        self._pg = PostgresSwitchStore(dsn, schema=schema, connect_timeout_s=connect_timeout_s)
        self.location = self._pg.location
        with self._pg._lock:
            self._pg._run(self._create)

    def _create(self, cur: Any) -> None:
        q = self._pg._q
        cur.execute(
            q(
                "CREATE TABLE IF NOT EXISTS {schema}.rate_events (key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)"
            )
        )
        cur.execute(q("CREATE INDEX IF NOT EXISTS rate_events_key_at ON {schema}.rate_events (key, at)"))

    def acquire(self, entries: Sequence[tuple[str, int, float, Hit]], now: float) -> Hit | None:
        """Check and record in one transaction, holding an advisory lock per key (in key order)."""
        q = self._pg._q

        def work(cur: Any) -> Hit | None:
            for key in sorted({e[0] for e in entries}):
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            for key, count, period, hit in entries:
                cur.execute(
                    q("DELETE FROM {schema}.rate_events WHERE key = %s AND at <= %s"), (key, now - period)
                )
                cur.execute(q("SELECT COUNT(*), MIN(at) FROM {schema}.rate_events WHERE key = %s"), (key,))
                n, oldest = cur.fetchone()
                if n >= count:
                    return (*hit[:3], float(oldest) + period - now)
            cur.executemany(
                q("INSERT INTO {schema}.rate_events VALUES (%s, %s)"), [(e[0], now) for e in entries]
            )
            return None

        with self._pg._lock:
            result: Hit | None = self._pg._run(work)
        return result

    def close(self) -> None:
        """Close the connection."""
        self._pg.close()
