"""Revocation: credentials and identities that must no longer be honoured."""

from __future__ import annotations

import threading

__all__ = ["RevocationList"]


class RevocationList:
    """A thread-safe set of revoked credential ids and DIDs, each with the reason it was revoked.

    Delegation verification refuses a chain with any revoked credential, or one issued by or to
    a revoked DID; the channel refuses messages from a revoked DID; the mesh guard refuses calls
    of a revoked agent. Revocation is immediate for every holder of the same list object.
    The list lives in memory: share it, or rebuild it at start-up from where you keep revocations.
    """

    def __init__(self) -> None:
        self._revoked: dict[str, str] = {}
        self._lock = threading.Lock()

    def revoke(self, item: object, reason: str = "revoked") -> None:
        """Revoke a credential or an identity.

        Args:
            item: A credential object (revoked by its hash), a credential ``id`` (revokes every
                credential carrying it), an identity or a DID.
            reason: Why, in words; refusals quote it.
        """
        key = _key(item)
        with self._lock:
            self._revoked.setdefault(key, reason)

    def reason(self, item: object) -> str | None:
        """Why `item` was revoked, or None if it was not."""
        return self._revoked.get(_key(item))

    def __contains__(self, item: object) -> bool:
        return _key(item) in self._revoked

    def __len__(self) -> int:
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
