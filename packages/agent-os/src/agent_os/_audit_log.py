"""The in-memory audit log: every decision, hash-chained over its canonical JSON.

Each record's ``hash`` is the SHA-256 of the RFC 8785 canonical JSON of all its other fields
(the request, the whole decision, the approval, the previous record's hash, the sequence number
and the time). Editing any field of any record, removing one, or reordering them breaks
`AuditLog.verify`.

Retention: the log keeps the most recent ``max_records`` records (100,000 by default; a typical
tool call's record holds about 1 KB, so about 100 MB at the bound). When a record is evicted, its sequence number and hash
become the log's *anchor*: verification then starts from the anchor, so the retained tail is
still checked link by link. Durable storage and Merkle proofs belong to agent-hypervisor; to
keep every record today, pass ``sink=`` to receive each record as it is written.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from agt_core import AuditError, AuditIntegrityError, canonical_json

if TYPE_CHECKING:
    from agt_core import ApprovalRecord, AuditRecord, Decision

_GENESIS_HASH = "0" * 64  # agt_core.GENESIS_HASH, without importing the models eagerly

__all__ = ["DEFAULT_MAX_RECORDS", "AuditLog", "verify_audit_lines"]

DEFAULT_MAX_RECORDS = 100_000


class _Clock:
    """UTC timestamps with microseconds, formatting the date part once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        micros = time.time_ns() // 1000
        second, micro = divmod(micros, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{micro:06d}Z"


class AuditLog:
    """An append-only, hash-chained, bounded in-memory audit trail. Thread-safe.

    Args:
        max_records: How many of the most recent records to keep (see the module docstring).
        sink: Called with each record's canonical JSON line (hash included) after it is chained,
            under the log's lock, e.g. to append to a file. If it raises, the append fails and the
            governed action is refused.
    """

    def __init__(
        self, *, max_records: int = DEFAULT_MAX_RECORDS, sink: Callable[[str], None] | None = None
    ) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._max = max_records
        self._sink = sink
        self._lock = threading.Lock()
        # Each entry: (hash, canonical JSON of the record without its hash).
        self._entries: deque[tuple[str, str]] = deque()
        self._next_seq = 0
        self._head = _GENESIS_HASH
        self._anchor_seq = 0
        self._anchor_hash = _GENESIS_HASH
        self._clock = _Clock()

    # -- writing ----------------------------------------------------------------------------

    def append(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval: ApprovalRecord | None = None,
        *,
        request_json: str | None = None,
    ) -> str:
        """Append one decision and return its record hash.

        Args:
            request: The evaluation request.
            decision: The decision reached on it.
            approval: The approval record, when the decision required one.
            request_json: The canonical JSON of `request` when the caller already built it (the
                kernel does, from parts it caches); `verify` re-checks it like everything else.

        Raises:
            AuditError: if the record cannot be serialised or the sink fails.
        """
        try:
            if request_json is None:
                request_json = canonical_json(request)
            decision_json = decision.canonical_json()
            approval_json = "null" if approval is None else canonical_json(approval.model_dump(mode="json"))
        except Exception as exc:
            raise AuditError(f"audit record could not be serialised: {exc}") from exc
        with self._lock:
            seq = self._next_seq
            prev = self._head
            # Keys in RFC 8785 order (all ASCII, so code-unit order is alphabetical).
            body = (
                f'{{"approval":{approval_json},"decision":{decision_json},"prev_hash":"{prev}",'
                f'"request":{request_json},"seq":{seq},"timestamp":"{self._clock.now()}"}}'
            )
            try:
                data = body.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise AuditError("audit record holds a lone surrogate, which has no UTF-8 form") from exc
            digest = hashlib.sha256(data).hexdigest()
            if self._sink is not None:
                try:
                    self._sink(_with_hash(body, digest))
                except Exception as exc:
                    raise AuditError(f"audit sink failed: {exc}") from exc
            if len(self._entries) == self._max:
                evicted_hash, _ = self._entries.popleft()
                self._anchor_seq += 1
                self._anchor_hash = evicted_hash
            self._entries.append((digest, body))
            self._next_seq = seq + 1
            self._head = digest
        return digest

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[AuditRecord]:
        return iter(self.records())

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest record; publish or sign it to pin the whole chain."""
        with self._lock:
            return self._next_seq - 1, self._head

    @property
    def anchor(self) -> tuple[int, str]:
        """``(first retained seq, hash before it)``: where verification starts after evictions."""
        with self._lock:
            return self._anchor_seq, self._anchor_hash

    def records(self) -> list[AuditRecord]:
        """Return the retained records, oldest first, as models."""
        from agt_core import AuditRecord

        with self._lock:
            entries = list(self._entries)
        return [AuditRecord.model_validate({**json.loads(body), "hash": digest}) for digest, body in entries]

    def lines(self) -> list[str]:
        """Return the retained records as canonical JSON lines (hash included), oldest first."""
        with self._lock:
            entries = list(self._entries)
        return [_with_hash(body, digest) for digest, body in entries]

    def verify(self, *, deep: bool = False) -> int:
        """Check every retained record against its hash and its predecessor.

        Args:
            deep: Also parse each record and check that it is canonical JSON with the expected
                fields. The default check (hash, sequence number, link to the previous record,
                head) already detects any change to a record; `deep` additionally catches a writer
                that stored non-canonical text, which other languages' verifiers would reject.

        Returns:
            The number of records verified.

        Raises:
            AuditIntegrityError: naming the first record (by seq) that does not verify.
        """
        with self._lock:
            entries = list(self._entries)
            seq, prev = self._anchor_seq, self._anchor_hash
            head = self._head
        sha256 = hashlib.sha256
        for digest, body in entries:
            try:
                data = body.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise AuditIntegrityError(f"record {seq} is not valid UTF-8 text", index=seq) from exc
            if sha256(data).hexdigest() != digest:
                raise AuditIntegrityError(f"record {seq} does not match its hash", index=seq)
            if deep:
                record_seq, record_prev = _parse_deep(body, seq)
            else:
                record_seq, record_prev = _parse_fast(body)
            if record_seq != seq:
                raise AuditIntegrityError(
                    f"record {seq} carries sequence number `{record_seq}`; records were removed or reordered",
                    index=seq,
                )
            if record_prev != prev:
                raise AuditIntegrityError(
                    f"record {seq} does not link to the record before it; the trail was altered", index=seq
                )
            prev = digest
            seq += 1
        if entries and prev != head:
            raise AuditIntegrityError(
                "the newest record is not the log's head; records were removed", index=seq
            )
        return len(entries)


# Records are written as {"approval":…,"decision":…,"prev_hash":"<64 hex>","request":…,"seq":N,"timestamp":"…"}.
# Neither the approval nor the decision has a `prev_hash` key, and a quote inside a JSON string is
# escaped, so the first `"prev_hash":"` is the record's own; `seq` and `timestamp` come last.
_PREV_KEY = '"prev_hash":"'
_SEQ_KEY = ',"seq":'


def _with_hash(body: str, digest: str) -> str:
    """The exported line: the record with its ``hash`` in canonical key order (before prev_hash)."""
    at = body.find(_PREV_KEY) - 1
    return f'{body[:at]},"hash":"{digest}"{body[at:]}'


def _parse_fast(body: str) -> tuple[object, object]:
    at = body.find(_PREV_KEY)
    prev = body[at + len(_PREV_KEY) : at + len(_PREV_KEY) + 64] if at >= 0 else None
    seq_at = body.rfind(_SEQ_KEY)
    seq: object = None
    if seq_at >= 0:
        end = body.find(",", seq_at + len(_SEQ_KEY))
        text = body[seq_at + len(_SEQ_KEY) : end]
        seq = int(text) if text.isdigit() else text
    return seq, prev


def _parse_deep(body: str, seq: int) -> tuple[object, object]:
    try:
        fields = json.loads(body)
    except ValueError as exc:
        raise AuditIntegrityError(f"record {seq} is not valid JSON", index=seq) from exc
    if not isinstance(fields, dict) or set(fields) != _FIELDS:
        raise AuditIntegrityError(f"record {seq} does not have the audit record's fields", index=seq)
    if canonical_json(fields) != body:
        raise AuditIntegrityError(f"record {seq} is not in canonical form", index=seq)
    return fields.get("seq"), fields.get("prev_hash")


_FIELDS = frozenset({"approval", "decision", "prev_hash", "request", "seq", "timestamp"})


def verify_audit_lines(lines: Iterable[str], *, start_seq: int = 0, prev_hash: str = _GENESIS_HASH) -> int:
    """Verify an exported audit trail: lines as `AuditLog.lines` or an `AuditLog` sink writes them.

    Each line must be canonical JSON whose ``hash`` is the SHA-256 of the canonical JSON of its
    other fields, carry the next sequence number, and name the previous line's hash.

    Args:
        lines: The records, oldest first.
        start_seq: Sequence number of the first line (0 for a complete trail).
        prev_hash: Hash the first line must link to (64 zeros for a complete trail; the log's
            ``anchor`` hash for a tail).

    Returns:
        The number of lines verified.

    Raises:
        AuditIntegrityError: naming the first record (by seq) that does not verify.
    """
    seq, prev, count = start_seq, prev_hash, 0
    for line in lines:
        text = line.rstrip("\n")
        try:
            fields = json.loads(text)
        except ValueError as exc:
            raise AuditIntegrityError(f"record {seq} is not valid JSON", index=seq) from exc
        if not isinstance(fields, dict) or set(fields) != _FIELDS | {"hash"}:
            raise AuditIntegrityError(f"record {seq} does not have the audit record's fields", index=seq)
        if canonical_json(fields) != text:
            raise AuditIntegrityError(f"record {seq} is not in canonical form", index=seq)
        digest = fields.pop("hash")
        if hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest() != digest:
            raise AuditIntegrityError(f"record {seq} does not match its hash", index=seq)
        if fields["seq"] != seq:
            raise AuditIntegrityError(
                f"record {seq} carries sequence number `{fields['seq']}`; records were removed or reordered",
                index=seq,
            )
        if fields["prev_hash"] != prev:
            raise AuditIntegrityError(
                f"record {seq} does not link to the record before it; the trail was altered", index=seq
            )
        prev = digest
        seq += 1
        count += 1
    return count
