"""Rogue-agent detection (OWASP ASI10 Rogue Agents): per-agent baselines from the decision stream.

Each agent's calls are counted in fixed windows (``window_s``). Closed windows form its baseline:
how many calls a window holds, which tools it uses and how often, which tools were denied. The
window in progress is compared against that baseline on every decision, with five signals:

* **rate**: robust z-score of the call count, ``0.6745 * (x - median) / MAD``, with the MAD
  floored at what Poisson noise alone would give (``0.6745 * sqrt(median)``) so a perfectly
  regular baseline does not turn one extra call into an alarm;
* **entropy**: the change, in bits, of the Shannon entropy of the tool distribution (hammering
  one tool lowers it; sweeping through many raises it);
* **novelty**: the share of this window's calls that go to tools the agent never used;
* **denials**: policy denials in this window;
* **probing**: distinct tools in this window that the agent never used or was denied before.

A signal over its threshold contributes ``observed / threshold`` (capped at 3) to the score; the
agent is flagged rogue when the score reaches ``threshold`` (2.0 by default: two signals, or
one far over its limit). Distribution signals need ``min_baseline_windows`` closed windows and
``min_calls`` calls in the current one. A window in which the agent was flagged is not learned,
so a rogue agent cannot teach the detector its new normal.

When an agent is flagged, the detector pulls its kill switch (if given one) and calls
``on_rogue`` (e.g. to lower its trust in agent-mesh), once, until `RogueAgentDetector.clear`.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from agt_core import Enforcement

if TYPE_CHECKING:
    from agent_sre._kill_switch import KillSwitch

__all__ = ["RogueAgentDetector", "RogueAssessment"]

_CAP = 3.0


class RogueAssessment(NamedTuple):
    """How rogue an agent looks now.

    Attributes:
        agent_id: The agent.
        score: Sum of the signal strengths (each capped at 3).
        rogue: Whether the score reached the detector's threshold.
        reasons: One line per signal over its threshold.
        signals: Strength per signal name (only those over their threshold).
    """

    agent_id: str
    score: float
    rogue: bool
    reasons: tuple[str, ...]
    signals: Mapping[str, float]


@dataclass
class _Profile:
    window: int = -1
    calls: int = 0
    tools: Counter[str] = field(default_factory=Counter)
    denials: int = 0
    denied_tools: set[str] = field(default_factory=set)
    flagged_in_window: bool = False
    history: deque[int] = field(default_factory=deque)
    baseline_tools: Counter[str] = field(default_factory=Counter)
    known: set[str] = field(default_factory=set)
    denied_before: set[str] = field(default_factory=set)
    tripped: bool = False
    # Baseline statistics, recomputed when a window closes (not on every call).
    median: float = 0.0
    spread: float = 1.0
    base_entropy: float = 0.0


class RogueAgentDetector:
    """Scores each agent's behaviour against its own baseline (an `agt_core.Observer`).

    Args:
        window_s: Width of one counting window.
        baseline_windows: How many closed windows form the baseline.
        min_baseline_windows: Closed windows needed before rate and distribution signals apply.
        rate_z: Robust z-score threshold of the call count.
        entropy_bits: Threshold of the entropy change, in bits.
        novelty: Threshold of the share of calls to never-used tools.
        denials: Threshold of policy denials in one window.
        probes: Threshold of distinct never-used or previously denied tools in one window.
        min_calls: Calls needed in the window before entropy and novelty apply.
        threshold: Score at which an agent is flagged rogue.
        kill_switch: Pulled (scope ``agent``) when an agent is flagged.
        on_rogue: Called with the `RogueAssessment` when an agent is flagged.
        clock: Seconds (injectable for tests; `replay` uses the records' timestamps).
    """

    name = "rogue-detector"

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        baseline_windows: int = 30,
        min_baseline_windows: int = 5,
        rate_z: float = 5.0,
        entropy_bits: float = 1.0,
        novelty: float = 0.35,
        denials: int = 5,
        probes: int = 3,
        min_calls: int = 10,
        threshold: float = 2.0,
        kill_switch: KillSwitch | None = None,
        on_rogue: Callable[[RogueAssessment], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window_s <= 0 or baseline_windows < 1 or not 1 <= min_baseline_windows <= baseline_windows:
            raise ValueError("need window_s > 0 and 1 <= min_baseline_windows <= baseline_windows")
        if min(rate_z, entropy_bits, novelty, denials, probes, min_calls, threshold) <= 0:
            raise ValueError("thresholds must be > 0")
        self.window_s = window_s
        self.baseline_windows = baseline_windows
        self.min_baseline_windows = min_baseline_windows
        self.rate_z = rate_z
        self.entropy_bits = entropy_bits
        self.novelty = novelty
        self.denials = denials
        self.probes = probes
        self.min_calls = min_calls
        self.threshold = threshold
        self.kill_switch = kill_switch
        self.on_rogue = on_rogue
        self._clock = clock
        self._lock = threading.Lock()
        self._profiles: dict[str, _Profile] = {}

    # -- input --------------------------------------------------------------------------------

    def on_decision(self, outcome: Enforcement) -> None:
        """Observer hook: count the call. Refusals by guards (ours included) are not the agent's doing."""
        request = outcome.request
        if request.get("stage", "pre_tool") != "pre_tool":
            return
        if not _agents_doing(outcome.decision.refused_by):
            return
        agent = request.get("agent")
        action = request.get("action")
        if not isinstance(agent, Mapping) or not isinstance(action, Mapping):
            return
        # The action type, not the tool: one tool taking an `action` argument offers many actions.
        kind = action.get("type") or action.get("tool")
        self.observe(str(agent.get("id")), str(kind), denied=not outcome.allowed)

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Completions carry no extra signal here."""

    def replay(self, records: Iterable[Any]) -> list[RogueAssessment]:
        """Feed audit records (`agt_core.AuditRecord`) in order, timed by their timestamps; return the flags raised."""
        flagged: list[RogueAssessment] = []
        for record in records:
            request = record.request
            refused_by = record.decision.refused_by
            if request.get("stage", "pre_tool") != "pre_tool" or not _agents_doing(refused_by):
                continue
            at = datetime.fromisoformat(record.timestamp.replace("Z", "+00:00")).timestamp()
            tool = request["action"].get("type") or request["action"]["tool"]
            allowed = record.decision.allowed or (record.approval is not None and record.approval.approved)
            result = self.observe(str(request["agent"]["id"]), str(tool), denied=not allowed, at=at)
            if result.rogue:
                flagged.append(result)
        return flagged

    def observe(self, agent_id: str, tool: str, *, denied: bool, at: float | None = None) -> RogueAssessment:
        """Count one call of `agent_id` to `tool` and return the agent's assessment after it."""
        now = self._clock() if at is None else at
        with self._lock:
            profile = self._profiles.get(agent_id)
            if profile is None:
                profile = self._profiles[agent_id] = _Profile(history=deque(maxlen=self.baseline_windows))
            self._roll(profile, now)
            profile.calls += 1
            profile.tools[tool] += 1
            if denied:
                profile.denials += 1
                profile.denied_tools.add(tool)
            assessment = self._assess(agent_id, profile)
            trip = assessment.rogue and not profile.tripped
            if assessment.rogue:
                profile.flagged_in_window = True
                profile.tripped = True
        if trip:
            self._trip(assessment)
        return assessment

    def _roll(self, profile: _Profile, now: float) -> None:
        window = math.floor(now / self.window_s)
        if profile.window == -1:
            profile.window = window
            return
        if window <= profile.window:
            return
        if not profile.flagged_in_window:
            profile.history.append(profile.calls)
            profile.baseline_tools.update(profile.tools)
            profile.known.update(t for t in profile.tools if t not in profile.denied_tools)
            # Idle windows between then and now count as windows with no calls.
            for _ in range(min(window - profile.window - 1, self.baseline_windows)):
                profile.history.append(0)
            if profile.history:
                median = statistics.median(profile.history)
                mad = statistics.median(abs(x - median) for x in profile.history)
                profile.median = median
                profile.spread = max(mad, 0.6745 * math.sqrt(max(median, 1.0)))
                profile.base_entropy = _entropy(profile.baseline_tools)
        profile.denied_before |= profile.denied_tools
        profile.window = window
        profile.calls = 0
        profile.tools = Counter()
        profile.denials = 0
        profile.denied_tools = set()
        profile.flagged_in_window = False

    # -- scoring ------------------------------------------------------------------------------

    def assess(self, agent_id: str) -> RogueAssessment:
        """The agent's assessment for its current window (an unknown agent scores 0)."""
        with self._lock:
            profile = self._profiles.get(agent_id)
            if profile is None:
                return RogueAssessment(agent_id, 0.0, False, (), {})
            return self._assess(agent_id, profile)

    def _assess(self, agent_id: str, p: _Profile) -> RogueAssessment:
        signals: dict[str, float] = {}
        reasons: list[str] = []

        def hit(name: str, observed: float, limit: float, reason: str) -> None:
            if observed >= limit:
                signals[name] = min(observed / limit, _CAP)
                reasons.append(reason)

        hit("denials", p.denials, self.denials, f"{p.denials} policy denials in this window")
        established = len(p.history) >= self.min_baseline_windows
        if established:
            median = p.median
            z = 0.6745 * (p.calls - median) / p.spread
            hit(
                "rate",
                z,
                self.rate_z,
                f"call rate z-score {z:.1f} ({p.calls} calls vs a median of {median:g})",
            )
            unseen = [t for t in p.tools if t not in p.known]
            probed = [t for t in p.tools if t not in p.known or t in p.denied_before]
            hit(
                "probing",
                len(probed),
                self.probes,
                f"{len(probed)} never-used or previously denied tools: {', '.join(sorted(probed)[:5])}",
            )
            if p.calls >= self.min_calls:
                share = sum(p.tools[t] for t in unseen) / p.calls
                hit("novelty", share, self.novelty, f"{share:.0%} of calls go to tools never used before")
                delta = abs(_entropy(p.tools) - p.base_entropy)
                hit("entropy", delta, self.entropy_bits, f"tool-choice entropy changed by {delta:.2f} bits")
        score = round(sum(signals.values()), 6)
        return RogueAssessment(agent_id, score, score >= self.threshold, tuple(reasons), signals)

    def _trip(self, assessment: RogueAssessment) -> None:
        reason = f"rogue-agent score {assessment.score:.2f}: " + "; ".join(assessment.reasons)
        errors: list[Exception] = []
        if self.kill_switch is not None:
            try:
                self.kill_switch.pull(
                    "agent", assessment.agent_id, by=f"agent-sre:{self.name}", reason=reason
                )
            except Exception as exc:
                errors.append(exc)
        if self.on_rogue is not None:
            try:
                self.on_rogue(assessment)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def flagged(self) -> list[str]:
        """Agents flagged rogue (and not cleared)."""
        with self._lock:
            return sorted(a for a, p in self._profiles.items() if p.tripped)

    def clear(self, agent_id: str) -> None:
        """Forget that `agent_id` was flagged (its baseline stays); it can be flagged again."""
        with self._lock:
            profile = self._profiles.get(agent_id)
            if profile is not None:
                profile.tripped = False


def _agents_doing(refused_by: str | None) -> bool:
    """Whether a decision reflects the agent's behaviour (policy decisions and approvals do).

    Guard refusals (our own kill switch included), enricher and request failures do not.
    """
    return refused_by is None or refused_by.startswith("kernel:approval")


def _entropy(counts: Counter[str]) -> float:
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return -sum((c / total) * math.log2(c / total) for c in counts.values() if c)
