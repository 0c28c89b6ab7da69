"""Chaos experiments: inject faults into governed tools and report how the system held up.

An experiment wraps tool functions (`ChaosExperiment.inject`) and, while it runs, replaces some
of their calls with a fault: added latency, an exception, a timeout, a corrupted or oversized
result, or a dropped call (the tool never runs). Which calls is its blast radius: which tools,
which agents, and what fraction of their calls. Registered as a guard too (``attach``), it sees
each call's agent, so it can target agents; it never refuses a call.

Runs are deterministic for a seed: the n-th call considered gets the same fault in every run
(with concurrent callers, "n-th" follows the order in which calls reach the experiment). An
experiment stops injecting when its duration is over or an abort condition holds (an SLO's
error budget falling below a floor), and `ChaosExperiment.report` says what was injected,
whether breakers opened, and whether SLO budgets held.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from agent_sre._breaker import CircuitBreaker, CircuitStatus
from agent_sre._slo import SLO

__all__ = [
    "AbortWhen",
    "ChaosExperiment",
    "CorruptResult",
    "DropCall",
    "Fault",
    "Latency",
    "OversizedResult",
    "RaiseError",
    "ResilienceReport",
    "Timeout",
]


@dataclass(frozen=True)
class Latency:
    """Delay the call by `seconds`, then run it."""

    seconds: float
    weight: float = 1.0
    kind = "latency"


@dataclass(frozen=True)
class RaiseError:
    """Raise `error(message)` instead of running the tool."""

    error: type[BaseException] = ConnectionError
    message: str = "chaos: injected failure"
    weight: float = 1.0
    kind = "exception"


@dataclass(frozen=True)
class Timeout:
    """Wait `after_s`, then raise `TimeoutError` instead of returning."""

    after_s: float
    weight: float = 1.0
    kind = "timeout"


@dataclass(frozen=True)
class CorruptResult:
    """Run the tool and return a corrupted result: `transform(result)`, or by default a garbled copy.

    The default garbling is deterministic for the experiment's seed: strings and bytes get
    characters replaced, mappings lose a key, lists lose an element, anything else becomes None.
    """

    transform: Callable[[Any], Any] | None = None
    weight: float = 1.0
    kind = "corrupt"


@dataclass(frozen=True)
class OversizedResult:
    """Run the tool and return a string of `size` characters instead of its result."""

    size: int = 16 * 1024 * 1024
    weight: float = 1.0
    kind = "oversized"


@dataclass(frozen=True)
class DropCall:
    """Do not run the tool at all; the call returns None (a lost request)."""

    weight: float = 1.0
    kind = "drop"


Fault = Latency | RaiseError | Timeout | CorruptResult | OversizedResult | DropCall


class AbortWhen(NamedTuple):
    """Abort the experiment when the SLO's remaining error budget falls below `budget_below`."""

    slo: SLO
    budget_below: float = 0.0


class ResilienceReport(NamedTuple):
    """What an experiment did and how the system held up.

    Attributes:
        experiment: The experiment's name.
        seed: Its seed (rerun with it to get the same faults).
        calls_seen: Calls inside the blast radius while it ran.
        injected: Faults injected, by kind.
        aborted: Why it stopped early, or None.
        breakers: Per circuit: its status now and how often it opened during the run.
        slos: Per SLO name: remaining budget at the start, at the end, and whether it held (not exhausted).
        held: True when the run was not aborted and every SLO held.
    """

    experiment: str
    seed: int
    calls_seen: int
    injected: Mapping[str, int]
    aborted: str | None
    breakers: Sequence[tuple[CircuitStatus, int]]
    slos: Mapping[str, tuple[float, float, bool]]
    held: bool


_UNDECIDED = object()
_decided: contextvars.ContextVar[tuple[int, object]] = contextvars.ContextVar(
    "agt_sre_chaos_fault", default=(0, _UNDECIDED)
)


