"""The encrypted channel between two agents after a handshake (the seed's IATP encryption layer).

Each direction has its own 256-bit key (derived by the handshake from an X25519 exchange that
both identities signed), so a message can never be reflected back to its sender or read under
the other direction's key. Every message is sealed with ChaCha20-Poly1305; its header (format,
session id, sequence number, sender DID) is the associated data, so none of it can be altered.
Frame layout::

    b"AMC1" | session id (16) | seq (8, big-endian) | len(sender DID) (1) | sender DID | ciphertext+tag

The nonce is the sequence number, unique per key. The receiver keeps a sliding window
(default 64) of sequence numbers: a number seen before is ``replayed``, one that fell behind the
window is ``too-old`` (reordered beyond the window), anything that fails authentication is
``altered``. Keys ratchet forward every ``rekey_every`` messages (HKDF over the previous key,
which is then dropped), so a key captured later cannot read earlier epochs. Messages from a DID
that has since been revoked are refused.
"""

from __future__ import annotations

import struct
import threading
from typing import TYPE_CHECKING

from agentmesh._errors import ChannelError, MeshError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    from agentmesh._revocation import RevocationList

__all__ = ["SecureChannel"]

MAGIC = b"AMC1"
_SEQ = struct.Struct(">Q")
_MAX_AHEAD_EPOCHS = 4
_MAX_PLAINTEXT = 16 * 1024 * 1024


def _ratchet(key: bytes, session_id: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt=session_id, info=b"agentmesh/rekey/v1").derive(key)


class _Direction:
    """Key schedule of one direction: the key of the current epoch, and the one before it."""

    __slots__ = ("aead", "epoch", "key", "previous", "session_id")

    def __init__(self, key: bytes, session_id: bytes) -> None:
        self.session_id = session_id
        self.epoch = 0
        self.key = key
        self.aead = _aead(key)
        self.previous: tuple[int, ChaCha20Poly1305] | None = None

    def cipher_for(self, epoch: int) -> tuple[ChaCha20Poly1305, list[bytes]] | None:
        """The cipher of `epoch` and, for a later epoch, the keys to adopt once a message authenticates."""
        if epoch == self.epoch:
            return self.aead, []
        if self.previous is not None and epoch == self.previous[0]:
            return self.previous[1], []
        if self.epoch < epoch <= self.epoch + _MAX_AHEAD_EPOCHS:
            keys, key = [], self.key
            for _ in range(epoch - self.epoch):
                key = _ratchet(key, self.session_id)
                keys.append(key)
            return _aead(keys[-1]), keys
        return None

    def advance(self, keys: list[bytes]) -> None:
        if not keys:
            return
        self.previous = (self.epoch + len(keys) - 1, self.aead if len(keys) == 1 else _aead(keys[-2]))
        self.epoch += len(keys)
        self.key = keys[-1]
        self.aead = _aead(self.key)


def _aead(key: bytes) -> ChaCha20Poly1305:
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    return ChaCha20Poly1305(key)


