"""The in-memory audit log: every decision, hash-chained over its canonical JSON.

Records are laid out, hashed and verified by `agt_core` (`audit_record_body`, `record_hash`,
`verify_chain`), exactly as agent-hypervisor's durable stores do, so a trail exported from here
verifies anywhere. Editing any field of any record, removing one, or reordering them breaks
`AuditLog.verify`; cutting records off the end is caught against a published `head`.

Retention is bounded twice: by record count (``max_records``, 100,000 by default) and by the
total size of the retained records (``max_bytes``, 256 MiB by default), whichever is reached
first. When a record is evicted, its sequence number and hash become the log's *anchor*:
verification then starts from the anchor, so the retained tail is still checked link by link.
To keep every record, use a durable store (agent-hypervisor) or pass ``sink=``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from agt_core import (
    GENESIS_HASH,
    AuditWriteError,
    ChainHead,
    UtcClock,
    audit_record_body,
    audit_record_line,
    canonical_json,
    record_hash,
    verify_chain,
)

if TYPE_CHECKING:
    from agt_core import ApprovalRecord, AuditRecord, Decision

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_RECORDS", "AuditLog"]

DEFAULT_MAX_RECORDS = 100_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class AuditLog:
    """An append-only, hash-chained, bounded in-memory audit trail (an `agt_core.AuditSink`). Thread-safe.

    Args:
        max_records: How many of the most recent records to keep.
        max_bytes: How many characters of record text to keep, at most (one oversized record is
            still kept, alone).
        sink: Called with each record's canonical JSON line (hash included) before it joins the
            chain, e.g. to append to a file. If it raises, the append fails, nothing is added, and
            the governed action is refused. It runs outside the lock that guards the log's state,
            so it may read `head` or `records()`; it must not append to the same log.
    """

    def __init__(
        self,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sink: Callable[[str], None] | None = None,
    ) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self._max = max_records
        self._max_bytes = max_bytes
        self._sink = sink
        self._lock = threading.Lock()  # guards the state below; never held while user code runs
        self._writer = threading.Lock()  # serialises appends, so the sink sees records in chain order
        self._writing = threading.local()
        # Each entry: (hash, canonical JSON of the record without its hash).
        self._entries: deque[tuple[str, str]] = deque()
        self._bytes = 0
        self._next_seq = 0
        self._head = GENESIS_HASH
        self._anchor_seq = 0
        self._anchor_hash = GENESIS_HASH
        self._clock = UtcClock()
        # Where the chain lives once govern() moved it into native memory for a call plan
        # (agt-evaluator's `NativeTrail`): the fields above are then unused, every append and read
        # goes there.
        self._native: Any = None

    # -- writing ----------------------------------------------------------------------------

    def append(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval: ApprovalRecord | None = None,
        **private: Any,
    ) -> str:
        """Append one decision and return its record hash.

        Raises:
            AuditWriteError: if the record cannot be serialised or the sink fails.
        """
        # The kernel passes `request_json` when its request builder made it from the same data, and
        # `record` (a native `chain_record`, checked against agt-core's layout and hash) when it has one.
        request_json: str | None = private.get("request_json")
        record: Callable[[int, str, str, str, str], tuple[str, str]] | None = private.get("record")
        try:
            if request_json is None:
                request_json = canonical_json(request)
            decision_json = decision.canonical_json()
            approval_json = "null" if approval is None else canonical_json(approval.model_dump(mode="json"))
        except Exception as exc:
            raise AuditWriteError(f"audit record could not be serialised: {exc}") from exc
        if self._sink is None:
            native = self._native
            if native is not None:  # adopted: the trail builds, hashes and appends under its own lock
                try:
                    digest: str = native.append(request_json, decision_json, approval_json)
                except Exception as exc:
                    raise AuditWriteError(f"audit record could not be appended: {exc}") from exc
                return digest
            # No user code runs during this append, so the state lock alone serialises it (the writer
            # lock and the re-entrancy flag exist for the sink). The record is built and hashed
            # under the lock: its seq and prev_hash must be the chain's state at the moment it joins.
            with self._lock:
                if self._native is not None:  # adopted while this append waited for the lock
                    return self.append(request, decision, approval, request_json=request_json)
                seq = self._next_seq
                if record is not None:
                    try:
                        body, digest = record(seq, self._head, request_json, decision_json, approval_json)
                    except Exception as exc:
                        raise AuditWriteError(f"audit record could not be built: {exc}") from exc
                else:
                    body = audit_record_body(
                        seq=seq,
                        timestamp=self._clock.now(),
                        prev_hash=self._head,
                        request_json=request_json,
                        decision_json=decision_json,
                        approval_json=approval_json,
                    )
                    digest = record_hash(body)
                self._entries.append((digest, body))
                self._bytes += len(body)
                self._next_seq = seq + 1
                self._head = digest
                if len(self._entries) > self._max or self._bytes > self._max_bytes:
                    self._evict()
            return digest
        if getattr(self._writing, "active", False):
            raise AuditWriteError(
                "the audit sink appended to the log it is the sink of; that would fork the chain"
            )
        with self._writer:
            self._writing.active = True
            try:
                seq, prev = self._next_seq, self._head
                body = audit_record_body(
                    seq=seq,
                    timestamp=self._clock.now(),
                    prev_hash=prev,
                    request_json=request_json,
                    decision_json=decision_json,
                    approval_json=approval_json,
                )
                digest = record_hash(body)
                if self._sink is not None:
                    try:
                        self._sink(audit_record_line(body, digest))
                    except Exception as exc:
                        raise AuditWriteError(f"audit sink failed: {exc}") from exc
            finally:
                self._writing.active = False
            with self._lock:
                self._entries.append((digest, body))
                self._bytes += len(body)
                self._next_seq = seq + 1
                self._head = digest
                self._evict()
        return digest

    def _adopt_native(self, make_trail: Callable[..., Any]) -> Any:
        """Move this log's chain into a native trail (`NativePolicySet.native_trail`), once; return it.

        `govern()` calls this (`agent_os._call_plan`) for a log without a sink when it makes a
        native call plan, after the kernel checked that the set writes agt-core's records; the
        trail takes the bounds, the next seq and head, the anchor and the retained records, and
        from then on every append and read goes through it.
        """
        if self._sink is not None:
            raise ValueError("a log with a sink keeps its chain in Python")
        with self._lock:
            if self._native is None:
                self._native = make_trail(
                    self._max,
                    self._max_bytes,
                    self._next_seq,
                    self._head,
                    self._anchor_seq,
                    self._anchor_hash,
                    list(self._entries),
                )
                self._entries.clear()
                self._bytes = 0
            return self._native

    def _chain_state(self) -> tuple[list[tuple[str, str]], int, str, int, str]:
        """``(entries, anchor seq, anchor hash, next seq, head)``, read at one instant."""
        native = self._native
        if native is not None:
            entries, anchor_seq, anchor_hash, next_seq, head, _ = native.snapshot()
            return entries, anchor_seq, anchor_hash, next_seq, head
        with self._lock:
            return list(self._entries), self._anchor_seq, self._anchor_hash, self._next_seq, self._head

    def _evict(self) -> None:
        """Drop the oldest records past either bound (the newest is always kept); the lock is held."""
        while len(self._entries) > self._max or (self._bytes > self._max_bytes and len(self._entries) > 1):
            evicted_hash, evicted = self._entries.popleft()
            self._bytes -= len(evicted)
            self._anchor_seq += 1
            self._anchor_hash = evicted_hash

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        native = self._native
        return len(self._entries) if native is None else int(native.state()[0])

    def __iter__(self) -> Iterator[AuditRecord]:
        return iter(self.records())

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest record; publish or sign it to pin the whole chain."""
        native = self._native
        if native is not None:
            _, _, _, next_seq, head, _ = native.state()
            return next_seq - 1, head
        with self._lock:
            return self._next_seq - 1, self._head

    @property
    def anchor(self) -> tuple[int, str]:
        """``(first retained seq, hash before it)``: where verification starts after evictions."""
        native = self._native
        if native is not None:
            _, anchor_seq, anchor_hash, _, _, _ = native.state()
            return anchor_seq, anchor_hash
        with self._lock:
            return self._anchor_seq, self._anchor_hash

    @property
    def retained_bytes(self) -> int:
        """Characters of record text currently held."""
        native = self._native
        return self._bytes if native is None else int(native.state()[5])

    def records(self, last: int | None = None) -> list[AuditRecord]:
        """Return the retained records (or the `last` N), oldest first, as models."""
        from agt_core import AuditRecord

        entries = self._chain_state()[0]
        if last is not None:
            entries = entries[-last:] if last > 0 else []
        return [AuditRecord.model_validate({**json.loads(body), "hash": digest}) for digest, body in entries]

    def lines(self) -> list[str]:
        """Return the retained records as canonical JSON lines (hash included), oldest first."""
        entries = self._chain_state()[0]
        return [audit_record_line(body, digest) for digest, body in entries]

    def verify(self, *, deep: bool = False) -> int:
        """Check every retained record against its hash and its predecessor, and the last against the head.

        Args:
            deep: Also parse each record and check that it is canonical JSON with exactly the
                record's fields (the default check already detects any change to a record).

        Returns:
            The number of records verified.

        Raises:
            AuditIntegrityError: naming the first record (by seq) that does not verify.
        """
        from agt_core import AuditIntegrityError

        entries, seq, prev, _, head = self._chain_state()
        end: ChainHead = verify_chain(entries, start_seq=seq, prev_hash=prev, deep=deep)
        if entries and end.hash != head:
            raise AuditIntegrityError(
                "the newest record is not the log's head; records were removed", index=end.seq + 1
            )
        return end.count

    # -- display ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        seq, head = self.head
        return f"<AuditLog {len(self)} records retained, head seq {seq} {head[:12]}…>"

    def table(self, last: int = 10) -> str:
        """The newest `last` records as a small text table: seq, time, agent, action, effect, rule."""
        rows = [("seq", "time (UTC)", "agent", "action", "effect", "rule / refused by")]
        for record in self.records(last):
            request, decision = record.request, record.decision
            action = request.get("action", {})
            who = decision.rule or decision.refused_by or ("(default)" if decision.policy else "")
            rows.append(
                (
                    str(record.seq),
                    record.timestamp[11:23],
                    str(request.get("agent", {}).get("id", "")),
                    str(action.get("type", "")) if isinstance(action, dict) else "",
                    decision.effect + (" (approved)" if record.approval and record.approval.approved else ""),
                    who,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
        )
