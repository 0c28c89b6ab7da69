"""The Merkle audit log's behaviour, in memory and on SQLite: records, proofs, checkpoints, queries."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hv_support import decision, fill, request

import agent_os
from agent_hypervisor import (
    AuditLogBase,
    Ed25519Signer,
    MerkleAuditLog,
    SqliteAuditLog,
    merkle,
    open_audit_log,
    verify_checkpoint,
)
from agt_core import AuditError, AuditSink, verify_audit_lines


@pytest.fixture(params=["memory", "sqlite-sync", "sqlite-batched"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        yield MerkleAuditLog()
        return
    durability = "batched" if request.param.endswith("batched") else "sync"
    store = SqliteAuditLog(tmp_path / "audit.db", durability=durability)
    yield store
    store.close()


def test_is_an_audit_sink(log: AuditLogBase) -> None:
    assert isinstance(log, AuditSink)


def test_append_returns_the_record_hash_and_lines_verify(log: AuditLogBase) -> None:
    hashes = fill(log, 23)
    log.flush()
    assert len(log) == 23
    lines = list(log.lines())
    head = verify_audit_lines(lines, expected_count=23, expected_head=hashes[-1])
    assert head.hash == hashes[-1]
    assert [json.loads(line)["hash"] for line in lines] == hashes
    record = log.record(4)
    assert record.hash == hashes[4]
    assert record.approval is not None and record.approval.approver == "alice@example.com"
    assert record.decision.policy_hash is not None
    assert [r.seq for r in log] == list(range(23))


def test_records_are_byte_identical_in_layout_to_agent_os_audit_log(log: AuditLogBase) -> None:
    reference = agent_os.AuditLog()
    for i in range(5):
        reference.append(request(i), decision(i))
        log.append(request(i), decision(i))
    log.flush()
    ours = [json.loads(line) for line in log.lines()]
    theirs = [json.loads(line) for line in reference.lines()]
    strip = lambda r: {k: v for k, v in r.items() if k not in ("timestamp", "hash", "prev_hash")}  # noqa: E731
    assert [strip(r) for r in ours] == [strip(r) for r in theirs]


def test_merkle_root_and_proofs_match_the_reference_definitions(log: AuditLogBase) -> None:
    hashes = fill(log, 37)
    log.flush()
    leaves = [bytes.fromhex(h) for h in hashes]
    for size in (1, 2, 5, 16, 17, 36, 37):
        assert log.root(size) == merkle.root(leaves[:size]).hex()
    root = log.root()
    for index in range(37):
        proof = log.inclusion_proof(index)
        assert proof.record_hash == hashes[index]
        assert proof.verify(root)
        assert [bytes.fromhex(p) for p in proof.path] == merkle.inclusion_proof(leaves, index)
        assert merkle.verify_inclusion(
            leaves[index], index, 37, [bytes.fromhex(p) for p in proof.path], bytes.fromhex(root)
        )
    historic = log.inclusion_proof(3, tree_size=10)
    assert historic.verify(log.root(10))
    assert not historic.verify(root)
    for old in range(38):
        proof = log.consistency_proof(old)
        assert proof.verify(log.root(old), root)
        assert [bytes.fromhex(p) for p in proof.path] == merkle.consistency_proof(leaves, old)


def test_proof_requests_outside_the_log_are_refused(log: AuditLogBase) -> None:
    fill(log, 4)
    log.flush()
    with pytest.raises(ValueError, match="outside"):
        log.inclusion_proof(4)
    with pytest.raises(ValueError, match="outside"):
        log.inclusion_proof(0, tree_size=5)
    with pytest.raises(ValueError, match="outside"):
        log.consistency_proof(5)
    with pytest.raises(IndexError):
        log.record(9)


def test_checkpoint_signs_the_tree_head_and_verify_uses_it(log: AuditLogBase) -> None:
    signer = Ed25519Signer.generate()
    fill(log, 10)
    first = log.checkpoint(signer)
    assert first.tree_size == 10 and first.root_hash == log.root(10)
    verify_checkpoint(first, signer.public_key_bytes, log_id=log.log_id)
    fill(log, 7, start=10)
    second = log.checkpoint(signer)
    report = log.verify(checkpoint=first, public_key=signer.public_key_bytes)
    assert report.ok, report.reason
    assert report.checkpoints_checked == 2  # the two the log kept; the one given is the first of them
    assert report.root_hash == second.root_hash
    proof = log.consistency_proof(first.tree_size, second.tree_size)
    assert proof.verify(first.root_hash, second.root_hash)


def test_verify_requires_a_key_with_a_checkpoint(log: AuditLogBase) -> None:
    fill(log, 2)
    cp = log.checkpoint(Ed25519Signer.generate())
    with pytest.raises(ValueError, match="public_key"):
        log.verify(checkpoint=cp)


def test_queries_by_agent_action_effect_and_time(log: AuditLogBase) -> None:
    for i in range(12):
        log.append(request(i, agent="bob" if i % 2 else "ann"), decision(i))
    log.flush()
    assert [r.seq for r in log.query(agent="bob")] == [1, 3, 5, 7, 9, 11]
    assert [r.seq for r in log.query(action="delete")] == [0, 3, 6, 9]
    assert [r.seq for r in log.query(effect="deny", agent="ann")] == [0, 6]
    assert [r.seq for r in log.query(agent="bob", limit=2)] == [1, 3]
    middle = log.record(5).timestamp
    assert all(r.timestamp >= middle for r in log.query(since=middle))
    assert [r.seq for r in log.query(until=log.record(0).timestamp)] == []
    assert log.query(agent="nobody") == []


def test_exports(log: AuditLogBase) -> None:
    hashes = fill(log, 6)
    log.flush()
    out = io.StringIO()
    assert log.export_jsonl(out) == 6
    verify_audit_lines(out.getvalue().splitlines(), expected_head=hashes[-1])
    events = io.StringIO()
    assert log.export_cloudevents(events) == 6
    parsed = [json.loads(line) for line in events.getvalue().splitlines()]
    assert parsed[0]["specversion"] == "1.0" and parsed[0]["id"] == hashes[0]
    assert parsed[3]["subject"] == "delete" and parsed[3]["type"] == "dev.agt.audit.decision"
    data_lines = [
        json.dumps(e["data"], separators=(",", ":"), sort_keys=True, ensure_ascii=False) for e in parsed
    ]
    verify_audit_lines(data_lines, expected_count=6)


def test_unserialisable_records_are_refused_and_nothing_is_written(log: AuditLogBase) -> None:
    fill(log, 2)
    with pytest.raises(AuditError, match="serialised"):
        log.append({"bad": float("nan")}, decision(1))
    with pytest.raises(AuditError, match="surrogate"):
        log.append({"bad": "\ud800"}, decision(1))
    log.flush()
    assert len(log) == 2
    assert log.verify().ok


def test_open_audit_log() -> None:
    assert isinstance(open_audit_log(), MerkleAuditLog)


def test_sqlite_store_reopens_and_keeps_chaining(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with SqliteAuditLog(path) as first:
        fill(first, 5)
        log_id = first.log_id
    with SqliteAuditLog(path) as again:
        assert again.log_id == log_id
        fill(again, 5, start=5)
        assert again.verify().ok and len(again) == 10
    with open_audit_log(f"sqlite:///{path}?durability=batched&batch_size=3") as url:
        assert isinstance(url, SqliteAuditLog) and url.durability == "batched"
        fill(url, 4, start=10)
    with SqliteAuditLog(path, readonly=True) as ro:
        assert len(ro) == 14 and ro.verify(deep=True).ok
        with pytest.raises(AuditError, match="read-only"):
            ro.append(request(0), decision(0))


def test_sqlite_refuses_files_that_are_not_audit_stores(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(AuditError, match="cannot open audit store"):
        SqliteAuditLog(junk)
    import sqlite3

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE users (id)").connection.commit()
    with pytest.raises(AuditError, match="other tables"):
        SqliteAuditLog(other)
    with pytest.raises(AuditError, match="does not exist"):
        SqliteAuditLog(tmp_path / "missing.db", create=False)


def test_public_keys_load_from_every_form(tmp_path: Path) -> None:
    from agent_hypervisor import load_public_key

    for _ in range(50):  # raw keys with leading or trailing whitespace bytes included
        signer = Ed25519Signer.generate()
        raw = signer.public_key_bytes
        pem = tmp_path / "k.pub"
        pem.write_bytes(signer.public_pem())
        assert load_public_key(raw) == raw
        assert load_public_key(raw.hex()) == raw
        assert load_public_key(str(pem)) == raw
        assert load_public_key(pem) == raw
        assert load_public_key(signer.public_pem()) == raw
    with pytest.raises(ValueError, match="no Ed25519 public key"):
        load_public_key(b"not a key at all, not a key at all")


def test_in_memory_log_across_storage_chunks() -> None:
    # More records than one storage chunk (65,536) holds: proofs and verification cross chunks.
    from agt_core import canonical_json

    log = MerkleAuditLog()
    req, dec = request(1), decision(1)
    req_json = canonical_json(req)
    hashes = [log.append(req, dec, request_json=req_json) for _ in range(70_000)]
    assert log.verify().ok
    leaves = [bytes.fromhex(h) for h in hashes]
    assert log.root() == merkle.root(leaves).hex()
    for index in (0, 65_535, 65_536, 69_999):
        assert log.inclusion_proof(index).verify(log.root())
    assert log.record(65_536).hash == hashes[65_536]
    assert [r.seq for r in log.records(65_530, 65_540)] == list(range(65_530, 65_540))
