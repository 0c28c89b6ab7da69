"""Hypothesis drives a breaker through random calls, trials and time; its invariants must always hold."""

from __future__ import annotations

import contextvars

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent_sre import CircuitBreaker
from agt_core import Decision, Enforcement

from .conftest import FakeClock, make_request

REQ = make_request(tool="t")
MAX_TRIALS = 2
THRESHOLD = 3
RESET = 10.0


def ok() -> Enforcement:
    return Enforcement(True, Decision(effect="allow", allowed=True), None, None, REQ)


class BreakerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(0.0)
        self.cb = CircuitBreaker(
            failure_threshold=THRESHOLD,
            reset_timeout_s=RESET,
            half_open_max_calls=MAX_TRIALS,
            clock=self.clock,
        )
        self.in_flight: list[contextvars.Context] = []  # admitted calls not completed yet
        self.consecutive = 0  # failures since the last success, as the model counts them

    def _admit(self) -> contextvars.Context | None:
        ctx = contextvars.copy_context()
        return ctx if ctx.run(self.cb.check, REQ) is None else None

    @rule(fails=st.booleans())
    def call_now(self, fails: bool) -> None:
        """A call that starts and completes at once."""
        state_before = self.cb.status("t").state
        ctx = self._admit()
        if ctx is None:
            assert state_before != "closed", "a closed circuit refused a call"
            return
        ctx.run(self.cb.on_completion, ok(), None, RuntimeError("x") if fails else None, 0.0)
        self.consecutive = self.consecutive + 1 if fails else 0

    @precondition(lambda self: len(self.in_flight) < 5)
    @rule()
    def start_slow_call(self) -> None:
        ctx = self._admit()
        if ctx is not None:
            self.in_flight.append(ctx)

    @precondition(lambda self: bool(self.in_flight))
    @rule(fails=st.booleans(), refused_by_policy=st.booleans())
    def finish_slow_call(self, fails: bool, refused_by_policy: bool) -> None:
        ctx = self.in_flight.pop(0)
        if refused_by_policy:
            denied = Enforcement(False, Decision(effect="deny", allowed=False), None, None, REQ)
            ctx.run(self.cb.on_decision, denied)
            return
        ctx.run(self.cb.on_completion, ok(), None, RuntimeError("x") if fails else None, 0.0)
        self.consecutive = self.consecutive + 1 if fails else 0

    @rule(seconds=st.sampled_from([0.5, 3.0, 9.9, 10.0, 25.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def trials_are_bounded(self) -> None:
        circuit = self.cb._circuits.get(("t",))
        if circuit is not None:
            assert len(circuit.trials) <= MAX_TRIALS

    @invariant()
    def an_open_circuit_refuses_until_its_timeout(self) -> None:
        status = self.cb.status("t")
        if status.state == "open" and status.retry_in_s:
            probe = contextvars.copy_context()
            reason = probe.run(self.cb.check, REQ)
            assert reason is not None and "is open" in reason

    @invariant()
    def enough_consecutive_failures_mean_not_closed(self) -> None:
        if self.consecutive >= THRESHOLD:
            assert self.cb.status("t").state != "closed"


BreakerModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_breaker_model = BreakerModel.TestCase
