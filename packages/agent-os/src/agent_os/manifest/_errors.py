"""The manifest error."""

from __future__ import annotations

from agt_core import GovernanceError

__all__ = ["ManifestError"]


class ManifestError(GovernanceError):
    """A manifest could not be created, signed or verified (the tool must not run).

    Attributes:
        reason: A short stable word for what failed: ``malformed``, ``untrusted-key``,
            ``bad-signature``, ``expired``, ``not-yet-valid``, ``replayed``, ``file-changed``,
            ``file-missing``, ``other-tool``, ``entry-point``, ``uncovered-code``, ``capability``.
    """

    def __init__(self, message: str, *, reason: str = "malformed", help: str | None = None) -> None:
        super().__init__(message, help=help)
        self.reason = reason
