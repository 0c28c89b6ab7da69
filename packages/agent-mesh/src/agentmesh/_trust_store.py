"""Where trust scores live: SQLite on one machine, PostgreSQL for a fleet, one contract.

A store keeps, per DID, the last score and when it was set, plus an append-only history of
changes. `update` is atomic: it reads the current row, lets the ledger compute the new score,
and writes the row and the history entry in one transaction under a row lock, so concurrent
writers (threads, processes, machines) never lose an update. Every failure raises `TrustError`.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from agentmesh._errors import TrustError

__all__ = ["Row", "TrustStore", "open_store"]


class Row(NamedTuple):
    """A stored change: the DID, when, the event, the delta, the score before and after, the cause."""

    did: str
    at: float
    event: str
    delta: float
    before: float
    after: float
    cause: str


# compute(current) -> (score before, score after); current is the stored (score, updated_at) or None.
Compute = Callable[[tuple[float, float] | None], tuple[float, float]]


class TrustStore(Protocol):
    """The storage contract of `TrustLedger`."""

    def read(self, did: str) -> tuple[float, float] | None:
        """The stored ``(score, updated_at)``, or None for an agent never recorded."""
        ...

    def update(self, did: str, now: float, event: str, delta: float, cause: str, compute: Compute) -> Row:
        """Atomically apply `compute` to the current row; store and return the change."""
        ...

    def history(self, did: str, limit: int) -> list[Row]:
        """The most recent changes, newest first."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def open_store(location: str, *, schema: str = "agentmesh") -> TrustStore:
    """A PostgreSQL store for ``postgresql://`` URLs, a SQLite store for anything else (a path)."""
    if location.startswith(("postgresql://", "postgres://")):
        return _PostgresStore(location, schema=schema)
    return _SQLiteStore(location)


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS agentmesh_trust_scores (
    did TEXT PRIMARY KEY, score REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS agentmesh_trust_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, did TEXT NOT NULL, at REAL NOT NULL, event TEXT NOT NULL,
    delta REAL NOT NULL, before REAL NOT NULL, after REAL NOT NULL, cause TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS agentmesh_trust_events_did ON agentmesh_trust_events (did, seq);
"""


class _SQLiteStore:
    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
            if path != ":memory:":
                # WAL: readers never wait for the writer; NORMAL sync survives process crashes.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SQLITE_SCHEMA)
        except sqlite3.Error as exc:
            raise TrustError(f"cannot open trust database `{path}`: {exc}", reason="store") from exc

    def read(self, did: str) -> tuple[float, float] | None:
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT score, updated_at FROM agentmesh_trust_scores WHERE did = ?", (did,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise TrustError(f"cannot read the trust score of `{did}`: {exc}", reason="store") from exc
        return None if row is None else (float(row[0]), float(row[1]))

    def update(self, did: str, now: float, event: str, delta: float, cause: str, compute: Compute) -> Row:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")  # the write lock, before reading
                try:
                    row = self._db.execute(
                        "SELECT score, updated_at FROM agentmesh_trust_scores WHERE did = ?", (did,)
                    ).fetchone()
                    current = None if row is None else (float(row[0]), float(row[1]))
                    before, after = compute(current)
                    self._db.execute(
                        "INSERT INTO agentmesh_trust_scores (did, score, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(did) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at",
                        (did, after, now),
                    )
                    self._db.execute(
                        "INSERT INTO agentmesh_trust_events (did, at, event, delta, before, after, cause) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (did, now, event, delta, before, after, cause),
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise TrustError(f"cannot record trust event for `{did}`: {exc}", reason="store") from exc
        return Row(did, now, event, delta, before, after, cause)

    def history(self, did: str, limit: int) -> list[Row]:
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT did, at, event, delta, before, after, cause FROM agentmesh_trust_events "
                    "WHERE did = ? ORDER BY seq DESC LIMIT ?",
                    (did, limit),
                ).fetchall()
        except sqlite3.Error as exc:
            raise TrustError(f"cannot read the trust history of `{did}`: {exc}", reason="store") from exc
        return [Row(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class _PostgresStore:
    """Scores in PostgreSQL (psycopg 3): one schema, two tables, row locks for updates."""

    def __init__(self, dsn: str, schema: str = "agentmesh", connect_timeout_s: float = 10.0) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise TrustError(f"`{schema}` is not a valid schema name", reason="bad-config")
        try:
            import psycopg
        except ImportError:
            raise TrustError(
                "the PostgreSQL trust store needs psycopg", reason="missing-dependency",
                help="pip install 'agent-mesh[postgres]'",
            ) from None  # fmt: skip
        self._psycopg: Any = psycopg
        self._dsn = dsn
        self._schema = schema
        self._timeout = connect_timeout_s
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            self._run(self._create, "cannot open the trust store")

    def _q(self, template: str) -> str:
        # The schema is a validated identifier (lowercase letters, digits, `_`): safe to splice.
        return template.replace("{s}", self._schema)

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(self._dsn, connect_timeout=max(1, int(self._timeout)))
        return self._conn

    def _run(self, fn: Callable[[Any], Any], what: str) -> Any:
        try:
            return fn(self._connection())
        except self._psycopg.Error as exc:
            if self._conn is not None and not self._conn.closed:
                try:
                    self._conn.rollback()
                except self._psycopg.Error:
                    self._conn.close()
            raise TrustError(f"{what}: {str(exc).strip()}", reason="store") from exc

    def _create(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            conn.execute(
                self._q(
                    "CREATE TABLE IF NOT EXISTS {s}.trust_scores (did TEXT PRIMARY KEY, "
                    "score DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)"
                )
            )
            conn.execute(
                self._q(
                    "CREATE TABLE IF NOT EXISTS {s}.trust_events (seq BIGSERIAL PRIMARY KEY, did TEXT NOT NULL, "
                    "at DOUBLE PRECISION NOT NULL, event TEXT NOT NULL, delta DOUBLE PRECISION NOT NULL, "
                    "before DOUBLE PRECISION NOT NULL, after DOUBLE PRECISION NOT NULL, cause TEXT NOT NULL)"
                )
            )
            conn.execute(
                self._q("CREATE INDEX IF NOT EXISTS trust_events_did ON {s}.trust_events (did, seq)")
            )

    def read(self, did: str) -> tuple[float, float] | None:
        def fn(conn: Any) -> Any:
            with conn.transaction():
                return conn.execute(
                    self._q("SELECT score, updated_at FROM {s}.trust_scores WHERE did = %s"), (did,)
                ).fetchone()

        with self._lock:
            row = self._run(fn, f"cannot read the trust score of `{did}`")
        return None if row is None else (float(row[0]), float(row[1]))

    def update(self, did: str, now: float, event: str, delta: float, cause: str, compute: Compute) -> Row:
        s = self._schema

        def fn(conn: Any) -> Row:
            with conn.transaction():
                # Lock the agent's row (taking a transaction-scoped advisory lock first, so two
                # writers of an agent never seen before cannot both insert it).
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{s}:{did}",))
                row = conn.execute(
                    self._q("SELECT score, updated_at FROM {s}.trust_scores WHERE did = %s FOR UPDATE"),
                    (did,),
                ).fetchone()
                current = None if row is None else (float(row[0]), float(row[1]))
                before, after = compute(current)
                conn.execute(
                    self._q(
                        "INSERT INTO {s}.trust_scores (did, score, updated_at) VALUES (%s, %s, %s) "
                        "ON CONFLICT (did) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at"
                    ),
                    (did, after, now),
                )
                conn.execute(
                    self._q(
                        "INSERT INTO {s}.trust_events (did, at, event, delta, before, after, cause) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    ),
                    (did, now, event, delta, before, after, cause),
                )
            return Row(did, now, event, delta, before, after, cause)

        with self._lock:
            result: Row = self._run(fn, f"cannot record trust event for `{did}`")
        return result

    def history(self, did: str, limit: int) -> list[Row]:
        def fn(conn: Any) -> Any:
            with conn.transaction():
                return conn.execute(
                    self._q(
                        "SELECT did, at, event, delta, before, after, cause FROM {s}.trust_events "
                        "WHERE did = %s ORDER BY seq DESC LIMIT %s"
                    ),
                    (did, limit),
                ).fetchall()

        with self._lock:
            rows = self._run(fn, f"cannot read the trust history of `{did}`")
        return [Row(r[0], float(r[1]), r[2], float(r[3]), float(r[4]), float(r[5]), r[6]) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
