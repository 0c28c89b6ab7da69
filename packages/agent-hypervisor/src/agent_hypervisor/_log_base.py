"""What every Merkle audit log does, whatever holds its records: verify, prove, checkpoint, query.

A store supplies a handful of primitives (size, one record, an ordered scan, one tree node, the
checkpoints it kept); everything a verifier relies on is written once, here.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from agent_hypervisor._checkpoint import Checkpoint, Ed25519Signer, SignedCheckpoint, verify_checkpoint
from agent_hypervisor._proofs import ConsistencyProof, InclusionProof, VerifyReport
from agent_hypervisor._tree import (
    Frontier,
    consistency_path,
    frontier_from_nodes,
    inclusion_path,
    subtree_hash,
)
from agt_core import (
    AuditError,
    AuditIntegrityError,
    UtcClock,
    audit_record_body,
    audit_record_line,
    canonical_json,
    record_hash,
    verify_chain,
)

if TYPE_CHECKING:
    from agt_core import ApprovalRecord, AuditRecord, Decision

__all__ = ["AuditLogBase", "RecordParts", "build_rows", "record_parts"]

RecordParts = tuple[str, str, str]
"""Canonical JSON of (request, decision, approval)."""


def record_parts(
    request: Mapping[str, Any],
    decision: Decision,
    approval: ApprovalRecord | None,
    request_json: str | None,
) -> RecordParts:
    """Serialise a record's parts before any lock is taken; refuse what cannot be hashed.

    Raises:
        AuditError: if a part has no canonical JSON or no UTF-8 form.
    """
    try:
        req = request_json if request_json is not None else canonical_json(request)
        dec = decision.canonical_json()
        app = "null" if approval is None else canonical_json(approval.model_dump(mode="json"))
    except Exception as exc:
        raise AuditError(f"audit record could not be serialised: {exc}") from exc
    for part in (req, dec, app):
        if not part.isascii():
            try:
                part.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise AuditError("audit record holds a lone surrogate, which has no UTF-8 form") from exc
    return req, dec, app


def build_rows(
    frontier: Frontier, size: int, head: str, items: list[RecordParts], now: Callable[[], str]
) -> tuple[list[tuple[int, str, str, bytes]], Frontier, str]:
    """Chain `items` after record ``size - 1`` (whose hash is `head`).

    Returns:
        ``(seq, hash, body, tree nodes)`` rows, the grown frontier (a copy: the caller keeps it
        only if its write commits) and the new head hash.
    """
    grown = frontier.copy()
    seq, prev = size, head
    rows = []
    sha256 = hashlib.sha256
    for req, dec, app in items:
        body = audit_record_body(
            seq=seq, timestamp=now(), prev_hash=prev, request_json=req, decision_json=dec, approval_json=app
        )
        raw = sha256(body.encode("utf-8")).digest()
        digest = raw.hex()
        rows.append((seq, digest, body, b"".join(grown.push(sha256(b"\x00" + raw).digest()))))
        prev = digest
        seq += 1
    return rows, grown, prev


def _matches(
    fields: Mapping[str, Any],
    agent: str | None,
    action: str | None,
    effect: str | None,
    since: str | None,
    until: str | None,
    session: str | None = None,
) -> bool:
    request = fields.get("request") or {}
    if session is not None and (request.get("context") or {}).get("session") != session:
        return False
    if agent is not None and (request.get("agent") or {}).get("id") != agent:
        return False
    if action is not None and (request.get("action") or {}).get("type") != action:
        return False
    if effect is not None and (fields.get("decision") or {}).get("effect") != effect:
        return False
    ts = fields.get("timestamp")
    if since is not None and not (isinstance(ts, str) and ts >= since):
        return False
    return not (until is not None and not (isinstance(ts, str) and ts < until))


class AuditLogBase(abc.ABC):
    """A hash-chained audit log with an RFC 9162 Merkle tree over its records (see the package docs).

    Implements `agt_core.AuditSink`. Records are exactly `agt_core.audit_record_body`; the Merkle
    leaf of a record is the 32 raw bytes of its record hash.
    """

    log_id: str
    _clock: UtcClock
    accepts_request_json: ClassVar[bool] = True
    """`append` takes ``request_json=`` (the kernel's canonical request text), saving one encode."""

    # -- what a store provides -------------------------------------------------------------

    @abc.abstractmethod
    def append(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval: ApprovalRecord | None = None,
        *,
        request_json: str | None = None,
    ) -> str:
        """Append one decision record; return its hash (`agt_core.AuditSink`).

        Raises:
            AuditError: if the record cannot be serialised or stored; the governed action is refused.
        """

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of records (committed ones, for a durable store)."""

    @abc.abstractmethod
    def _node(self, level: int, index: int) -> bytes:
        """The stored hash of complete node (level, index); AuditIntegrityError if it is damaged."""

    @abc.abstractmethod
    def _entries(self, start: int, end: int) -> Iterator[tuple[int, str, str]]:
        """``(seq, hash, body)`` for stored records with ``start <= seq < end``, in order."""

    @abc.abstractmethod
    def _scan_for_verify(self, end: int) -> Iterator[tuple[str, str, bytes]]:
        """``(hash, body, stored tree nodes)`` of every stored record below `end`, in storage order.

        Must yield what is stored, gaps and all: verification decides what is wrong with it.
        """

    @abc.abstractmethod
    def _stored_checkpoints(self) -> list[SignedCheckpoint]:
        """The checkpoints this log made and kept, oldest first."""

    @abc.abstractmethod
    def _keep_checkpoint(self, checkpoint: SignedCheckpoint) -> None:
        """Store a checkpoint the log just signed."""

    def flush(self) -> None:  # noqa: B027 - durable stores override; in-memory logs have nothing to flush
        """Make every appended record durable (a no-op for logs without a batch in flight)."""

    def _filtered(
        self,
        agent: str | None,
        action: str | None,
        effect: str | None,
        since: str | None,
        until: str | None,
        session: str | None = None,
    ) -> Iterator[tuple[int, str, str]]:
        for seq, digest, body in self._entries(0, len(self)):
            if _matches(json.loads(body), agent, action, effect, since, until, session):
                yield seq, digest, body

    # -- reading ---------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of records in the log."""
        return len(self)

    def root(self, tree_size: int | None = None) -> str:
        """The hex Merkle root of the first `tree_size` records (default: all of them)."""
        size = len(self) if tree_size is None else tree_size
        self._check_size(size)
        return frontier_from_nodes(self._node, size).root().hex()

    def _check_size(self, size: int, *, what: str = "tree size") -> None:
        current = len(self)
        if not 0 <= size <= current:
            raise ValueError(f"{what} {size} is outside 0..{current}")

    def _checked(self, seq: int, digest: str, body: str) -> str:
        if record_hash(body) != digest:
            raise AuditIntegrityError(f"record {seq} does not match its hash", index=seq)
        return body

    def lines(self, start: int = 0, end: int | None = None) -> Iterator[str]:
        """Records as exported lines (canonical JSON with ``hash``), oldest first; each is hash-checked.

        Raises:
            AuditIntegrityError: for a record whose body does not match its stored hash.
        """
        stop = len(self) if end is None else end
        for seq, digest, body in self._entries(start, stop):
            yield audit_record_line(self._checked(seq, digest, body), digest)

    def records(self, start: int = 0, end: int | None = None) -> Iterator[AuditRecord]:
        """Records as `agt_core.AuditRecord` models, oldest first; each is hash-checked."""
        from agt_core import AuditRecord

        stop = len(self) if end is None else end
        for seq, digest, body in self._entries(start, stop):
            yield AuditRecord.model_validate({**json.loads(self._checked(seq, digest, body)), "hash": digest})

    def __iter__(self) -> Iterator[AuditRecord]:
        return self.records()

    def record(self, index: int) -> AuditRecord:
        """The record with sequence number `index`.

        Raises:
            IndexError: if there is no such record.
        """
        for record in self.records(index, index + 1):
            return record
        raise IndexError(f"no audit record {index} (the log holds {len(self)})")

    def query(
        self,
        *,
        agent: str | None = None,
        action: str | None = None,
        effect: str | None = None,
        since: str | None = None,
        until: str | None = None,
        session: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records matching every given filter, oldest first; each returned record is hash-checked.

        Args:
            agent: ``request.agent.id``.
            action: ``request.action.type``.
            effect: ``decision.effect`` (allow, deny, require_approval, warn, log).
            since: Records with ``timestamp >= since`` (ISO 8601 UTC, e.g. ``2026-12-01T00:00:00Z``).
            until: Records with ``timestamp < until``.
            session: ``request.context.session`` (see `Session`).
            limit: At most this many records.
        """
        from agt_core import AuditRecord

        found: list[AuditRecord] = []
        for seq, digest, body in self._filtered(agent, action, effect, since, until, session):
            found.append(
                AuditRecord.model_validate({**json.loads(self._checked(seq, digest, body)), "hash": digest})
            )
            if limit is not None and len(found) >= limit:
                break
        return found

    # -- proofs ----------------------------------------------------------------------------

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """Prove record `index` is in the tree of the first `tree_size` records (default: all).

        Raises:
            ValueError: if `index` is not below `tree_size` or `tree_size` exceeds the log.
        """
        size = len(self) if tree_size is None else tree_size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"record {index} is outside a tree of {size} records")
        digest = next(iter(self._entries(index, index + 1)))[1]
        path = inclusion_path(self._node, index, size)
        return InclusionProof(
            index=index,
            tree_size=size,
            record_hash=digest,
            path=tuple(p.hex() for p in path),
            root_hash=subtree_hash(self._node, 0, size).hex(),
        )

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Prove the tree of the first `old_size` records is a prefix of the tree of `new_size` (default: all).

        Raises:
            ValueError: if the sizes are not ``0 <= old_size <= new_size <= len(log)``.
        """
        size = len(self) if new_size is None else new_size
        self._check_size(size, what="new size")
        if not 0 <= old_size <= size:
            raise ValueError(f"old size {old_size} is outside 0..{size}")
        path = consistency_path(self._node, old_size, size)
        return ConsistencyProof(
            old_size=old_size,
            new_size=size,
            old_root=subtree_hash(self._node, 0, old_size).hex(),
            new_root=subtree_hash(self._node, 0, size).hex(),
            path=tuple(p.hex() for p in path),
        )

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoint(self, signer: Ed25519Signer) -> SignedCheckpoint:
        """Sign the current tree head (flushing a batch in flight first) and keep it in the log.

        Publish the result, or hand it to whoever audits the log: it pins every record up to it.
        """
        self.flush()
        size = len(self)
        head = Checkpoint(
            log_id=self.log_id, tree_size=size, root_hash=self.root(size), timestamp=self._clock.now()
        )
        signed = signer.sign(head)
        self._keep_checkpoint(signed)
        return signed

    @property
    def checkpoints(self) -> list[SignedCheckpoint]:
        """The checkpoints this log signed and kept, oldest first (an attacker can delete these; keep copies)."""
        return self._stored_checkpoints()

    # -- verification ----------------------------------------------------------------------

    def verify(
        self,
        *,
        checkpoint: SignedCheckpoint | None = None,
        public_key: bytes | str | Path | None = None,
        deep: bool = False,
    ) -> VerifyReport:
        """Check the whole log against its hashes, its Merkle nodes and its checkpoints.

        Every record's hash, sequence number and link, every stored Merkle node, and consistency
        with every checkpoint (the one given and the ones the log kept).

        Args:
            checkpoint: A checkpoint held outside the store; the log must extend it. This is what
                catches truncation, rollback and a log rebuilt with every hash recomputed.
            public_key: The trusted key that signed `checkpoint` (required with it), also used to
                check the signatures of the checkpoints the log kept.
            deep: Also parse every record and check it is canonical JSON with exactly the record's
                fields (and, for durable stores, the storage engine's own consistency check).

        Returns:
            A report; it never raises for a damaged log (bad input, such as a checkpoint without a
            key, raises ValueError).
        """
        if checkpoint is not None and public_key is None:
            raise ValueError(
                "verify(checkpoint=...) needs public_key=: a checkpoint is only evidence when its "
                "signature is checked against a key you trust"
            )
        size = len(self)
        wanted: list[SignedCheckpoint] = list(self._stored_checkpoints())
        external = [checkpoint] if checkpoint is not None else []
        checked = 0
        try:
            for cp in external:
                verify_checkpoint(cp, public_key, log_id=self.log_id)  # type: ignore[arg-type]
            for cp in wanted:
                if cp.log_id != self.log_id:
                    raise AuditIntegrityError(
                        f"a kept checkpoint belongs to log `{cp.log_id}`, not `{self.log_id}`",
                        index=cp.tree_size,
                    )
                if public_key is not None:
                    verify_checkpoint(cp, public_key, log_id=self.log_id)
        except AuditIntegrityError as exc:
            return VerifyReport(ok=False, records=0, first_bad_index=exc.index, reason=exc.message)
        all_cps = list({cp.signature: cp for cp in wanted + external}.values())  # a kept copy counts once
        for cp in all_cps:
            if cp.tree_size > size:
                return VerifyReport(
                    ok=False,
                    records=size,
                    first_bad_index=size,
                    reason=(
                        f"the log holds {size} records but a checkpoint signed at {cp.timestamp} covers "
                        f"{cp.tree_size}: records were cut off its end or the log was rolled back"
                    ),
                )
        roots_at = {cp.tree_size for cp in all_cps}
        roots: dict[int, str] = {}
        frontier = Frontier()
        if 0 in roots_at:
            roots[0] = frontier.root().hex()
        progress = [0]  # records whose chain and Merkle nodes have been checked
        nodes = frontier.nodes
        sha256 = hashlib.sha256
        fromhex = bytes.fromhex

        def damaged(seq: int) -> AuditIntegrityError:
            return AuditIntegrityError(
                f"record {seq}'s stored Merkle nodes do not match its hash; the store was edited", index=seq
            )

        def feed() -> Iterator[tuple[str, str]]:
            # The chain check (verify_chain) sees each record first; its Merkle nodes are checked
            # when the next one is asked for. Frontier.push, inlined: this runs once per record.
            for seq, (digest, body, stored) in enumerate(self._scan_for_verify(size)):
                yield digest, body
                current = sha256(b"\x00" + fromhex(digest)).digest()
                if stored[:32] != current:
                    raise damaged(seq)
                n, offset = seq, 32
                while n & 1:
                    current = sha256(b"\x01" + nodes.pop() + current).digest()
                    if stored[offset : offset + 32] != current:
                        raise damaged(seq)
                    offset += 32
                    n >>= 1
                if len(stored) != offset:
                    raise damaged(seq)
                nodes.append(current)
                frontier.size = progress[0] = seq + 1
                if seq + 1 in roots_at:
                    roots[seq + 1] = frontier.root().hex()

        try:
            head = verify_chain(feed(), deep=deep)
            if deep:
                self._deep_store_check()
        except AuditIntegrityError as exc:
            return VerifyReport(ok=False, records=progress[0], first_bad_index=exc.index, reason=exc.message)
        if head.count != size:
            return VerifyReport(
                ok=False,
                records=head.count,
                first_bad_index=head.count,
                reason=f"the log reports {size} records but holds {head.count}; records were removed",
            )
        for cp in all_cps:
            if roots.get(cp.tree_size) != cp.root_hash:
                return VerifyReport(
                    ok=False,
                    records=size,
                    reason=(
                        f"the first {cp.tree_size} records do not match the checkpoint signed at "
                        f"{cp.timestamp} (root {cp.root_hash}); the log was rewritten or replaced"
                    ),
                )
            checked += 1
        return VerifyReport(
            ok=True,
            records=size,
            root_hash=frontier.root().hex(),
            head_hash=head.hash,
            checkpoints_checked=checked,
        )

    def _deep_store_check(self) -> None:  # noqa: B027 - durable stores add their engine's own check
        """Storage-engine consistency check for ``verify(deep=True)``; raise AuditIntegrityError."""

    # -- export ----------------------------------------------------------------------------

    def export_jsonl(self, out: TextIO) -> int:
        """Write every record as one canonical JSON line (hash included) to a text file object.

        Returns:
            The number of records written.
        """
        count = 0
        for line in self.lines():
            out.write(line + "\n")
            count += 1
        return count

    def export_cloudevents(self, out: TextIO, *, source: str | None = None) -> int:
        """Write every record as a CloudEvents 1.0 JSON event, one per line, to a text file object.

        Each event's ``id`` is the record hash, ``time`` its timestamp, ``type``
        ``dev.agt.audit.decision``, ``subject`` the action type, and ``data`` the exported line's
        object (so a consumer can re-verify it with `agt_core.verify_audit_lines`).

        Returns:
            The number of events written.
        """
        src = source or f"urn:agt:audit-log:{self.log_id}"
        count = 0
        for line in self.lines():
            fields = json.loads(line)
            action = ((fields.get("request") or {}).get("action") or {}).get("type")
            event = {
                "specversion": "1.0",
                "id": fields["hash"],
                "source": src,
                "type": "dev.agt.audit.decision",
                "time": fields["timestamp"],
                "datacontenttype": "application/json",
                "subject": action if isinstance(action, str) else None,
                "agtseq": fields["seq"],
                "data": fields,
            }
            out.write(canonical_json({k: v for k, v in event.items() if v is not None}) + "\n")
            count += 1
        return count
