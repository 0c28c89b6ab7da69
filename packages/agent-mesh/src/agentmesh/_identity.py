"""Agent identities: an Ed25519 key pair whose public half is a did:key DID.

`PublicIdentity` is what anyone can know about an agent (its DID) and can check its signatures;
`AgentIdentity` also holds the private key and signs. Signatures cover the RFC 8785 canonical
JSON of a payload (`agt_core.canonical_json`), so any language SDK can verify them. Payloads we
sign ourselves always carry a ``type`` field unique to their kind (delegation, handshake, request),
so a signature made for one purpose never verifies as another.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentmesh._did import did_document, did_from_public_key, public_key_from_did
from agentmesh._encoding import b64d, b64e
from agentmesh._errors import IdentityError, SignatureError
from agt_core import CanonicalJSONError, canonical_json, canonical_json_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["AgentIdentity", "PublicIdentity"]

_KEY_FILE_TYPE = "agentmesh/key/v1"
_SCRYPT_N = 2**15
_SCRYPT_N_MAX = 2**20  # refuse key files that would make loading take minutes or gigabytes


def _signed_bytes(payload: Any) -> bytes:
    try:
        return canonical_json_bytes(payload)
    except CanonicalJSONError as exc:
        raise IdentityError(f"cannot sign or verify a value without a canonical JSON form: {exc}") from exc


class PublicIdentity:
    """An agent known by its DID alone: resolves offline and verifies the agent's signatures.

    Args:
        did: A did:key DID holding an Ed25519 key.

    Raises:
        IdentityError: if `did` is not a valid Ed25519 did:key.
    """

    __slots__ = ("_public", "did", "public_key")

    def __init__(self, did: str) -> None:
        self.public_key: bytes = public_key_from_did(did)
        self.did: str = did
        self._public: Ed25519PublicKey | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.did!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicIdentity) and other.did == self.did

    def __hash__(self) -> int:
        return hash(self.did)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> PublicIdentity:
        """The identity a DID document describes, if the document is exactly its DID's expansion.

        A did:key document carries nothing the DID does not: a document received from someone
        else is accepted only when it equals the one derived from its ``id``, so a swapped key,
        an added verification method or an edited relationship is refused.

        Raises:
            IdentityError: ``tampered-document`` if the document differs from the DID's expansion.
        """
        did = document.get("id") if isinstance(document, Mapping) else None
        if not isinstance(did, str):
            raise IdentityError("the DID document has no `id`", reason="tampered-document")
        identity = cls(did)
        try:
            same = canonical_json(document) == canonical_json(did_document(did))
        except CanonicalJSONError:
            same = False
        if not same:
            raise IdentityError(
                f"the DID document for `{did}` differs from the document its DID defines (tampered)",
                reason="tampered-document",
            )
        return identity

    def document(self) -> dict[str, Any]:
        """The W3C DID document, derived from the DID (nothing to fetch, nothing to tamper with)."""
        return did_document(self.did)

    def _verifier(self) -> Ed25519PublicKey:
        if self._public is None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

            self._public = Ed25519PublicKey.from_public_bytes(self.public_key)
        return self._public

    def verify_bytes(self, data: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature over raw bytes.

        Raises:
            SignatureError: if it does not verify under this DID's key.
        """
        from cryptography.exceptions import InvalidSignature

        if len(signature) != 64:
            raise SignatureError(
                f"an Ed25519 signature has 64 bytes, got {len(signature)}", reason="bad-signature"
            )
        try:
            self._verifier().verify(signature, data)
        except InvalidSignature:
            raise SignatureError(
                f"signature does not verify under the key of `{self.did}`", reason="bad-signature"
            ) from None

    def verify(self, payload: Any, signature: str) -> None:
        """Check a signature (base64url text) over the canonical JSON of `payload`.

        Raises:
            SignatureError: if the signature is malformed or does not verify under this DID's key.
        """
        try:
            raw = b64d(signature, size=64, what="signature")
        except ValueError as exc:
            raise SignatureError(f"{exc}", reason="bad-signature") from None
        self.verify_bytes(_signed_bytes(payload), raw)


