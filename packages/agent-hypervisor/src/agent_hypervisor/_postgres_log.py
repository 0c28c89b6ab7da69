"""The Merkle audit log on PostgreSQL: one log shared by processes on many machines.

Same records, tree layout and verification as `SqliteAuditLog` (format ``agt-audit-pg/1``)::

    agt_audit_meta(key PRIMARY KEY, value)              format, log_id
    agt_audit_records(seq bigint PRIMARY KEY, hash, body, tree bytea)
    agt_audit_checkpoints(id bigserial PRIMARY KEY, body)

Writers. Every write transaction first takes a transaction-scoped advisory lock
(``pg_advisory_xact_lock``), the same one on every machine, then reads the newest row and chains
onto it: appends from anywhere form one chain. Appends are durable when they return (PostgreSQL's
commit, with the server's ``synchronous_commit``); threads of one process that arrive while a
commit is in flight share the next transaction (group commit). There is no batched mode.

Needs the ``psycopg`` package: ``pip install 'agent-hypervisor[postgresql]'``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from agent_hypervisor._checkpoint import SignedCheckpoint
from agent_hypervisor._group_commit import GroupCommit, PendingAppend
from agent_hypervisor._log_base import AuditLogBase, build_rows, record_parts
from agent_hypervisor._tree import Frontier, frontier_from_nodes
from agt_core import GENESIS_HASH, AuditError, AuditIntegrityError, UtcClock

if TYPE_CHECKING:
    from agt_core import ApprovalRecord, Decision

__all__ = ["FORMAT", "PostgresAuditLog"]

FORMAT = "agt-audit-pg/1"
# One advisory lock key for every writer of the log tables (any 64-bit constant of our own).
_LOCK_KEY = 0x61677461756401
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS agt_audit_meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agt_audit_records ("
    "seq bigint PRIMARY KEY, hash text NOT NULL, body text NOT NULL, tree bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agt_audit_checkpoints (id bigserial PRIMARY KEY, body text NOT NULL)",
)
_INSERT = "INSERT INTO agt_audit_records (seq, hash, body, tree) VALUES (%s, %s, %s, %s)"
_FETCH = 2000


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AuditError(
            "the PostgreSQL audit store needs the `psycopg` package",
            help="pip install 'agent-hypervisor[postgresql]'",
        ) from exc
    return psycopg


class PostgresAuditLog(AuditLogBase):
    """A tamper-evident audit log in PostgreSQL, shared by many processes and machines.

    Args:
        dsn: A libpq connection string or ``postgresql://`` URL.
        create: Create the tables when they do not exist.

    Raises:
        AuditError: if the server cannot be reached, or the tables hold another format.
    """

    def __init__(self, dsn: str, *, create: bool = True) -> None:
        psycopg = _psycopg()
        self._errors = psycopg.Error
        self.dsn = dsn
        self._where = _redact(dsn)
        try:
            self._write = psycopg.connect(dsn)
            self._read = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            raise AuditError(
                f"cannot connect to audit store `{self._where}`: {exc}".strip(),
                help="check the DSN, that the server runs, and that this user may connect",
            ) from exc
        self._clock = UtcClock()
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._closed = False
        self.log_id = self._open_schema(create)
        self._size = -1
        self._head = GENESIS_HASH
        self._frontier = Frontier()
        self._group = GroupCommit(self._write_batch)

    def _open_schema(self, create: bool) -> str:
        conn = self._write
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                if create:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO agt_audit_meta VALUES ('format', %s) ON CONFLICT DO NOTHING", (FORMAT,)
                    )
                    conn.execute(
                        "INSERT INTO agt_audit_meta VALUES ('log_id', %s) ON CONFLICT DO NOTHING",
                        (secrets.token_hex(16),),
                    )
                exists = conn.execute("SELECT to_regclass('agt_audit_meta') IS NOT NULL").fetchone()
                if not (exists and exists[0]):
                    raise AuditError(
                        f"`{self._where}` holds no agent-hypervisor audit store (no agt_audit tables)"
                    )
                meta = dict(conn.execute("SELECT key, value FROM agt_audit_meta").fetchall())
        except self._errors as exc:
            raise AuditError(f"cannot open audit store `{self._where}`: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise AuditError(f"`{self._where}` has audit store format `{meta.get('format')}`, not `{FORMAT}`")
        log_id = meta.get("log_id")
        if not isinstance(log_id, str) or not log_id:
            raise AuditError(f"`{self._where}` has no log id; the store was damaged")
        return log_id

    def close(self) -> None:
        """Close the connections."""
        if self._closed:
            return
        self._closed = True
        with self._write_lock:
            self._write.close()
        with self._read_lock:
            self._read.close()

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def __enter__(self) -> PostgresAuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def append(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval: ApprovalRecord | None = None,
        *,
        request_json: str | None = None,
    ) -> str:
        """Append one decision record; return its hash once it is committed."""
        parts = record_parts(request, decision, approval, request_json)
        if self._closed:
            raise AuditError(f"audit store `{self._where}` is closed")
        return self._group.append(parts)

    def _write_node(self, level: int, index: int) -> bytes:
        seq = ((index + 1) << level) - 1
        row = self._write.execute("SELECT tree FROM agt_audit_records WHERE seq = %s", (seq,)).fetchone()
        return _node_from(row, level, seq)

    def _write_batch(self, batch: list[PendingAppend]) -> None:
        conn = self._write
        with self._write_lock:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    row = conn.execute(
                        "SELECT seq, hash FROM agt_audit_records ORDER BY seq DESC LIMIT 1"
                    ).fetchone()
                    size, head = (0, GENESIS_HASH) if row is None else (int(row[0]) + 1, str(row[1]))
                    if size != self._size or head != self._head:
                        self._frontier = frontier_from_nodes(self._write_node, size)
                        self._size, self._head = size, head
                    rows, frontier, new_head = build_rows(
                        self._frontier, self._size, self._head, [p.parts for p in batch], self._clock.now
                    )
                    with conn.cursor() as cursor:
                        cursor.executemany(_INSERT, rows)
            except self._errors as exc:
                self._size = -1
                error: BaseException = AuditError(
                    f"cannot write audit store `{self._where}`: {exc}".strip(),
                    help="nothing was recorded, so the action was refused; check the server and its disk",
                )
                for pending in batch:
                    pending.error = error
                return
            except BaseException as exc:
                self._size = -1
                for pending in batch:
                    pending.error = exc
                return
            self._frontier, self._head, self._size = frontier, new_head, self._size + len(rows)
            for pending, written in zip(batch, rows, strict=True):
                pending.digest = written[1]

    # -- reading ---------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_lock:
            try:
                rows: list[Any] = self._read.execute(sql, params).fetchall()
            except self._errors as exc:
                raise AuditIntegrityError(f"audit store `{self._where}` could not be read: {exc}") from exc
        return rows

    def __len__(self) -> int:
        row = self._query("SELECT max(seq) FROM agt_audit_records")
        return 0 if row[0][0] is None else int(row[0][0]) + 1

    def _node(self, level: int, index: int) -> bytes:
        seq = ((index + 1) << level) - 1
        rows = self._query("SELECT tree FROM agt_audit_records WHERE seq = %s", (seq,))
        return _node_from(rows[0] if rows else None, level, seq)

    def _entries(self, start: int, end: int) -> Iterator[tuple[int, str, str]]:
        at = start
        while at < end:
            rows = self._query(
                "SELECT seq, hash, body FROM agt_audit_records WHERE seq >= %s AND seq < %s ORDER BY seq LIMIT %s",
                (at, end, _FETCH),
            )
            if not rows:
                return
            for seq, digest, body in rows:
                yield int(seq), digest, body
            at = int(rows[-1][0]) + 1

    def _filtered(
        self,
        agent: str | None,
        action: str | None,
        effect: str | None,
        since: str | None,
        until: str | None,
        session: str | None = None,
    ) -> Iterator[tuple[int, str, str]]:
        clauses, params = [], []
        for clause, value in (
            ("body::jsonb #>> '{request,agent,id}' = %s", agent),
            ("body::jsonb #>> '{request,action,type}' = %s", action),
            ("body::jsonb #>> '{decision,effect}' = %s", effect),
            ("body::jsonb ->> 'timestamp' >= %s", since),
            ("body::jsonb ->> 'timestamp' < %s", until),
            ("body::jsonb #>> '{request,context,session}' = %s", session),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = " AND ".join(clauses) or "true"
        at = 0
        while True:
            rows = self._query(
                f"SELECT seq, hash, body FROM agt_audit_records WHERE seq >= %s AND {where} ORDER BY seq LIMIT %s",  # noqa: S608 - fixed clauses
                (at, *params, _FETCH),
            )
            if not rows:
                return
            for seq, digest, body in rows:
                yield int(seq), digest, body
            at = int(rows[-1][0]) + 1

    def _scan_for_verify(self, end: int) -> Iterator[tuple[str, str, bytes]]:
        psycopg = _psycopg()
        seq = 0
        try:
            with psycopg.connect(self.dsn) as conn:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                with conn.cursor(name="agt_audit_verify") as cursor:
                    cursor.execute(
                        "SELECT hash, body, tree FROM agt_audit_records WHERE seq < %s ORDER BY seq", (end,)
                    )
                    while True:
                        rows = cursor.fetchmany(_FETCH)
                        if not rows:
                            return
                        for digest, body, tree in rows:
                            yield digest, body, bytes(tree)
                            seq += 1
        except self._errors as exc:
            raise AuditIntegrityError(
                f"the store could not be read at record {seq}: {exc}", index=seq
            ) from exc

    def _stored_checkpoints(self) -> list[SignedCheckpoint]:
        kept = []
        for (body,) in self._query("SELECT body FROM agt_audit_checkpoints ORDER BY id"):
            try:
                kept.append(SignedCheckpoint.from_json(body))
            except ValueError as exc:
                raise AuditIntegrityError(f"a kept checkpoint is damaged: {exc}") from exc
        return kept

    def _keep_checkpoint(self, checkpoint: SignedCheckpoint) -> None:
        with self._write_lock:
            try:
                with self._write.transaction():
                    self._write.execute(
                        "INSERT INTO agt_audit_checkpoints (body) VALUES (%s)", (checkpoint.to_json(),)
                    )
            except self._errors as exc:
                raise AuditError(f"cannot write audit store `{self._where}`: {exc}") from exc


def _node_from(row: Any, level: int, seq: int) -> bytes:
    if row is None or not isinstance(row[0], bytes | memoryview):
        raise AuditIntegrityError(f"record {seq} or its Merkle nodes are missing from the store", index=seq)
    node = bytes(row[0])[level * 32 : level * 32 + 32]
    if len(node) != 32:
        raise AuditIntegrityError(f"record {seq}'s stored Merkle nodes are damaged", index=seq)
    return node


def _redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    import re

    return re.sub(
        r"(password=)\S+|(://[^:/@]+:)[^@]+@",
        lambda m: (m.group(1) or m.group(2)) + "***" + ("@" if m.group(2) else ""),
        dsn,
    )
