"""The kill switch: a guard that refuses every call of a killed agent, of a killed tool, or of everyone.

State lives in a shared store (`SQLiteSwitchStore` on one machine, `PostgresSwitchStore` across
machines), so a switch pulled by one process stops calls in every process that checks the same
store. Each process keeps the pulled switches in memory and re-reads the store's cheap version
token at most every ``max_staleness_s`` seconds, reloading only when it changed: that bounds how
long a pull takes to reach another process, and keeps the check itself to a clock read and a
few dict lookups.

Fail closed: if the store cannot be read (corrupt file, missing table, unreachable database),
every call is refused with the store's error until a later read succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent_sre._audit import AuditTarget, record
from agent_sre._errors import StateStoreError
from agent_sre._switch_store import SCOPES, Scope, SQLiteSwitchStore, Switch, SwitchEvent, SwitchStore
from agt_core import UtcClock

__all__ = ["KillSwitch"]

_GLOBAL = ("global", "*")


class KillSwitch:
    """A guard that refuses calls while a switch covering them is pulled (an `agt_core.Guard`).

    Args:
        store: A `SwitchStore`, or a path to a SQLite file (opened with `SQLiteSwitchStore`,
            created if missing; open the store yourself with ``create=False`` to refuse a missing file).
        name: The guard's name; refusals say ``refused_by="guard:<name>"``.
        max_staleness_s: At most this long between a pull in another process and this process
            refusing calls (plus the time of one store read). 0 re-checks on every call.
        audit: Where pulls and releases are also recorded, besides the store's own history: True
            (default) for the pipeline's default audit sink, where govern() audits; an
            `agt_core.AuditSink`; or False.
        clock: Monotonic seconds (injectable for tests).

    Raises:
        StateStoreError: if `store` is a path that cannot be opened as a kill switch store.
    """

    def __init__(
        self,
        store: SwitchStore | str | Path,
        *,
        name: str = "kill-switch",
        max_staleness_s: float = 0.02,
        audit: AuditTarget = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_staleness_s < 0:
            raise ValueError("max_staleness_s must be >= 0")
        self.name = name
        self.store: SwitchStore = SQLiteSwitchStore(store) if isinstance(store, (str, Path)) else store
        self.max_staleness_s = max_staleness_s
        self._audit = audit
        self._clock = clock
        self._utc = UtcClock()
        self._lock = threading.Lock()
        self._switches: dict[tuple[str, str], Switch] = {}
        self._version: object = None
        self._checked_at = float("-inf")
        self._error: str | None = "the kill switch state has not been read yet"
        self._refresh(clock())

    # -- the guard ------------------------------------------------------------------------

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Return why `request` is refused, or None. Never raises: a failure is a refusal."""
        now = self._clock()
        if now - self._checked_at >= self.max_staleness_s or now < self._checked_at:
            self._refresh(now)
        error = self._error
        if error is not None:
            return f"kill switch state cannot be read, so every call is refused: {error}"
        switches = self._switches
        if not switches:
            return None
        try:
            agent_id = request["agent"]["id"]
            tool = request["action"].get("tool") or request["action"]["type"]
        except (KeyError, TypeError, AttributeError):
            return "the request has no agent.id or action to check against the kill switch"
        switch = switches.get(_GLOBAL) or switches.get(("agent", agent_id)) or switches.get(("tool", tool))
        if switch is None:
            return None
        return _describe(switch)

    def _refresh(self, now: float) -> None:
        with self._lock:
            if now - self._checked_at < self.max_staleness_s and now >= self._checked_at:
                return  # another thread refreshed while we waited
            try:
                version = self.store.version()
                if version != self._version or self._error is not None:
                    self._switches = dict(self.store.load())
                    self._version = version
                self._error = None
            except StateStoreError as exc:
                self._error = exc.message
            except Exception as exc:  # a store outside our hierarchy: still fail closed
                self._error = f"{type(exc).__name__}: {exc}"
            self._checked_at = now

    # -- operating the switches -----------------------------------------------------------

    def pull(self, scope: Scope, target: str | None = None, *, by: str, reason: str) -> Switch:
        """Pull a switch: ``pull("agent", "bot-7", by=..., reason=...)``, or ``pull("global", by=..., reason=...)``.

        Takes effect in this process at once and in every process sharing the store within
        ``max_staleness_s``. Recorded in the store's history and, when configured, the audit log.

        Raises:
            ValueError: for an unknown scope, a missing target, or an empty ``by``/``reason``.
            StateStoreError: if the store cannot record it (the switch is then not pulled).
            AuditError: if the audit log refused the record (the switch *is* pulled).
        """
        scope, target = _validate(scope, target, by, reason)
        switch = Switch(scope, target, by, self._utc.now(), reason)
        self.store.pull(switch)
        with self._lock:
            self._switches = {**self._switches, (scope, target): switch}
        self._record("kill_switch.pull", switch, _describe(switch))
        return switch

    def release(self, scope: Scope, target: str | None = None, *, by: str, reason: str) -> Switch | None:
        """Release a pulled switch; returns what was released, or None if it was not pulled.

        The release is audited first: if the audit log refuses it, the switch stays pulled.

        Raises:
            ValueError: for an unknown scope, a missing target, or an empty ``by``/``reason``.
            StateStoreError: if the store cannot record it (the switch stays pulled).
            AuditError: if the audit log refused the record (the switch stays pulled).
        """
        scope, target = _validate(scope, target, by, reason)
        at = self._utc.now()
        current = self.store.load().get((scope, target))
        if current is None:
            return None
        event = Switch(scope, target, by, at, reason)
        self._record(
            "kill_switch.release",
            event,
            f"kill switch `{_label(scope, target)}` released by `{by}`: {reason}",
        )
        released = self.store.release(scope, target, by, at, reason)
        with self._lock:
            switches = dict(self._switches)
            switches.pop((scope, target), None)
            self._switches = switches
        return released

    def pulled(self) -> list[Switch]:
        """The switches pulled now, read from the store."""
        return sorted(self.store.load().values())

    def history(self) -> list[SwitchEvent]:
        """Every pull and release recorded in the store, oldest first."""
        return self.store.history()

    def close(self) -> None:
        """Close the store's connection; checks after this refuse (the state can no longer be read)."""
        self.store.close()

    def _record(self, action: str, switch: Switch, message: str) -> None:
        args = {
            "scope": switch.scope,
            "target": switch.target,
            "reason": switch.reason,
            "at": switch.pulled_at,
        }
        record(self._audit, action, switch.pulled_by, args, message)


def _label(scope: str, target: str) -> str:
    return "global" if scope == "global" else f"{scope}:{target}"


def _describe(switch: Switch) -> str:
    return (
        f"kill switch `{_label(switch.scope, switch.target)}` pulled by `{switch.pulled_by}` "
        f"at {switch.pulled_at}: {switch.reason}"
    )


def _validate(scope: str, target: str | None, by: str, reason: str) -> tuple[Scope, str]:
    if scope not in SCOPES:
        raise ValueError(f"unknown kill switch scope {scope!r}; expected one of {', '.join(SCOPES)}")
    if scope == "global":
        if target not in (None, "*"):
            raise ValueError("the global kill switch takes no target")
        target = "*"
    elif not isinstance(target, str) or not target:
        raise ValueError(f"a `{scope}` kill switch needs the {scope} name as its target")
    if not isinstance(by, str) or not by.strip():
        raise ValueError("say who pulls or releases the switch: by='...'")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("say why the switch is pulled or released: reason='...'")
    return scope, target
