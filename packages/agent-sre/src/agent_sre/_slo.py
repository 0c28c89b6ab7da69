"""SLOs over governed calls: error budgets and multiwindow, multi-burn-rate alerts.

Definitions follow the Google SRE workbook ("Alerting on SLOs"):

* error budget = ``1 - target`` of the events in the SLO window may be bad;
  ``budget_remaining = 1 - bad / ((1 - target) * total)`` (1.0 with no events; negative when overspent);
* burn rate over a window = ``(bad / total in that window) / (1 - target)``: 1.0 spends exactly the
  budget over the SLO window;
* an alert fires while the burn rate is at or over its threshold in *both* its long and its short
  window, and resets as soon as either drops below. The defaults (`workbook_alerts`) are the
  workbook's table for a 30-day SLO: page at 14.4x over 1 h and 5 min (2 % of the budget in an
  hour), page at 6x over 6 h and 30 min (5 %), ticket at 1x over 3 d and 6 h (10 %); for
  another SLO window the thresholds are scaled so each still means that share of the budget.

Windows are rolling at the SLO's bucket resolution (by default 1/30 of the shortest alert
window, 10 s for the defaults): a window of w seconds is the ``ceil(w / resolution)`` buckets
that end with the current one. Alerts and exhaustion are evaluated when a bad event arrives,
at the first event of each new bucket, and whenever `SLO.evaluate` is called (call it on a
timer if events can stop arriving while an alert should reset).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from agent_sre._audit import AuditTarget, record
from agent_sre._series import BucketSeries
from agt_core import Enforcement

if TYPE_CHECKING:
    from agent_sre._kill_switch import KillSwitch
    from agent_sre._switch_store import Scope

__all__ = [
    "SLI",
    "SLO",
    "AlertEvent",
    "ApprovalWait",
    "BurnRateAlert",
    "CustomSLI",
    "LatencyBelow",
    "PolicyCompliance",
    "PullKillSwitch",
    "RefuseCalls",
    "RunCallback",
    "SLOStatus",
    "SuccessRate",
    "workbook_alerts",
]

logger = logging.getLogger("agent_sre")

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class BurnRateAlert:
    """Fire while the burn rate is >= `burn_rate` over both `long_window_s` and `short_window_s`."""

    severity: str
    burn_rate: float
    long_window_s: float
    short_window_s: float

    @property
    def name(self) -> str:
        """E.g. ``page-14.4x-1h``."""
        return f"{self.severity}-{self.burn_rate:g}x-{_duration(self.long_window_s)}"


def workbook_alerts(slo_window_s: float = 30 * DAY) -> tuple[BurnRateAlert, ...]:
    """The workbook's recommended alerts, scaled to the SLO window (14.4x, 6x, 1x for 30 days)."""
    table = (
        (0.02, HOUR, 5 * 60.0, "page"),
        (0.05, 6 * HOUR, 30 * 60.0, "page"),
        (0.10, 3 * DAY, 6 * HOUR, "ticket"),
    )
    return tuple(
        BurnRateAlert(severity, round(share * slo_window_s / long, 6), long, short)
        for share, long, short, severity in table
    )


# -- SLIs: what counts as a good event -----------------------------------------------------------


class SLI(Protocol):
    """Classifies governed calls as good (True), bad (False) or not counted (None)."""

    def from_decision(self, outcome: Enforcement) -> bool | None:
        """Classify a decision (before the tool runs)."""
        ...

    def from_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> bool | None:
        """Classify a completed call."""
        ...


class SuccessRate:
    """Good: the tool ran and returned; bad: it raised (a timeout included)."""

    def from_decision(self, outcome: Enforcement) -> bool | None:
        """Decisions are not counted."""
        return None

    def from_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> bool | None:
        """Good unless the tool raised."""
        return error is None


