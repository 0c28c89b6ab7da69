"""Audit records: one per governed decision, hash-chained over their canonical JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agt_core._audit_chain import GENESIS_HASH
from agt_core._decision import Decision

__all__ = ["GENESIS_HASH", "ApprovalRecord", "AuditRecord"]


class ApprovalRecord(BaseModel):
    """Who approved or refused a require_approval decision, when, and for which request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approved: bool
    approver: str | None = Field(description="Who decided; None when nobody did (default handler, timeout).")
    decided_at: str = Field(description="UTC time of the approval decision, ISO 8601.")
    request_hash: str = Field(description="sha256:<hex> of the canonical request the approval covers.")
    handler: str = Field(description="The approval handler that produced this record.")
    reason: str = ""
    pending: bool = Field(
        default=False,
        description="The handler handed the decision to a person out of band (the call is refused for now).",
    )


class AuditRecord(BaseModel):
    """One entry of the audit trail.

    ``hash`` is the SHA-256 of the canonical JSON (RFC 8785) of every other field, the decision
    and approval included, so editing any field breaks the chain at this record.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(description="Position in the chain, from 0.")
    timestamp: str = Field(description="UTC time the record was written, ISO 8601 with microseconds.")
    request: dict[str, Any]
    decision: Decision
    approval: ApprovalRecord | None = None
    prev_hash: str = Field(description="hash of the previous record; 64 zeros for the first.")
    hash: str

    def __repr__(self) -> str:
        action = self.request.get("action")
        kind = action.get("type") if isinstance(action, dict) else None
        agent = self.request.get("agent")
        who = agent.get("id") if isinstance(agent, dict) else None
        approved = (
            "" if self.approval is None else (" approved" if self.approval.approved else " not approved")
        )
        return (
            f"<AuditRecord seq={self.seq} {self.timestamp} agent={who!r} action={kind!r}: "
            f"{self.decision.summary()}{approved} hash={self.hash[:12]}…>"
        )

    __str__ = __repr__
