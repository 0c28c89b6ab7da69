"""Register agent-sre components with the agent-os pipeline in the roles they implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_os import Pipeline

__all__ = ["attach", "detach"]


def attach(*components: object, pipeline: Pipeline | None = None) -> None:
    """Register each component as a guard (if it has ``check``) and an observer (if it has ``on_decision``).

    A `CircuitBreaker` needs both roles; a `KillSwitch` is a guard; `SLO` is an observer, and a
    guard too when it can refuse calls. Registering in the process-wide pipeline (the default)
    covers every governed tool, including those governed before.

    Raises:
        TypeError: if a component implements neither role.
    """
    from agent_os import pipeline as process_pipeline

    pipe = pipeline if pipeline is not None else process_pipeline()
    for component in components:
        is_guard = callable(getattr(component, "check", None))
        is_observer = callable(getattr(component, "on_decision", None))
        if not (is_guard or is_observer):
            raise TypeError(f"`{type(component).__name__}` is neither a guard nor an observer")
        if is_guard:
            pipe.add_guard(component)  # type: ignore[arg-type]
        if is_observer:
            pipe.add_observer(component)  # type: ignore[arg-type]


def detach(*components: object, pipeline: Pipeline | None = None) -> None:
    """Unregister components from every role (no error for one that was not registered)."""
    from agent_os import pipeline as process_pipeline

    pipe = pipeline if pipeline is not None else process_pipeline()
    for component in components:
        pipe.remove(component)
