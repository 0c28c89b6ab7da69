"""Kill switches in PostgreSQL (psycopg 3), shared by processes on many machines.

Same contract as `SQLiteSwitchStore`: pulled switches, an append-only history, and a version
counter bumped in the same transaction as every change, so a kill switch re-reads the switches
only when they changed. Every failure (unreachable server, dropped connection, a table that is
not ours) raises `StateStoreError`; the kill switch then refuses calls until the store answers
again. A broken connection is replaced on the next call.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from agent_sre._errors import StateStoreError, require
from agent_sre._switch_store import (
    FORMAT,
    Scope,
    Switch,
    SwitchEvent,
    parse_circuits,
    parse_event,
    parse_switch,
)

__all__ = ["PostgresSwitchStore"]

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresSwitchStore:
    """Kill switches in a PostgreSQL schema (created on first use). Thread-safe.

    Args:
        dsn: A libpq connection string or URL, e.g. ``postgresql://agt@db.internal/agt``.
        schema: The schema holding the tables (lowercase identifier; default ``agt_sre``).
        connect_timeout_s: How long to wait for the server when (re)connecting.
        statement_timeout_s: How long one statement may take before it fails.

    Raises:
        StateStoreError: if the server cannot be reached or the schema holds tables that are not ours.
        MissingDependencyError: if psycopg is not installed (``pip install 'agent-sre[postgres]'``).
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "agt_sre",
        connect_timeout_s: float = 5.0,
        statement_timeout_s: float = 5.0,
    ) -> None:
        require("psycopg", "postgres")
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"schema {schema!r} must be a lowercase SQL identifier")
        self._dsn = dsn
        self.schema = schema
        self.location = f"{_redact(dsn)} (schema {schema})"
        self._connect_timeout = max(1, round(connect_timeout_s))
        self._statement_timeout_ms = round(statement_timeout_s * 1000)
        self._lock = threading.Lock()
        self._conn: Any = None
        try:
            with self._lock:
                self._run(self._create)
            self.load()  # every row must parse now, not on the first governed call
        except BaseException:
            self.close()
            raise

    # -- connection ----------------------------------------------------------------------------

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            self._dsn,
            connect_timeout=self._connect_timeout,
            options=f"-c statement_timeout={self._statement_timeout_ms}",
        )

    def _q(self, text: str) -> Any:
        """A statement with the schema quoted as an identifier (never pasted in as text)."""
        from psycopg import sql

        return sql.SQL(text).format(schema=sql.Identifier(self.schema))

    def _run(self, work: Any) -> Any:
        """Run `work(cursor)` in one transaction; translate every failure to `StateStoreError`."""
        import psycopg

        try:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self._conn.close()
                self._conn = None
            if self._conn is None:
                self._conn = self._connect()
            with self._conn.transaction(), self._conn.cursor() as cur:
                return work(cur)
        except StateStoreError:
            raise
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self._conn.close()
                self._conn = None
            raise StateStoreError(
                f"kill switch store {self.location}: {type(exc).__name__}: {str(exc).strip()}",
                location=self.location,
                help="check that the PostgreSQL server is reachable and the role may use the schema",
            ) from exc

    def _create(self, cur: Any) -> None:
        # One creator at a time across processes: the advisory lock is held until commit.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"agt_sre:{self.schema}",))
        cur.execute(self._q("CREATE SCHEMA IF NOT EXISTS {schema}"))
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (self.schema,)
        )
        tables = {r[0] for r in cur.fetchall()}
        ours = {"meta", "kill_switches", "kill_switch_events", "version", "open_circuits"}
        if tables & ours and "meta" not in tables:
            raise StateStoreError(
                f"schema `{self.schema}` has kill switch tables but no format record",
                location=self.location,
                help="use another schema, or move these tables aside",
            )
        cur.execute(
            self._q("CREATE TABLE IF NOT EXISTS {schema}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        )
        cur.execute(
            self._q(
                "CREATE TABLE IF NOT EXISTS {schema}.kill_switches (scope TEXT NOT NULL, target TEXT NOT NULL,"
                " pulled_by TEXT NOT NULL, pulled_at TEXT NOT NULL, reason TEXT NOT NULL,"
                " PRIMARY KEY (scope, target))"
            )
        )
        cur.execute(
            self._q(
                "CREATE TABLE IF NOT EXISTS {schema}.kill_switch_events (seq BIGSERIAL PRIMARY KEY,"
                " event TEXT NOT NULL, scope TEXT NOT NULL, target TEXT NOT NULL, actor TEXT NOT NULL,"
                " at TEXT NOT NULL, reason TEXT NOT NULL)"
            )
        )
        cur.execute(
            self._q(
                "CREATE TABLE IF NOT EXISTS {schema}.version (id INT PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL)"
            )
        )
        cur.execute(self._q("INSERT INTO {schema}.version VALUES (1, 0) ON CONFLICT DO NOTHING"))
        cur.execute(
            self._q(
                "CREATE TABLE IF NOT EXISTS {schema}.open_circuits (circuit TEXT PRIMARY KEY,"
                " open_until DOUBLE PRECISION NOT NULL, reason TEXT NOT NULL)"
            )
        )
        cur.execute(self._q("SELECT value FROM {schema}.meta WHERE key = 'format'"))
        row = cur.fetchone()
        if row is None:
            cur.execute(self._q("INSERT INTO {schema}.meta VALUES ('format', %s)"), (FORMAT,))
        elif row[0] != FORMAT:
            raise StateStoreError(
                f"schema `{self.schema}` has format {row[0]!r}, expected {FORMAT!r}",
                location=self.location,
                help="open it with the agent-sre version that wrote it",
            )

    # -- the store contract ---------------------------------------------------------------------

    def version(self) -> object:
        """The change counter."""

        def work(cur: Any) -> object:
            cur.execute(self._q("SELECT n FROM {schema}.version WHERE id = 1"))
            row = cur.fetchone()
            if row is None:
                raise StateStoreError(
                    f"kill switch store {self.location}: the version row is missing", location=self.location
                )
            return row[0]

        with self._lock:
            return self._run(work)

    def load(self) -> dict[tuple[str, str], Switch]:
        """Every pulled switch."""

        def work(cur: Any) -> list[Any]:
            cur.execute(
                self._q("SELECT scope, target, pulled_by, pulled_at, reason FROM {schema}.kill_switches")
            )
            return list(cur.fetchall())

        with self._lock:
            rows = self._run(work)
        switches = (parse_switch(tuple(r), self.location) for r in rows)
        return {(s.scope, s.target): s for s in switches}

    def pull(self, switch: Switch) -> None:
        """Record a pull and its history entry, and bump the version, in one transaction."""

        def work(cur: Any) -> None:
            cur.execute(
                self._q(
                    "INSERT INTO {schema}.kill_switches VALUES (%s, %s, %s, %s, %s) ON CONFLICT (scope, target)"
                    " DO UPDATE SET pulled_by = EXCLUDED.pulled_by, pulled_at = EXCLUDED.pulled_at,"
                    " reason = EXCLUDED.reason"
                ),
                tuple(switch),
            )
            cur.execute(
                self._q(
                    "INSERT INTO {schema}.kill_switch_events (event, scope, target, actor, at, reason)"
                    " VALUES ('pull', %s, %s, %s, %s, %s)"
                ),
                tuple(switch),
            )
            cur.execute(self._q("UPDATE {schema}.version SET n = n + 1 WHERE id = 1"))

        with self._lock:
            self._run(work)

    def release(self, scope: Scope, target: str, actor: str, at: str, reason: str) -> Switch | None:
        """Delete a pulled switch, log the release and bump the version, in one transaction."""

        def work(cur: Any) -> Any:
            cur.execute(
                self._q(
                    "DELETE FROM {schema}.kill_switches WHERE scope = %s AND target = %s"
                    " RETURNING scope, target, pulled_by, pulled_at, reason"
                ),
                (scope, target),
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                self._q(
                    "INSERT INTO {schema}.kill_switch_events (event, scope, target, actor, at, reason)"
                    " VALUES ('release', %s, %s, %s, %s, %s)"
                ),
                (scope, target, actor, at, reason),
            )
            cur.execute(self._q("UPDATE {schema}.version SET n = n + 1 WHERE id = 1"))
            return row

        with self._lock:
            row = self._run(work)
        return None if row is None else parse_switch(tuple(row), self.location)

    def history(self) -> list[SwitchEvent]:
        """Every pull and release, oldest first."""

        def work(cur: Any) -> list[Any]:
            cur.execute(
                self._q(
                    "SELECT seq, event, scope, target, actor, at, reason FROM {schema}.kill_switch_events"
                    " ORDER BY seq"
                )
            )
            return list(cur.fetchall())

        with self._lock:
            rows = self._run(work)
        return [parse_event(tuple(r), self.location) for r in rows]

    # -- shared circuit breaker state ----------------------------------------------------------

    def open_circuits(self) -> dict[str, tuple[float, str]]:
        """Circuit name -> (open until, reason)."""

        def work(cur: Any) -> list[Any]:
            cur.execute(self._q("SELECT circuit, open_until, reason FROM {schema}.open_circuits"))
            return list(cur.fetchall())

        with self._lock:
            rows = self._run(work)
        return parse_circuits(rows, self.location)

    def publish_open(self, circuit: str, open_until: float, reason: str) -> None:
        """Record an open circuit and bump the version."""

        def work(cur: Any) -> None:
            cur.execute(
                self._q(
                    "INSERT INTO {schema}.open_circuits VALUES (%s, %s, %s) ON CONFLICT (circuit)"
                    " DO UPDATE SET open_until = EXCLUDED.open_until, reason = EXCLUDED.reason"
                ),
                (circuit, open_until, reason),
            )
            cur.execute(self._q("UPDATE {schema}.version SET n = n + 1 WHERE id = 1"))

        with self._lock:
            self._run(work)

    def publish_closed(self, circuit: str) -> None:
        """Forget an open circuit and bump the version."""

        def work(cur: Any) -> None:
            cur.execute(self._q("DELETE FROM {schema}.open_circuits WHERE circuit = %s"), (circuit,))
            cur.execute(self._q("UPDATE {schema}.version SET n = n + 1 WHERE id = 1"))

        with self._lock:
            self._run(work)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    dsn = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn)
