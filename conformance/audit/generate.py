"""Writes chain.json: audit-record vectors computed by agt-core, which every SDK checks itself against.

Run from the repository root with agt-core installed (``./dev -s conformance`` has it):

    python conformance/audit/generate.py

`sdks/cross/test_cross.py` regenerates the file into a temporary folder and fails when the
committed one differs, so the vectors cannot drift from agt-core. Do not edit chain.json by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from agt_core import GENESIS_HASH, audit_record_body, audit_record_line, canonical_json, record_hash

HERE = Path(__file__).parent

# Parts chosen to exercise canonicalisation inside a record: key order (ASCII, astral vs. high
# BMP), escapes, non-ASCII text, int vs double, large safe integers, nesting, null approval.
PARTS: list[dict[str, Any]] = [
    {
        "request": {
            "stage": "pre_tool",
            "action": {"type": "read", "tool": "sql"},
            "args": {"table": "users"},
            "agent": {"id": "analyst"},
            "context": {},
        },
        "decision": {"effect": "allow", "allowed": True, "rule": None, "policy": "production-policy"},
        "approval": None,
    },
    {
        "request": {
            "action": {"type": "drop", "tool": "sql"},
            "args": {"table": "users", "limit": 1.5e21},
            "agent": {"id": "analyst"},
            "context": {"ticket": "OPS-12"},
            "stage": "pre_tool",
        },
        "decision": {
            "effect": "deny",
            "allowed": False,
            "rule": "block-destructive",
            "policy": "production-policy",
            "matched": [
                {
                    "policy": "production-policy",
                    "rule": "block-destructive",
                    "action": "deny",
                    "priority": 0,
                    "errored": False,
                }
            ],
        },
        "approval": None,
    },
    {
        "request": {
            "action": {"type": "send_email", "tool": "mailer"},
            "args": {
                "to": "ops@example.com",
                "body": 'Gr\u00fc\u00dfe \U0001f680\n\t"quoted" \\ \u2028',
                "\U0001f600": 1,
                "\ue000": 2,
            },
            "agent": {"id": "assistant"},
            "context": {},
            "stage": "pre_tool",
        },
        "decision": {
            "effect": "require_approval",
            "allowed": False,
            "rule": "require-approval-for-send",
            "approvers": ["security-team"],
        },
        "approval": {
            "approved": True,
            "approver": "alice@example.com",
            "reason": "ok \u00e9",
            "request_hash": "sha256:" + "ef" * 32,
        },
    },
    {
        "request": {
            "action": {"type": "delete", "tool": "sql"},
            "args": {"ids": [1, 2, 9007199254740991], "ratio": 0.1, "tiny": 1e-7, "neg": -0.0},
            "agent": {"id": "analyst"},
            "context": {},
            "stage": "pre_tool",
        },
        "decision": {"effect": "deny", "allowed": False, "rule": "block-destructive", "errors": []},
        "approval": None,
    },
    {
        "request": {
            "action": {"type": "search", "tool": "search"},
            "args": {"query": "policy \U0001f512"},
            "agent": {"id": "assistant"},
            "context": {"nested": {"a": [{"b": None}]}},
            "stage": "pre_tool",
        },
        "decision": {"effect": "warn", "allowed": True, "rule": None, "message": "warn `w`: heads up"},
        "approval": {"approved": False, "approver": None, "reason": "timed out", "request_hash": None},
    },
]


def _records() -> tuple[list[dict[str, Any]], str]:
    records, prev = [], GENESIS_HASH
    for seq, part in enumerate(PARTS):
        timestamp = f"2026-12-01T10:00:0{seq}.{seq * 111111:06d}Z"
        body = audit_record_body(
            seq=seq,
            timestamp=timestamp,
            prev_hash=prev,
            request_json=canonical_json(part["request"]),
            decision_json=canonical_json(part["decision"]),
            approval_json=canonical_json(part["approval"]),
        )
        digest = record_hash(body)
        records.append(
            {
                "seq": seq,
                "timestamp": timestamp,
                "prev_hash": prev,
                **part,
                "body": body,
                "hash": digest,
                "line": audit_record_line(body, digest),
            }
        )
        prev = digest
    return records, prev


def _rehash_line(line: str, **changes: Any) -> str:
    fields = json.loads(line)
    fields.pop("hash")
    fields.update(changes)
    body = canonical_json(fields)
    return audit_record_line(body, record_hash(body))


def _tampered(lines: list[str]) -> list[dict[str, Any]]:
    """Trails every verifier must reject (pinned to the genuine head and count unless `pin` says otherwise)."""
    edited = lines[2].replace('"effect":"require_approval"', '"effect":"allow"')
    forged_2 = _rehash_line(lines[2], decision={"effect": "allow", "allowed": True})
    spaced = lines[1].replace('"seq":1,', '"seq": 1,')
    duplicated = lines[0][:-1] + ',"seq":0}'
    return [
        {
            "name": "decision-edited",
            "lines": [*lines[:2], edited, *lines[3:]],
            "index": 2,
            "contains": "does not match its hash",
        },
        {
            "name": "decision-edited-and-rehashed",
            "lines": [*lines[:2], forged_2, *lines[3:]],
            "index": 3,
            "contains": "does not link",
        },
        {
            "name": "records-swapped",
            "lines": [lines[0], lines[2], lines[1], *lines[3:]],
            "index": 1,
            "contains": "sequence number",
        },
        {"name": "first-record-removed", "lines": lines[1:], "index": 0, "contains": "sequence number"},
        {
            "name": "middle-record-removed",
            "lines": lines[:2] + lines[3:],
            "index": 2,
            "contains": "sequence number",
        },
        {
            "name": "last-record-cut-pinned-by-count",
            "lines": lines[:-1],
            "pin": "count",
            "index": len(lines) - 1,
            "contains": "cut off",
        },
        {
            "name": "last-record-cut-pinned-by-head",
            "lines": lines[:-1],
            "pin": "head",
            "index": len(lines) - 1,
            "contains": "expected head",
        },
        {
            "name": "record-appended",
            "lines": [
                *lines,
                _rehash_line(lines[-1], seq=len(lines), prev_hash=json.loads(lines[-1])["hash"]),
            ],
            "index": len(lines) + 1,
            "contains": "records were added",
        },
        {
            "name": "whitespace-added",
            "lines": [lines[0], spaced, *lines[2:]],
            "index": 1,
            "contains": "canonical form",
        },
        {"name": "duplicate-key", "lines": [duplicated, *lines[1:]], "index": 0, "contains": ""},
        {"name": "not-json", "lines": [lines[0][:-1], *lines[1:]], "index": 0, "contains": "not valid JSON"},
        {
            "name": "hash-field-missing",
            "lines": [lines[0].replace(',"hash":"' + json.loads(lines[0])["hash"] + '"', ""), *lines[1:]],
            "index": 0,
            "contains": "fields",
        },
        {"name": "empty-trail", "lines": [], "index": 0, "contains": "cut off"},
    ]


def build() -> dict[str, Any]:
    records, head = _records()
    lines = [r["line"] for r in records]
    return {
        "description": (
            "Audit records exactly as agt-core writes them: body = canonical JSON of {approval, decision, "
            "prev_hash, request, seq, timestamp} (parts canonicalised; approval null when none); hash = "
            'lowercase hex SHA-256 of the body\'s UTF-8 bytes; line = the body with "hash" inserted before '
            '"prev_hash". `records` pins each step; `head` is what the trail of all lines verifies to '
            "(pinned by head and count). Each `tampered` trail must be refused when pinned to `head` "
            "(`pin`: both unless it says `count` or `head` alone), naming record `index` and, where "
            "`contains` is not empty, with a message containing it. Generated by generate.py from agt-core."
        ),
        "genesis_hash": GENESIS_HASH,
        "records": records,
        "head": {"count": len(records), "seq": len(records) - 1, "hash": head},
        "tampered": _tampered(lines),
    }


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "chain.json"
    text = json.dumps(build(), indent=1, ensure_ascii=True) + "\n"
    out.write_text(text, encoding="ascii")


if __name__ == "__main__":
    main()