class AgentIdentity(PublicIdentity):
    """An agent's own identity: its Ed25519 private key, its DID and a human-readable name.

    Create one with `create`, restore one with `load` (from a passphrase-encrypted key file) or
    `from_seed` (from 32 secret bytes, e.g. a vault). The DID never depends on the name.
    """

    __slots__ = ("_private", "name")

    def __init__(self, private_key: Ed25519PrivateKey, name: str) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        # A key derived from a private key is always a valid large-order point: no need to re-check.
        self.did = did_from_public_key(raw, check=False)
        self.public_key = raw
        self._public = private_key.public_key()
        self._private = private_key
        self.name = name

    def __repr__(self) -> str:
        return f"AgentIdentity(name={self.name!r}, did={self.did!r})"

    @classmethod
    def create(cls, name: str) -> AgentIdentity:
        """A new identity with a fresh Ed25519 key from the operating system's CSPRNG."""
        return cls.from_seed(secrets.token_bytes(32), name=name)

    @classmethod
    def from_seed(cls, seed: bytes, *, name: str) -> AgentIdentity:
        """The identity whose Ed25519 private key is the 32-byte `seed` (RFC 8032).

        Raises:
            IdentityError: if `seed` is not 32 bytes.
        """
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
            raise IdentityError("an Ed25519 seed is 32 bytes", reason="bad-key")
        return cls(Ed25519PrivateKey.from_private_bytes(bytes(seed)), name)

    def govern_options(self) -> dict[str, Any]:
        """Keyword arguments for `agent_os.govern` that bind calls to this identity.

        The same as ``MeshBinding(self).govern_options()``: requests carry ``agent.did`` and the
        agent's signature, with no delegation or trust; build a `agentmesh.MeshBinding` for those.
        """
        from agentmesh._binding import MeshBinding

        return MeshBinding(self).govern_options()

    def public(self) -> PublicIdentity:
        """This identity without its private key, safe to hand to others."""
        return PublicIdentity(self.did)

    def sign_bytes(self, data: bytes) -> bytes:
        """An Ed25519 signature (64 bytes) over raw bytes."""
        return self._private.sign(data)

    def sign(self, payload: Any) -> str:
        """A base64url Ed25519 signature over the RFC 8785 canonical JSON of `payload`.

        Raises:
            IdentityError: if `payload` has no canonical JSON form.
        """
        return b64e(self._private.sign(_signed_bytes(payload)))

    def _seed(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    # -- key files ----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], passphrase: str, *, scrypt_n: int = _SCRYPT_N) -> None:
        """Write the private key to `path`, encrypted under `passphrase` (scrypt + ChaCha20-Poly1305).

        The file is JSON; its DID, name and KDF parameters are authenticated with the key, so
        editing any of them makes `load` refuse the file. Written atomically, mode 0600.

        Raises:
            IdentityError: for an empty passphrase or a weak `scrypt_n`.
        """
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        if not passphrase:
            raise IdentityError("a key file needs a non-empty passphrase", reason="bad-passphrase")
        if scrypt_n < 2**14 or scrypt_n > _SCRYPT_N_MAX or scrypt_n & (scrypt_n - 1):
            raise IdentityError(
                f"scrypt_n must be a power of two between 2**14 and 2**20, got {scrypt_n}",
                reason="bad-kdf",
            )
        header: dict[str, Any] = {
            "type": _KEY_FILE_TYPE,
            "did": self.did,
            "name": self.name,
            "kdf": {"name": "scrypt", "n": scrypt_n, "r": 8, "p": 1, "salt": b64e(secrets.token_bytes(16))},
            "cipher": "chacha20-poly1305",
            "nonce": b64e(secrets.token_bytes(12)),
        }
        key = _kdf(passphrase, header["kdf"])
        ciphertext = ChaCha20Poly1305(key).encrypt(
            b64d(header["nonce"]), self._seed(), canonical_json_bytes(header)
        )
        text = canonical_json({**header, "ciphertext": b64e(ciphertext)}) + "\n"
        target = Path(path)
        tmp = target.with_name(target.name + f".{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: str) -> AgentIdentity:
        """Read a key file written by `save`.

        Raises:
            IdentityError: if the file is missing, malformed, altered, or the passphrase is wrong.
        """
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise IdentityError(f"cannot read key file `{path}`: {exc.strerror}", reason="io") from exc
        except ValueError as exc:
            raise IdentityError(f"key file `{path}` is not JSON", reason="bad-key-file") from exc
        header = _check_key_file(data, path)
        try:
            key = _kdf(passphrase, header["kdf"])
            seed = ChaCha20Poly1305(key).decrypt(
                b64d(header["nonce"], size=12, what="nonce"),
                b64d(data["ciphertext"], what="ciphertext"),
                canonical_json_bytes(header),
            )
        except (InvalidTag, ValueError):
            raise IdentityError(
                f"cannot decrypt key file `{path}`: wrong passphrase, or the file was altered",
                reason="bad-passphrase",
            ) from None
        identity = cls.from_seed(seed, name=header["name"])
        if identity.did != header["did"]:
            raise IdentityError(f"key file `{path}` does not hold the key of its DID", reason="bad-key-file")
        return identity


def _check_key_file(data: Any, path: object) -> dict[str, Any]:
    fields = {"type", "did", "name", "kdf", "cipher", "nonce", "ciphertext"}
    if not isinstance(data, dict) or set(data) != fields or data.get("type") != _KEY_FILE_TYPE:
        raise IdentityError(f"`{path}` is not an agentmesh key file", reason="bad-key-file")
    kdf = data["kdf"]
    if (
        not isinstance(kdf, Mapping)
        or kdf.get("name") != "scrypt"
        or set(kdf) != {"name", "n", "r", "p", "salt"}
        or type(kdf["n"]) is not int
        or not 2**14 <= kdf["n"] <= _SCRYPT_N_MAX
        or kdf.get("r") != 8
        or kdf.get("p") != 1
        or data["cipher"] != "chacha20-poly1305"
        or not isinstance(data["name"], str)
        or not isinstance(data["did"], str)
    ):
        raise IdentityError(
            f"key file `{path}` has unsupported or malformed parameters", reason="bad-key-file"
        )
    return {k: v for k, v in data.items() if k != "ciphertext"}


def _kdf(passphrase: str, params: Mapping[str, Any]) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = b64d(params["salt"], size=16, what="salt")
    kdf = Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"])
    return kdf.derive(passphrase.encode("utf-8"))
