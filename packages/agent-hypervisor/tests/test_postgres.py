"""The PostgreSQL store, against a real server: run with AGT_TEST_POSTGRES_DSN set, e.g.

    AGT_TEST_POSTGRES_DSN='postgresql://postgres@/agt_test?host=/tmp/pg-sock&port=5432'

The tests drop and recreate the store's tables (agt_audit_*) in that database.
"""

from __future__ import annotations

import json
import os
import threading

import pytest
from hv_support import decision, fill, request

import agent_os
from agent_hypervisor import Ed25519Signer, merkle
from agt_core import GovernanceDenied

DSN = os.environ.get("AGT_TEST_POSTGRES_DSN")
pytestmark = pytest.mark.skipif(not DSN, reason="set AGT_TEST_POSTGRES_DSN to run the PostgreSQL store tests")


@pytest.fixture
def pg():
    import psycopg

    from agent_hypervisor import PostgresAuditLog

    assert DSN is not None
    with psycopg.connect(DSN, autocommit=True) as conn:
        for table in ("agt_audit_records", "agt_audit_meta", "agt_audit_checkpoints"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    store = PostgresAuditLog(DSN)
    yield store
    store.close()


def raw(sql: str, params: tuple = ()) -> list:
    import psycopg

    assert DSN is not None
    with psycopg.connect(DSN, autocommit=True) as conn:
        return (
            conn.execute(sql, params).fetchall()
            if sql.lstrip().upper().startswith("SELECT")
            else [conn.execute(sql, params)]
        )


def test_records_proofs_checkpoints_and_queries(pg) -> None:
    hashes = fill(pg, 37)
    assert len(pg) == 37
    leaves = [bytes.fromhex(h) for h in hashes]
    assert pg.root() == merkle.root(leaves).hex()
    for index in (0, 5, 36):
        assert pg.inclusion_proof(index).verify(pg.root())
    assert pg.consistency_proof(10).verify(pg.root(10), pg.root())
    signer = Ed25519Signer.generate()
    cp = pg.checkpoint(signer)
    report = pg.verify(checkpoint=cp, public_key=signer.public_key_bytes, deep=True)
    assert report.ok, report.reason
    assert [r.seq for r in pg.query(action="delete")] == list(range(0, 37, 3))


def test_two_connections_like_two_machines_chain_into_one_log(pg) -> None:
    from agent_hypervisor import PostgresAuditLog

    other = PostgresAuditLog(DSN)  # another process or machine: its own connections
    assert other.log_id == pg.log_id
    results: list[str] = []
    lock = threading.Lock()

    def work(store, agent: str) -> None:
        for i in range(60):
            digest = store.append(request(i, agent=agent), decision(i))
            with lock:
                results.append(digest)

    threads = [
        threading.Thread(target=work, args=(s, f"{n}-{k}"))
        for n, s in enumerate((pg, other))
        for k in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert len(pg) == 360 == len(set(results))
    assert {r.hash for r in pg} == set(results)
    assert pg.verify().ok


def test_tampering_in_the_database_is_detected(pg) -> None:
    fill(pg, 12)
    body = raw("SELECT body FROM agt_audit_records WHERE seq = 6")[0][0]
    fields = json.loads(body)
    fields["decision"]["effect"] = "allow" if fields["decision"]["effect"] == "deny" else "deny"
    from agt_core import canonical_json

    raw("UPDATE agt_audit_records SET body = %s WHERE seq = 6", (canonical_json(fields),))
    report = pg.verify()
    assert not report.ok and report.first_bad_index == 6
    raw("DELETE FROM agt_audit_records WHERE seq = 9")
    assert pg.verify().first_bad_index == 6


def test_govern_writes_to_a_postgresql_url(pg) -> None:
    policy = (
        "apiVersion: governance.toolkit/v1\nname: p\ndefault_action: allow\n"
        "rules:\n- name: no-drop\n  condition: \"action.type == 'drop'\"\n  action: deny\n"
    )
    tool = agent_os.govern(lambda action: action, policy=policy, audit=DSN, pipeline=agent_os.Pipeline())
    tool(action="read")
    with pytest.raises(GovernanceDenied):
        tool(action="drop")
    assert [r.decision.effect for r in pg] == ["allow", "deny"]
    assert pg.verify().ok


def test_cli_verifies_a_postgresql_store(pg) -> None:
    import io

    from agent_hypervisor import run_cli

    fill(pg, 5)
    out = io.StringIO()
    assert run_cli(["verify", DSN], out=out) == 0
    assert "OK: 5 records" in out.getvalue()
