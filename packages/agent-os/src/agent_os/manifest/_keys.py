"""Ed25519 keys for manifests: generate, store, load, and name them.

``cryptography`` is an optional extra (``pip install 'agent-os[signing]'``), imported only here and
only when a key is used. A key's id is ``ed25519:`` and the first 32 hex digits of the SHA-256 of
its raw 32-byte public key. A private key is stored as unencrypted PKCS#8 PEM with mode 0600; a
public key as a small JSON file (``{"algorithm", "key_id", "public_key"}``, base64url).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from agent_os.manifest._errors import ManifestError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "b64url",
    "from_b64url",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_trusted_keys",
    "public_key_json",
]


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise ManifestError(
            "signed manifests need the cryptography package", help="pip install 'agent-os[signing]'"
        ) from exc
    return ed25519


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(public: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """``ed25519:<32 hex>``: names a public key."""
    return "ed25519:" + hashlib.sha256(_raw(public)).hexdigest()[:32]


def public_key_json(public: Ed25519PublicKey) -> str:
    """The public key file's content."""
    return json.dumps(
        {"algorithm": "ed25519", "key_id": key_id(public), "public_key": b64url(_raw(public))}, indent=2
    )


def generate_keypair(private_path: str | os.PathLike[str], public_path: str | os.PathLike[str]) -> str:
    """Write a new private key (PEM, mode 0600) and its public key file; return the key id.

    Raises:
        ManifestError: if either file exists already (keys are never overwritten).
    """
    from cryptography.hazmat.primitives import serialization

    ed25519 = _crypto()
    for path in (private_path, public_path):
        if os.path.exists(path):
            raise ManifestError(f"`{os.fspath(path)}` exists already; keys are never overwritten")
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    with open(public_path, "x", encoding="utf-8") as out:
        out.write(public_key_json(private.public_key()) + "\n")
    return key_id(private.public_key())


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read a PEM private key written by `generate_keypair`.

    Raises:
        ManifestError: if the file cannot be read or is not an Ed25519 private key.
    """
    from cryptography.hazmat.primitives import serialization

    ed25519 = _crypto()
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ManifestError(f"cannot read the private key `{os.fspath(path)}`: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ManifestError(f"`{os.fspath(path)}` is not an Ed25519 private key")
    private: Ed25519PrivateKey = key
    return private


def _public_from(entry: Any) -> Ed25519PublicKey:
    ed25519 = _crypto()
    if isinstance(entry, ed25519.Ed25519PublicKey):
        given: Ed25519PublicKey = entry
        return given
    if isinstance(entry, ed25519.Ed25519PrivateKey):
        raise ManifestError("a trusted key must be a public key, not a private one")
    data: Any = entry
    if isinstance(entry, str | os.PathLike) and os.path.isfile(entry):
        try:
            with open(entry, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise ManifestError(f"cannot read the public key file `{os.fspath(entry)}`: {exc}") from exc
    claimed = None
    if isinstance(data, Mapping):
        if data.get("algorithm") != "ed25519":
            raise ManifestError("a public key file must say `algorithm: ed25519`")
        claimed = data.get("key_id")
        data = data.get("public_key")
    try:
        raw = data if isinstance(data, bytes) else from_b64url(data)
        public: Ed25519PublicKey = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise ManifestError(
            f"`{str(entry)[:60]}` is not an Ed25519 public key (a key file, base64url text or 32 raw bytes)"
        ) from exc
    if claimed is not None and claimed != key_id(public):
        raise ManifestError(f"the key file names key `{claimed}`, but its key is `{key_id(public)}`")
    return public


def load_trusted_keys(keys: Any) -> dict[str, Ed25519PublicKey]:
    """Key id -> public key, from key files, base64url strings, raw bytes or key objects.

    Raises:
        ManifestError: for an entry that is not a public key, or when no key is given.
    """
    if keys is None:
        raise ManifestError(
            "a manifest needs trusted_keys= to verify against", help="pass the publisher's .pub file"
        )
    entries: Iterable[Any] = [keys] if isinstance(keys, str | bytes | os.PathLike) else keys
    trusted: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        public = _public_from(entry)
        trusted[key_id(public)] = public
    if not trusted:
        raise ManifestError("trusted_keys= is empty: no manifest can verify")
    return trusted
