"""Latency percentiles of governed tools over a rolling window, in bounded memory.

Durations go into log-spaced bins (``bins_per_decade`` per factor of ten, 1 µs to ~28 h), kept per
time bucket of the window. A percentile is the upper edge of the bin that holds it, so it is never
below the true value and at most one bin width above it (12 % with the default 20 bins per
decade). Memory is bins x buckets per tool, whatever the call rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from agt_core import Enforcement

__all__ = ["LatencyPercentiles"]

_MIN_S = 1e-6


class LatencyPercentiles:
    """Rolling latency percentiles per tool (an `agt_core.Observer`).

    Args:
        window_s: The rolling window.
        buckets: How many time buckets the window is cut into (it rolls one bucket at a time).
        bins_per_decade: Histogram resolution; the relative error bound is ``10 ** (1 / bins_per_decade) - 1``.
        tools: Only these tools (None: all).
        clock: Seconds (injectable).
    """

    def __init__(
        self,
        *,
        window_s: float = 300.0,
        buckets: int = 30,
        bins_per_decade: int = 20,
        tools: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0 or buckets < 1 or bins_per_decade < 1:
            raise ValueError("window_s must be > 0, buckets and bins_per_decade >= 1")
        self.window_s = window_s
        self.bucket_s = window_s / buckets
        self.buckets = buckets
        self.bins_per_decade = bins_per_decade
        self._bins = 11 * bins_per_decade  # 1 µs .. 1e5 s; slower calls share the last bin
        self.tools = frozenset(tools) if tools is not None else None
        self._clock = clock
        self._lock = threading.Lock()
        # tool -> deque of (bucket number, counts per bin)
        self._series: dict[str, deque[tuple[int, list[int]]]] = {}

    @property
    def relative_error(self) -> float:
        """How far above the true value a reported percentile can be, as a fraction."""
        return 10 ** (1 / self.bins_per_decade) - 1

    def _bin(self, seconds: float) -> int:
        if seconds <= _MIN_S:
            return 0
        return min(self._bins - 1, math.ceil(math.log10(seconds / _MIN_S) * self.bins_per_decade))

    def _edge(self, index: int) -> float:
        return _MIN_S * 10 ** (index / self.bins_per_decade)

    def record(self, tool: str, seconds: float, *, at: float | None = None) -> None:
        """Count one call of `tool` that took `seconds`."""
        now = self._clock() if at is None else at
        bucket = math.floor(now / self.bucket_s)
        with self._lock:
            series = self._series.setdefault(tool, deque())
            if not series or series[-1][0] < bucket:
                series.append((bucket, [0] * self._bins))
                while series and series[0][0] <= bucket - self.buckets:
                    series.popleft()
            series[-1][1][self._bin(seconds)] += 1

    def on_decision(self, outcome: Enforcement) -> None:
        """Decisions carry no latency."""

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Record the call's duration under its tool."""
        action = outcome.request.get("action") or {}
        tool = str(action.get("tool") or action.get("type"))
        if self.tools is None or tool in self.tools:
            self.record(tool, duration_s)

    def percentiles(
        self, *quantiles: float, tool: str | None = None, now: float | None = None
    ) -> list[float | None]:
        """The given quantiles (e.g. ``0.5, 0.99``) in seconds over the window; None when there were no calls.

        Args:
            quantiles: Each in (0, 1].
            tool: One tool, or None for every tool together.
            now: The end of the window (default: the clock).
        """
        if not all(0 < q <= 1 for q in quantiles):
            raise ValueError("quantiles must be in (0, 1]")
        now = self._clock() if now is None else now
        oldest = math.floor(now / self.bucket_s) - self.buckets + 1
        counts = [0] * self._bins
        with self._lock:
            series = [self._series.get(tool, deque())] if tool is not None else list(self._series.values())
            for buckets in series:
                for number, bins in buckets:
                    if number >= oldest:
                        for i, c in enumerate(bins):
                            if c:
                                counts[i] += c
        total = sum(counts)
        if total == 0:
            return [None for _ in quantiles]
        out: list[float | None] = []
        for q in quantiles:
            rank = math.ceil(q * total)
            seen = 0
            for i, c in enumerate(counts):
                seen += c
                if seen >= rank:
                    out.append(self._edge(i))
                    break
        return out
