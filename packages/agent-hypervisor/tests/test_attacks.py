"""An attacker with write access to the store: every edit must be detected, naming the record and why.

Each test tampers with a real SQLite file through a raw connection (or with the in-memory log's
lists), then checks the verdict of `verify()`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hv_support import decision, fill, request, rows

from agent_hypervisor import Ed25519Signer, MerkleAuditLog, SignedCheckpoint, SqliteAuditLog
from agent_hypervisor._tree import Frontier, leaf_hash_of_record
from agt_core import audit_record_body, canonical_json

N = 20


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer.generate()


@pytest.fixture
def store(tmp_path: Path, signer: Ed25519Signer) -> tuple[Path, SignedCheckpoint]:
    """A 20-record store and a checkpoint of it held outside the store."""
    path = tmp_path / "audit.db"
    with SqliteAuditLog(path) as log:
        fill(log, N)
        cp = log.checkpoint(signer)
    return path, cp


def verdict(path: Path, cp: SignedCheckpoint | None = None, signer: Ed25519Signer | None = None):
    with SqliteAuditLog(path) as log:
        if cp is None:
            return log.verify()
        assert signer is not None
        return log.verify(checkpoint=cp, public_key=signer.public_key_bytes)


def body_of(path: Path, seq: int) -> dict:
    return json.loads(rows(path).execute("SELECT body FROM records WHERE seq=?", (seq,)).fetchone()[0])


def set_body(path: Path, seq: int, fields: dict, *, rehash: bool = False, retree: bool = False) -> None:
    body = canonical_json(fields)
    conn = rows(path)
    conn.execute("UPDATE records SET body=? WHERE seq=?", (body, seq))
    if rehash:
        digest = hashlib.sha256(body.encode()).hexdigest()
        conn.execute("UPDATE records SET hash=? WHERE seq=?", (digest, seq))
        if retree:
            # Recompute this row's Merkle nodes too (leaf, and parents from the stored siblings).
            old = conn.execute("SELECT tree FROM records WHERE seq=?", (seq,)).fetchone()[0]
            leaf = leaf_hash_of_record(digest)
            conn.execute("UPDATE records SET tree=? WHERE seq=?", (leaf + old[32:], seq))


def test_untouched_store_verifies(store, signer) -> None:
    path, cp = store
    report = verdict(path, cp, signer)
    assert (
        report.ok and report.records == N and report.checkpoints_checked == 1
    )  # given and kept: the same one


EDITS = {
    "decision.effect": lambda r: r["decision"].update(effect="allow", allowed=True),
    "decision.rule": lambda r: r["decision"].update(rule="other"),
    "decision.policy_hash": lambda r: r["decision"].update(policy_hash="sha256:" + "00" * 32),
    "decision.policy_set_hash": lambda r: r["decision"].update(policy_set_hash=None),
    "decision.message": lambda r: r["decision"].update(message="fine"),
    "request.agent.id": lambda r: r["request"]["agent"].update(id="someone-else"),
    "request.action.type": lambda r: r["request"]["action"].update(type="read"),
    "request.args": lambda r: r["request"]["args"].update(table="users"),
    "approval.approver": lambda r: r.update(approval={**r["approval"], "approver": "mallory"}),
    "timestamp": lambda r: r.update(timestamp="2020-01-01T00:00:00.000000Z"),
    "prev_hash": lambda r: r.update(prev_hash="1" * 64),
    "seq": lambda r: r.update(seq=r["seq"] + 100),
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_editing_any_field_of_a_record_is_detected_at_that_record(store, field: str) -> None:
    path, _ = store
    seq = 9  # 9 % 5 == 4: this record carries an approval
    fields = body_of(path, seq)
    EDITS[field](fields)
    set_body(path, seq, fields)
    report = verdict(path)
    assert not report.ok
    assert report.first_bad_index == seq
    assert "does not match its hash" in (report.reason or "")


def test_editing_a_record_and_recomputing_its_hash_is_caught_by_the_merkle_nodes(store) -> None:
    path, _ = store
    fields = body_of(path, 6)
    fields["decision"].update(effect="allow", allowed=True)
    set_body(path, 6, fields, rehash=True)
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 6
    assert "Merkle nodes" in (report.reason or "")


def test_editing_record_hash_and_its_merkle_leaf_is_caught_by_the_next_link(store) -> None:
    path, _ = store
    fields = body_of(path, 6)
    fields["decision"].update(effect="allow", allowed=True)
    set_body(path, 6, fields, rehash=True, retree=True)
    report = verdict(path)
    assert not report.ok
    # Record 6 is even, so its row stores only its leaf: record 7's link is the first thing that breaks.
    assert report.first_bad_index == 7
    assert "does not link" in (report.reason or "")


def test_deleting_a_record_is_detected(store) -> None:
    path, _ = store
    rows(path).execute("DELETE FROM records WHERE seq=8")
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 8
    assert "removed or reordered" in (report.reason or "")


def test_inserting_a_record_is_detected(store) -> None:
    path, _ = store
    conn = rows(path)
    # Make room at 5 by moving every later row up one, then insert a copy of record 2 there.
    for seq in range(N - 1, 4, -1):
        conn.execute("UPDATE records SET seq=? WHERE seq=?", (seq + 1, seq))
    conn.execute("INSERT INTO records SELECT 5, hash, body, tree FROM records WHERE seq=2")
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 5


def test_swapping_two_records_is_detected(store) -> None:
    path, _ = store
    conn = rows(path)
    conn.execute("UPDATE records SET seq=-1 WHERE seq=3")
    conn.execute("UPDATE records SET seq=3 WHERE seq=11")
    conn.execute("UPDATE records SET seq=11 WHERE seq=-1")
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 3


def test_truncating_the_tail_is_detected_by_a_checkpoint(store, signer) -> None:
    path, cp = store
    conn = rows(path)
    conn.execute("DELETE FROM records WHERE seq >= 15")
    conn.execute("DELETE FROM checkpoints")  # the attacker also removes what the store kept
    assert verdict(path).ok  # the chain alone cannot see a cut end...
    report = verdict(path, cp, signer)  # ...the checkpoint held elsewhere does
    assert not report.ok and report.first_bad_index == 15
    assert "cut off its end or the log was rolled back" in (report.reason or "")


def test_truncation_is_detected_by_the_checkpoints_the_store_kept(store) -> None:
    path, _ = store
    rows(path).execute("DELETE FROM records WHERE seq >= 12")
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 12


def test_rolling_the_whole_log_back_is_detected(tmp_path: Path, signer) -> None:
    path = tmp_path / "audit.db"
    backup = tmp_path / "backup.db"
    with SqliteAuditLog(path) as log:
        fill(log, 10)
        log.flush()
    shutil.copy(path, backup)  # WAL checkpointed on close: the copy is the whole store
    with SqliteAuditLog(path) as log:
        fill(log, 10, start=10)
        cp = log.checkpoint(signer)
    path.unlink()
    shutil.copy(backup, path)
    report = verdict(path, cp, signer)
    assert not report.ok and report.first_bad_index == 10


def test_a_fully_rehashed_forgery_is_detected_by_the_checkpoint(tmp_path: Path, store, signer) -> None:
    path, cp = store
    # The attacker rebuilds the log from scratch with the decision of record 3 flipped: every hash,
    # link and Merkle node is recomputed, so the forgery is internally perfect.
    log_id = rows(path).execute("SELECT value FROM meta WHERE key='log_id'").fetchone()[0]
    originals = [body_of(path, s) for s in range(N)]
    originals[3]["decision"].update(effect="allow", allowed=True, rule="reads")
    conn = rows(path)
    conn.execute("DELETE FROM records")
    conn.execute("DELETE FROM checkpoints")
    frontier, prev = Frontier(), "0" * 64
    for seq, fields in enumerate(originals):
        body = audit_record_body(
            seq=seq,
            timestamp=fields["timestamp"],
            prev_hash=prev,
            request_json=canonical_json(fields["request"]),
            decision_json=canonical_json(fields["decision"]),
            approval_json=canonical_json(fields["approval"]),
        )
        digest = hashlib.sha256(body.encode()).hexdigest()
        tree = b"".join(frontier.push(leaf_hash_of_record(digest)))
        conn.execute("INSERT INTO records VALUES (?,?,?,?)", (seq, digest, body, tree))
        prev = digest
    assert rows(path).execute("SELECT value FROM meta WHERE key='log_id'").fetchone()[0] == log_id
    assert verdict(path).ok  # internally consistent...
    report = verdict(path, cp, signer)  # ...but not the log that was signed
    assert not report.ok
    assert "do not match the checkpoint" in (report.reason or "")


def test_corrupt_bytes_in_the_file_are_detected(store) -> None:
    path, _ = store
    data = bytearray(path.read_bytes())
    marker = b'"table":"t13"'
    at = data.find(marker)
    assert at > 0, "record text not found in the file (WAL not checkpointed?)"
    data[at + len(marker) - 3] ^= 0x01  # t13 -> t03 in the file's bytes
    path.write_bytes(bytes(data))
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 13


def test_garbage_over_a_page_is_reported_not_repaired(store) -> None:
    path, _ = store
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : 3 * page] = b"\xa5" * page
    path.write_bytes(bytes(data))
    try:
        log = SqliteAuditLog(path)
    except Exception as exc:  # refusing to open a damaged file is also a detection
        assert "audit store" in str(exc)
        return
    with log:
        report = log.verify(deep=True)
    assert not report.ok and report.reason
    assert path.read_bytes()[2 * page : 3 * page] == b"\xa5" * page  # never silently repaired


def test_a_forged_checkpoint_signature_is_detected(store, signer) -> None:
    path, cp = store
    forged = SignedCheckpoint.model_validate({**cp.model_dump(), "tree_size": 12, "root_hash": "ab" * 32})
    report = verdict(path, forged, signer)
    assert not report.ok and "signature does not match" in (report.reason or "")
    # A checkpoint re-signed by the attacker's own key names another key than the trusted one.
    mallory = Ed25519Signer.generate()
    resigned = mallory.sign(forged)
    report = verdict(path, resigned, signer)
    assert not report.ok and "not the trusted key" in (report.reason or "")


def test_a_checkpoint_from_another_log_is_detected(tmp_path: Path, store, signer) -> None:
    path, _ = store
    with SqliteAuditLog(tmp_path / "other.db") as other:
        fill(other, N)
        foreign = other.checkpoint(signer)
    report = verdict(path, foreign, signer)
    assert not report.ok and "belongs to log" in (report.reason or "")


def test_tampered_merkle_nodes_are_detected(store) -> None:
    path, _ = store
    conn = rows(path)
    tree = conn.execute("SELECT tree FROM records WHERE seq=7").fetchone()[0]
    conn.execute("UPDATE records SET tree=? WHERE seq=7", (tree[:64] + bytes(32) + tree[96:],))
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 7


def test_in_memory_log_edits_are_detected() -> None:
    log = MerkleAuditLog()
    fill(log, 10)
    fields = json.loads(log._bodies[0][3])
    fields["decision"].update(effect="allow", allowed=True)
    log._bodies[0][3] = canonical_json(fields)
    report = log.verify()
    assert not report.ok and report.first_bad_index == 3
    log2 = MerkleAuditLog()
    fill(log2, 10)
    del log2._hashes[0][6], log2._bodies[0][6]
    report = log2.verify()
    assert not report.ok and report.first_bad_index == 6


def test_appending_to_a_store_with_damaged_nodes_fails_closed(store) -> None:
    path, _ = store
    conn = rows(path)
    conn.execute("UPDATE records SET tree=x'00' WHERE seq=15")  # a frontier node of the 20-leaf tree
    from agt_core import AuditError

    with SqliteAuditLog(path) as log, pytest.raises(AuditError, match="Merkle nodes are damaged"):
        log.append(request(99), decision(99))


def test_columns_of_the_wrong_type_are_detected(store) -> None:
    path, _ = store
    conn = rows(path)
    conn.execute("UPDATE records SET tree = CAST(tree AS TEXT) WHERE seq = 4")
    conn.execute("UPDATE records SET hash = 12345 WHERE seq = 11")
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 4
    conn.execute("UPDATE records SET body = 7 WHERE seq = 2")
    report = verdict(path)
    assert not report.ok and report.first_bad_index == 2