class LatencyBelow:
    """Good: the call finished within `threshold_s`. "99 % under 300 ms" is ``LatencyBelow(0.3)`` at 0.99."""

    def __init__(self, threshold_s: float) -> None:
        if threshold_s <= 0:
            raise ValueError("threshold_s must be > 0")
        self.threshold_s = threshold_s

    def from_decision(self, outcome: Enforcement) -> bool | None:
        """Decisions are not counted."""
        return None

    def from_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> bool | None:
        """Good when the call took at most the threshold."""
        return duration_s <= self.threshold_s


class PolicyCompliance:
    """Good: the policy let the call through; bad: the policy denied it (a violation attempt).

    Refusals by guards (kill switch, breakers) are not the agent's violations and are not counted.
    """

    def from_decision(self, outcome: Enforcement) -> bool | None:
        """Bad on a policy deny, good on any other decision, not counted for guard refusals."""
        decision = outcome.decision
        if decision.refused_by is not None and decision.refused_by.startswith(("guard:", "enricher:")):
            return None
        return decision.effect != "deny"

    def from_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> bool | None:
        """Completions are not counted."""
        return None


_check_started: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "agt_sre_check_started", default=None
)


class ApprovalWait:
    """Good: a call that needed approval got its answer within `threshold_s`. Other calls are not counted.

    The wait is measured from the guard step to the decision, so the SLO must be attached as a
    guard as well as an observer (`agent_sre.attach` does both). Without the guard step the
    observer cannot know when the wait began, and raises (reported on the ``agent_os`` logger).
    """

    def __init__(self, threshold_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if threshold_s <= 0:
            raise ValueError("threshold_s must be > 0")
        self.threshold_s = threshold_s
        self._clock = clock

    def on_check(self, request: Mapping[str, Any]) -> None:
        """Guard step: note when this call's pipeline began."""
        _check_started.set(self._clock())

    def from_decision(self, outcome: Enforcement) -> bool | None:
        """Good when the approval came within the threshold; None for calls without approval."""
        started = _check_started.get()
        _check_started.set(None)
        if outcome.approval is None:
            return None
        if started is None:
            raise RuntimeError(
                "ApprovalWait needs its SLO attached as a guard too: use agent_sre.attach(slo)"
            )
        return self._clock() - started <= self.threshold_s

    def from_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> bool | None:
        """Completions are not counted."""
        return None


class CustomSLI:
    """An SLI from your own functions, e.g. ``CustomSLI(completion=lambda o, r, e, d: r.get("ok"))``."""

    def __init__(
        self,
        *,
        decision: Callable[[Enforcement], bool | None] | None = None,
        completion: Callable[[Enforcement, Any, BaseException | None, float], bool | None] | None = None,
    ) -> None:
        if decision is None and completion is None:
            raise ValueError("give decision=, completion= or both")
        self._decision = decision
        self._completion = completion

    def from_decision(self, outcome: Enforcement) -> bool | None:
        """Your decision classifier, if any."""
        return None if self._decision is None else self._decision(outcome)

    def from_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> bool | None:
        """Your completion classifier, if any."""
        return None if self._completion is None else self._completion(outcome, result, error, duration_s)


# -- what happens when the budget runs out -------------------------------------------------------


class RefuseCalls(NamedTuple):
    """While the budget is exhausted, the SLO (registered as a guard) refuses these tools (None: all it covers)."""

    tools: frozenset[str] | None = None


class PullKillSwitch(NamedTuple):
    """Pull a kill switch when the budget is exhausted (released by a person, not automatically)."""

    kill_switch: KillSwitch
    scope: Scope
    target: str | None = None


class RunCallback(NamedTuple):
    """Call `fn(status)` when the budget is exhausted, e.g. to demote an agent's ring."""

    fn: Callable[[SLOStatus], None]


ExhaustionAction = RefuseCalls | PullKillSwitch | RunCallback


class SLOStatus(NamedTuple):
    """An SLO at one moment.

    Attributes:
        name: The SLO's name.
        target: The objective, e.g. 0.999.
        total: Events in the SLO window.
        bad: Bad events in the SLO window.
        sli: Good fraction in the window (1.0 with no events).
        budget_remaining: Fraction of the error budget left (negative when overspent).
        exhausted: Whether the budget is spent (``budget_remaining <= 0`` with events).
        burn_rates: Burn rate per alert name: (long window, short window).
        firing: Names of the alerts firing now.
    """

    name: str
    target: float
    total: int
    bad: int
    sli: float
    budget_remaining: float
    exhausted: bool
    burn_rates: Mapping[str, tuple[float, float]]
    firing: tuple[str, ...]


class AlertEvent(NamedTuple):
    """An alert started (``firing=True``) or stopped firing, with the burn rates that decided it."""

    slo: str
    alert: BurnRateAlert
    firing: bool
    at: float
    long_burn_rate: float
    short_burn_rate: float


class SLO:
    """A service level objective over governed calls: an `agt_core.Observer`, and a guard when enforcing.

    Args:
        name: The SLO's name (its guard name is ``slo:<name>``).
        sli: What counts as good (`SuccessRate`, `LatencyBelow`, `PolicyCompliance`, `CustomSLI`).
        target: The objective, in (0, 1), e.g. 0.999.
        window_s: The rolling SLO window (default 30 days).
        alerts: Burn-rate alerts (default `workbook_alerts(window_s)`).
        resolution_s: Bucket width (default: 1/30 of the shortest alert window, at least 1 s).
        tools: Only calls of these tools count (None: all).
        agents: Only calls of these agents count (None: all).
        on_alert: Called with each `AlertEvent` (start and stop).
        on_exhausted: What happens when the budget runs out: `RefuseCalls`, `PullKillSwitch`, `RunCallback`.
        audit: Where alert transitions and exhaustion are recorded: True (default) for the pipeline's
            default audit sink, an `agt_core.AuditSink`, or False.
        clock: Wall-clock seconds (injectable; tests drive a synthetic clock).
    """

    def __init__(
        self,
        name: str,
        *,
        sli: SLI,
        target: float,
        window_s: float = 30 * DAY,
        alerts: Sequence[BurnRateAlert] | None = None,
        resolution_s: float | None = None,
        tools: Iterable[str] | None = None,
        agents: Iterable[str] | None = None,
        on_alert: Callable[[AlertEvent], None] | None = None,
        on_exhausted: Sequence[ExhaustionAction] = (),
        audit: AuditTarget = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < target < 1:
            raise ValueError("target must be between 0 and 1, e.g. 0.999")
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self.slo_name = name
        self.name = f"slo:{name}"
        self.sli = sli
        self.target = target
        # The allowed bad fraction, rounded so that 1 - 0.99 is exactly 0.01 for the comparisons below.
        self._budget = round(1 - target, 12)
        self.window_s = window_s
        self.alerts = tuple(workbook_alerts(window_s) if alerts is None else alerts)
        for alert in self.alerts:
            if not 0 < alert.short_window_s <= alert.long_window_s or alert.burn_rate <= 0:
                raise ValueError(
                    f"alert `{alert.name}` needs 0 < short window <= long window and burn_rate > 0"
                )
        if resolution_s is None:
            shortest = min((a.short_window_s for a in self.alerts), default=window_s)
            resolution_s = max(1.0, shortest / 30)
        retention = max([window_s, *(a.long_window_s for a in self.alerts)])
        self._series = BucketSeries(resolution_s, retention)
        # Window widths in buckets: the SLO window, then each alert's long and short windows.
        self._spans = (
            self._series.buckets_in(window_s),
            *(self._series.buckets_in(w) for a in self.alerts for w in (a.long_window_s, a.short_window_s)),
        )
        # A small tolerance: 14.4x computed from integer counts must fire at exactly 14.4x.
        self._thresholds = tuple((a.name, a.burn_rate * (1 - 1e-9)) for a in self.alerts)
        self.tools = frozenset(tools) if tools is not None else None
        self.agents = frozenset(agents) if agents is not None else None
        self.on_alert = on_alert
        self.on_exhausted = tuple(on_exhausted)
        self._refuse = next((a for a in self.on_exhausted if isinstance(a, RefuseCalls)), None)
        self._on_check: Callable[[Mapping[str, Any]], None] | None = getattr(sli, "on_check", None)
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()
        self._firing: dict[str, bool] = {a.name: False for a in self.alerts}
        self._exhausted = False
        self._evaluated_bucket: int | None = None
        self.events: list[AlertEvent] = []

    @property
    def resolution_s(self) -> float:
        """The bucket width in seconds."""
        return self._series.resolution_s

    # -- recording --------------------------------------------------------------------------

    def record(self, good: bool, *, at: float | None = None, count: int = 1) -> None:
        """Count `count` events (a custom SLI's, or backfill); `at` defaults to the clock."""
        now = self._clock() if at is None else at
        with self._lock:
            self._series.add(now, not good, count)
            due = not good or self._series.bucket(now) != self._evaluated_bucket
        if due:
            self.evaluate(now)

    def _covers(self, request: Mapping[str, Any]) -> bool:
        if self.tools is not None:
            action = request.get("action")
            if not isinstance(action, Mapping) or action.get("tool") not in self.tools:
                return False
        if self.agents is not None:
            agent = request.get("agent")
            if not isinstance(agent, Mapping) or agent.get("id") not in self.agents:
                return False
        return True

    def on_decision(self, outcome: Enforcement) -> None:
        """Observer hook: count the decision if the SLI counts decisions."""
        if self._covers(outcome.request):
            good = self.sli.from_decision(outcome)
            if good is not None:
                self.record(good)

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Observer hook: count the completed call if the SLI counts completions."""
        if self._covers(outcome.request):
            good = self.sli.from_completion(outcome, result, error, duration_s)
            if good is not None:
                self.record(good)

    # -- guard ------------------------------------------------------------------------------

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Guard hook: with a `RefuseCalls` action, refuse covered calls while the budget is exhausted."""
        on_check = self._on_check
        if on_check is not None and self._covers(request):
            on_check(request)
        refuse = self._refuse
        if refuse is None or not self._covers(request):
            return None
        now = self._clock()
        if self._series.bucket(now) != self._evaluated_bucket:
            self.evaluate(now)
        if not self._exhausted:
            return None
        if refuse.tools is not None:
            action = request.get("action")
            if not isinstance(action, Mapping) or action.get("tool") not in refuse.tools:
                return None
        return (
            f"the error budget of SLO `{self.slo_name}` (target {self.target:g} over "
            f"{_duration(self.window_s)}) is exhausted; calls resume as the window rolls forward"
        )

    # -- evaluation -------------------------------------------------------------------------

    def burn_rate(self, window_s: float, *, now: float | None = None) -> float:
        """The burn rate over the last `window_s` seconds (0.0 with no events)."""
        now = self._clock() if now is None else now
        with self._lock:
            total, bad = self._series.window(now, window_s)
        return 0.0 if total == 0 else (bad / total) / self._budget

    def status(self, *, now: float | None = None) -> SLOStatus:
        """Compute the SLO's state at `now` (default: the clock), without running any action."""
        now = self._clock() if now is None else now
        with self._lock:
            return self._status(now)

    def _status(self, now: float) -> SLOStatus:
        budget = self._budget
        sums = self._series.windows(now, self._spans)
        total, bad = sums[0]
        remaining = 1.0 if total == 0 else round(1 - bad / (budget * total), 9)
        rates: dict[str, tuple[float, float]] = {}
        firing: list[str] = []
        for i, (name, threshold) in enumerate(self._thresholds):
            long_total, long_bad = sums[2 * i + 1]
            short_total, short_bad = sums[2 * i + 2]
            long_rate = 0.0 if long_total == 0 else long_bad / long_total / budget
            short_rate = 0.0 if short_total == 0 else short_bad / short_total / budget
            rates[name] = (long_rate, short_rate)
            if long_rate >= threshold and short_rate >= threshold:
                firing.append(name)
        return SLOStatus(
            self.slo_name,
            self.target,
            total,
            bad,
            1.0 if total == 0 else 1 - bad / total,
            remaining,
            total > 0 and remaining <= 0,
            rates,
            tuple(firing),
        )

    def evaluate(self, now: float | None = None) -> SLOStatus:
        """Compute the state, fire or reset alerts, and run the exhaustion actions on a transition.

        Raises:
            Exception: the first error of an exhaustion action or callback, after all have run.
        """
        now = self._clock() if now is None else now
        transitions: list[AlertEvent] = []
        with self._lock:
            status = self._status(now)
            self._evaluated_bucket = self._series.bucket(now)
            for alert, (name, _) in zip(self.alerts, self._thresholds, strict=True):
                firing = name in status.firing
                if firing != self._firing[name]:
                    self._firing[name] = firing
                    long_rate, short_rate = status.burn_rates[name]
                    transitions.append(AlertEvent(self.slo_name, alert, firing, now, long_rate, short_rate))
            newly_exhausted = status.exhausted and not self._exhausted
            restored = self._exhausted and not status.exhausted
            self._exhausted = status.exhausted
            self.events.extend(transitions)
        errors: list[Exception] = []
        for event in transitions:
            verb = "firing" if event.firing else "resolved"
            self._record_audit(
                "slo.alert",
                {"alert": event.alert.name, "firing": event.firing, "long_burn_rate": round(event.long_burn_rate, 6),
                 "short_burn_rate": round(event.short_burn_rate, 6)},
                f"SLO `{self.slo_name}` alert `{event.alert.name}` {verb}",
                errors,
            )  # fmt: skip
            callback = self.on_alert
            if callback is not None:
                self._run(functools.partial(callback, event), errors)
        if newly_exhausted:
            self._exhaust(status, errors)
        elif restored:
            self._record_audit(
                "slo.budget_restored", {"budget_remaining": status.budget_remaining},
                f"SLO `{self.slo_name}` has error budget again", errors,
            )  # fmt: skip
        if errors:
            raise errors[0]
        return status

    def _exhaust(self, status: SLOStatus, errors: list[Exception]) -> None:
        message = (
            f"error budget of SLO `{self.slo_name}` exhausted: {status.bad} bad of {status.total} "
            f"events over {_duration(self.window_s)} (target {self.target:g})"
        )
        logger.warning("%s", message)
        actions = [type(a).__name__ for a in self.on_exhausted]
        self._record_audit(
            "slo.budget_exhausted",
            {"bad": status.bad, "total": status.total, "actions": actions},
            message,
            errors,
        )
        for action in self.on_exhausted:
            if isinstance(action, PullKillSwitch):
                pull = functools.partial(
                    action.kill_switch.pull,
                    action.scope,
                    action.target,
                    by=f"agent-sre:{self.name}",
                    reason=message,
                )
                self._run(pull, errors)
            elif isinstance(action, RunCallback):
                self._run(functools.partial(action.fn, status), errors)

    def _run(self, fn: Callable[[], object], errors: list[Exception]) -> None:
        try:
            fn()
        except Exception as exc:
            logger.exception("SLO `%s`: an action failed", self.slo_name)
            errors.append(exc)

    def _record_audit(self, action: str, args: dict[str, Any], message: str, errors: list[Exception]) -> None:
        if self._audit is False or self._audit is None:
            return
        self._run(
            functools.partial(
                record, self._audit, action, f"agent-sre:{self.name}", {"slo": self.slo_name, **args}, message
            ),
            errors,
        )


def _duration(seconds: float) -> str:
    for unit, size in (("d", DAY), ("h", HOUR), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
