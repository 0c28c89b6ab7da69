"""Calls between a framework's before-tool and after-tool callbacks.

Frameworks whose hook is a pair of callbacks (OpenAI Agents guardrails, ADK plugins, CrewAI
hooks) need the before-callback's `Verdict` in the after-callback, to run post_tool rules and
observers on the result. A call that never reaches its after-callback (a cancelled run, a
crashed step) would leave its entry behind, so the table is bounded: the oldest entries go first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import NamedTuple

from agt_integrations._governor import Verdict

__all__ = ["Pending", "PendingCalls"]


class Pending(NamedTuple):
    """One call waiting for its result.

    Attributes:
        verdict: The before-callback's verdict.
        started: ``time.perf_counter()`` when it was stored (the tool's start, near enough).
        anchor: An object kept alive with the entry, when the key is its ``id()`` (so the id
            cannot be reused by another object while the entry waits).
    """

    verdict: Verdict
    started: float
    anchor: object = None


class PendingCalls:
    """A bounded, thread-safe map from a call's key to its `Pending` entry.

    Args:
        limit: How many entries to keep at most.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._entries: OrderedDict[Hashable, Pending] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def put(self, key: Hashable, verdict: Verdict, anchor: object = None) -> None:
        """Store `verdict` for `key`, stamped with the current time."""
        with self._lock:
            self._entries[key] = Pending(verdict, time.perf_counter(), anchor)
            self._entries.move_to_end(key)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)

    def pop(self, key: Hashable) -> Pending | None:
        """Remove and return the entry for `key`, or None."""
        with self._lock:
            return self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
