"""``did:key`` identifiers for Ed25519 keys (W3C CCG did:key method), resolved offline.

A did:key DID *is* its public key: ``did:key:z`` + base58btc(0xed 0x01 ‖ 32-byte Ed25519 key).
The two bytes are the multicodec varint of ``ed25519-pub`` (0xed); ``z`` is the multibase prefix
of base58btc. Resolving one needs no network and no registry, and a DID document cannot be
tampered with, because it is derived from the identifier every time (`did_document`).

Parsing is strict: exactly 34 decoded bytes with the ed25519-pub prefix, the canonical base58
spelling, a point that lies on the curve and is not of small order. Small-order keys would let
one signature verify for many messages, so no identity may have one.

This module is pure Python (no ``cryptography`` import), so DIDs can be checked anywhere cheaply.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from agentmesh._base58 import b58decode, b58encode
from agentmesh._errors import IdentityError

__all__ = [
    "ED25519_MULTICODEC",
    "X25519_MULTICODEC",
    "did_document",
    "did_from_public_key",
    "public_key_from_did",
    "x25519_private_from_ed25519_seed",
    "x25519_public_from_ed25519",
]

ED25519_MULTICODEC = b"\xed\x01"
"""Varint of multicodec 0xed, ``ed25519-pub``."""
X25519_MULTICODEC = b"\xec\x01"
"""Varint of multicodec 0xec, ``x25519-pub``."""

_PREFIX = "did:key:z"
_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _multibase(codec: bytes, key: bytes) -> str:
    return "z" + b58encode(codec + key)


def did_from_public_key(public_key: bytes, *, check: bool = True) -> str:
    """The did:key DID of a raw 32-byte Ed25519 public key.

    Args:
        public_key: The 32-byte key.
        check: Check the key is a curve point of large order. Only skip this for a key just
            derived from a private key, which always is one.

    Raises:
        IdentityError: if the key is not 32 bytes or not a usable curve point.
    """
    if len(public_key) != 32:
        raise IdentityError(f"an Ed25519 public key has 32 bytes, got {len(public_key)}", reason="bad-key")
    if check:
        _check_point(bytes(public_key))
    return "did:key:" + _multibase(ED25519_MULTICODEC, public_key)


@functools.lru_cache(maxsize=4096)
def public_key_from_did(did: str) -> bytes:
    """The raw Ed25519 public key a did:key DID encodes (offline resolution).

    Raises:
        IdentityError: naming what is wrong: not did:key, not base58btc, not ed25519-pub, wrong
            length, non-canonical spelling, or an invalid or small-order point.
    """
    if not isinstance(did, str) or not did.startswith(_PREFIX):
        raise IdentityError(
            f"`{did}` is not a did:key DID with a base58btc (`z`) key",
            reason="bad-did",
            help="a did:key DID looks like did:key:z6Mk...; other DID methods are not supported",
        )
    encoded = did[len(_PREFIX) :]
    try:
        raw = b58decode(encoded)
    except ValueError as exc:
        raise IdentityError(f"`{did}` is not valid base58btc: {exc}", reason="bad-did") from exc
    if raw[:2] != ED25519_MULTICODEC:
        raise IdentityError(
            f"`{did}` does not hold an Ed25519 key (multicodec prefix {raw[:2].hex()!r}, expected 'ed01')",
            reason="bad-did",
        )
    if len(raw) != 34:
        raise IdentityError(
            f"`{did}` holds {len(raw) - 2} key bytes; an Ed25519 did:key holds exactly 32",
            reason="bad-did",
        )
    if b58encode(raw) != encoded:
        raise IdentityError(f"`{did}` is not the canonical base58btc spelling of its key", reason="bad-did")
    key = raw[2:]
    _check_point(key)
    return key


def _check_point(key: bytes) -> None:
    """Refuse encodings that are not points on edwards25519, and the eight small-order points."""
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    sign = key[31] >> 7
    if y >= _P:
        raise IdentityError("the Ed25519 key is not canonically encoded", reason="bad-key")
    x = _recover_x(y, sign)
    if x is None:
        raise IdentityError("the Ed25519 key is not a point on the curve", reason="bad-key")
    # Small order means 8P is the neutral element; doubling in projective coordinates needs no inversions.
    px, py, pz = x, y, 1
    for _ in range(3):
        a, b, c = px * px % _P, py * py % _P, 2 * pz * pz % _P
        e = ((px + py) * (px + py) - a - b) % _P
        g = (b - a) % _P
        f = (g - c) % _P
        h = (-a - b) % _P
        px, py, pz = e * f % _P, g * h % _P, f * g % _P
    if px == 0 and py == pz:
        raise IdentityError("the Ed25519 key is a small-order point", reason="bad-key")


def _recover_x(y: int, sign: int) -> int | None:
    # RFC 8032 section 5.1.3.
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, -1, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if x & 1 != sign:
        x = _P - x
    return x


def x25519_public_from_ed25519(public_key: bytes) -> bytes:
    """The X25519 public key birationally equivalent to an Ed25519 key (u = (1 + y) / (1 - y)).

    did:key documents list it as the DID's ``keyAgreement`` key.
    """
    y = int.from_bytes(public_key, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow((1 - y) % _P, -1, _P) % _P
    return u.to_bytes(32, "little")


def x25519_private_from_ed25519_seed(seed: bytes) -> bytes:
    """The X25519 private key that matches `x25519_public_from_ed25519` (RFC 8032 scalar, clamped)."""
    digest = bytearray(hashlib.sha512(seed).digest()[:32])
    digest[0] &= 248
    digest[31] &= 127
    digest[31] |= 64
    return bytes(digest)


def did_document(did: str) -> dict[str, Any]:
    """The DID document of a did:key DID, derived from the DID alone (the spec's expansion).

    Raises:
        IdentityError: if `did` is not a valid Ed25519 did:key.
    """
    key = public_key_from_did(did)
    fingerprint = did[len("did:key:") :]
    x_key = x25519_public_from_ed25519(key)
    x_fingerprint = _multibase(X25519_MULTICODEC, x_key)
    vm_id = f"{did}#{fingerprint}"
    ka_id = f"{did}#{x_fingerprint}"
    return {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/ed25519-2018/v1",
            "https://w3id.org/security/suites/x25519-2019/v1",
        ],
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Ed25519VerificationKey2018",
                "controller": did,
                "publicKeyBase58": b58encode(key),
            },
            {
                "id": ka_id,
                "type": "X25519KeyAgreementKey2019",
                "controller": did,
                "publicKeyBase58": b58encode(x_key),
            },
        ],
        "assertionMethod": [vm_id],
        "authentication": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
        "keyAgreement": [ka_id],
    }
