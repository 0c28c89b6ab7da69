"""Rate limits: a rule's ``limit: "N/period"``, enforced per agent and rule.

A sliding log: for each (agent, policy, rule) we keep the times of the calls that counted, at
most N of them, so "N per period" holds over *every* window of that length, not just aligned
ones. Memory is O(N) per active key; keys whose window has emptied are pruned.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from agt_core import parse_limit

__all__ = ["RateLimiter"]

_PRUNE_EVERY = 4096


class RateLimiter:
    """Counts calls per (agent, policy, rule) and refuses the one that would exceed a limit.

    Thread-safe: checking every limit of a call and recording it happen under one lock, so
    concurrent calls can never together exceed a limit.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str, str], deque[float]] = {}
        self._periods: dict[tuple[str, str, str], float] = {}
        self._specs: dict[str, tuple[int, float]] = {}
        self._ops = 0

    def acquire(
        self, agent_id: str, rules: Iterable[tuple[str, str, str]]
    ) -> tuple[str, str, str, float] | None:
        """Record one call against every ``(policy, rule, limit)`` in `rules`, if all have room.

        Returns:
            None when the call was recorded; otherwise ``(policy, rule, limit, retry_after_seconds)``
            for the first exhausted limit, and nothing is recorded.
        """
        specs = []
        for policy, rule, limit in rules:
            spec = self._specs.get(limit)
            if spec is None:
                spec = parse_limit(limit)
                self._specs[limit] = spec
            specs.append(((agent_id, policy, rule), limit, spec))
        with self._lock:
            now = self._clock()
            for key, limit, (count, period) in specs:
                window = self._windows.get(key)
                if window is None:
                    continue
                horizon = now - period
                while window and window[0] <= horizon:
                    window.popleft()
                if len(window) >= count:
                    return key[1], key[2], limit, window[0] + period - now
            for key, _, spec in specs:
                window = self._windows.get(key)
                if window is None:
                    window = self._windows[key] = deque()
                    self._periods[key] = spec[1]
                window.append(now)
            self._ops += 1
            if self._ops % _PRUNE_EVERY == 0:
                self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        """Forget keys with no call inside their window, so memory follows active agents only."""
        stale = [k for k, w in self._windows.items() if not w or w[-1] <= now - self._periods[k]]
        for key in stale:
            del self._windows[key]
            del self._periods[key]
