"""The process-wide part of the governed-call pipeline: registered extensions and shared state.

One `Pipeline` object owns everything that outlives a single governed tool:

* the extensions every kernel runs (enrichers, guards, observers), which other packages
  register here; agent-os never imports them;
* the default audit sink that ``govern(audit=True)`` appends to;
* one rate limiter and one set of already-reported warn/log rules per policy set, so a rule's
  limit counts across every tool governed by that set, and a notice comes once per process.

Lifetime: `pipeline()` returns the process's instance, created on first use and never replaced.
On creation, and again on every `Pipeline.reset`, it calls each plugin registered under the
``agt.pipeline`` entry-point group with ``pipeline=`` the instance (agent-sre registers one that
turns telemetry on when ``AGT_TELEMETRY=otel``). A plugin that fails to load or raises makes
every later `pipeline()` call raise: an extension a deployment relies on is never silently absent.
Kernels read its extension lists on every call, so an extension registered after a tool was
governed applies to that tool's next call. `Pipeline.reset` returns it to its initial state (for
tests); a private `Pipeline()` can be given to `govern(pipeline=...)` to isolate a component.

Extension lists are immutable tuples swapped under a lock, so the governed-call path reads them
without locking.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_os._rate_limit import RateLimiter
    from agt_core import AuditSink, Enricher, Guard, Observer, PolicySet

__all__ = ["Pipeline", "pipeline"]


class Pipeline:
    """Registered extensions and process-wide defaults of the governed-call pipeline. Thread-safe.

    Order: enrichers and guards run in registration order, process-wide ones before a kernel's
    own; observers likewise. See `agt_core.Enricher`, `agt_core.Guard` and `agt_core.Observer`
    for what each may do and what happens when one fails.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.enrichers: tuple[Enricher, ...] = ()
        self.guards: tuple[Guard, ...] = ()
        self.observers: tuple[Observer, ...] = ()
        self._default_audit: AuditSink | None = None
        self._limiters: dict[str, RateLimiter] = {}
        self._notices: dict[str, set[tuple[str, str]]] = {}
        self.observer_failures = 0

    # -- extensions ---------------------------------------------------------------------------

    def add_enricher(self, enricher: Enricher) -> None:
        """Run `enricher` on every governed call, after those already registered."""
        _require(enricher, "enrich", "an Enricher")
        with self._lock:
            self.enrichers = (*self.enrichers, enricher)

    def add_guard(self, guard: Guard) -> None:
        """Run `guard` on every governed call, after those already registered."""
        _require(guard, "check", "a Guard")
        with self._lock:
            self.guards = (*self.guards, guard)

    def add_observer(self, observer: Observer) -> None:
        """Tell `observer` about every governed call's outcome."""
        _require(observer, "on_decision", "an Observer")
        _require(observer, "on_completion", "an Observer")
        with self._lock:
            self.observers = (*self.observers, observer)

    def remove(self, extension: object) -> None:
        """Unregister `extension` wherever it was registered (no error if it was not)."""
        with self._lock:
            self.enrichers = tuple(e for e in self.enrichers if e is not extension)
            self.guards = tuple(g for g in self.guards if g is not extension)
            self.observers = tuple(o for o in self.observers if o is not extension)

    # -- the default audit sink --------------------------------------------------------------

    def default_audit(self) -> AuditSink:
        """The audit sink ``govern(audit=True)`` appends to: an in-memory `AuditLog` unless set."""
        sink = self._default_audit
        if sink is None:
            from agent_os._audit_log import AuditLog

            with self._lock:
                if self._default_audit is None:
                    self._default_audit = AuditLog()
                sink = self._default_audit
        return sink

    def set_default_audit(self, sink: AuditSink) -> None:
        """Make `sink` the default for tools governed from now on (already governed tools keep theirs)."""
        _require(sink, "append", "an AuditSink")
        with self._lock:
            self._default_audit = sink

    # -- state shared per policy set ---------------------------------------------------------

    def limiter_for(self, policy_set: PolicySet) -> RateLimiter:
        """The rate limiter shared by every tool governed with `policy_set` in this pipeline."""
        from agent_os._rate_limit import RateLimiter

        with self._lock:
            limiter = self._limiters.get(policy_set.hash)
            if limiter is None:
                limiter = self._limiters[policy_set.hash] = RateLimiter()
            return limiter

    def noticed_for(self, policy_set: PolicySet) -> set[tuple[str, str]]:
        """The warn/log rules of `policy_set` already reported (a notice comes once per rule)."""
        with self._lock:
            return self._notices.setdefault(policy_set.hash, set())

    def reset(self) -> None:
        """Forget every registered extension, the default audit sink, rate-limit counts and notices.

        The process pipeline then runs its ``agt.pipeline`` plugins again, as when it was created.
        """
        with self._lock:
            self.enrichers = ()
            self.guards = ()
            self.observers = ()
            self._default_audit = None
            self._limiters = {}
            self._notices = {}
            self.observer_failures = 0
        if self is _PROCESS_PIPELINE:
            _run_plugins(self)

    def __repr__(self) -> str:
        return (
            f"Pipeline(enrichers={len(self.enrichers)}, guards={len(self.guards)}, "
            f"observers={len(self.observers)}, policy_sets={len(self._limiters)})"
        )


