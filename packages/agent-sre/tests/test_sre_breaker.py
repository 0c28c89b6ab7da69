"""Circuit breakers really refuse when open, admit bounded trials when half-open, and survive concurrency."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from agent_sre import CircuitBreaker
from agt_core import Decision, Enforcement

from .conftest import FakeClock, make_request


def outcome(request: dict[str, Any], allowed: bool = True) -> Enforcement:
    decision = Decision(effect="allow" if allowed else "deny", allowed=allowed)
    return Enforcement(allowed, decision, None, None, request)


def call(
    cb: CircuitBreaker, request: dict[str, Any], *, error: BaseException | None = None, duration: float = 0.01
) -> str | None:
    """One governed call as the kernel runs it: guard, decision, completion."""
    reason = cb.check(request)
    if reason is not None:
        cb.on_decision(outcome(request, allowed=False))
        return reason
    cb.on_decision(outcome(request))
    cb.on_completion(outcome(request), None, error, duration)
    return None


def test_opens_after_consecutive_failures_and_refuses(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=3, reset_timeout_s=30, clock=clock)
    req = make_request(tool="flaky")
    for _ in range(2):
        assert call(cb, req, error=ConnectionError("down")) is None
    assert cb.status("flaky").state == "closed"
    assert call(cb, req, error=ConnectionError("down")) is None  # the third failure opens it
    assert cb.status("flaky").state == "open"
    reason = cb.check(req)
    assert reason is not None
    assert (
        "tool `flaky` is open" in reason
        and "3 consecutive failures" in reason
        and "ConnectionError" in reason
    )
    assert "retry in 30.0 s" in reason
    assert cb.check(make_request(tool="healthy")) is None


def test_a_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=3, clock=clock)
    req = make_request(tool="t")
    for _ in range(10):
        call(cb, req, error=RuntimeError("x"))
        call(cb, req, error=RuntimeError("x"))
        call(cb, req)
    assert cb.status("t").state == "closed"


def test_failure_rate_over_the_window_opens(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=100, failure_rate=0.5, min_calls=10, window_s=60, clock=clock)
    req = make_request(tool="t")
    for i in range(9):
        call(cb, req, error=RuntimeError("x") if i % 2 else None)
        clock.advance(1)
    assert cb.status("t").state == "closed"  # 4 of 9 failed, and fewer than min_calls
    call(cb, req, error=RuntimeError("x"))  # 5 of 10
    assert cb.status("t").state == "open"
    assert "50% of 10 calls" in (cb.check(req) or "")


def test_failures_older_than_the_window_do_not_count(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=100, failure_rate=0.5, min_calls=4, window_s=10, clock=clock)
    req = make_request(tool="t")
    for _ in range(3):
        call(cb, req, error=RuntimeError("old"))
    clock.advance(11)
    for _ in range(4):
        call(cb, req)
    call(cb, req, error=RuntimeError("new"))  # 1 of 5 in the window
    assert cb.status("t").state == "closed"


def test_a_slow_call_counts_as_a_failure(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=2, call_timeout_s=1.0, clock=clock)
    req = make_request(tool="slow")
    call(cb, req, duration=1.5)
    call(cb, req, duration=2.0)
    status = cb.status("slow")
    assert status.state == "open" and "timeout" in (status.last_failure or "")


def test_ignored_exceptions_are_not_failures(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, ignore=(ValueError,), clock=clock)
    call(cb, make_request(tool="t"), error=ValueError("caller's fault"))
    assert cb.status("t").state == "closed"


def test_half_open_admits_bounded_trials_and_success_closes(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, half_open_max_calls=2, clock=clock)
    req = make_request(tool="t")
    call(cb, req, error=RuntimeError("x"))
    clock.advance(9.9)
    assert cb.check(req) is not None
    clock.advance(0.1)
    # Two trials start (in two contexts, as two concurrent calls would), a third is refused.
    ctx1, ctx2 = __import__("contextvars").copy_context(), __import__("contextvars").copy_context()
    assert ctx1.run(cb.check, req) is None
    assert ctx2.run(cb.check, req) is None
    assert "half-open" in (cb.check(req) or "")
    assert cb.status("t").state == "half_open"
    ctx1.run(cb.on_completion, outcome(req), "ok", None, 0.01)
    assert cb.status("t").state == "closed"
    assert cb.check(req) is None


def test_a_failed_trial_reopens(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    req = make_request(tool="t")
    call(cb, req, error=RuntimeError("x"))
    clock.advance(10)
    assert call(cb, req, error=RuntimeError("still down")) is None  # the trial ran ...
    status = cb.status("t")
    assert status.state == "open" and status.times_opened == 2  # ... and reopened the circuit
    assert "trial call failed" in (cb.check(req) or "")


def test_success_threshold_needs_that_many_trials(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, success_threshold=3, clock=clock)
    req = make_request(tool="t")
    call(cb, req, error=RuntimeError("x"))
    clock.advance(10)
    call(cb, req)
    call(cb, req)
    assert cb.status("t").state == "half_open"
    call(cb, req)
    assert cb.status("t").state == "closed"


def test_a_trial_refused_later_in_the_pipeline_frees_its_slot(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    req = make_request(tool="t")
    call(cb, req, error=RuntimeError("x"))
    clock.advance(10)
    assert cb.check(req) is None  # admitted as the trial ...
    cb.on_decision(outcome(req, allowed=False))  # ... but the policy denied it: it never ran
    assert cb.check(req) is None  # the slot is free again


def test_a_lost_trial_expires(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    req = make_request(tool="t")
    call(cb, req, error=RuntimeError("x"))
    clock.advance(10)
    import contextvars

    assert contextvars.copy_context().run(cb.check, req) is None  # a trial whose call vanished
    assert cb.check(req) is not None
    clock.advance(10)
    assert cb.check(req) is None


def test_a_call_admitted_before_opening_does_not_close_a_half_open_circuit(clock: FakeClock) -> None:
    import contextvars

    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    req = make_request(tool="t")
    slow = contextvars.copy_context()
    assert slow.run(cb.check, req) is None  # a slow call starts while closed
    call(cb, req, error=RuntimeError("x"))  # another call fails: open
    clock.advance(10)
    trial = contextvars.copy_context()
    assert trial.run(cb.check, req) is None  # half-open: the trial slot is taken
    slow.run(cb.on_completion, outcome(req), "ok", None, 0.01)  # the old call returns fine
    assert cb.status("t").state == "half_open"


def test_per_agent_circuits_are_separate(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, per_agent=True, clock=clock)
    call(cb, make_request("a", "t"), error=RuntimeError("x"))
    assert cb.check(make_request("a", "t")) is not None
    assert cb.check(make_request("b", "t")) is None
    assert cb.status("t", "a").state == "open"


def test_tools_filter_and_post_tool_stage_are_ignored(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, tools=["covered"], clock=clock)
    call(cb, make_request(tool="other"), error=RuntimeError("x"))
    assert cb.circuits() == []
    call(cb, make_request(tool="covered"), error=RuntimeError("x"))
    assert cb.check(make_request(tool="covered", stage="post_tool")) is None


def test_trip_and_reset_by_hand(clock: FakeClock) -> None:
    cb = CircuitBreaker(clock=clock)
    cb.trip("payments", reason="provider outage")
    assert "opened by hand: provider outage" in (cb.check(make_request(tool="payments")) or "")
    cb.reset("payments")
    assert cb.check(make_request(tool="payments")) is None


def test_request_without_tool_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match=r"action\.tool"):
        CircuitBreaker().check({"agent": {"id": "a"}})


def test_concurrent_threads_get_exactly_the_trial_slots(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, half_open_max_calls=3, clock=clock)
    req = make_request(tool="t")
    call(cb, req, error=RuntimeError("x"))
    clock.advance(10)
    barrier = threading.Barrier(16)
    admitted: list[bool] = []
    lock = threading.Lock()

    def caller() -> None:
        barrier.wait()
        ok = cb.check(req) is None
        with lock:
            admitted.append(ok)

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 3


def test_concurrent_failures_from_threads_open_once(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=50, clock=clock)
    req = make_request(tool="t")

    def failer() -> None:
        for _ in range(100):
            cb.on_completion(outcome(req), None, RuntimeError("x"), 0.0)

    threads = [threading.Thread(target=failer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = cb.status("t")
    assert status.state == "open" and status.times_opened == 1 and status.consecutive_failures == 800


def test_asyncio_tasks_share_the_trial_slot_correctly(clock: FakeClock) -> None:
    cb = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, half_open_max_calls=2, clock=clock)
    req = make_request(tool="t")
    call(cb, req, error=RuntimeError("x"))
    clock.advance(10)
    ran: list[int] = []

    async def governed_call(i: int, gate: asyncio.Event) -> None:
        reason = cb.check(req)
        if reason is not None:
            cb.on_decision(outcome(req, allowed=False))
            return
        cb.on_decision(outcome(req))
        await gate.wait()  # the tool is in flight while the others try
        ran.append(i)
        cb.on_completion(outcome(req), "ok", None, 0.01)

    async def main() -> None:
        gate = asyncio.Event()
        tasks = [asyncio.create_task(governed_call(i, gate)) for i in range(10)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert len(ran) == 2
    assert cb.status("t").state == "closed"


# -- shared state across processes ---------------------------------------------------------------


def test_a_circuit_opened_in_one_process_refuses_in_another(tmp_path: Path, clock: FakeClock) -> None:
    wall = FakeClock(1_000_000.0)
    db = tmp_path / "state.db"
    a = CircuitBreaker(
        failure_threshold=2, reset_timeout_s=30, shared=db, max_staleness_s=0, clock=clock, wall_clock=wall
    )
    b = CircuitBreaker(
        failure_threshold=2, reset_timeout_s=30, shared=db, max_staleness_s=0, clock=clock, wall_clock=wall
    )
    req = make_request(tool="payments")
    call(a, req, error=ConnectionError("provider down"))
    call(a, req, error=ConnectionError("provider down"))
    reason = b.check(req)
    assert reason is not None and "opened by another process" in reason and "provider down" in reason
    assert b.check(make_request(tool="search")) is None
    wall.advance(30)  # the published reopening time has passed: b lets calls through again
    assert b.check(req) is None


def test_closing_is_shared_too(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "state.db"
    a = CircuitBreaker(failure_threshold=1, shared=db, max_staleness_s=0, clock=clock)
    b = CircuitBreaker(failure_threshold=1, shared=db, max_staleness_s=0, clock=clock)
    a.trip("t", reason="maintenance")
    assert b.check(make_request(tool="t")) is not None
    a.reset("t")
    assert b.check(make_request(tool="t")) is None


def test_a_trip_in_a_subprocess_is_seen(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "state.db"
    here = CircuitBreaker(shared=db, max_staleness_s=0)
    code = f"from agent_sre import CircuitBreaker; CircuitBreaker(shared={str(db)!r}).trip('t', reason='from afar')"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "from afar" in (here.check(make_request(tool="t")) or "")


def test_unreadable_shared_state_refuses(tmp_path: Path, clock: FakeClock) -> None:
    import sqlite3

    db = tmp_path / "state.db"
    cb = CircuitBreaker(shared=db, max_staleness_s=0, clock=clock)
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO open_circuits VALUES ('t', 'not a time', 'x')")
    conn.commit()
    conn.close()
    assert "cannot be read" in (cb.check(make_request(tool="anything")) or "")


def test_a_failed_publish_keeps_the_local_circuit_open(clock: FakeClock) -> None:
    class Down:
        location = "nowhere"

        def version(self) -> object:
            return 0

        def open_circuits(self) -> dict[str, tuple[float, str]]:
            return {}

        def publish_open(self, circuit: str, open_until: float, reason: str) -> None:
            raise ConnectionError("store down")

        def publish_closed(self, circuit: str) -> None:
            raise ConnectionError("store down")

    cb = CircuitBreaker(failure_threshold=1, shared=Down(), max_staleness_s=0, clock=clock)
    call(cb, make_request(tool="t"), error=RuntimeError("x"))
    assert cb.status("t").state == "open" and cb.check(make_request(tool="t")) is not None


def test_per_agent_circuits_stay_bounded(clock: FakeClock) -> None:
    cb = CircuitBreaker(per_agent=True, failure_rate=0.5, max_circuits=50, clock=clock)
    call(cb, make_request("rogue", "t"), error=RuntimeError("x"))  # a failing circuit is kept
    for i in range(2_000):
        call(cb, make_request(f"agent-{i}", "t"))
    assert len(cb._circuits) <= 50
    assert cb.status("t", "rogue").consecutive_failures == 1
