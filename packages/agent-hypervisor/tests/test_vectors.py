"""Language-neutral vectors for the audit log's Merkle tree and checkpoints (vectors/audit_log.json).

Other SDKs check themselves against this file: seven records exactly as agt-core writes them,
the tree root after each, inclusion and consistency proofs, and a checkpoint signed with a fixed
Ed25519 key (Ed25519 signatures are deterministic, so the signature is fixed too). The test
rebuilds everything from the records with the plain RFC 9162 functions and checks the file
agrees; `AGT_WRITE_VECTORS=1` rewrites it after an intended change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hv_support import request

from agent_hypervisor import Checkpoint, Ed25519Signer, SignedCheckpoint, merkle, verify_checkpoint
from agt_core import GENESIS_HASH, audit_record_body, canonical_json, record_hash

FILE = Path(__file__).parent / "vectors" / "audit_log.json"
SEED = bytes(range(32))  # the vectors' signing key: never use it for anything else


def _decision(i: int) -> dict:
    deny = i % 3 == 0
    return {
        "allowed": not deny,
        "effect": "deny" if deny else "allow",
        "policy": "seed",
        "policy_hash": "sha256:" + "ab" * 32,
        "policy_set_hash": "sha256:" + "cd" * 32,
        "rule": "no-deletes" if deny else "reads",
    }


def _approval(i: int) -> dict:
    return {
        "approved": True,
        "approver": "alice@example.com",
        "reason": f"ok {i}",
        "request_hash": "sha256:" + "ef" * 32,
    }


def _build() -> dict:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    records, prev = [], GENESIS_HASH
    for i in range(7):
        body = audit_record_body(
            seq=i,
            timestamp=f"2026-12-01T10:00:0{i}.000000Z",
            prev_hash=prev,
            request_json=canonical_json(request(i)),
            # Plain data (not the Decision model's dump) so that the vectors do not move when a
            # model gains a field: they pin hashing, the tree and signing, not the models.
            decision_json=canonical_json(_decision(i)),
            approval_json=canonical_json(_approval(i)) if i % 5 == 4 else "null",
        )
        prev = record_hash(body)
        records.append({"body": body, "hash": prev})
    leaves = [bytes.fromhex(r["hash"]) for r in records]
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(SEED))
    head = Checkpoint(
        log_id="vectors-log",
        tree_size=7,
        root_hash=merkle.root(leaves).hex(),
        timestamp="2026-12-01T10:01:00.000000Z",
    )
    return {
        "about": (
            "Audit log vectors: records as agt_core.audit_record_body writes them; Merkle leaf = the 32 raw "
            "bytes of the record hash (leaf hash SHA-256(0x00 || hash)); RFC 9162 tree; checkpoint signed "
            "with Ed25519 over canonical JSON of {log_id, root_hash, timestamp, tree_size}. Hashes are hex."
        ),
        "records": records,
        "roots": [merkle.root(leaves[:n]).hex() for n in range(1, 8)],
        "inclusion": [
            {"index": i, "tree_size": 7, "path": [p.hex() for p in merkle.inclusion_proof(leaves, i)]}
            for i in range(7)
        ],
        "consistency": [
            {"old_size": m, "new_size": 7, "path": [p.hex() for p in merkle.consistency_proof(leaves, m)]}
            for m in range(1, 8)
        ],
        "checkpoint": {
            "signed_bytes": head.signed_bytes().decode(),
            "signed": json.loads(signer.sign(head).to_json()),
            "public_key": signer.public_key_bytes.hex(),
        },
    }


def test_vectors_file_matches_a_fresh_build() -> None:
    built = _build()
    if os.environ.get("AGT_WRITE_VECTORS") == "1":
        FILE.write_text(json.dumps(built, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert json.loads(FILE.read_text(encoding="utf-8")) == built


def test_vectors_verify_with_the_public_api() -> None:
    data = json.loads(FILE.read_text(encoding="utf-8"))
    leaves = [bytes.fromhex(r["hash"]) for r in data["records"]]
    root = bytes.fromhex(data["roots"][-1])
    for case in data["inclusion"]:
        path = [bytes.fromhex(p) for p in case["path"]]
        assert merkle.verify_inclusion(leaves[case["index"]], case["index"], 7, path, root)
    for case in data["consistency"]:
        path = [bytes.fromhex(p) for p in case["path"]]
        old = bytes.fromhex(data["roots"][case["old_size"] - 1])
        assert merkle.verify_consistency(case["old_size"], 7, old, root, path)
    signed = SignedCheckpoint.model_validate(data["checkpoint"]["signed"])
    verify_checkpoint(signed, data["checkpoint"]["public_key"], log_id="vectors-log")
    assert signed.signed_bytes().decode() == data["checkpoint"]["signed_bytes"]
