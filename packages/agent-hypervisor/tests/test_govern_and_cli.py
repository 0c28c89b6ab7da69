"""End to end: govern() writes to the durable store, fails closed when it cannot, and the CLI
verifies, checkpoints, exports and replays a real file."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import agent_os
from agent_hypervisor import Ed25519Signer, SignedCheckpoint, SqliteAuditLog
from agent_hypervisor._cli import main
from agt_core import AuditError, GovernanceDenied, verify_audit_lines

POLICY = """\
apiVersion: governance.toolkit/v1
name: production-policy
default_action: allow
rules:
- name: block-destructive
  condition: "action.type in ['drop', 'delete', 'truncate']"
  action: deny
- name: require-approval-for-send
  condition: "action.type == 'send_email'"
  action: require_approval
  approvers: ["security-team"]
"""

STRICTER = (
    POLICY
    + """\
- name: no-exports
  condition: "action.type == 'export'"
  action: deny
"""
)


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> None:
    agent_os.pipeline().reset()


def tool(action: str, table: str) -> str:
    return f"{action} {table}"


def test_govern_writes_every_decision_to_the_store(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    ran: list[str] = []

    def query(action: str, table: str) -> str:
        ran.append(action)
        return action

    approve = agent_os.CallbackApproval(lambda req: req.approve("alice"))
    safe = agent_os.govern(
        query, policy=POLICY, audit=str(path), agent_id="agent-7", approval_handler=approve
    )
    assert safe(action="read", table="orders") == "read"
    with pytest.raises(GovernanceDenied):
        safe(action="drop", table="orders")
    assert safe(action="send_email", table="x") == "send_email"
    assert ran == ["read", "send_email"]
    with SqliteAuditLog(path) as log:
        records = list(log)
        assert [r.decision.effect for r in records] == ["allow", "deny", "require_approval"]
        assert all(r.decision.policy_set_hash for r in records)
        assert records[1].decision.rule == "block-destructive"
        assert records[2].approval is not None and records[2].approval.approver == "alice"
        assert all(r.request["agent"]["id"] == "agent-7" for r in records)
        assert log.verify(deep=True).ok
        verify_audit_lines(list(log.lines()), expected_count=3)


def test_govern_accepts_a_log_object_and_a_sqlite_url(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path / "obj.db", durability="batched")
    safe = agent_os.govern(tool, policy=POLICY, audit=log)
    safe(action="read", table="a")
    log.flush()
    assert len(log) == 1
    log.close()
    url = f"sqlite:///{tmp_path / 'url.db'}?durability=batched"
    safe2 = agent_os.govern(tool, policy=POLICY, audit=url)
    safe2(action="read", table="a")
    from agent_hypervisor._entry_points import open_sqlite_store

    store = open_sqlite_store(url)  # the same store object govern() opened
    store.flush()
    assert len(store) == 1


def test_govern_fails_closed_when_the_store_is_full(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path / "full.db", max_bytes=48 * 1024)
    ran: list[int] = []

    def work(action: str, table: str) -> None:
        ran.append(1)

    safe = agent_os.govern(work, policy=POLICY, audit=log)
    calls = 0
    error = None
    while calls < 5000:
        try:
            safe(action="read", table="t" * 200)
        except AuditError as exc:
            error = exc
            break
        calls += 1
    assert error is not None
    assert len(ran) == calls == len(log)  # the refused call did not run; everything that ran is recorded
    assert log.verify().ok
    log.close()


def test_govern_fails_closed_on_a_read_only_store(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    SqliteAuditLog(path).close()
    ran: list[int] = []
    safe = agent_os.govern(
        lambda action: ran.append(1), policy=POLICY, audit=SqliteAuditLog(path, readonly=True)
    )
    with pytest.raises(AuditError, match="read-only"):
        safe(action="read")
    assert ran == []


# -- the command line -------------------------------------------------------------------------


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    safe = agent_os.govern(tool, policy=POLICY, audit=SqliteAuditLog(path))
    for action in ["read", "export", "delete", "read", "export"]:
        with contextlib.suppress(GovernanceDenied):
            safe(action=action, table="orders")
    return path


def test_cli_verify_checkpoint_and_tamper(tmp_path: Path, store: Path) -> None:
    code, text = _run("verify", str(store))
    assert code == 0 and "OK: 5 records" in text and "no checkpoint was checked" in text
    key = tmp_path / "signer.pem"
    assert _run("keygen", "--out", str(key))[0] == 0
    cp_file = tmp_path / "cp.json"
    assert _run("checkpoint", str(store), "--key", str(key), "--out", str(cp_file))[0] == 0
    cp = SignedCheckpoint.from_json(cp_file.read_bytes())
    assert cp.tree_size == 5
    pub = str(key) + ".pub"
    code, text = _run("verify", str(store), "--checkpoint", str(cp_file), "--public-key", pub)
    assert code == 0 and "consistent with" in text
    assert _run("verify", str(store), "--checkpoint", str(cp_file))[0] == 2  # no key: refused
    other = Ed25519Signer.generate()
    code, text = _run(
        "verify", str(store), "--checkpoint", str(cp_file), "--public-key", other.public_key_bytes.hex()
    )
    assert code == 1 and "not the trusted key" in text
    import sqlite3

    conn = sqlite3.connect(store, isolation_level=None)
    body = conn.execute("SELECT body FROM records WHERE seq=2").fetchone()[0]
    conn.execute("UPDATE records SET body=? WHERE seq=2", (body.replace('"deny"', '"allow"'),))
    conn.close()
    code, text = _run("verify", str(store), "--deep")
    assert code == 1 and "FAILED at record 2" in text


def test_cli_as_a_real_process(store: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent_hypervisor", "verify", str(store)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK: 5 records" in proc.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "agent_hypervisor", "verify", str(store) + ".nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_cli_export(tmp_path: Path, store: Path) -> None:
    out = tmp_path / "trail.jsonl"
    assert _run("export", str(store), "--out", str(out))[0] == 0
    lines = out.read_text().splitlines()
    verify_audit_lines(lines, expected_count=5)
    code, text = _run("export", str(store), "--format", "cloudevents")
    events = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and len(events) == 5 and events[2]["subject"] == "delete"


def test_cli_replay_lists_records_a_new_policy_decides_differently(tmp_path: Path, store: Path) -> None:
    same = tmp_path / "same.yaml"
    same.write_text(POLICY)
    code, text = _run("replay", str(store), "--policy", str(same))
    assert code == 0 and "5 records replayed" in text and "0 decided differently" in text
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(STRICTER)
    code, text = _run("replay", str(store), "--policy", str(stricter))
    assert code == 1
    assert "record 1 " in text and "record 4 " in text and "now deny (rule `no-exports`)" in text
    assert "2 decided differently" in text and "other policy set" in text