class ChaosExperiment:
    """Inject faults into governed tools, within a blast radius, for a bounded time.

    Args:
        name: The experiment's name (its guard name is ``chaos:<name>``).
        faults: What to inject; each injected call gets one, chosen by the faults' weights.
        tools: Only these tools (None: every wrapped tool).
        agents: Only these agents (needs the experiment attached as a guard to see agents).
        fraction: Share of the calls in the radius that get a fault.
        duration_s: Stop injecting this long after `start` (None: until `stop`).
        seed: Seed of the experiment's random choices.
        abort_when: Stop injecting as soon as one holds.
        breakers: Breakers to report on.
        slos: SLOs to report on.
        clock: Monotonic seconds (injectable).
        sleep: How latency and timeouts wait in sync tools (injectable).
        async_sleep: How they wait in async tools (default `asyncio.sleep`).
    """

    def __init__(
        self,
        name: str,
        faults: Sequence[Fault],
        *,
        tools: Sequence[str] | None = None,
        agents: Sequence[str] | None = None,
        fraction: float = 1.0,
        duration_s: float | None = None,
        seed: int = 0,
        abort_when: Sequence[AbortWhen] = (),
        breakers: Sequence[CircuitBreaker] = (),
        slos: Sequence[SLO] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if not faults:
            raise ValueError("an experiment needs at least one fault")
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        if any(f.weight <= 0 for f in faults):
            raise ValueError("fault weights must be > 0")
        self.name = f"chaos:{name}"
        self.experiment = name
        self.faults = tuple(faults)
        self.tools = frozenset(tools) if tools is not None else None
        self.agents = frozenset(agents) if agents is not None else None
        self.fraction = fraction
        self.duration_s = duration_s
        self.seed = seed
        self.abort_when = tuple(abort_when)
        self.breakers = tuple(breakers)
        self.slos = tuple(slos)
        self._clock = clock
        self._sleep = sleep
        if async_sleep is None:
            import asyncio

            async_sleep = asyncio.sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible fault choice, not secrecy
        self._running = False
        self._started_at = 0.0
        self.calls_seen = 0
        self.injected: Counter[str] = Counter()
        self.aborted: str | None = None
        self._opened_at_start: dict[tuple[int, tuple[str, ...]], int] = {}
        self._budget_at_start: dict[str, float] = {}

    # -- running ------------------------------------------------------------------------------

    def start(self) -> ChaosExperiment:
        """Start injecting (resets the seed, counts and abort state) and snapshot breakers and SLOs."""
        with self._lock:
            self._rng = random.Random(self.seed)  # noqa: S311 - reproducible, not secret
            self.calls_seen = 0
            self.injected = Counter()
            self.aborted = None
            self._opened_at_start = {
                (i, s.key): s.times_opened for i, b in enumerate(self.breakers) for s in b.circuits()
            }
            self._budget_at_start = {slo.slo_name: slo.status().budget_remaining for slo in self.slos}
            self._started_at = self._clock()
            self._running = True
        return self

    def stop(self) -> None:
        """Stop injecting."""
        with self._lock:
            self._running = False

    def __enter__(self) -> ChaosExperiment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- choosing faults ----------------------------------------------------------------------

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Guard hook: decide this call's fault knowing its agent; never refuses."""
        if request.get("stage", "pre_tool") != "pre_tool":
            return None
        action = request.get("action")
        agent = request.get("agent")
        tool = action.get("tool") if isinstance(action, Mapping) else None
        agent_id = agent.get("id") if isinstance(agent, Mapping) else None
        _decided.set((id(self), self._choose(tool, agent_id, agent_known=True)))
        return None

    def on_decision(self, outcome: Any) -> None:
        """Observer hook: a refused call never reaches the tool, so its decided fault is dropped."""
        if not outcome.allowed and _decided.get()[0] == id(self):
            _decided.set((0, _UNDECIDED))

    def on_completion(
        self, outcome: Any, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Nothing to do: the wrapper already applied the fault."""

    def _choose(self, tool: object, agent_id: object, *, agent_known: bool) -> Fault | None:
        with self._lock:
            if not self._running:
                return None
            if self.duration_s is not None and self._clock() - self._started_at >= self.duration_s:
                self._running = False
                return None
            if self.tools is not None and tool not in self.tools:
                return None
            if self.agents is not None and (not agent_known or agent_id not in self.agents):
                return None
            for condition in self.abort_when:
                remaining = condition.slo.status().budget_remaining
                if remaining < condition.budget_below:
                    self.aborted = f"SLO `{condition.slo.slo_name}` budget {remaining:.3f} fell below {condition.budget_below:g}"
                    self._running = False
                    return None
            self.calls_seen += 1
            if self._rng.random() >= self.fraction:
                return None
            return self._rng.choices(self.faults, [f.weight for f in self.faults])[0]

    def _fault_for(self, tool: str) -> Fault | None:
        owner, decided = _decided.get()
        if owner == id(self) and decided is not _UNDECIDED:
            _decided.set((0, _UNDECIDED))
            fault: Fault | None = decided  # type: ignore[assignment]
        else:
            # Not attached as a guard: decide here, by tool only.
            fault = self._choose(tool, None, agent_known=False)
        if fault is not None:
            with self._lock:
                self.injected[fault.kind] += 1  # counted when applied: a refused call got nothing
        return fault

    # -- wrapping tools ----------------------------------------------------------------------

    def inject(self, fn: Callable[..., Any], *, tool: str | None = None) -> Callable[..., Any]:
        """Wrap `fn` (sync or async) so that the experiment can replace its calls with faults.

        Govern the wrapped function (``govern(experiment.inject(fn), ...)``) so that breakers,
        SLOs and telemetry see the injected faults as the tool's own. `tool` defaults to the
        function's name and must match the governed tool name for ``tools=`` to apply.
        """
        name: str = tool or getattr(fn, "__name__", None) or type(fn).__name__
        # An object with `async def __call__` is awaited like an async function (as govern() does).
        if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):  # noqa: B004

            @functools.wraps(fn)
            async def chaotic_async(*args: Any, **kwargs: Any) -> Any:
                fault = self._fault_for(name)
                if fault is None:
                    return await fn(*args, **kwargs)
                if isinstance(fault, (Latency, Timeout)):
                    await self._async_sleep(fault.seconds if isinstance(fault, Latency) else fault.after_s)
                if isinstance(fault, DropCall):
                    return None
                before = self._before(fault)
                if before is not None:
                    raise before
                return self._after(fault, await fn(*args, **kwargs))

            return chaotic_async

        @functools.wraps(fn)
        def chaotic(*args: Any, **kwargs: Any) -> Any:
            fault = self._fault_for(name)
            if fault is None:
                return fn(*args, **kwargs)
            if isinstance(fault, (Latency, Timeout)):
                self._sleep(fault.seconds if isinstance(fault, Latency) else fault.after_s)
            if isinstance(fault, DropCall):
                return None
            before = self._before(fault)
            if before is not None:
                raise before
            return self._after(fault, fn(*args, **kwargs))

        return chaotic

    def _before(self, fault: Fault) -> BaseException | None:
        if isinstance(fault, RaiseError):
            return fault.error(fault.message)
        if isinstance(fault, Timeout):
            return TimeoutError(f"chaos: call timed out after {fault.after_s:g} s")
        return None

    def _after(self, fault: Fault, result: Any) -> Any:
        if isinstance(fault, OversizedResult):
            return "x" * fault.size
        if isinstance(fault, CorruptResult):
            if fault.transform is not None:
                return fault.transform(result)
            with self._lock:
                return _garble(result, self._rng)
        return result

    # -- reporting ----------------------------------------------------------------------------

    def report(self) -> ResilienceReport:
        """What was injected, whether breakers opened, and whether SLO budgets held."""
        with self._lock:
            breakers = [
                (status, status.times_opened - self._opened_at_start.get((i, status.key), 0))
                for i, breaker in enumerate(self.breakers)
                for status in breaker.circuits()
            ]
            slos: dict[str, tuple[float, float, bool]] = {}
            for slo in self.slos:
                status = slo.status()
                start = self._budget_at_start.get(slo.slo_name, 1.0)
                slos[slo.slo_name] = (start, status.budget_remaining, not status.exhausted)
            held = self.aborted is None and all(h for _, _, h in slos.values())
            return ResilienceReport(
                self.experiment,
                self.seed,
                self.calls_seen,
                dict(self.injected),
                self.aborted,
                breakers,
                slos,
                held,
            )


def _garble(value: Any, rng: random.Random) -> Any:
    if isinstance(value, str) and value:
        chars = list(value)
        for i in rng.sample(range(len(chars)), max(1, len(chars) // 4)):
            chars[i] = "\ufffd"
        return "".join(chars)
    if isinstance(value, bytes) and value:
        data = bytearray(value)
        for i in rng.sample(range(len(data)), max(1, len(data) // 4)):
            data[i] ^= 0xFF
        return bytes(data)
    if isinstance(value, Mapping) and value:
        keys = list(value)
        drop = keys[rng.randrange(len(keys))]
        return {k: v for k, v in value.items() if k != drop}
    if isinstance(value, list) and value:
        copy = list(value)
        del copy[rng.randrange(len(copy))]
        return copy
    return None
