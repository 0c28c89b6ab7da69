"""Shared test data: requests and decisions shaped as the agent-os kernel writes them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from agt_core import ApprovalRecord, Decision

POLICY_HASH = "sha256:" + "ab" * 32
SET_HASH = "sha256:" + "cd" * 32


def request(i: int, *, agent: str = "agent-a", action: str | None = None) -> dict[str, Any]:
    kind = action or ("read" if i % 3 else "delete")
    return {
        "action": {"tool": "db", "type": kind},
        "agent": {"id": agent},
        "args": {"action": kind, "table": f"t{i}", "n": i},
        "context": {"session": "s-1"},
        "stage": "pre_tool",
    }


def decision(i: int) -> Decision:
    deny = i % 3 == 0
    return Decision(
        effect="deny" if deny else "allow",
        allowed=not deny,
        rule="no-deletes" if deny else "reads",
        policy="seed",
        policy_hash=POLICY_HASH,
        policy_set_hash=SET_HASH,
        message="deletes are refused" if deny else "",
    )


def approval(i: int) -> ApprovalRecord:
    return ApprovalRecord(
        approved=True,
        approver="alice@example.com",
        decided_at="2026-12-01T10:00:00.000000Z",
        request_hash="sha256:" + "ef" * 32,
        handler="CallbackApproval",
        reason=f"ok {i}",
    )


def fill(log: Any, n: int, *, start: int = 0) -> list[str]:
    hashes = []
    for i in range(start, start + n):
        hashes.append(log.append(request(i), decision(i), approval(i) if i % 5 == 4 else None))
    return hashes


def rows(path: str | Path) -> sqlite3.Connection:
    """A raw connection to a store: the attacker's tool."""
    return sqlite3.connect(str(path), isolation_level=None)
