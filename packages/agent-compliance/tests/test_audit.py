from __future__ import annotations

import json
from pathlib import Path

import pytest
from compliance_helpers import agt, agt_process, needs


def trail(path: Path) -> tuple[list[str], str]:
    from agent_os import AuditLog, ToolGate

    log = AuditLog()
    gate = ToolGate(policy=str(path.parent / "weak.yaml"), audit=log, agent_id="reporting-agent")
    gate.check("search", {"query": "x"})
    gate.check("drop", {"table": "users"})
    gate.check("search", {"query": "y"})
    path.write_text("\n".join(log.lines()) + "\n", encoding="utf-8")
    return log.lines(), log.head[1]


def test_pinned_trail_verifies(data: Path) -> None:
    _, head = trail(data / "trail.jsonl")
    result = agt("audit", "verify", "trail.jsonl", "--head", head, "--format", "json")
    assert result.code == 0
    assert json.loads(result.out)["summary"] == {
        "ok": True,
        "records": 3,
        "head": head,
        "first_bad_index": None,
        "pinned": True,
    }
    assert agt("audit", "verify", "trail.jsonl", "--count", "3").code == 0


def test_edited_decision_is_caught_at_its_record(data: Path) -> None:
    lines, head = trail(data / "trail.jsonl")
    lines[1] = lines[1].replace('"effect":"deny"', '"effect":"allow"')
    (data / "trail.jsonl").write_text("\n".join(lines) + "\n")
    result = agt("audit", "verify", "trail.jsonl", "--head", head, "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["summary"]["first_bad_index"] == 1
    assert report["findings"][0]["location"] == {"file": "trail.jsonl", "line": 2, "column": None}


def test_truncation_is_caught_only_when_pinned(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines, head = trail(data / "trail.jsonl")
    (data / "trail.jsonl").write_text("\n".join(lines[:2]) + "\n")
    assert agt("audit", "verify", "trail.jsonl", "--head", head).code == 1
    assert agt("audit", "verify", "trail.jsonl", "--count", "3").code == 1
    result = agt("audit", "verify", "trail.jsonl", capsys=capsys)
    assert result.code == 2 and "--head HASH or --count N" in result.err
    result = agt("audit", "verify", "trail.jsonl", "--allow-unpinned")
    assert result.code == 0 and "unpinned: truncation or a rebuilt trail would go unnoticed" in result.out


def test_missing_file_exits_2(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = agt("audit", "verify", "nope.jsonl", "--count", "1", capsys=capsys)
    assert result.code == 2 and "cannot read audit trail `nope.jsonl`" in result.err


@needs("agent_hypervisor", "agent-hypervisor")
def test_store_checkpoint_export_through_agent_hypervisor(data: Path) -> None:
    import sqlite3

    from agent_hypervisor import Ed25519Signer, SqliteAuditLog
    from agent_os import ToolGate

    gate = ToolGate(policy=str(data / "weak.yaml"), audit=str(data / "audit.db"), agent_id="a")
    gate.check("search", {})
    gate.check("drop", {"table": "t"})
    signer = Ed25519Signer.generate()
    (data / "signer.pem").write_bytes(signer.private_pem())
    (data / "signer.pem.pub").write_bytes(signer.public_pem())
    result = agt_process(
        "audit", "checkpoint", "audit.db", "--key", "signer.pem", "--out", "cp.json", cwd=data
    )
    assert result.code == 0, result.err
    args = ("audit", "verify", "audit.db", "--checkpoint", "cp.json", "--public-key", "signer.pem.pub")
    assert agt(*args).code == 0
    assert agt("audit", "export", "audit.db", "--out", "out.jsonl").code == 0
    assert len((data / "out.jsonl").read_text().splitlines()) == 2
    assert agt("audit", "verify", "out.jsonl", "--count", "2").code == 0
    # Cut the last record off: the checkpoint catches it.
    with SqliteAuditLog(str(data / "audit.db")) as log:
        assert len(log) == 2
    conn = sqlite3.connect(data / "audit.db")
    body = conn.execute("SELECT body FROM records WHERE seq = 1").fetchone()[0]
    conn.execute(
        "UPDATE records SET body = ? WHERE seq = 1", (body.replace('"effect":"deny"', '"effect":"allow"'),)
    )
    conn.commit()
    conn.close()
    result = agt(*args, "--format", "json")
    assert result.code == 1
    assert json.loads(result.out)["summary"]["first_bad_index"] == 1


def test_store_without_hypervisor_is_a_usage_error(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "agent_hypervisor", None)
    (data / "x.db").write_bytes(b"")
    result = agt("audit", "verify", "x.db", capsys=capsys)
    assert result.code == 2 and "pip install agent-hypervisor" in result.err
    result = agt("audit", "export", "x.db", capsys=capsys)
    assert result.code == 2 and "pip install agent-hypervisor" in result.err
