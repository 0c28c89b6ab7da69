"""Group commit: concurrent appends share one transaction instead of queueing for one each.

The first appender to find no batch in flight becomes the leader: it takes every append queued
so far and writes them as one batch (one transaction, one fsync); the others wait until the
leader marks their item done, then return its hash or raise its error. The SQLite and
PostgreSQL stores share it; each supplies how one batch is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent_hypervisor._log_base import RecordParts

__all__ = ["GroupCommit", "PendingAppend"]


class PendingAppend:
    """One queued append: the writer sets `digest` (or `error`); the group sets `done`."""

    __slots__ = ("digest", "done", "error", "parts")

    def __init__(self, parts: RecordParts) -> None:
        self.parts = parts
        self.digest: str | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Leader/follower batching of appends onto `write_batch` (which sets each item's digest or error)."""

    def __init__(self, write_batch: Callable[[list[PendingAppend]], None]) -> None:
        self._write_batch = write_batch
        self._cond = threading.Condition()
        self._queue: list[PendingAppend] = []
        self._leader = False

    def append(self, parts: RecordParts) -> str:
        """Queue `parts`, write them (as leader or in the leader's batch) and return the record hash."""
        item = PendingAppend(parts)
        batch: list[PendingAppend] = []
        with self._cond:
            self._queue.append(item)
            while not item.done and self._leader:
                self._cond.wait()
            if not item.done:
                self._leader = True
                batch, self._queue = self._queue, []
        if batch:
            try:
                self._write_batch(batch)
            finally:
                with self._cond:
                    for pending in batch:
                        pending.done = True
                    self._leader = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        if item.digest is None:  # a writer that neither hashed nor failed: never report success
            raise RuntimeError("audit batch writer returned without a hash or an error for a record")
        return item.digest
