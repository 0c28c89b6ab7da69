"""A multi-agent task told by the audit log alone: `python multi_agent_story.py [DIR]`.

Two agents prepare and ship an order inside one session: they share state through recorded
deltas, the shipper promises to notify the customer, the shipping step fails, the saga refunds
the charge (a governed call too), and the broken promise is flagged. Then, from the SQLite file
alone: the log is verified against a signed checkpoint and the session's story is printed.
Offline, no API keys. Exits non-zero if anything does not verify.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import agent_os
from agent_hypervisor import (
    CommitmentTracker,
    DeltaEngine,
    Ed25519Signer,
    Saga,
    SagaStep,
    Session,
    SqliteAuditLog,
    session_summary,
)

POLICY = """\
apiVersion: governance.toolkit/v1
name: shop-policy
default_action: allow
rules:
- name: no-refunds-above-100
  condition: "action.type == 'refund' && args.amount > 100"
  action: deny
"""


def run(folder: Path) -> int:
    """Play the story with its files in `folder`; return the exit code."""
    path = folder / "story.db"
    log = SqliteAuditLog(path)
    now = [dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)]
    flagged: list[str] = []
    promises = CommitmentTracker(
        audit=log, clock=lambda: now[0], on_broken=[lambda c: flagged.append(c.promise)]
    )

    def payments(action: str, amount: int) -> str:
        return f"{action} {amount}"

    def carrier(action: str, parcel: str) -> str:
        raise RuntimeError("carrier API refused the parcel")

    cashier = agent_os.govern(payments, policy=POLICY, audit=log, agent_id="cashier", observers=[promises])
    shipper = agent_os.govern(carrier, policy=POLICY, audit=log, agent_id="shipper", observers=[promises])

    with Session("order 42", agents=["cashier", "shipper"], audit=log) as session:
        order = DeltaEngine({"order": 42, "status": "new"}, audit=log, session=session.id)
        order.apply(
            [{"op": "replace", "path": "/status", "value": "charging"}], agent="cashier", expected_version=0
        )
        promises.promise(
            "shipper",
            "tell the customer the tracking number by 10:00",
            condition="action.type == 'notify_customer'",
            deadline=now[0] + dt.timedelta(hours=1),
            relied_on_by=["customer-42"],
        )
        saga = Saga(
            "fulfil order 42",
            [
                SagaStep(
                    "charge",
                    cashier,
                    {"action": "charge", "amount": 30},
                    cashier,
                    {"action": "refund", "amount": 30},
                ),
                SagaStep("ship", shipper, {"action": "ship", "parcel": "42"}, retries=1),
            ],
            audit=log,
            sleep=lambda s: None,
            session=session.id,
        )
        outcome = saga.run()
        order.apply(
            [{"op": "replace", "path": "/status", "value": outcome["status"]}],
            agent="cashier",
            expected_version=1,
        )
    now[0] += dt.timedelta(hours=2)
    promises.check()
    log.close()

    # -- the story, from the file alone -------------------------------------------------------
    signer = Ed25519Signer.generate()
    with SqliteAuditLog(path) as audit:
        checkpoint = audit.checkpoint(signer)
        report = audit.verify(checkpoint=checkpoint, public_key=signer.public_key_bytes, deep=True)
        print(report.summary())
        summary = session_summary(audit, session.id)
        print(f"session `{summary.task}`: agents {', '.join(summary.agents)}, ended {summary.status}")
        for record in audit.records():
            req, dec = record.request, record.decision
            who = req["agent"]["id"]
            what = req["action"]["type"]
            detail = dec.effect if req["action"].get("tool") != "agent_hypervisor" else "event"
            print(f"  {record.seq:>3}  {who:<10} {what:<28} {detail}")
        state = DeltaEngine.restore(audit, session=session.id)
    print(f"saga: {outcome['status']}; order state: {state.state}; broken promises: {flagged}")
    ok = (
        report.ok
        and outcome["status"] == "compensated"
        and state.state["status"] == "compensated"
        and flagged
    )
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1:
        raise SystemExit(run(Path(sys.argv[1])))
    with tempfile.TemporaryDirectory() as tmp:
        raise SystemExit(run(Path(tmp)))
