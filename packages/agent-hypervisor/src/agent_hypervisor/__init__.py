"""agent-hypervisor: the tamper-evident audit log of the Agent Governance Toolkit.

Every governed decision becomes a record hash-chained to the one before it (agt-core's record
layout) and a leaf of an RFC 9162 Merkle tree, grown in O(log n) per append. Signed checkpoints
pin the tree; inclusion and consistency proofs let anyone check a record or the log's history
against them. Records live in memory (`MerkleAuditLog`) or in SQLite (`SqliteAuditLog`)::

    from agent_hypervisor import Ed25519Signer, SqliteAuditLog

    log = SqliteAuditLog("audit.db")
    checkpoint = log.checkpoint(Ed25519Signer.generate())
    report = log.verify(checkpoint=checkpoint, public_key=checkpoint.public_key)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_hypervisor import merkle
from agent_hypervisor._checkpoint import (
    Checkpoint,
    Ed25519Signer,
    SignedCheckpoint,
    load_public_key,
    verify_checkpoint,
)
from agent_hypervisor._cli import main as run_cli
from agent_hypervisor._commitments import Commitment, CommitmentTracker
from agent_hypervisor._delta import Delta, DeltaConflict, DeltaEngine, DeltaRejected
from agent_hypervisor._json_patch import PatchError, apply_patch, diff
from agent_hypervisor._log_base import AuditLogBase
from agent_hypervisor._memory_log import MerkleAuditLog
from agent_hypervisor._open import open_audit_log
from agent_hypervisor._proofs import ConsistencyProof, InclusionProof, VerifyReport
from agent_hypervisor._saga import Saga, SagaError, SagaEscalation, SagaStep, SagaStore
from agent_hypervisor._session import Session, SessionSummary, session_summary
from agent_hypervisor._sqlite_log import Durability, SqliteAuditLog
from agent_hypervisor._version import __version__

if TYPE_CHECKING:
    from agent_hypervisor._postgres_log import PostgresAuditLog

__all__ = [
    "AuditLogBase",
    "Checkpoint",
    "Commitment",
    "CommitmentTracker",
    "ConsistencyProof",
    "Delta",
    "DeltaConflict",
    "DeltaEngine",
    "DeltaRejected",
    "Durability",
    "Ed25519Signer",
    "InclusionProof",
    "MerkleAuditLog",
    "PatchError",
    "PostgresAuditLog",
    "Saga",
    "SagaError",
    "SagaEscalation",
    "SagaStep",
    "SagaStore",
    "Session",
    "SessionSummary",
    "SignedCheckpoint",
    "SqliteAuditLog",
    "VerifyReport",
    "__version__",
    "apply_patch",
    "diff",
    "load_public_key",
    "merkle",
    "open_audit_log",
    "run_cli",
    "session_summary",
    "verify_checkpoint",
]


def __getattr__(name: str) -> Any:
    # The PostgreSQL store loads on first use: its driver is an optional dependency.
    if name == "PostgresAuditLog":
        from agent_hypervisor._postgres_log import PostgresAuditLog

        return PostgresAuditLog
    raise AttributeError(f"module 'agent_hypervisor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