class SecureChannel:
    """Seals and opens messages for one side of an established session.

    Made by the handshake (`agentmesh.Handshake`); it is not built by hand. Thread-safe.

    Attributes:
        session_id: 16 bytes naming the session (from the handshake transcript).
        local_did: This side's DID (the sender DID of messages it seals).
        peer_did: The other side's DID (the only sender accepted).
    """

    def __init__(
        self,
        *,
        session_id: bytes,
        local_did: str,
        peer_did: str,
        send_key: bytes,
        recv_key: bytes,
        window: int = 64,
        rekey_every: int = 1 << 20,
        revocations: RevocationList | None = None,
    ) -> None:
        if window < 1 or rekey_every < 1:
            raise ValueError("window and rekey_every must be positive")
        self.session_id = session_id
        self.local_did = local_did
        self.peer_did = peer_did
        self.window = window
        self.rekey_every = rekey_every
        self.revocations = revocations
        self._send = _Direction(send_key, session_id)
        self._recv = _Direction(recv_key, session_id)
        self._next_seq = 0
        self._highest = -1
        self._seen = 0  # bit i set: sequence number (highest - i) was accepted
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        local = local_did.encode("ascii")
        self._sender_header = struct.pack("B", len(local)) + local
        self._peer_bytes = peer_did.encode("ascii")

    def _revoked(self, did: str) -> str | None:
        assert self.revocations is not None
        try:
            return self.revocations.reason(did)
        except MeshError as exc:
            raise ChannelError(
                f"cannot check revocations: {exc.message}", reason="revocation-store"
            ) from None

    @property
    def send_epoch(self) -> int:
        """Key epoch of the sending direction (it advances every `rekey_every` messages)."""
        return self._send.epoch

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt one message and return its frame.

        Raises:
            ChannelError: if this side's identity was revoked, or the message is too large.
        """
        if len(plaintext) > _MAX_PLAINTEXT:
            raise ChannelError(
                f"message of {len(plaintext)} bytes exceeds the 16 MiB limit", reason="too-large"
            )
        if self.revocations is not None and self._revoked(self.local_did) is not None:
            raise ChannelError(f"`{self.local_did}` is revoked and may not send", reason="revoked")
        with self._send_lock:
            seq = self._next_seq
            if seq >= 1 << 64:
                raise ChannelError(
                    "this channel's sequence numbers are exhausted; handshake again", reason="exhausted"
                )
            self._next_seq += 1
            found = self._send.cipher_for(seq // self.rekey_every)
            if found is None:
                raise ChannelError(f"no key for message {seq} in this direction", reason="too-old")
            aead, new_keys = found
            self._send.advance(new_keys)
            header = MAGIC + self.session_id + _SEQ.pack(seq) + self._sender_header
            return header + aead.encrypt(b"\0\0\0\0" + _SEQ.pack(seq), plaintext, header)

    def open(self, frame: bytes) -> bytes:
        """Authenticate and decrypt one frame from the peer.

        Raises:
            ChannelError: with `reason` ``malformed``, ``wrong-session``, ``wrong-sender``,
                ``revoked``, ``too-old``, ``too-far-ahead``, ``replayed`` or ``altered``.
        """
        if len(frame) < 4 + 16 + 8 + 1 + 16 or frame[:4] != MAGIC:
            raise ChannelError("not a channel frame", reason="malformed")
        if frame[4:20] != self.session_id:
            raise ChannelError("frame belongs to another session", reason="wrong-session")
        (seq,) = _SEQ.unpack_from(frame, 20)
        did_len = frame[28]
        sender = frame[29 : 29 + did_len]
        if len(sender) != did_len or len(frame) < 29 + did_len + 16:
            raise ChannelError("truncated channel frame", reason="malformed")
        if sender != self._peer_bytes:
            raise ChannelError(
                f"frame claims sender `{sender.decode('ascii', 'replace')}`, the peer is `{self.peer_did}`",
                reason="wrong-sender",
            )
        if self.revocations is not None:
            why = self._revoked(self.peer_did)
            if why is not None:
                raise ChannelError(f"sender `{self.peer_did}` is revoked ({why})", reason="revoked")
        header, body = frame[: 29 + did_len], frame[29 + did_len :]
        from cryptography.exceptions import InvalidTag

        with self._recv_lock:
            if seq <= self._highest - self.window:
                raise ChannelError(
                    f"message {seq} is older than the replay window (newest {self._highest}, window {self.window})",
                    reason="too-old",
                )
            if seq <= self._highest and self._seen >> (self._highest - seq) & 1:
                raise ChannelError(f"message {seq} was already received", reason="replayed")
            epoch = seq // self.rekey_every
            found = self._recv.cipher_for(epoch)
            if found is None:
                if epoch > self._recv.epoch:
                    raise ChannelError(
                        f"message {seq} claims key epoch {epoch}, too far beyond the current {self._recv.epoch}",
                        reason="too-far-ahead",
                    )
                raise ChannelError(f"message {seq} is from a key epoch whose key is gone", reason="too-old")
            aead, new_keys = found
            try:
                plaintext = aead.decrypt(b"\0\0\0\0" + _SEQ.pack(seq), body, header)
            except InvalidTag:
                raise ChannelError(
                    f"message {seq} failed authentication (altered, or sealed under another key)",
                    reason="altered",
                ) from None
            self._recv.advance(new_keys)
            if seq > self._highest:
                shift = seq - self._highest
                self._seen = (
                    ((self._seen << shift) | 1) & ((1 << self.window) - 1) if shift < self.window else 1
                )
                self._highest = seq
            else:
                self._seen |= 1 << (self._highest - seq)
            return plaintext
