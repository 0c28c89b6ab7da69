"""Revocation: credentials and identities that must no longer be honoured."""

from __future__ import annotations

import sqlite3
import threading
import time

from agentmesh._errors import MeshError

__all__ = ["RevocationList"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agentmesh_revocations (
    key TEXT PRIMARY KEY, reason TEXT NOT NULL, revoked_at REAL NOT NULL);
"""


class RevocationList:
    """Revoked credentials and DIDs, each with the reason it was revoked. Thread-safe.

    Delegation verification refuses a chain with any revoked credential, or one issued by or to
    a revoked DID; the handshake refuses a revoked peer; the channel refuses messages from a
    revoked DID; the mesh guard refuses calls of a revoked agent.

    Args:
        path: A SQLite file to keep revocations in, shared by every process that opens it:
            a revocation made by one is seen by the others on their next check, and survives
            restarts. None (default) keeps them in this object only.

    Raises:
        MeshError: ``store`` if the file cannot be opened. Once open, a check that cannot read
            the file raises it too, and every caller treats that as a refusal.
    """

    def __init__(self, path: str | None = None) -> None:
        self._revoked: dict[str, str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None
        self.path = path
        if path is not None:
            try:
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
                with self._lock:
                    self._refresh()
            except sqlite3.Error as exc:
                raise MeshError(f"cannot open revocation list `{path}`: {exc}", reason="store") from exc

    def _refresh(self) -> None:
        """Reload from the file when another connection changed it (SQLite's data_version says so)."""
        assert self._db is not None
        (version,) = self._db.execute("PRAGMA data_version").fetchone()
        if version != self._version:
            rows = self._db.execute("SELECT key, reason FROM agentmesh_revocations").fetchall()
            self._revoked = dict(rows)
            self._version = version

    def revoke(self, item: object, reason: str = "revoked") -> None:
        """Revoke a credential or an identity.

        Args:
            item: A credential object (revoked by its hash), a credential ``id`` (revokes every
                credential carrying it), an identity or a DID.
            reason: Why, in words; refusals quote it.

        Raises:
            MeshError: ``store`` if the revocation cannot be written (it then did not happen).
        """
        key = _key(item)
        with self._lock:
            if self._db is not None:
                try:
                    self._db.execute(
                        "INSERT OR IGNORE INTO agentmesh_revocations (key, reason, revoked_at) VALUES (?, ?, ?)",
                        (key, reason, time.time()),
                    )
                    self._refresh()
                except sqlite3.Error as exc:
                    raise MeshError(
                        f"cannot record the revocation of `{key}`: {exc}", reason="store"
                    ) from exc
            self._revoked.setdefault(key, reason)

    def reason(self, item: object) -> str | None:
        """Why `item` was revoked, or None if it was not.

        Raises:
            MeshError: ``store`` if the revocation file cannot be read (never "not revoked" by default).
        """
        key = _key(item)
        if self._db is None:
            return self._revoked.get(key)
        with self._lock:
            try:
                self._refresh()
            except sqlite3.Error as exc:
                raise MeshError(f"cannot read revocation list `{self.path}`: {exc}", reason="store") from exc
            return self._revoked.get(key)

    def close(self) -> None:
        """Close the file (a closed list refuses every check)."""
        with self._lock:
            if self._db is not None:
                self._db.close()

    def __contains__(self, item: object) -> bool:
        return self.reason(item) is not None

    def __len__(self) -> int:
        if self._db is not None:
            with self._lock:
                self._refresh()
        return len(self._revoked)


def _key(item: object) -> str:
    if isinstance(item, str):
        return item
    # A credential object is revoked by its hash: ids are chosen by issuers and may collide.
    for attribute in ("did", "hash", "id"):
        value = getattr(item, attribute, None)
        if isinstance(value, str):
            return value
    raise TypeError(f"cannot revoke a `{type(item).__name__}`: pass a DID, a credential id or an identity")
