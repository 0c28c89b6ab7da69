"""Event counts in fixed time buckets, with running totals so that any window sums in O(log n).

An SLO over 30 days at 10-second resolution holds at most 259,200 buckets however many events
arrive; recording an event is O(1) and the sum over any window is two binary searches.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

__all__ = ["BucketSeries"]


class BucketSeries:
    """Total and bad event counts per bucket of ``resolution_s`` seconds, kept for ``retention_s``.

    Not thread-safe: the owner locks.
    """

    __slots__ = (
        "_bad",
        "_base_bad",
        "_base_total",
        "_head",
        "_index",
        "_total",
        "resolution_s",
        "retention_s",
    )

    def __init__(self, resolution_s: float, retention_s: float) -> None:
        if resolution_s <= 0 or retention_s < resolution_s:
            raise ValueError("resolution_s must be > 0 and retention_s at least one bucket")
        self.resolution_s = resolution_s
        self.retention_s = retention_s
        self._index: list[int] = []  # bucket numbers, increasing
        self._total: list[int] = []  # cumulative totals up to and including each bucket
        self._bad: list[int] = []
        self._head = 0  # first live entry; entries before it were pruned
        self._base_total = 0  # cumulative counts just before the first live entry
        self._base_bad = 0

    def bucket(self, at: float) -> int:
        """The bucket number of time `at`."""
        return math.floor(at / self.resolution_s)

    def add(self, at: float, bad: bool, count: int = 1) -> None:
        """Count `count` events at time `at`; an event older than the newest bucket joins the newest."""
        b = self.bucket(at)
        index = self._index
        if len(index) > self._head and b <= index[-1]:
            self._total[-1] += count
            if bad:
                self._bad[-1] += count
            return
        last_total = self._total[-1] if len(index) > self._head else self._base_total
        last_bad = self._bad[-1] if len(index) > self._head else self._base_bad
        index.append(b)
        self._total.append(last_total + count)
        self._bad.append(last_bad + (count if bad else 0))
        self._prune(b)

    def _prune(self, newest: int) -> None:
        oldest_kept = newest - math.ceil(self.retention_s / self.resolution_s) + 1
        head = self._head
        if self._index[head] >= oldest_kept:
            return
        head = bisect_left(self._index, oldest_kept, head)
        self._base_total = self._total[head - 1]
        self._base_bad = self._bad[head - 1]
        self._head = head
        if head > 1024 and head * 2 > len(self._index):
            del self._index[:head], self._total[:head], self._bad[:head]
            self._head = 0

    def window(self, now: float, window_s: float) -> tuple[int, int]:
        """(total, bad) over the ``ceil(window_s / resolution_s)`` buckets ending with the one holding `now`."""
        end = self.bucket(now)
        start = end - math.ceil(window_s / self.resolution_s) + 1
        index = self._index
        head = self._head
        q = bisect_right(index, end, head) - 1
        if q < head:
            return 0, 0
        p = bisect_left(index, start, head)
        if p > q:
            return 0, 0
        before_total = self._total[p - 1] if p > head else self._base_total
        before_bad = self._bad[p - 1] if p > head else self._base_bad
        return self._total[q] - before_total, self._bad[q] - before_bad

    def windows(self, now: float, spans: tuple[int, ...]) -> list[tuple[int, int]]:
        """`window` for several widths given in buckets (``ceil(window_s / resolution_s)``), sharing one search."""
        end = math.floor(now / self.resolution_s)
        index = self._index
        head = self._head
        q = bisect_right(index, end, head) - 1
        if q < head:
            return [(0, 0)] * len(spans)
        total_q, bad_q = self._total[q], self._bad[q]
        out = []
        for span in spans:
            p = bisect_left(index, end - span + 1, head, q + 1)
            if p > q:
                out.append((0, 0))
            elif p > head:
                out.append((total_q - self._total[p - 1], bad_q - self._bad[p - 1]))
            else:
                out.append((total_q - self._base_total, bad_q - self._base_bad))
        return out

    def buckets_in(self, window_s: float) -> int:
        """How many buckets a window of `window_s` seconds spans."""
        return math.ceil(window_s / self.resolution_s)

    def __len__(self) -> int:
        return len(self._index) - self._head