def _require(extension: Any, method: str, kind: str) -> None:
    if not callable(getattr(extension, method, None)):
        raise TypeError(f"`{type(extension).__name__}` is not {kind}: it has no `{method}` method")
    needs_name = kind in {"an Enricher", "a Guard"}
    if needs_name and not isinstance(getattr(extension, "name", None), str):
        raise TypeError(f"`{type(extension).__name__}` is not {kind}: it needs a `name` string")


PLUGIN_GROUP = "agt.pipeline"
"""Entry-point group of callables ``plugin(pipeline=...)`` run when the process pipeline is set up."""

_PROCESS_PIPELINE = Pipeline()
_plugins: list[tuple[str, Any]] | None = None
_plugin_error: Exception | None = None
_setup_lock = threading.Lock()


def _load_plugins() -> list[tuple[str, Any]]:
    from importlib.metadata import entry_points

    return [(f"{ep.name} = {ep.value}", ep.load()) for ep in entry_points(group=PLUGIN_GROUP)]


def _run_plugins(pipe: Pipeline) -> None:
    global _plugin_error
    for name, plugin in _plugins or ():
        try:
            plugin(pipeline=pipe)
        except Exception as exc:
            _plugin_error = _plugin_failure(name, exc)
            raise _plugin_error from exc


def _plugin_failure(name: str, exc: Exception) -> Exception:
    from agt_core import GovernanceError

    return GovernanceError(
        f"pipeline plugin `{name}` (entry point group `{PLUGIN_GROUP}`) failed: {type(exc).__name__}: {exc}",
        help="fix or uninstall the package that registers it; governed calls are refused until then",
    )


def pipeline() -> Pipeline:
    """The process-wide pipeline: register extensions here, e.g. ``pipeline().add_guard(kill_switch)``.

    Raises:
        GovernanceError: when a plugin of the ``agt.pipeline`` entry-point group failed.
    """
    global _plugins, _plugin_error
    if _plugins is None:
        with _setup_lock:
            if _plugins is None:
                try:
                    loaded = _load_plugins()
                except Exception as exc:
                    _plugin_error = _plugin_failure("(loading)", exc)
                    _plugins = []
                else:
                    _plugins = loaded
                    # A failure is recorded in _plugin_error and raised below, on this and every call.
                    with contextlib.suppress(Exception):
                        _run_plugins(_PROCESS_PIPELINE)
    if _plugin_error is not None:
        raise _plugin_error
    return _PROCESS_PIPELINE
