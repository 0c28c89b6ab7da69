"""The in-memory Merkle audit log: every record kept, tree grown in O(log n) per append."""

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
        self._hashes: list[str] = []
        self._bodies: list[str] = []
        # _levels[k] holds the 32-byte hashes of the complete nodes of level k, back to back.
        self._levels: list[bytearray] = []
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
            hashes = self._hashes
            seq = len(hashes)
            body = audit_record_body(
                seq=seq,
                timestamp=self._clock.now(),
                prev_hash=hashes[-1] if seq else GENESIS_HASH,
                request_json=req,
                decision_json=dec,
                approval_json=app,
            )
            raw = _sha256(body.encode("utf-8")).digest()
            digest = raw.hex()
            levels = self._levels
            for level, node in enumerate(self._frontier.push(_sha256(b"\x00" + raw).digest())):
                if level == len(levels):
                    levels.append(bytearray())
                levels[level] += node
            hashes.append(digest)
            self._bodies.append(body)
        return digest

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest record (``(-1, GENESIS_HASH)`` when empty)."""
        with self._lock:
            n = len(self._hashes)
            return n - 1, self._hashes[-1] if n else GENESIS_HASH

    def _node(self, level: int, index: int) -> bytes:
        data = self._levels[level]
        node = bytes(data[index * 32 : index * 32 + 32])
        if len(node) != 32:
            raise AuditIntegrityError(f"Merkle node ({level}, {index}) is missing", index=index << level)
        return node

    def _entries(self, start: int, end: int) -> Iterator[tuple[int, str, str]]:
        with self._lock:
            hashes = self._hashes[start:end]
            bodies = self._bodies[start:end]
        for offset, (digest, body) in enumerate(zip(hashes, bodies, strict=True)):
            yield start + offset, digest, body

    def _scan_for_verify(self, end: int) -> Iterator[tuple[str, str, bytes]]:
        with self._lock:
            hashes = self._hashes[:end]
            bodies = self._bodies[:end]
            levels = [bytes(level) for level in self._levels]
        first = levels[0] if levels else b""
        for seq, (digest, body) in enumerate(zip(hashes, bodies, strict=True)):
            stored = first[seq * 32 : seq * 32 + 32]
            if seq & 1:  # this append also completed parent nodes: one per trailing 1 bit
                parts = [stored]
                level, index = 0, seq
                while index & 1:
                    level += 1
                    index >>= 1
                    parts.append(levels[level][index * 32 : index * 32 + 32] if level < len(levels) else b"")
                stored = b"".join(parts)
            yield digest, body, stored

    def _stored_checkpoints(self) -> list[SignedCheckpoint]:
        with self._lock:
            return list(self._kept)

    def _keep_checkpoint(self, checkpoint: SignedCheckpoint) -> None:
        with self._lock:
            self._kept.append(checkpoint)
