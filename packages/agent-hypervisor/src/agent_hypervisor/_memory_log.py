"""The in-memory Merkle audit log: every record kept, tree grown in O(log n) per append.

Storage is chunked (65,536 records or nodes per chunk) so that no append ever pays for copying
a large buffer: a single list or bytearray of a million entries would be reallocated, and
copied, as it grows, stalling the append that triggers it for milliseconds.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from agent_hypervisor._checkpoint import SignedCheckpoint
from agent_hypervisor._log_base import AuditLogBase, record_parts
from agent_hypervisor._tree import Frontier
from agt_core import GENESIS_HASH, AuditIntegrityError, UtcClock, audit_record_body

if TYPE_CHECKING:
    from agt_core import ApprovalRecord, Decision

__all__ = ["MerkleAuditLog"]

_sha256 = hashlib.sha256
_SHIFT = 16
_CHUNK = 1 << _SHIFT  # entries per chunk
_MASK = _CHUNK - 1


class MerkleAuditLog(AuditLogBase):
    """A tamper-evident audit log held in memory. Thread-safe; implements `agt_core.AuditSink`.

    Keeps every record (about 1 KB each for a typical tool call, plus 64 bytes of tree); for a log
    that outlives the process use `SqliteAuditLog`.

    Args:
        log_id: The log's identity in checkpoints; random by default.
    """

    def __init__(self, *, log_id: str | None = None) -> None:
        self.log_id = log_id or secrets.token_hex(16)
        self._lock = threading.Lock()
        self._size = 0
        self._head = GENESIS_HASH
        # Records: chunks of _CHUNK hashes and bodies.
        self._hashes: list[list[str]] = []
        self._bodies: list[list[str]] = []
        # _levels[k] holds the complete nodes of level k: chunks of _CHUNK 32-byte hashes.
        self._levels: list[list[bytearray]] = []
        self._frontier = Frontier()
        self._clock = UtcClock()
        self._kept: list[SignedCheckpoint] = []

    def append(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval: ApprovalRecord | None = None,
        *,
        request_json: str | None = None,
    ) -> str:
        """Append one decision record; return its hash (see `AuditLogBase.append`)."""
        req, dec, app = record_parts(request, decision, approval, request_json)
        with self._lock:
            seq = self._size
            body = audit_record_body(
                seq=seq,
                timestamp=self._clock.now(),
                prev_hash=self._head,
                request_json=req,
                decision_json=dec,
                approval_json=app,
            )
            raw = _sha256(body.encode("utf-8")).digest()
            digest = raw.hex()
            levels = self._levels
            index = seq
            for level, node in enumerate(self._frontier.push(_sha256(b"\x00" + raw).digest())):
                if level == len(levels):
                    levels.append([])
                chunks = levels[level]
                if index & _MASK == 0:
                    chunks.append(bytearray())
                chunks[-1] += node
                index >>= 1
            if seq & _MASK == 0:
                self._hashes.append([])
                self._bodies.append([])
            self._hashes[-1].append(digest)
            self._bodies[-1].append(body)
            self._size = seq + 1
            self._head = digest
        return digest

    def __len__(self) -> int:
        return self._size

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest record (``(-1, GENESIS_HASH)`` when empty)."""
        with self._lock:
            return self._size - 1, self._head

    def _node(self, level: int, index: int) -> bytes:
        try:
            chunk = self._levels[level][index >> _SHIFT]
        except IndexError:
            chunk = bytearray()
        at = (index & _MASK) * 32
        node = bytes(chunk[at : at + 32])
        if len(node) != 32:
            raise AuditIntegrityError(f"Merkle node ({level}, {index}) is missing", index=index << level)
        return node

    def _slice(self, start: int, end: int) -> tuple[list[str], list[str]]:
        """Hashes and bodies of records ``start <= seq < end`` (taken under the lock)."""
        hashes: list[str] = []
        bodies: list[str] = []
        with self._lock:
            end = min(end, self._size)
            at = max(start, 0)
            while at < end:
                chunk, offset = at >> _SHIFT, at & _MASK
                take = min(_CHUNK - offset, end - at)
                hashes.extend(self._hashes[chunk][offset : offset + take])
                bodies.extend(self._bodies[chunk][offset : offset + take])
                at += take
        return hashes, bodies

    def _entries(self, start: int, end: int) -> Iterator[tuple[int, str, str]]:
        hashes, bodies = self._slice(start, end)
        for offset, (digest, body) in enumerate(zip(hashes, bodies, strict=True)):
            yield start + offset, digest, body

    def _scan_for_verify(self, end: int) -> Iterator[tuple[str, str, bytes]]:
        hashes, bodies = self._slice(0, end)
        with self._lock:
            levels = [[bytes(chunk) for chunk in chunks] for chunks in self._levels]
        node = _reader(levels)
        leaves = levels[0] if levels else []
        for seq, (digest, body) in enumerate(zip(hashes, bodies, strict=True)):
            chunk = seq >> _SHIFT
            at = (seq & _MASK) * 32
            stored = leaves[chunk][at : at + 32] if chunk < len(leaves) else b""
            if seq & 1:  # this append also completed parent nodes: one per trailing 1 bit
                parts = [stored]
                level, index = 0, seq
                while index & 1:
                    level += 1
                    index >>= 1
                    parts.append(node(level, index))
                stored = b"".join(parts)
            yield digest, body, stored

    def _stored_checkpoints(self) -> list[SignedCheckpoint]:
        with self._lock:
            return list(self._kept)

    def _keep_checkpoint(self, checkpoint: SignedCheckpoint) -> None:
        with self._lock:
            self._kept.append(checkpoint)


def _reader(levels: list[list[bytes]]) -> Any:
    def node(level: int, index: int) -> bytes:
        if level >= len(levels):
            return b""
        chunks = levels[level]
        chunk = index >> _SHIFT
        if chunk >= len(chunks):
            return b""
        at = (index & _MASK) * 32
        return chunks[chunk][at : at + 32]

    return node
