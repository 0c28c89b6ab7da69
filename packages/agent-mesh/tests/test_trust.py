"""Trust ledger: weights, tiers, half-life decay, persistence, concurrency, fail-closed store errors.

The behavioural tests run against SQLite always and against PostgreSQL when
``AGT_TEST_POSTGRES_DSN`` names a server where schemas may be created, or when
``AGT_TEST_POSTGRES=start`` and ``initdb``/``pg_ctl`` are on PATH (a throwaway server on a Unix
socket in a temporary folder).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentmesh import DEFAULT_WEIGHTS, TrustError, TrustLedger, tier_of

from .conftest import FakeClock

DID = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
PG_SKIP = "PostgreSQL: set AGT_TEST_POSTGRES_DSN=postgresql://..., or AGT_TEST_POSTGRES=start with initdb/pg_ctl on PATH"


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    dsn = os.environ.get("AGT_TEST_POSTGRES_DSN")
    if dsn:
        yield dsn
        return
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if os.environ.get("AGT_TEST_POSTGRES") != "start" or initdb is None or pg_ctl is None:
        pytest.skip(PG_SKIP)
    # initdb refuses to run as root: run the server as `postgres` then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="agentmesh-pg-"))
    if as_user:
        shutil.chown(folder, "postgres")
    port = "54339"
    subprocess.run(
        [*as_user, initdb, "-D", str(folder / "data"), "-U", "mesh", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses='' -c unix_socket_directories='{folder}' -p {port}"
    subprocess.run([*as_user, pg_ctl, "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "start", "-o", options],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://mesh@/postgres?host={folder}&port={port}"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Where a test's ledgers keep their scores: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return {"path": str(tmp_path / "trust.db")}
    dsn = request.getfixturevalue("postgres")
    return {"path": dsn, "schema": f"t_{uuid.uuid4().hex[:12]}"}


def test_events_move_the_score_by_their_weights(clock: FakeClock, location: dict[str, Any]) -> None:
    ledger = TrustLedger(**location, clock=clock, half_life_s=math.inf)
    assert ledger.score(DID) == 500 and ledger.tier(DID) == "standard"
    change = ledger.record(DID, "policy_violation", cause="rule `no-deletes`")
    assert (change.before, change.after, change.delta) == (500, 450, DEFAULT_WEIGHTS["policy_violation"])
    assert ledger.score(DID) == 450 and ledger.tier(DID) == "probationary"
    ledger.record(DID, "success", cause="ok")
    assert ledger.score(DID) == 451
    ledger.record(DID, "credential_revoked", cause="revoked")
    ledger.record(DID, "credential_revoked", cause="revoked")
    assert ledger.score(DID) == 0  # clamped
    ledger.record(DID, "manual", cause="operator reset", delta=5000)
    assert ledger.score(DID) == 1000 and ledger.tier(DID) == "verified"
    ledger.close()


def test_tiers() -> None:
    assert [tier_of(s) for s in (0, 299, 300, 499, 500, 699, 700, 899, 900, 1000)] == [
        "untrusted", "untrusted", "probationary", "probationary", "standard",
        "standard", "trusted", "trusted", "verified", "verified",
    ]  # fmt: skip


def test_decay_halves_the_distance_to_the_baseline_per_half_life(
    clock: FakeClock, location: dict[str, Any]
) -> None:
    ledger = TrustLedger(**location, clock=clock, half_life_s=3600)
    ledger.record(DID, "drop", cause="test", delta=-400)  # 100
    clock.advance(3600)
    assert ledger.score(DID) == 300
    clock.advance(3600)
    assert ledger.score(DID) == 400
    ledger.record(DID, "rise", cause="test", delta=+500)  # 900, decay resumes from here
    clock.advance(3600 * 20)
    assert ledger.score(DID) == 500  # never past the baseline, however long
    history = ledger.history(DID)
    assert [(c.event, c.before, c.after) for c in history] == [("drop", 500, 100), ("rise", 400, 900)]
    ledger.close()


def test_unknown_event_needs_a_delta(clock: FakeClock) -> None:
    with pytest.raises(TrustError, match="unknown trust event `typo`") as info:
        TrustLedger(clock=clock).record(DID, "typo", cause="x")
    assert "known events" in str(info.value)


def test_scores_survive_a_restart(clock: FakeClock, location: dict[str, Any]) -> None:
    ledger = TrustLedger(**location, clock=clock)
    ledger.record(DID, "policy_violation", cause="rule `x`")
    ledger.close()
    reopened = TrustLedger(**location, clock=clock)
    assert reopened.score(DID) == 450
    assert reopened.history(DID)[0].cause == "rule `x`"
    reopened.close()


def test_no_lost_updates_across_threads_and_connections(clock: FakeClock, location: dict[str, Any]) -> None:
    ledgers = [TrustLedger(**location, clock=clock, half_life_s=math.inf) for _ in range(2)]
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        start.wait()
        for _ in range(25):
            ledgers[i % 2].record(DID, "success", cause=f"worker {i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledgers[0].score(DID) == 700
    assert len(ledgers[1].history(DID, limit=1000)) == 200
    for ledger in ledgers:
        ledger.close()


def test_store_failures_raise_never_guess(tmp_path: Path, clock: FakeClock, location: dict[str, Any]) -> None:
    ledger = TrustLedger(**location, clock=clock)
    ledger.close()
    if location["path"].startswith("postgresql"):
        # A closed connection is reopened on the next call: closing is not a failure there.
        ledger.score(DID)
        ledger.close()
        with pytest.raises(TrustError, match="cannot open the trust store"):
            TrustLedger("postgresql://mesh@/postgres?host=/nonexistent-dir&port=1")
        return
    with pytest.raises(TrustError, match="cannot read the trust score"):
        ledger.score(DID)
    with pytest.raises(TrustError, match="cannot record"):
        ledger.record(DID, "success", cause="x")
    with pytest.raises(TrustError, match="cannot open trust database"):
        TrustLedger(str(tmp_path / "missing-dir" / "t.db"))


def test_bad_configuration() -> None:
    with pytest.raises(TrustError, match="baseline"):
        TrustLedger(baseline=2000)
    with pytest.raises(TrustError, match="half_life_s"):
        TrustLedger(half_life_s=0)
    with pytest.raises(TrustError, match="schema name"):
        TrustLedger("postgresql://x/y", schema="x; DROP TABLE y")
