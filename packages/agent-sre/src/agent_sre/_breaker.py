"""Circuit breakers: stop calling a tool that keeps failing, then probe it carefully.

One `CircuitBreaker` is both a guard (it refuses calls while a circuit is open) and an observer
(it counts failures from the tool's completions). Register the same object in both roles.

States of one circuit (per tool, or per tool and agent)::

    closed --(N consecutive failures, or failure rate >= r over the window)--> open
    open --(reset timeout elapsed)--> half_open
    half_open --(a trial call fails)--> open
    half_open --(success_threshold trial calls succeed)--> closed

An exception from the tool is a failure, and so is a call that took longer than
``call_timeout_s`` (it returned, but too late to count as healthy). In half-open, at most
``half_open_max_calls`` trial calls are in flight at once; a trial that never completes (the
policy refused it, or its process died) frees its slot after ``reset_timeout_s``, so a lost
trial cannot wedge the circuit.

Shared state (``shared=``, a SQLite path or a `CircuitStateStore` such as `PostgresSwitchStore`):
when a circuit opens in one process, it is published with its reopening time, and every other
process sharing the store refuses that tool's calls until then (seen within ``max_staleness_s``).
Failures are still counted per process, and each process runs its own half-open trials once the
published time has passed. If the shared state cannot be read, calls are refused.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from agent_sre._errors import StateStoreError
from agent_sre._switch_store import CircuitStateStore, SQLiteSwitchStore
from agt_core import Enforcement

__all__ = ["BreakerState", "CircuitBreaker", "CircuitStatus"]

logger = logging.getLogger("agent_sre")

BreakerState = Literal["closed", "open", "half_open"]

# The trial permits granted to the current call (by breaker and circuit). The kernel runs guards,
# observers and the tool in one thread or task, so the permit follows the call to its completion.
_permits: contextvars.ContextVar[tuple[tuple[int, tuple[str, ...], object], ...]] = contextvars.ContextVar(
    "agt_sre_breaker_permits", default=()
)


class CircuitStatus(NamedTuple):
    """What one circuit looks like now.

    Attributes:
        key: ``(tool,)`` or ``(tool, agent_id)``.
        state: ``closed``, ``open`` or ``half_open``.
        consecutive_failures: Failures since the last success.
        times_opened: How often the circuit has opened since it was created.
        last_failure: The last failure, as text.
        retry_in_s: For an open circuit, seconds until it lets a trial through.
    """

    key: tuple[str, ...]
    state: BreakerState
    consecutive_failures: int
    times_opened: int
    last_failure: str | None
    retry_in_s: float | None


@dataclass
class _Circuit:
    key: tuple[str, ...]
    state: BreakerState = "closed"
    consecutive: int = 0
    window: deque[tuple[float, bool]] = field(default_factory=deque)
    failures_in_window: int = 0
    opened_at: float = 0.0
    opened_because: str = ""
    times_opened: int = 0
    last_failure: str | None = None
    trials: dict[object, float] = field(default_factory=dict)  # permit -> expiry
    trial_successes: int = 0


class CircuitBreaker:
    """Per-tool (optionally per-agent) circuit breakers: an `agt_core.Guard` and an `agt_core.Observer`.

    Args:
        name: The guard's name; refusals say ``refused_by="guard:<name>"``.
        failure_threshold: Consecutive failures that open a closed circuit.
        failure_rate: Also open when this fraction of the calls in ``window_s`` failed (None: off)...
        min_calls: ...provided the window holds at least this many calls.
        window_s: The failure-rate window.
        reset_timeout_s: How long an open circuit refuses before letting trial calls through.
        half_open_max_calls: Trial calls allowed in flight at once while half-open.
        success_threshold: Successful trials that close a half-open circuit.
        call_timeout_s: A call slower than this counts as a failure even if it returned.
        per_agent: One circuit per (tool, agent) instead of per tool.
        tools: Only these tools are covered (None: every tool).
        ignore: Exception types that are not the tool's fault (e.g. validation errors of the caller).
        max_circuits: Circuits kept in memory; past this, healthy closed circuits are forgotten
            (they hold nothing worth keeping), so per-agent circuits stay bounded.
        shared: Share open circuits with other processes through this store (or SQLite file path).
        max_staleness_s: With `shared`, how stale the cached shared state may be.
        clock: Monotonic seconds (injectable for tests).
        wall_clock: Unix seconds, for the reopening times in the shared store (injectable).
    """

    def __init__(
        self,
        *,
        name: str = "circuit-breaker",
        failure_threshold: int = 5,
        failure_rate: float | None = None,
        min_calls: int = 10,
        window_s: float = 60.0,
        reset_timeout_s: float = 30.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        call_timeout_s: float | None = None,
        per_agent: bool = False,
        tools: Iterable[str] | None = None,
        ignore: tuple[type[BaseException], ...] = (),
        max_circuits: int = 10_000,
        shared: CircuitStateStore | str | Path | None = None,
        max_staleness_s: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or success_threshold < 1 or min_calls < 1:
            raise ValueError(
                "failure_threshold, half_open_max_calls, success_threshold and min_calls must be >= 1"
            )
        if failure_rate is not None and not 0 < failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if reset_timeout_s <= 0 or window_s <= 0 or (call_timeout_s is not None and call_timeout_s <= 0):
            raise ValueError("reset_timeout_s, window_s and call_timeout_s must be > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.failure_rate = failure_rate
        self.min_calls = min_calls
        self.window_s = window_s
        self.reset_timeout_s = reset_timeout_s
        self.half_open_max_calls = half_open_max_calls
        self.success_threshold = success_threshold
        self.call_timeout_s = call_timeout_s
        self.per_agent = per_agent
        self.tools = frozenset(tools) if tools is not None else None
        self.ignore = ignore
        if max_circuits < 1:
            raise ValueError("max_circuits must be >= 1")
        self.max_circuits = max_circuits
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._circuits: dict[tuple[str, ...], _Circuit] = {}
        self.shared: CircuitStateStore | None = (
            SQLiteSwitchStore(shared) if isinstance(shared, (str, Path)) else shared
        )
        self.max_staleness_s = max_staleness_s
        self._shared_lock = threading.Lock()
        self._shared_open: dict[str, tuple[float, str]] = {}
        self._shared_version: object = None
        self._shared_checked = float("-inf")
        self._shared_error: str | None = None
        if self.shared is not None:
            self._refresh_shared(clock())

    def _key(self, request: Mapping[str, Any]) -> tuple[str, ...] | None:
        action = request.get("action")
        tool = action.get("tool") or action.get("type") if isinstance(action, Mapping) else None
        if not isinstance(tool, str):
            raise ValueError("the request has no action.tool")
        if self.tools is not None and tool not in self.tools:
            return None
        if not self.per_agent:
            return (tool,)
        agent = request.get("agent")
        agent_id = agent.get("id") if isinstance(agent, Mapping) else None
        if not isinstance(agent_id, str):
            raise ValueError("the request has no agent.id")
        return (tool, agent_id)

    # -- guard ------------------------------------------------------------------------------

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Refuse while the circuit is open, or half-open with every trial slot taken."""
        if request.get("stage", "pre_tool") != "pre_tool":
            return None  # the result check of a call that was already let through
        key = self._key(request)
        if key is None:
            return None
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is not None and circuit.state != "closed":
                return self._check_tripped(circuit, key)
        return None if self.shared is None else self._shared_check(key)

    def _check_tripped(self, circuit: _Circuit, key: tuple[str, ...]) -> str | None:
        """An open or half-open circuit: refuse, or admit the call as a trial (lock held)."""
        now = self._clock()
        if circuit.state == "open":
            retry_in = circuit.opened_at + self.reset_timeout_s - now
            if retry_in > 0:
                return f"circuit breaker for {_label(key)} is open ({circuit.opened_because}); retry in {retry_in:.1f} s"
            circuit.state = "half_open"
            circuit.trials.clear()
            circuit.trial_successes = 0
        # half-open: expire lost trials, then admit one if a slot is free.
        for permit, expiry in list(circuit.trials.items()):
            if expiry <= now:
                del circuit.trials[permit]
        if len(circuit.trials) >= self.half_open_max_calls:
            return (
                f"circuit breaker for {_label(key)} is half-open and its "
                f"{self.half_open_max_calls} trial call(s) are in flight"
            )
        permit = object()
        circuit.trials[permit] = now + self.reset_timeout_s
        _permits.set((*_permits.get(), (id(self), key, permit)))
        return None

    def _shared_check(self, key: tuple[str, ...]) -> str | None:
        now = self._clock()
        if now - self._shared_checked >= self.max_staleness_s or now < self._shared_checked:
            self._refresh_shared(now)
        error = self._shared_error
        if error is not None:
            return f"shared circuit breaker state cannot be read, so calls are refused: {error}"
        entry = self._shared_open.get(_name(key))
        if entry is None:
            return None
        until, reason = entry
        retry_in = until - self._wall()
        if retry_in <= 0:
            return None
        return f"circuit breaker for {_label(key)} was opened by another process ({reason}); retry in {retry_in:.1f} s"

    def _refresh_shared(self, now: float) -> None:
        store = self.shared
        assert store is not None
        with self._shared_lock:
            if now - self._shared_checked < self.max_staleness_s and now >= self._shared_checked:
                return
            try:
                version = store.version()
                if version != self._shared_version or self._shared_error is not None:
                    self._shared_open = dict(store.open_circuits())
                    self._shared_version = version
                self._shared_error = None
            except StateStoreError as exc:
                self._shared_error = exc.message
            except Exception as exc:  # a store outside our hierarchy: still fail closed
                self._shared_error = f"{type(exc).__name__}: {exc}"
            self._shared_checked = now

    def _publish(self, key: tuple[str, ...], open_until: float | None, reason: str = "") -> None:
        """Tell other processes that a circuit opened (or closed); a failure leaves the local state as it is."""
        store = self.shared
        if store is None:
            return
        name = _name(key)
        try:
            if open_until is None:
                store.publish_closed(name)
            else:
                store.publish_open(name, open_until, reason)
        except Exception as exc:
            logger.warning(
                "circuit breaker `%s`: could not share the state of %s: %s", self.name, _label(key), exc
            )
            return
        with self._shared_lock:
            shared = dict(self._shared_open)
            if open_until is None:
                shared.pop(name, None)
            else:
                shared[name] = (open_until, reason)
            self._shared_open = shared

    # -- observer ---------------------------------------------------------------------------

    def on_decision(self, outcome: Enforcement) -> None:
        """A call that was admitted as a trial but then refused gives its trial slot back."""
        if outcome.allowed:
            return
        permit = self._take_permit()
        if permit is not None:
            key, token = permit
            with self._lock:
                circuit = self._circuits.get(key)
                if circuit is not None:
                    circuit.trials.pop(token, None)

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Count the call as a success or a failure of its circuit."""
        request = outcome.request
        if request.get("stage", "pre_tool") != "pre_tool":
            return
        key = self._key(request)
        permit = self._take_permit()
        if key is None:
            return
        failure: str | None = None
        if error is not None and not isinstance(error, self.ignore):
            failure = f"{type(error).__name__}: {error}"[:200]
        elif self.call_timeout_s is not None and duration_s > self.call_timeout_s:
            failure = f"took {duration_s:.3f} s, over the {self.call_timeout_s} s timeout"
        with self._lock:
            now = self._clock()
            circuit = self._circuits.get(key)
            if circuit is None:
                if failure is None and self.failure_rate is None:
                    return  # a healthy call of a circuit never seen failing: nothing to track
                if len(self._circuits) >= self.max_circuits:
                    self._forget_healthy(now)
                circuit = self._circuits[key] = _Circuit(key)
            self._record(circuit, now, failure, None if permit is None else permit[1])

    def _forget_healthy(self, now: float) -> None:
        """Drop closed circuits with no recent failure (lock held); open or failing ones are kept."""
        horizon = now - self.window_s
        for key, circuit in list(self._circuits.items()):
            if (
                circuit.state == "closed"
                and circuit.consecutive == 0
                and not any(failed and at > horizon for at, failed in circuit.window)
            ):
                del self._circuits[key]

    def _record(self, circuit: _Circuit, now: float, failure: str | None, permit: object | None) -> None:
        if failure is not None:
            circuit.last_failure = failure
            circuit.consecutive += 1
        else:
            circuit.consecutive = 0
        if circuit.state == "half_open":
            if permit is None or circuit.trials.pop(permit, None) is None:
                return  # a call admitted before the circuit opened: it says nothing about recovery
            if failure is not None:
                self._open(circuit, now, f"trial call failed: {failure}")
            else:
                circuit.trial_successes += 1
                if circuit.trial_successes >= self.success_threshold:
                    circuit.state = "closed"
                    circuit.consecutive = 0
                    circuit.window.clear()
                    circuit.failures_in_window = 0
                    self._publish(circuit.key, None)
            return
        if circuit.state == "open":
            return
        if self.failure_rate is not None:
            circuit.window.append((now, failure is not None))
            circuit.failures_in_window += failure is not None
            horizon = now - self.window_s
            while circuit.window and circuit.window[0][0] <= horizon:
                circuit.failures_in_window -= circuit.window.popleft()[1]
        if failure is None:
            return
        if circuit.consecutive >= self.failure_threshold:
            self._open(circuit, now, f"{circuit.consecutive} consecutive failures, last: {failure}")
        elif self.failure_rate is not None and len(circuit.window) >= self.min_calls:
            rate = circuit.failures_in_window / len(circuit.window)
            if rate >= self.failure_rate:
                self._open(
                    circuit,
                    now,
                    f"{rate:.0%} of {len(circuit.window)} calls in {self.window_s:g} s failed, last: {failure}",
                )

    def _open(self, circuit: _Circuit, now: float, because: str) -> None:
        circuit.state = "open"
        circuit.opened_at = now
        circuit.opened_because = because
        circuit.times_opened += 1
        circuit.trials.clear()
        circuit.trial_successes = 0
        self._publish(circuit.key, self._wall() + self.reset_timeout_s, because)

    def _take_permit(self) -> tuple[tuple[str, ...], object] | None:
        permits = _permits.get()
        if not permits:
            return None
        me = id(self)
        for i, (owner, key, token) in enumerate(permits):
            if owner == me:
                _permits.set(permits[:i] + permits[i + 1 :])
                return key, token
        return None

    # -- operating ----------------------------------------------------------------------------

    def status(self, tool: str, agent_id: str | None = None) -> CircuitStatus:
        """The circuit of `tool` (and `agent_id` when per-agent); a never-failing tool is closed."""
        key = (tool, agent_id) if self.per_agent and agent_id is not None else (tool,)
        with self._lock:
            circuit = self._circuits.get(key) or _Circuit(key)
            return self._status(key, circuit, self._clock())

    def circuits(self) -> list[CircuitStatus]:
        """Every circuit that has seen a failure."""
        with self._lock:
            now = self._clock()
            return [self._status(k, c, now) for k, c in sorted(self._circuits.items())]

    def _status(self, key: tuple[str, ...], circuit: _Circuit, now: float) -> CircuitStatus:
        retry = None
        if circuit.state == "open":
            retry = max(0.0, circuit.opened_at + self.reset_timeout_s - now)
        return CircuitStatus(
            key, circuit.state, circuit.consecutive, circuit.times_opened, circuit.last_failure, retry
        )

    def trip(self, tool: str, agent_id: str | None = None, *, reason: str) -> None:
        """Open a circuit by hand (e.g. a dependency is known to be down)."""
        key = (tool, agent_id) if self.per_agent and agent_id is not None else (tool,)
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit(key))
            self._open(circuit, self._clock(), f"opened by hand: {reason}")

    def reset(self, tool: str, agent_id: str | None = None) -> None:
        """Close a circuit by hand and forget its failures."""
        key = (tool, agent_id) if self.per_agent and agent_id is not None else (tool,)
        with self._lock:
            self._circuits.pop(key, None)
            self._publish(key, None)


def _name(key: tuple[str, ...]) -> str:
    """A circuit's name in a shared store: ``["tool"]`` or ``["tool","agent"]`` (JSON: unambiguous)."""
    return json.dumps(list(key), separators=(",", ":"), ensure_ascii=False)


def _label(key: tuple[str, ...]) -> str:
    if len(key) == 1:
        return f"tool `{key[0]}`"
    return f"tool `{key[0]}` of agent `{key[1]}`"
