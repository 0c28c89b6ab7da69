"""Trust ledger: weights, tiers, half-life decay, persistence, concurrency, fail-closed store errors."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest

from agentmesh import DEFAULT_WEIGHTS, TrustError, TrustLedger, tier_of

from .conftest import FakeClock

DID = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"


def test_events_move_the_score_by_their_weights(clock: FakeClock) -> None:
    ledger = TrustLedger(clock=clock, half_life_s=math.inf)
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


def test_tiers() -> None:
    assert [tier_of(s) for s in (0, 299, 300, 499, 500, 699, 700, 899, 900, 1000)] == [
        "untrusted", "untrusted", "probationary", "probationary", "standard",
        "standard", "trusted", "trusted", "verified", "verified",
    ]  # fmt: skip


def test_decay_halves_the_distance_to_the_baseline_per_half_life(clock: FakeClock) -> None:
    ledger = TrustLedger(clock=clock, half_life_s=3600)
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


def test_unknown_event_needs_a_delta(clock: FakeClock) -> None:
    with pytest.raises(TrustError, match="unknown trust event `typo`") as info:
        TrustLedger(clock=clock).record(DID, "typo", cause="x")
    assert "known events" in str(info.value)


def test_scores_survive_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = str(tmp_path / "trust.db")
    ledger = TrustLedger(path, clock=clock)
    ledger.record(DID, "policy_violation", cause="rule `x`")
    ledger.close()
    reopened = TrustLedger(path, clock=clock)
    assert reopened.score(DID) == 450
    assert reopened.history(DID)[0].cause == "rule `x`"


def test_no_lost_updates_across_threads_and_connections(tmp_path: Path, clock: FakeClock) -> None:
    path = str(tmp_path / "trust.db")
    ledgers = [TrustLedger(path, clock=clock, half_life_s=math.inf) for _ in range(2)]
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


def test_store_failures_raise_never_guess(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(TrustError, match="cannot open trust database"):
        TrustLedger(str(tmp_path / "missing-dir" / "t.db"))
    ledger = TrustLedger(clock=clock)
    ledger.close()
    with pytest.raises(TrustError, match="cannot read the trust score"):
        ledger.score(DID)
    with pytest.raises(TrustError, match="cannot record"):
        ledger.record(DID, "success", cause="x")


def test_bad_configuration() -> None:
    with pytest.raises(TrustError, match="baseline"):
        TrustLedger(baseline=2000)
    with pytest.raises(TrustError, match="half_life_s"):
        TrustLedger(half_life_s=0)
