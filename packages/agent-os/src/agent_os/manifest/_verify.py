"""Create, sign, read and verify manifests, and keep checking the files they cover.

Verification (`verify_manifest`) checks, in order, and refuses with a `ManifestError` naming the
first failure: the file parses as a signed manifest; it is signed by a trusted key; the Ed25519
signature verifies over the canonical manifest; it is already valid and not expired; its version
is not older than one already accepted for the same tool and key (`ManifestVersions`: a replayed
old manifest); and every listed file exists under the manifest's folder with the listed SHA-256.

`VerifiedManifest.check_files` re-checks the files later: it re-reads a file only when its
``stat`` (size, mtime, ctime, inode, device) changed since it was last hashed. ctime cannot be set
from user space, so rewriting a file and restoring its mtime is still noticed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent_os.manifest._errors import ManifestError
from agent_os.manifest._keys import b64url, from_b64url, key_id, load_trusted_keys
from agent_os.manifest._model import Signature, SignedManifest, ToolManifest, signed_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "ManifestVersions",
    "VerifiedManifest",
    "create_manifest",
    "file_digest",
    "read_manifest",
    "sign_manifest",
    "verify_manifest",
    "write_manifest",
]

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future ``issued_at`` may be (clocks differ between machines)."""

_SKIP_DIRS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


