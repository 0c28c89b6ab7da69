"""Signed checkpoints (tree heads): Ed25519 over the canonical JSON of what they commit to.

A checkpoint says "log `log_id` held `tree_size` records whose Merkle root was `root_hash`, at
`timestamp`". The signature covers the RFC 8785 canonical JSON of exactly those four fields::

    {"log_id":"…","root_hash":"<64 hex>","timestamp":"…","tree_size":N}

Someone who keeps a checkpoint can later prove that the log still extends it (a consistency
proof): records cut off the end, a log rolled back to an older copy, or a log rebuilt from
scratch with every hash recomputed all fail that check. The signature must be checked against a
public key the verifier already trusts: the key carried inside a checkpoint only says which key
the signer claims to have used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agt_core import AuditIntegrityError, canonical_json

__all__ = [
    "Checkpoint",
    "Ed25519Signer",
    "SignedCheckpoint",
    "load_public_key",
    "verify_checkpoint",
]

_HEX64 = r"^[0-9a-f]{64}$"


class Checkpoint(BaseModel):
    """The statement a checkpoint signs.

    Attributes:
        log_id: The log's identity (random, fixed when the log is created).
        tree_size: Number of records in the tree.
        root_hash: Lowercase hex RFC 9162 root of the tree of those records.
        timestamp: UTC time the checkpoint was made, ISO 8601.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    log_id: str = Field(min_length=1)
    tree_size: int = Field(ge=0)
    root_hash: str = Field(pattern=_HEX64)
    timestamp: str = Field(min_length=1)

    def signed_bytes(self) -> bytes:
        """The bytes the signature covers: canonical JSON of the four fields."""
        return canonical_json(
            {
                "log_id": self.log_id,
                "root_hash": self.root_hash,
                "timestamp": self.timestamp,
                "tree_size": self.tree_size,
            }
        ).encode("utf-8")


class SignedCheckpoint(Checkpoint):
    """A checkpoint with its Ed25519 signature.

    Attributes:
        key_id: ``sha256:<hex>`` of the signer's raw 32-byte public key.
        public_key: The signer's raw public key, hex (informative: verify against a key you trust).
        signature: The 64-byte Ed25519 signature over `Checkpoint.signed_bytes`, hex.
    """

    key_id: str
    public_key: str = Field(pattern=_HEX64)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")

    @field_validator("key_id")
    @classmethod
    def _key_id_form(cls, value: str) -> str:
        if not value.startswith("sha256:") or len(value) != 71:
            raise ValueError("key_id must be `sha256:` and 64 hex digits")
        return value

    def to_json(self) -> str:
        """The checkpoint as canonical JSON text (what `python -m agent_hypervisor checkpoint` writes)."""
        return canonical_json(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SignedCheckpoint:
        """Parse a checkpoint written by `to_json`.

        Raises:
            pydantic.ValidationError: if the text is not a well-formed signed checkpoint.
        """
        return cls.model_validate_json(text)


def _key_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class Ed25519Signer:
    """Signs checkpoints with an Ed25519 private key (from the ``cryptography`` package).

    Keep the private key away from the audit store: whoever can write the store must not be able
    to sign. Create one with `generate`, `from_pem` or from a ``cryptography`` key object.
    """

    def __init__(self, private_key: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("Ed25519Signer needs a cryptography Ed25519PrivateKey")
        self._key = private_key
        from cryptography.hazmat.primitives import serialization

        self.public_key_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = _key_id(self.public_key_bytes)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A signer with a fresh random key."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None = None) -> Ed25519Signer:
        """Load a PKCS#8 PEM private key (as `private_pem` writes it)."""
        from cryptography.hazmat.primitives import serialization

        return cls(serialization.load_pem_private_key(data, password=password))

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM; store it where the audit store's writers cannot read it."""
        from cryptography.hazmat.primitives import serialization

        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM, to give to verifiers."""
        from cryptography.hazmat.primitives import serialization

        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        """Sign `checkpoint`."""
        signature = self._key.sign(checkpoint.signed_bytes())
        return SignedCheckpoint(
            log_id=checkpoint.log_id,
            tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash,
            timestamp=checkpoint.timestamp,
            key_id=self.key_id,
            public_key=self.public_key_bytes.hex(),
            signature=signature.hex(),
        )


def load_public_key(source: bytes | str | Path) -> bytes:
    """A raw 32-byte Ed25519 public key from PEM bytes, a PEM or hex file path, or 64 hex digits.

    Raises:
        ValueError: if `source` holds no Ed25519 public key.
    """
    data: bytes
    if isinstance(source, Path):
        data = source.read_bytes()
    elif isinstance(source, str):
        text = source.strip()
        if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
            return bytes.fromhex(text)
        data = Path(text).read_bytes()
    else:
        if len(source) == 32:
            return bytes(source)  # raw key bytes (never strip them: any byte may be whitespace)
        data = source
    stripped = data.strip()
    if len(stripped) == 64:
        try:
            return bytes.fromhex(stripped.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(stripped)
    except ValueError as exc:
        raise ValueError(f"no Ed25519 public key found: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the public key is `{type(key).__name__}`, not Ed25519")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify_checkpoint(
    checkpoint: SignedCheckpoint, public_key: bytes | str | Path, *, log_id: str | None = None
) -> None:
    """Check a checkpoint's signature against a key you trust (and, optionally, which log it is of).

    Args:
        checkpoint: The signed checkpoint.
        public_key: The trusted signer's public key (raw bytes, hex, or PEM; see `load_public_key`).
        log_id: When given, the log the checkpoint must belong to.

    Raises:
        AuditIntegrityError: if the checkpoint is of another log, was signed by another key, or
            its signature does not match its content (index: the checkpoint's tree size).
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = load_public_key(public_key)
    size = checkpoint.tree_size
    if log_id is not None and checkpoint.log_id != log_id:
        raise AuditIntegrityError(
            f"the checkpoint belongs to log `{checkpoint.log_id}`, not to this log `{log_id}`", index=size
        )
    if checkpoint.key_id != _key_id(raw) or checkpoint.public_key != raw.hex():
        raise AuditIntegrityError(
            f"the checkpoint names key `{checkpoint.key_id}`, not the trusted key `{_key_id(raw)}`",
            index=size,
        )
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            bytes.fromhex(checkpoint.signature), checkpoint.signed_bytes()
        )
    except InvalidSignature:
        raise AuditIntegrityError(
            "the checkpoint's signature does not match its content; it was forged or altered", index=size
        ) from None
