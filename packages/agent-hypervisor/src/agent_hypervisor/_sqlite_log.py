"""The durable Merkle audit log on SQLite: WAL, one writer at a time with group commit, many readers.

Schema (format ``agt-audit-sqlite/1``)::

    meta(key PRIMARY KEY, value)                  format, log_id
    records(seq INTEGER PRIMARY KEY, hash, body, tree)
    checkpoints(id INTEGER PRIMARY KEY, body)     signed checkpoints, canonical JSON

``body`` is the record exactly as `agt_core.audit_record_body` writes it and ``hash`` its SHA-256.
``tree`` holds the Merkle nodes that appending this record completed: its leaf hash, then one
32-byte node per trailing 1 bit of ``seq`` (node (level, index) lives in the row
``seq = (index + 1) * 2**level - 1`` at offset ``32 * level``). Nothing is ever rebuilt: an append
writes one row, a proof reads O(log n) rows.

Writers. Every write runs inside ``BEGIN IMMEDIATE`` (SQLite's single-writer lock, shared by
every process on the file) and first reads the newest row, so writers in other processes chain
onto each other's records. Within one process:

* ``durability="sync"`` (default): an append returns once its transaction has committed with
  ``synchronous=FULL``. Threads that arrive while a commit is in flight are written together in
  the next transaction (group commit): one fsync for many appends.
* ``durability="batched"``: appends are written into an open transaction that commits when
  ``batch_size`` records have accumulated or ``flush_interval`` seconds after the batch began,
  whichever is first. Those commits do not wait for the disk (``synchronous=NORMAL``, so no
  append ever waits for an fsync); a background thread makes them durable every
  ``sync_interval`` seconds with a WAL checkpoint, and `flush` and `close` make everything
  durable before returning. Loss windows, although the appends returned: a killed process loses
  the open batch (at most ``batch_size`` records or ``flush_interval`` seconds); a power loss or
  OS crash loses at most ``flush_interval + sync_interval`` seconds of appends. Other processes
  wait for the write lock while a batch is open (up to ``busy_timeout``).

Failures. A write that fails (disk full, read-only file, lock timeout, a damaged tree) raises
`AuditError` and the governed action is refused. In batched mode a failed commit loses the open
batch; the next append (or flush, or close) raises `AuditError` saying how many records were lost.
Damage is reported, never repaired: verification names the first bad record.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent_hypervisor._checkpoint import SignedCheckpoint
from agent_hypervisor._group_commit import GroupCommit, PendingAppend
from agent_hypervisor._log_base import AuditLogBase, RecordParts, build_rows, record_parts
from agent_hypervisor._tree import Frontier, frontier_from_nodes
from agt_core import GENESIS_HASH, AuditError, AuditIntegrityError, UtcClock

if TYPE_CHECKING:
    from agt_core import ApprovalRecord, Decision

__all__ = ["FORMAT", "Durability", "SqliteAuditLog"]

FORMAT = "agt-audit-sqlite/1"
Durability = Literal["sync", "batched"]

_sha256 = hashlib.sha256
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records ("
    "seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, body TEXT NOT NULL, tree BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkpoints (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
)
_INSERT = "INSERT INTO records (seq, hash, body, tree) VALUES (?, ?, ?, ?)"
_HEAD = "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"
_FETCH = 2000


def _write_error(path: str, exc: sqlite3.Error) -> AuditError:
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered:
        hint = "free disk space (or raise the store's size limit); nothing was recorded, so the action was refused"
    elif "readonly" in lowered or "read-only" in lowered:
        hint = "make the file and its folder writable by this process, or audit to another path"
    elif "locked" in lowered or "busy" in lowered:
        hint = "another process held the write lock too long; raise busy_timeout or look for a stuck writer"
    else:
        hint = "check the file with `python -m agent_hypervisor verify` before writing to it again"
    return AuditError(f"cannot write audit store `{path}`: {text}", help=hint)


class SqliteAuditLog(AuditLogBase):
    """A tamper-evident audit log in a SQLite file, safe for many threads and processes.

    Args:
        path: The database file; created (with its folder) unless `create` is False.
        durability: ``"sync"`` (an append is durable when it returns) or ``"batched"`` (see the
            module docs for the loss window).
        batch_size: Batched mode: commit after this many records (the committing append pays for
            writing the batch, so this bounds the worst append; 256 keeps it near a millisecond).
        flush_interval: Batched mode: commit at most this many seconds after a batch began.
        sync_interval: Batched mode: make commits durable (fsync) at least this often, in seconds.
        busy_timeout: Seconds to wait for another process's write lock before an append fails.
        create: Create the store if the file does not exist or is empty.
        readonly: Open for reading and verification only; appends raise `AuditError`.
        max_bytes: Refuse to grow the database file past this size: appends then fail with
            `AuditError` exactly as on a full disk (a quota for a shared volume).

    Raises:
        AuditError: if the file cannot be opened, is not an audit store, or has another format.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Durability = "sync",
        batch_size: int = 256,
        flush_interval: float = 0.05,
        sync_interval: float = 1.0,
        busy_timeout: float = 30.0,
        create: bool = True,
        readonly: bool = False,
        max_bytes: int | None = None,
    ) -> None:
        if durability not in ("sync", "batched"):
            raise ValueError(f"durability must be `sync` or `batched`, not `{durability}`")
        if batch_size < 1 or flush_interval <= 0:
            raise ValueError("batch_size must be at least 1 and flush_interval positive")
        self.path = str(Path(path))
        self.durability: Durability = durability
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._sync_interval = sync_interval
        self._unsynced = False
        self._busy_timeout = busy_timeout
        self._readonly = readonly
        self._clock = UtcClock()
        self._closed = False
        if not readonly and create:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        elif not Path(self.path).exists():
            raise AuditError(f"audit store `{self.path}` does not exist")
        self._write = self._connect()
        self._read = self._connect()
        if durability == "batched" and not readonly:
            # Commits skip the fsync; the flusher thread checkpoints (and so fsyncs) on its own.
            self._write.execute("PRAGMA synchronous=NORMAL")
            self._write.execute("PRAGMA wal_autocheckpoint=0")
        if max_bytes is not None:
            page = self._write.execute("PRAGMA page_size").fetchone()[0]
            self._write.execute(f"PRAGMA max_page_count = {max(1, int(max_bytes) // int(page))}")
        self._write_lock = threading.RLock()
        self._read_lock = threading.Lock()
        self.log_id = self._open_schema(create and not readonly)
        # Writer state: valid only while the newest row is (self._size - 1, self._head).
        self._size = -1
        self._head = GENESIS_HASH
        self._frontier = Frontier()
        self._in_txn = False
        self._pending = 0
        self._batch_started = 0.0
        self._failure: AuditError | None = None
        # Group commit (sync mode).
        self._group = GroupCommit(self._write_batch)
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        if durability == "batched" and not readonly:
            self._flusher = threading.Thread(target=self._flush_loop, name="agt-audit-flush", daemon=True)
            self._flusher.start()

    # -- connections and schema ------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        mode = "ro" if self._readonly else "rwc"
        uri = Path(self.path).absolute().as_uri() + f"?mode={mode}"
        try:
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout
            )
            if not self._readonly:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise AuditError(
                f"cannot open audit store `{self.path}`: {exc}",
                help="is it a SQLite file written by agent-hypervisor, and readable by this process?",
            ) from exc
        return conn

    def _open_schema(self, create: bool) -> str:
        conn = self._write
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"meta", "records", "checkpoints"} <= tables:
                if not create:
                    raise AuditError(
                        f"`{self.path}` is not an agent-hypervisor audit store (no audit tables)"
                    )
                if tables - {"meta", "records", "checkpoints"}:
                    raise AuditError(
                        f"`{self.path}` is a SQLite file with other tables; refusing to turn it into an audit store"
                    )
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('log_id', ?)", (secrets.token_hex(16),))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise AuditError(
                f"cannot open audit store `{self.path}`: {exc}",
                help="the file may be damaged or not a SQLite database; verify it or restore a copy",
            ) from exc
        if meta.get("format") != FORMAT:
            raise AuditError(
                f"`{self.path}` has audit store format `{meta.get('format')}`, not `{FORMAT}`",
                help="open it with the agent-hypervisor version that wrote it",
            )
        log_id = meta.get("log_id")
        if not isinstance(log_id, str) or not log_id:
            raise AuditError(f"`{self.path}` has no log id; the store was damaged")
        return log_id

    def close(self) -> None:
        """Commit a batch in flight and close the store.

        Raises:
            AuditError: if the last batch could not be committed (its records are lost).
        """
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        try:
            self.flush()
        finally:
            self._closed = True
            with self._write_lock:
                self._write.close()
            with self._read_lock:
                self._read.close()

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def __enter__(self) -> SqliteAuditLog:
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
        """Append one decision record; return its hash (see `AuditLogBase.append` and the module docs)."""
        parts = record_parts(request, decision, approval, request_json)
        if self._closed:
            raise AuditError(f"audit store `{self.path}` is closed")
        if self._readonly:
            raise AuditError(f"audit store `{self.path}` was opened read-only")
        if self.durability == "batched":
            return self._append_batched(parts)
        return self._append_sync(parts)

    def _begin(self) -> None:
        """Take the write lock and catch up with records other writers appended."""
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(_HEAD).fetchone()
            size, head = (0, GENESIS_HASH) if row is None else (row[0] + 1, row[1])
            if size != self._size or head != self._head:
                frontier = frontier_from_nodes(self._write_node, size)
                self._size, self._head, self._frontier = size, head, frontier
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._write.execute("ROLLBACK")
        self._size = -1  # re-read the head before the next write
        self._in_txn = False

    def _rows(self, items: list[RecordParts]) -> tuple[list[tuple[int, str, str, bytes]], Frontier, str]:
        return build_rows(self._frontier, self._size, self._head, items, self._clock.now)

    def _append_sync(self, parts: RecordParts) -> str:
        return self._group.append(parts)

    def _write_batch(self, batch: list[PendingAppend]) -> None:
        with self._write_lock:
            try:
                self._begin()
                rows, frontier, head = self._rows([p.parts for p in batch])
                self._write.executemany(_INSERT, rows)
                self._write.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                error: BaseException = _write_error(self.path, exc)
                for pending in batch:
                    pending.error = error
                return
            except BaseException as exc:
                self._rollback()
                for pending in batch:
                    pending.error = exc
                return
            self._frontier, self._head, self._size = frontier, head, self._size + len(rows)
            for pending, row in zip(batch, rows, strict=True):
                pending.digest = row[1]

    def _append_batched(self, parts: RecordParts) -> str:
        with self._write_lock:
            self._raise_failure()
            try:
                if not self._in_txn:
                    self._begin()
                    self._in_txn = True
                    self._pending = 0
                    self._batch_started = time.monotonic()
                rows, frontier, head = self._rows([parts])
                self._write.execute(_INSERT, rows[0])
            except sqlite3.Error as exc:
                lost = self._pending
                self._rollback()
                raise self._lost(lost, exc) from exc
            except BaseException:
                self._failure = self._lost(self._pending, None) if self._pending else None
                self._rollback()
                raise
            self._frontier, self._head, self._size = frontier, head, self._size + 1
            self._pending += 1
            if self._pending >= self._batch_size:
                self._commit_locked()
                self._raise_failure()  # this append's own record was in the batch that failed
            return rows[0][1]

    def _lost(self, count: int, exc: sqlite3.Error | None) -> AuditError:
        error = _write_error(self.path, exc) if exc is not None else AuditError("batched append failed")
        if count:
            error = AuditError(
                f"{error.message}; the {count} batched record(s) appended since the last commit were lost",
                help=error.help,
            )
        return error

    def _commit_locked(self) -> None:
        if not self._in_txn:
            return
        try:
            self._write.execute("COMMIT")
        except sqlite3.Error as exc:
            lost = self._pending
            self._rollback()
            self._failure = self._lost(lost, exc)
            return
        self._in_txn = False
        self._pending = 0
        self._unsynced = True

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _sync_wal(self) -> None:
        """Sync the WAL to disk: every commit made so far (``synchronous=NORMAL``) becomes durable.

        Raises:
            AuditError: if the WAL cannot be synced.
        """
        try:
            fd = os.open(self.path + "-wal", os.O_RDONLY)
        except FileNotFoundError:
            return  # nothing written since the last checkpoint reset the WAL
        except OSError as exc:
            raise AuditError(f"cannot sync audit store `{self.path}`: {exc}") from exc
        try:
            os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"cannot sync audit store `{self.path}`: {exc}") from exc
        finally:
            os.close(fd)
        self._unsynced = False

    def _flush_loop(self) -> None:
        checkpointer: sqlite3.Connection | None = None
        last_sync = time.monotonic()
        try:
            while not self._stop.wait(self._flush_interval / 2):
                with self._write_lock:
                    if self._in_txn and time.monotonic() - self._batch_started >= self._flush_interval:
                        self._commit_locked()
                if self._unsynced and time.monotonic() - last_sync >= self._sync_interval:
                    # Outside the write lock: appends go on while the WAL is synced and checkpointed.
                    self._unsynced = False
                    last_sync = time.monotonic()
                    try:
                        self._sync_wal()
                        if checkpointer is None:
                            checkpointer = self._connect()
                        checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")  # keeps the WAL from growing
                    except (sqlite3.Error, AuditError):
                        self._unsynced = True  # try again next time; flush() and close() sync for sure
        finally:
            if checkpointer is not None:
                checkpointer.close()

    def flush(self) -> None:
        """Commit the batch in flight (batched mode); afterwards every returned append is durable.

        Raises:
            AuditError: if the batch could not be committed (its records are lost).
        """
        with self._write_lock:
            if self.durability == "batched" and not self._readonly and not self._closed:
                # Commits skipped the fsync (synchronous=NORMAL): syncing the WAL makes them all durable.
                self._commit_locked()
                if self._failure is None:
                    self._sync_wal()
            self._raise_failure()

    # -- reading ---------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_lock:
            try:
                return self._read.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise AuditIntegrityError(
                    f"audit store `{self.path}` could not be read: {exc}",
                    help="the file is damaged; run `python -m agent_hypervisor verify` on it",
                ) from exc

    def __len__(self) -> int:
        row = self._query("SELECT max(seq) FROM records")
        return 0 if row[0][0] is None else int(row[0][0]) + 1

    def _tree_blob(self, rows: list[Any], seq: int) -> bytes:
        if not rows or not isinstance(rows[0][0], bytes):
            raise AuditIntegrityError(
                f"record {seq} or its Merkle nodes are missing from the store", index=seq
            )
        blob: bytes = rows[0][0]
        return blob

    def _node_from(self, blob: bytes, level: int, seq: int) -> bytes:
        node = blob[level * 32 : level * 32 + 32]
        if len(node) != 32:
            raise AuditIntegrityError(f"record {seq}'s stored Merkle nodes are damaged", index=seq)
        return node

    def _node(self, level: int, index: int) -> bytes:
        seq = ((index + 1) << level) - 1
        blob = self._tree_blob(self._query("SELECT tree FROM records WHERE seq = ?", (seq,)), seq)
        return self._node_from(blob, level, seq)

    def _write_node(self, level: int, index: int) -> bytes:
        seq = ((index + 1) << level) - 1
        rows = self._write.execute("SELECT tree FROM records WHERE seq = ?", (seq,)).fetchall()
        return self._node_from(self._tree_blob(rows, seq), level, seq)

    def _entries(self, start: int, end: int) -> Iterator[tuple[int, str, str]]:
        at = start
        while at < end:
            rows = self._query(
                "SELECT seq, hash, body FROM records WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?",
                (at, end, _FETCH),
            )
            if not rows:
                return
            yield from rows
            at = rows[-1][0] + 1

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
        for column, value in (
            ("json_extract(body, '$.request.agent.id') = ?", agent),
            ("json_extract(body, '$.request.action.type') = ?", action),
            ("json_extract(body, '$.decision.effect') = ?", effect),
            ("json_extract(body, '$.timestamp') >= ?", since),
            ("json_extract(body, '$.timestamp') < ?", until),
            ("json_extract(body, '$.request.context.session') = ?", session),
        ):
            if value is not None:
                clauses.append(column)
                params.append(value)
        where = " AND ".join(clauses) or "1"
        at = 0
        while True:
            rows = self._query(
                f"SELECT seq, hash, body FROM records WHERE seq >= ? AND {where} ORDER BY seq LIMIT ?",  # noqa: S608 - fixed clauses
                (at, *params, _FETCH),
            )
            if not rows:
                return
            yield from rows
            at = rows[-1][0] + 1

    def _scan_for_verify(self, end: int) -> Iterator[tuple[str, str, bytes]]:
        # A connection of its own, in one read transaction: a consistent snapshot while writers go on.
        conn = self._connect()
        seq = 0
        # Keyset paging on the row key (never OFFSET, which rescans every skipped row).
        query = "SELECT seq, hash, body, tree FROM records WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?"
        after = -(2**63)
        try:
            conn.execute("BEGIN")
            while True:
                try:
                    rows = conn.execute(query, (after, end, _FETCH)).fetchall()
                except sqlite3.DatabaseError:
                    # Something in this batch cannot be read: read it row by row to name the record.
                    rows, last = [], after
                    for _ in range(_FETCH):
                        try:
                            row = conn.execute(query, (last, end, 1)).fetchone()
                        except sqlite3.DatabaseError as exc:
                            if rows:
                                break  # yield the readable rows first; the next batch names the bad one
                            raise AuditIntegrityError(
                                f"record {seq} could not be read: {exc}; the file is damaged", index=seq
                            ) from exc
                        if row is None:
                            break
                        rows.append(row)
                        last = row[0]
                if not rows:
                    return
                after = rows[-1][0]
                for _, digest, body, tree in rows:
                    if not (isinstance(digest, str) and isinstance(body, str) and isinstance(tree, bytes)):
                        raise AuditIntegrityError(f"record {seq} has a column of the wrong type", index=seq)
                    yield digest, body, tree
                    seq += 1
        except sqlite3.DatabaseError as exc:
            raise AuditIntegrityError(
                f"the store could not be read at record {seq}: {exc}; the file is damaged", index=seq
            ) from exc
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            conn.close()

    def _deep_store_check(self) -> None:
        problems = self._query("PRAGMA quick_check")
        if [tuple(r) for r in problems] != [("ok",)]:
            detail = "; ".join(str(r[0]) for r in problems[:3])
            raise AuditIntegrityError(f"SQLite reports the file is damaged: {detail}")

    def _stored_checkpoints(self) -> list[SignedCheckpoint]:
        rows = self._query("SELECT body FROM checkpoints ORDER BY id")
        kept = []
        for (body,) in rows:
            try:
                kept.append(SignedCheckpoint.from_json(body))
            except ValueError as exc:
                raise AuditIntegrityError(f"a kept checkpoint is damaged: {exc}") from exc
        return kept

    def _keep_checkpoint(self, checkpoint: SignedCheckpoint) -> None:
        with self._write_lock:
            try:
                self._write.execute("INSERT INTO checkpoints (body) VALUES (?)", (checkpoint.to_json(),))
            except sqlite3.Error as exc:
                raise _write_error(self.path, exc) from exc
