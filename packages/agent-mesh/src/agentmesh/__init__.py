"""agent-mesh: agent identity and trust for the Agent Governance Toolkit.

* Identity: Ed25519 keys and W3C ``did:key`` DIDs, resolved offline (`AgentIdentity`, `PublicIdentity`).
* Delegation: signed, expiring, attenuated capability credentials and chain verification
  (`Delegation`, `DelegationVerifier`, `RevocationList`).
* Trust: 0-1000 scores moved by events, decaying toward a baseline, kept in SQLite (`TrustLedger`).
* Handshake and encrypted channel: mutual proof of identity, X25519 + HKDF + ChaCha20-Poly1305,
  in process or over asyncio streams (`Handshake`, `SecureChannel`, `connect`, `accept`).
* Governance: `MeshBinding` plugs an identity into `govern()` as an enricher, guard and observer.
* `agentmesh.governance`: the quick start's ``govern``, re-exported from agent-os.

Errors import at once; everything else loads on first use, so ``import agentmesh`` does not load
``cryptography`` or pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentmesh._errors import (
    ChannelError,
    DelegationError,
    HandshakeError,
    IdentityError,
    MeshError,
    SignatureError,
    TrustError,
)
from agentmesh._version import __version__

if TYPE_CHECKING:
    from agentmesh._binding import (
        MeshBinding,
        default_capability,
        request_signature_payload,
        verify_request_signature,
    )
    from agentmesh._capabilities import capability_covers
    from agentmesh._channel import SecureChannel
    from agentmesh._delegation import CallBudget, Delegation, DelegationVerifier, VerifiedDelegation
    from agentmesh._did import did_document, did_from_public_key, public_key_from_did
    from agentmesh._handshake import Handshake, PendingInitiation, PendingResponse, Session
    from agentmesh._identity import AgentIdentity, PublicIdentity
    from agentmesh._revocation import RevocationList
    from agentmesh._transport import Connection, accept, connect, initiate_on
    from agentmesh._trust import DEFAULT_WEIGHTS, TIERS, TrustChange, TrustLedger, tier_of

__all__ = [
    "DEFAULT_WEIGHTS",
    "TIERS",
    "AgentIdentity",
    "CallBudget",
    "ChannelError",
    "Connection",
    "Delegation",
    "DelegationError",
    "DelegationVerifier",
    "Handshake",
    "HandshakeError",
    "IdentityError",
    "MeshBinding",
    "MeshError",
    "PendingInitiation",
    "PendingResponse",
    "PublicIdentity",
    "RevocationList",
    "SecureChannel",
    "Session",
    "SignatureError",
    "TrustChange",
    "TrustError",
    "TrustLedger",
    "VerifiedDelegation",
    "__version__",
    "accept",
    "capability_covers",
    "connect",
    "default_capability",
    "did_document",
    "did_from_public_key",
    "initiate_on",
    "public_key_from_did",
    "request_signature_payload",
    "tier_of",
    "verify_request_signature",
]

_LAZY = {
    "MeshBinding": "agentmesh._binding",
    "default_capability": "agentmesh._binding",
    "request_signature_payload": "agentmesh._binding",
    "verify_request_signature": "agentmesh._binding",
    "capability_covers": "agentmesh._capabilities",
    "SecureChannel": "agentmesh._channel",
    "CallBudget": "agentmesh._delegation",
    "Delegation": "agentmesh._delegation",
    "DelegationVerifier": "agentmesh._delegation",
    "VerifiedDelegation": "agentmesh._delegation",
    "did_document": "agentmesh._did",
    "did_from_public_key": "agentmesh._did",
    "public_key_from_did": "agentmesh._did",
    "Handshake": "agentmesh._handshake",
    "PendingInitiation": "agentmesh._handshake",
    "PendingResponse": "agentmesh._handshake",
    "Session": "agentmesh._handshake",
    "AgentIdentity": "agentmesh._identity",
    "PublicIdentity": "agentmesh._identity",
    "RevocationList": "agentmesh._revocation",
    "Connection": "agentmesh._transport",
    "accept": "agentmesh._transport",
    "connect": "agentmesh._transport",
    "initiate_on": "agentmesh._transport",
    "DEFAULT_WEIGHTS": "agentmesh._trust",
    "TIERS": "agentmesh._trust",
    "TrustChange": "agentmesh._trust",
    "TrustLedger": "agentmesh._trust",
    "tier_of": "agentmesh._trust",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agentmesh' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
