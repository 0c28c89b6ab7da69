"""Offline demo: a scripted agent's tool calls go through govern(), then the audit trail is checked.

Run from the repository root: ``python demo/quick_start.py`` (``python demo/run_demo.py`` runs
the flagship story). No network, no API keys, no LLM: the
"agent" is a list of planned tool calls. Every step states the outcome the script expects; the
exit code is 1 if any step (or the audit check) turns out differently, so CI catches regressions.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_os import verify_audit_lines
from agentmesh.governance import (
    ApprovalRequest,
    ApprovalResponse,
    AuditIntegrityError,
    AuditLog,
    CallbackApproval,
    GovernanceDenied,
    govern,
)
from agt_core import AuditRecord, canonical_json, sha256_hex

POLICIES = Path(__file__).resolve().parent / "policies"
COLOR = sys.stdout.isatty() and "NO_COLOR" not in os.environ
RAN = {"allow", "warn", "log", "approved"}  # outcomes under which the tool runs


def paint(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


GREEN, RED, YELLOW, DIM, BOLD = "32", "31", "33", "2", "1"
TONE = {"allow": GREEN, "approved": GREEN, "warn": YELLOW, "log": YELLOW}


def database(action: str, table: str) -> str:
    return f"{action} on {table}: ok"


def send_email(to: str, subject: str) -> str:
    return f"queued for {to}"


def export_report(name: str) -> str:
    return f"wrote {name}"


def fx_quote(pair: str) -> str:
    return f"{pair} 1.0842"


def transfer(amount: Any, to: str) -> str:
    return f"sent {amount} to {to}"


def security_team(request: ApprovalRequest) -> ApprovalResponse:
    """Stands in for a person or a ticketing system: approves mail to internal addresses only."""
    to = str(request.request["args"].get("to", ""))
    if to.endswith("@example.com"):
        return request.approve("alice@security-team", "internal recipient")
    return request.refuse("alice@security-team", f"external recipient `{to}`")


@dataclass(frozen=True)
class Step:
    tool: str
    kwargs: dict[str, Any]
    expect: str  # allow | warn | deny | approved | refused | rate-limited | fail-closed
    rule: str | None = None  # the deciding rule the script expects (None: the default decided)


class ScriptedAgent:
    """An agent without a model: it calls its governed tools in the order of its plan."""

    def __init__(self, name: str, tools: list[Callable[..., Any]], plan: list[Step], **options: Any) -> None:
        self.name, self.plan = name, plan
        self.tools = {fn.__name__: govern(fn, agent_id=name, **options) for fn in tools}

    def run(self, log: AuditLog, notices: list[str], number: int) -> int:
        """Run the plan, print each outcome, return how many steps differ from the expectation."""
        failures = 0
        for step in self.plan:
            number += 1
            before, seen = len(log), len(notices)
            try:
                result, ran = self.tools[step.tool](**step.kwargs), True
            except GovernanceDenied as exc:
                result, ran = exc.message, False
            records = log.records()[before:]
            outcome = observe(records[0]) if len(records) == 1 else f"{len(records)} records"
            rule = records[0].decision.rule if len(records) == 1 else None
            ok = outcome == step.expect and rule == step.rule and ran == (outcome in RAN)
            failures += not ok
            call = f"{step.tool}({', '.join(f'{k}={v!r}' for k, v in step.kwargs.items())})"
            mark = paint("ok", GREEN) if ok else paint(f"FAIL (expected {step.expect}, {step.rule})", RED)
            label = paint(f"{outcome:<13}", TONE.get(outcome, RED))
            print(f"{number:>4}  {call:<50} {label} {rule or '(default)':<26} {mark}")
            detail = explain(records[0]) if len(records) == 1 else ""
            print(paint(f"{'':>6}{shorten(detail or str(result))}", DIM))
            for notice in notices[seen:]:
                print(paint(f"{'':>6}log: {shorten(notice)}", YELLOW))
        return failures


def shorten(text: str, width: int = 110) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def observe(record: AuditRecord) -> str:
    """Name the outcome recorded in one audit record."""
    decision = record.decision
    if decision.effect == "require_approval":
        return "approved" if record.approval is not None and record.approval.approved else "refused"
    if decision.rate_limited:
        return "rate-limited"
    if decision.effect == "deny" and any(m.errored for m in decision.matched if m.rule == decision.rule):
        return "fail-closed"
    return decision.effect


def explain(record: AuditRecord) -> str:
    """Who approved or refused, or which condition failed; empty when the result says enough."""
    approval, errors = record.approval, record.decision.errors
    if approval is None:
        return f"condition failed ({errors[0].message}), so the deny rule counts as matched" if errors else ""
    verb = "approved" if approval.approved else "refused"
    return f"{verb} by {approval.approver or 'nobody'} via {approval.handler}: {approval.reason}"


def rehash(line: str) -> str:
    """What a careful forger does after editing a record: recompute its hash."""
    fields = json.loads(line)
    fields.pop("hash")
    return canonical_json({**fields, "hash": sha256_hex(canonical_json(fields))})


def expect_tamper_caught(lines: list[str], index: int, head: str) -> bool:
    try:
        verify_audit_lines(lines, expected_head=head)
    except AuditIntegrityError as exc:
        print(f"      verification of the copy fails: {paint(str(exc), RED)}")
        return exc.index == index
    print(paint("      verification of the copy PASSED: tampering went unnoticed", RED))
    return False


def main() -> int:
    log = AuditLog()
    notices: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notices.append(record.getMessage())

    kernel_logger = logging.getLogger("agent_os")
    kernel_logger.addHandler(Collect())
    kernel_logger.setLevel(logging.INFO)
    kernel_logger.propagate = False

    print(paint("\n1. The seed's policy, verbatim (demo/policies/policy.yaml), no approval handler", BOLD))
    support = ScriptedAgent(
        "support-bot",
        [database, send_email],
        [
            Step("database", {"action": "read", "table": "customers"}, "allow"),
            Step("database", {"action": "drop", "table": "customers"}, "deny", "block-destructive"),
            Step("send_email", {"to": "cfo@example.com", "subject": "Q3"}, "refused", "require-approval-for-send"),
        ],
        policy=str(POLICIES / "policy.yaml"),
        audit=log,
    )  # fmt: skip
    failures = support.run(log, notices, 0)

    print(paint("\n2. finance.yaml (extends policy.yaml), approvals by a CallbackApproval", BOLD))
    quote = {"pair": "EURUSD"}
    finance = ScriptedAgent(
        "finance-bot",
        [database, send_email, export_report, fx_quote, transfer],
        [
            Step("database", {"action": "read", "table": "invoices"}, "allow"),
            Step("database", {"action": "delete", "table": "invoices"}, "deny", "block-destructive"),
            Step("send_email", {"to": "cfo@example.com", "subject": "Q3"}, "approved", "require-approval-for-send"),
            Step("send_email", {"to": "rival@elsewhere.org", "subject": "Q3"}, "refused", "require-approval-for-send"),
            # warn annotates, never decides: the allow default decided, warn-on-export is in `matched`
            Step("export_report", {"name": "customers.csv"}, "warn"),
            Step("export_report", {"name": "customers.csv"}, "warn"),
            *[Step("fx_quote", quote, "allow", "fx-quote-quota") for _ in range(3)],
            Step("fx_quote", quote, "rate-limited", "fx-quote-quota"),
            Step("transfer", {"amount": 2500, "to": "ACME"}, "allow"),
            Step("transfer", {"amount": 50000, "to": "ACME"}, "deny", "block-large-transfers"),
            Step("transfer", {"amount": "50000", "to": "ACME"}, "fail-closed", "block-large-transfers"),
        ],
        policy=str(POLICIES / "finance.yaml"),
        audit=log,
        approval_handler=CallbackApproval(security_team, timeout=5),
    )  # fmt: skip
    failures += finance.run(log, notices, len(support.plan))
    export_notices = [n for n in notices if "warn-on-export" in n]
    if len(export_notices) != 1:
        print(paint(f"FAIL: expected one log notice for warn-on-export, got {len(export_notices)}", RED))
        failures += 1

    print(paint("\n3. The audit trail", BOLD))
    count = log.verify()
    seq, head = log.head
    print(
        f"      log.verify(): {paint(f'{count} records verified', GREEN)}; head is record {seq}, {head[:16]}..."
    )
    lines = log.lines()
    target = next(r.seq for r in log.records() if r.decision.rule == "block-destructive")
    failures += verify_audit_lines(lines, expected_head=head).count != count
    print(
        "      verify_audit_lines(log.lines(), expected_head=head), an exported copy: "
        + paint(f"{len(lines)} lines verified", GREEN)
    )

    forged = list(lines)
    forged[target] = lines[target].replace('"allowed":false', '"allowed":true', 1)
    forged[target] = forged[target].replace('"effect":"deny"', '"effect":"allow"', 1)
    failures += forged[target] == lines[target]
    print(f"\n      edit record {target} of the copy: decision deny -> allow")
    failures += not expect_tamper_caught(forged, target, head)
    forged[target] = rehash(forged[target])
    print("      ... and recompute that record's hash")
    failures += not expect_tamper_caught(forged, target + 1, head)

    steps = len(support.plan) + len(finance.plan)
    if failures:
        print(paint(f"\n{failures} check(s) differ from what the demo expects", RED))
        return 1
    print(paint(f"\nAll {steps} steps and the audit checks came out as expected.", GREEN))
    return 0


if __name__ == "__main__":
    sys.exit(main())