def file_digest(path: str | os.PathLike[str]) -> str:
    """``sha256:<hex>`` of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _utc_text(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_manifest(
    root: str | os.PathLike[str],
    paths: Iterable[str | os.PathLike[str]],
    *,
    name: str,
    version: str,
    capabilities: Sequence[str],
    entry_point: str = "",
    valid_for: timedelta | None = timedelta(days=365),
    issued_at: datetime | None = None,
) -> ToolManifest:
    """A manifest over the files at `paths` (files, or folders taken whole), relative to `root`.

    Raises:
        ManifestError: for a path outside `root`, a missing file, or an invalid field.
    """
    base = os.path.realpath(root)
    files: dict[str, str] = {}
    for given in paths:
        real = os.path.realpath(given if os.path.isabs(given) else os.path.join(base, given))
        if os.path.commonpath([base, real]) != base:
            raise ManifestError(f"`{os.fspath(given)}` is outside the manifest's folder `{base}`")
        found = [real] if os.path.isfile(real) else list(_walk(real))
        if not found:
            raise ManifestError(f"`{os.fspath(given)}` is not a file or a folder holding files")
        for path in found:
            files[os.path.relpath(path, base).replace(os.sep, "/")] = file_digest(path)
    issued = issued_at or datetime.now(UTC)
    try:
        return ToolManifest(
            name=name,
            version=version,
            entry_point=entry_point,
            capabilities=tuple(capabilities),
            files=dict(sorted(files.items())),
            issued_at=_utc_text(issued),
            expires_at=None if valid_for is None else _utc_text(issued + valid_for),
        )
    except ValidationError as exc:
        raise ManifestError(f"invalid manifest: {_first_error(exc)}") from exc


def _walk(folder: str) -> Iterable[str]:
    if not os.path.isdir(folder):
        return
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for n in sorted(names):
            if not n.endswith((".pyc", ".pyo")):
                yield os.path.join(here, n)


def sign_manifest(manifest: ToolManifest, private_key: Ed25519PrivateKey) -> SignedManifest:
    """Sign `manifest` with an Ed25519 private key."""
    value = private_key.sign(signed_bytes(manifest))
    return SignedManifest(
        manifest=manifest, signature=Signature(key_id=key_id(private_key.public_key()), value=b64url(value))
    )


def write_manifest(signed: SignedManifest, path: str | os.PathLike[str]) -> None:
    """Write a signed manifest as JSON (the signature covers the canonical form, not this layout)."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps(signed.model_dump(mode="json", by_alias=True), indent=2) + "\n")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def read_manifest(source: Any) -> tuple[SignedManifest, str | None]:
    """A signed manifest from a file path, a mapping or a `SignedManifest`, and the folder it sits in.

    Raises:
        ManifestError: if it cannot be read or is not a signed manifest.
    """
    if isinstance(source, SignedManifest):
        return source, None
    folder: str | None = None
    data: Any = source
    if isinstance(source, str | os.PathLike):
        folder = os.path.dirname(os.path.realpath(source))
        try:
            with open(source, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise ManifestError(f"cannot read the manifest `{os.fspath(source)}`: {exc}") from exc
    try:
        return SignedManifest.model_validate(data), folder
    except ValidationError as exc:
        raise ManifestError(f"not a signed manifest: {_first_error(exc)}") from exc


class ManifestVersions:
    """The highest version accepted per (signing key, tool name): an older one is a replay.

    Args:
        path: A JSON file keeping the versions across restarts; None keeps them in memory.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self._lock = threading.Lock()
        self._seen: dict[str, list[int]] = {}
        if self.path is not None and os.path.exists(self.path):
            try:
                with open(self.path, encoding="utf-8") as f:
                    loaded = json.load(f)
                if not isinstance(loaded, dict) or not all(
                    isinstance(v, list) and all(type(i) is int for i in v) for v in loaded.values()
                ):
                    raise ValueError("expected an object of version lists")
            except (OSError, ValueError) as exc:
                # A store that cannot be read is reported, never silently reset (that would allow replays).
                raise ManifestError(f"the manifest version store `{self.path}` is unreadable: {exc}") from exc
            self._seen = loaded

    def accept(self, signer: str, manifest: ToolManifest) -> None:
        """Record `manifest`'s version, or refuse it when an newer one was accepted before."""
        key = f"{signer} {manifest.name}"
        version = list(manifest.version_key())
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and version < seen:
                raise ManifestError(
                    f"manifest version `{manifest.version}` of `{manifest.name}` is older than version "
                    f"`{'.'.join(map(str, seen))}` already accepted: a replayed old manifest",
                    reason="replayed",
                    help="install the current version of the tool and its manifest",
                )
            if seen == version:
                return
            self._seen[key] = version
            if self.path is not None:
                tmp = f"{self.path}.tmp"
                with open(tmp, "w", encoding="utf-8") as out:
                    json.dump(self._seen, out, indent=1, sort_keys=True)
                os.replace(tmp, self.path)


_PROCESS_VERSIONS = ManifestVersions()


@dataclass
class VerifiedManifest:
    """A manifest that verified: what it says, who signed it, and where its files are.

    Attributes:
        manifest: The manifest.
        signer: The id of the key that signed it.
        root: The folder its file paths are relative to.
    """

    manifest: ToolManifest
    signer: str
    root: str
    _stats: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def paths(self) -> dict[str, str]:
        """Absolute path -> expected digest."""
        return {
            os.path.join(self.root, *rel.split("/")): digest for rel, digest in self.manifest.files.items()
        }

    def check_files(self) -> None:
        """Refuse (`ManifestError`) if a listed file is missing or its bytes changed.

        A file is re-read only when its ``stat`` changed since it was last hashed.
        """
        for path, expected in self.paths().items():
            try:
                st = os.stat(path)
            except OSError as exc:
                self._stats.pop(path, None)
                raise ManifestError(
                    f"file `{path}` listed in the manifest of `{self.manifest.name}` is missing: {exc.strerror}",
                    reason="file-missing",
                ) from exc
            key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
            if self._stats.get(path) == key:
                continue
            actual = file_digest(path)
            if actual != expected:
                with self._lock:
                    self._stats.pop(path, None)
                raise ManifestError(
                    f"file `{path}` of `{self.manifest.name}` changed since the manifest was signed "
                    f"(now {actual}, signed {expected})",
                    reason="file-changed",
                    help="reinstall the tool, or have its publisher sign a new manifest",
                )
            with self._lock:
                self._stats[path] = key

    def check_time(self, now: datetime | None = None) -> None:
        """Refuse (`ManifestError`) when the manifest is not yet valid or has expired."""
        now = now or datetime.now(UTC)
        manifest = self.manifest
        if manifest.issued() > now + CLOCK_SKEW:
            raise ManifestError(
                f"the manifest of `{manifest.name}` is issued in the future ({manifest.issued_at})",
                reason="not-yet-valid",
            )
        expires = manifest.expires()
        if expires is not None and now >= expires:
            raise ManifestError(
                f"the manifest of `{manifest.name}` expired at {manifest.expires_at}",
                reason="expired",
                help="have its publisher sign a new manifest",
            )


def verify_manifest(
    source: Any,
    trusted_keys: Any,
    *,
    root: str | os.PathLike[str] | None = None,
    versions: ManifestVersions | None = None,
    now: datetime | None = None,
) -> VerifiedManifest:
    """Verify a signed manifest and the files it lists (see the module docstring for the order).

    Args:
        source: A manifest file path, its parsed JSON, or a `SignedManifest`.
        trusted_keys: Public keys it must be signed by (key files, base64url text, key objects).
        root: The folder its paths are relative to (default: the manifest file's folder).
        versions: Where accepted versions are kept (default: one store for the process).
        now: The time to check validity at (default: now).

    Raises:
        ManifestError: naming the first check that failed (``.reason``).
    """
    signed, folder = read_manifest(source)
    trusted = trusted_keys if _is_loaded(trusted_keys) else load_trusted_keys(trusted_keys)
    manifest, signature = signed.manifest, signed.signature
    public = trusted.get(signature.key_id)
    if public is None:
        raise ManifestError(
            f"the manifest of `{manifest.name}` is signed by key `{signature.key_id}`, which is not trusted",
            reason="untrusted-key",
            help="add the publisher's public key to trusted_keys= if you trust it",
        )
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(from_b64url(signature.value), signed_bytes(manifest))
    except (InvalidSignature, ValueError) as exc:
        raise ManifestError(
            f"the signature of the manifest of `{manifest.name}` does not verify: it was altered after signing",
            reason="bad-signature",
        ) from exc
    base = root if root is not None else folder
    if base is None:
        raise ManifestError(
            "a manifest given as data needs root= (the folder its file paths are relative to)"
        )
    verified = VerifiedManifest(manifest, signature.key_id, os.path.realpath(base))
    verified.check_time(now)
    (versions or _PROCESS_VERSIONS).accept(signature.key_id, manifest)
    verified.check_files()
    return verified


def _is_loaded(keys: Any) -> bool:
    return isinstance(keys, Mapping) and all(
        isinstance(k, str) and k.startswith("ed25519:") and hasattr(v, "verify") for k, v in keys.items()
    )
