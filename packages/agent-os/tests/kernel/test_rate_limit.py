"""Rate limits are enforced exactly, per agent and rule, under concurrency."""

from __future__ import annotations

import threading

from agent_os import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_allows_n_then_refuses_with_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    rules = [("p", "r", "2/minute")]
    assert limiter.acquire("a", rules) is None
    clock.now = 10
    assert limiter.acquire("a", rules) is None
    clock.now = 20
    hit = limiter.acquire("a", rules)
    assert hit is not None
    policy, rule, limit, retry_after = hit
    assert (policy, rule, limit) == ("p", "r", "2/minute")
    assert retry_after == 40  # the first call leaves the window at t=60


def test_window_slides_rather_than_resetting_on_boundaries() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    rules = [("p", "r", "2/minute")]
    clock.now = 59
    assert limiter.acquire("a", rules) is None
    assert limiter.acquire("a", rules) is None
    # A fixed window would reset at t=60 and allow two more; a sliding one must not.
    clock.now = 61
    assert limiter.acquire("a", rules) is not None
    clock.now = 118.9
    assert limiter.acquire("a", rules) is not None
    clock.now = 119.0  # both calls at t=59 are exactly one period old: gone
    assert limiter.acquire("a", rules) is None


def test_limits_are_per_agent_and_per_rule() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert limiter.acquire("a", [("p", "r", "1/hour")]) is None
    assert limiter.acquire("a", [("p", "r", "1/hour")]) is not None
    assert limiter.acquire("b", [("p", "r", "1/hour")]) is None
    assert limiter.acquire("a", [("p", "other", "1/hour")]) is None


def test_refused_call_consumes_nothing_on_any_rule() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert limiter.acquire("a", [("p", "tight", "1/day")]) is None
    # Both rules match this call; `tight` is exhausted, so `loose` must not be charged either.
    for _ in range(5):
        assert limiter.acquire("a", [("p", "loose", "2/day"), ("p", "tight", "1/day")]) is not None
    assert limiter.acquire("a", [("p", "loose", "2/day")]) is None
    assert limiter.acquire("a", [("p", "loose", "2/day")]) is None
    assert limiter.acquire("a", [("p", "loose", "2/day")]) is not None


def test_concurrent_calls_never_exceed_the_limit() -> None:
    limiter = RateLimiter()  # real monotonic clock; the window (1 day) cannot pass during the test
    allowed = 0
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def worker() -> None:
        nonlocal allowed
        barrier.wait()
        for _ in range(200):
            if limiter.acquire("agent", [("p", "r", "500/day")]) is None:
                with lock:
                    allowed += 1

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed == 500


def test_idle_keys_are_pruned() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for i in range(8192):
        limiter.acquire(f"agent-{i}", [("p", "r", "1/second")])
        clock.now += 0.01
    # Every key but the last second's worth has expired and been forgotten.
    assert len(limiter._windows) <= 101
