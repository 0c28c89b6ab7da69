"""Errors of agent-mesh, rooted in the toolkit's hierarchy (`agt_core.GovernanceError`)::

    GovernanceError                     (agt_core)
    └── MeshError                       identity, delegation, trust, handshake or channel failure
        ├── IdentityError               a DID, key, key file or DID document is invalid
        │   └── SignatureError          a signature does not verify for the claimed DID
        ├── DelegationError             a credential chain was refused (.link, .reason)
        ├── TrustError                  the trust store failed or an event is unknown
        ├── HandshakeError              the peer did not prove its identity (.reason)
        └── ChannelError                a channel message was refused (.reason)

Every refusal carries a machine-readable ``reason`` (e.g. ``"expired"``, ``"replayed"``) and a
one-line message naming what failed, so an operator can tell an attack from a misconfiguration.
"""

from __future__ import annotations

from agt_core import GovernanceError

__all__ = [
    "ChannelError",
    "DelegationError",
    "HandshakeError",
    "IdentityError",
    "MeshError",
    "SignatureError",
    "TrustError",
]


class MeshError(GovernanceError):
    """Root of agent-mesh errors.

    Attributes:
        reason: A short machine-readable cause, e.g. ``"bad-signature"``.
    """

    def __init__(self, message: str, *, reason: str = "invalid", help: str | None = None) -> None:
        super().__init__(message, help=help)
        self.reason = reason


class IdentityError(MeshError):
    """A DID, key, key file or DID document is invalid."""


class SignatureError(IdentityError):
    """A signature does not verify under the key of the DID that claims it."""


class DelegationError(MeshError):
    """A delegation credential or chain was refused.

    Attributes:
        link: Index in the chain of the credential that failed (0 is the one issued by the root),
            or None when the chain as a whole is at fault (empty, too deep).
    """

    def __init__(
        self, message: str, *, reason: str, link: int | None = None, help: str | None = None
    ) -> None:
        super().__init__(message, reason=reason, help=help)
        self.link = link


class TrustError(MeshError):
    """The trust store could not be read or written, or a trust event is not known."""


class HandshakeError(MeshError):
    """The peer did not prove who it is, or does not meet the handshake's requirements."""


class ChannelError(MeshError):
    """A channel message was refused (altered, replayed, out of window, wrong session, revoked)."""
