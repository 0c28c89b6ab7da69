"""agent-sre's errors, rooted in the toolkit's hierarchy::

    agt_core.GovernanceError
    └── SREError                      an agent-sre component could not do what was asked
        ├── StateStoreError           shared state (kill switch) cannot be read or written;
        │                             guards that depend on it refuse every call meanwhile
        └── MissingDependencyError    an optional dependency (OpenTelemetry, prometheus-client,
                                      psycopg) is not installed; ``help`` names the pip extra

A refusal by a kill switch, breaker or SLO is not an exception here: it is a guard's reason,
which the kernel turns into an audited deny (`agt_core.GovernanceDenied` for the caller).
"""

from __future__ import annotations

from agt_core import GovernanceError

__all__ = ["MissingDependencyError", "SREError", "StateStoreError"]


class SREError(GovernanceError):
    """Root of agent-sre's own errors."""


class StateStoreError(SREError):
    """Shared state cannot be read or written (missing, corrupt, locked, unreachable).

    Attributes:
        location: The file path or database the store was opened on.
    """

    def __init__(self, message: str, *, location: str, help: str | None = None) -> None:
        super().__init__(message, help=help)
        self.location = location


class MissingDependencyError(SREError, ImportError):
    """An optional dependency is not installed; ``help`` gives the exact install command."""


def require(module: str, extra: str) -> None:
    """Raise `MissingDependencyError` naming ``pip install 'agent-sre[extra]'`` if `module` is absent."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"`{module}` is not installed",
            help=f"pip install 'agent-sre[{extra}]'",
        )
