"""Mutual handshake: both agents prove they hold their DID's key and agree on channel keys.

Three messages (a SIGMA-style signed Diffie-Hellman)::

    initiator -> responder   hello     DID, key, fresh nonce, ephemeral X25519 key, expiry, credentials
    responder -> initiator   response  DID, key, fresh nonce, ephemeral X25519 key, signature
    initiator -> responder   finish    signature

Each signature covers the same transcript (both DIDs, both nonces, both ephemeral keys, the
hashes of both sides' credentials, the expiry, the hello's hash) plus the signer's role, so:

* a response or finish from another session, or replayed later, does not verify (fresh nonces);
* a man in the middle who substitutes an ephemeral key breaks the other side's signature;
* a signature cannot be reflected back to its maker (the role differs), nor can an agent be
  talked into a session with itself;
* a key that is not the claimed DID's is refused before any signature is checked;
* hellos are accepted once (a replay cache keyed by nonce, held until the hello expires), and
  nothing is accepted after ``expires_at``.

Channel keys come from HKDF-SHA256 over the X25519 secret, salted with the transcript hash, one
key per direction. Optional requirements: a minimum trust score (read from *our* ledger, never
from what the peer claims) and capabilities the peer must hold through a delegation chain our
verifier accepts. A failure raises `HandshakeError` with a ``reason``; failures of a peer that
did prove its key (policy failures) are recorded in the trust ledger as ``handshake_failed``,
unauthenticated ones are not, since anyone can claim any DID.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from agentmesh._capabilities import capability_covers, check_capability
from agentmesh._channel import SecureChannel
from agentmesh._delegation import Delegation, DelegationVerifier, VerifiedDelegation
from agentmesh._did import public_key_from_did
from agentmesh._encoding import b64d, b64e
from agentmesh._errors import DelegationError, HandshakeError, IdentityError, MeshError, SignatureError
from agentmesh._identity import PublicIdentity
from agt_core import CanonicalJSONError, canonical_json_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentmesh._identity import AgentIdentity
    from agentmesh._revocation import RevocationList
    from agentmesh._trust import TrustLedger

__all__ = ["Handshake", "PendingInitiation", "PendingResponse", "Session"]

HELLO = "agentmesh/hello/v1"
RESPONSE = "agentmesh/handshake-response/v1"
FINISH = "agentmesh/handshake-finish/v1"
TRANSCRIPT = "agentmesh/handshake-transcript/v1"
_MAX_CREDENTIALS = 8
_HELLO_FIELDS = frozenset({"type", "initiator", "key", "nonce", "ephemeral", "expires_at", "credentials"})
_MAX_REPLAY_ENTRIES = 100_000


class Session(NamedTuple):
    """An established, mutually authenticated session.

    Attributes:
        peer: The other agent (its DID proven by its signature).
        channel: The encrypted channel to it.
        session_id: Hex id of the session (both sides agree on it).
        peer_grant: What the peer's delegation chain grants, when it presented one we accept.
        peer_trust: The peer's score in our ledger at handshake time, when we keep one.
    """

    peer: PublicIdentity
    channel: SecureChannel
    session_id: str
    peer_grant: VerifiedDelegation | None
    peer_trust: int | None


def _hash(data: Any) -> str:
    try:
        return hashlib.sha256(canonical_json_bytes(data)).hexdigest()
    except CanonicalJSONError as exc:
        raise HandshakeError(
            f"handshake message has no canonical JSON form: {exc}", reason="malformed"
        ) from None


def _field(message: Mapping[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise HandshakeError(f"handshake message lacks a valid `{name}`", reason="malformed")
    return value


class Handshake:
    """One agent's side of handshakes: its identity, what it presents and what it requires.

    Args:
        identity: This agent's identity (signs its half).
        credentials: A delegation chain to present (root-issued first), proving our capabilities.
        verifier: Checks the peer's chain; needed when `require` is not empty.
        require: Capabilities the peer must hold through a chain the verifier accepts.
        min_trust: Minimum score of the peer in `trust`.
        trust: Our trust ledger: read for `min_trust`, written with handshake outcomes.
        revocations: Peers revoked here are refused, and channel messages from them too.
        ttl_s: How long a handshake may take from hello to finish (default 30 s).
        window: The channel's replay window.
        rekey_every: The channel ratchets its keys after this many messages per direction.
        clock: Current time in Unix seconds.
    """

    def __init__(
        self,
        identity: AgentIdentity,
        *,
        credentials: Iterable[Delegation] = (),
        verifier: DelegationVerifier | None = None,
        require: Iterable[str] = (),
        min_trust: int | None = None,
        trust: TrustLedger | None = None,
        revocations: RevocationList | None = None,
        ttl_s: float = 30.0,
        window: int = 64,
        rekey_every: int = 1 << 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.identity = identity
        self.credentials = tuple(credentials)
        if len(self.credentials) > _MAX_CREDENTIALS:
            raise ValueError(f"at most {_MAX_CREDENTIALS} credentials can be presented")
        self.require = tuple(check_capability(c) for c in require)
        if self.require and verifier is None:
            raise ValueError("require= needs a verifier= to check the peer's delegation chain")
        if min_trust is not None and trust is None:
            raise ValueError("min_trust= needs a trust= ledger to read scores from")
        self.verifier = verifier
        self.min_trust = min_trust
        self.trust = trust
        self.revocations = revocations
        self.ttl_ms = int(ttl_s * 1000)
        self.window = window
        self.rekey_every = rekey_every
        self.clock = clock
        self._seen_hellos: dict[str, int] = {}
        self._seen_lock = threading.Lock()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- initiator ----------------------------------------------------------------------------

    def initiate(self, *, expected_peer: str | None = None) -> tuple[dict[str, Any], PendingInitiation]:
        """Start a handshake: the hello to send, and the state that completes it.

        Args:
            expected_peer: The DID we mean to reach; a response from any other DID is refused.
        """
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        if expected_peer is not None:
            public_key_from_did(expected_peer)
        ephemeral = X25519PrivateKey.generate()
        hello = {
            "type": HELLO,
            "initiator": self.identity.did,
            "key": b64e(self.identity.public_key),
            "nonce": b64e(secrets.token_bytes(32)),
            "ephemeral": b64e(_raw_public(ephemeral)),
            "expires_at": self._now_ms() + self.ttl_ms,
            "credentials": [c.model_dump(mode="json") for c in self.credentials],
        }
        return hello, PendingInitiation(self, hello, ephemeral, expected_peer)

    # -- responder ----------------------------------------------------------------------------

    def respond(self, hello: Mapping[str, Any]) -> tuple[dict[str, Any], PendingResponse]:
        """Answer a hello: the response to send back, and the state that accepts the finish.

        Raises:
            HandshakeError: if the hello is malformed, expired, replayed, from ourselves, from a
                revoked DID, or its key does not match its DID, or the initiator fails our
                requirements (checked here to fail early, and bound by its finish signature).
        """
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        if not isinstance(hello, Mapping) or hello.get("type") != HELLO:
            raise HandshakeError("not a handshake hello", reason="malformed")
        unknown = set(hello) - _HELLO_FIELDS
        if unknown:
            raise HandshakeError(
                f"the hello has unknown fields {sorted(map(str, unknown))}", reason="malformed"
            )
        peer = self._peer_identity(hello, "initiator")
        nonce = _field(hello, "nonce", str)
        expires_at = _field(hello, "expires_at", int)
        now = self._now_ms()
        if now >= expires_at:
            raise HandshakeError(f"the hello from `{peer.did}` expired", reason="expired")
        if expires_at - now > self.ttl_ms:
            raise HandshakeError("the hello expires further ahead than we allow", reason="expired")
        peer_ephemeral = _decode(hello, "ephemeral", 32)
        _decode(hello, "nonce", 32)
        peer_creds = self._parse_credentials(hello)
        self._remember_hello(nonce, expires_at, now)
        self._check_peer(peer, peer_creds, authenticated=False)  # fail early; checked again after finish
        ephemeral = X25519PrivateKey.generate()
        transcript = {
            "type": TRANSCRIPT,
            "hello": _hash(hello),
            "initiator": peer.did,
            "responder": self.identity.did,
            "initiator_nonce": nonce,
            "responder_nonce": b64e(secrets.token_bytes(32)),
            "initiator_ephemeral": hello["ephemeral"],
            "responder_ephemeral": b64e(_raw_public(ephemeral)),
            "initiator_credentials": [c.hash for c in peer_creds],
            "responder_credentials": [c.hash for c in self.credentials],
            "expires_at": expires_at,
        }
        response = {
            "type": RESPONSE,
            "responder": self.identity.did,
            "key": b64e(self.identity.public_key),
            "nonce": transcript["responder_nonce"],
            "ephemeral": transcript["responder_ephemeral"],
            "hello": transcript["hello"],
            "credentials": [c.model_dump(mode="json") for c in self.credentials],
            "signature": self.identity.sign({**transcript, "role": "responder"}),
        }
        pending = PendingResponse(self, peer, transcript, ephemeral, peer_ephemeral, peer_creds)
        return response, pending

    def _remember_hello(self, nonce: str, expires_at: int, now: int) -> None:
        with self._seen_lock:
            if nonce in self._seen_hellos:
                raise HandshakeError("this hello was already answered", reason="replayed")
            if len(self._seen_hellos) >= _MAX_REPLAY_ENTRIES:
                for key in [k for k, exp in self._seen_hellos.items() if exp <= now]:
                    del self._seen_hellos[key]
                if len(self._seen_hellos) >= _MAX_REPLAY_ENTRIES:
                    raise HandshakeError("too many handshakes in progress; try again later", reason="busy")
            self._seen_hellos[nonce] = expires_at

    # -- shared checks ------------------------------------------------------------------------

    def _peer_identity(self, message: Mapping[str, Any], role: str) -> PublicIdentity:
        did = _field(message, role, str)
        try:
            peer = PublicIdentity(did)
        except IdentityError as exc:
            raise HandshakeError(f"the peer's DID is invalid: {exc.message}", reason="bad-did") from None
        if _decode(message, "key", 32) != peer.public_key:
            raise HandshakeError(
                f"the key presented does not match the claimed DID `{did}`", reason="key-mismatch"
            )
        if did == self.identity.did:
            raise HandshakeError("the peer presents our own DID (reflected handshake)", reason="reflection")
        if self.revocations is not None:
            try:
                why = self.revocations.reason(did)
            except MeshError as exc:
                raise HandshakeError(
                    f"cannot check revocations: {exc.message}", reason="revocation-store"
                ) from None
            if why is not None:
                raise HandshakeError(f"peer `{did}` is revoked ({why})", reason="revoked")
        return peer

    def _parse_credentials(self, message: Mapping[str, Any]) -> list[Delegation]:
        raw = message.get("credentials", [])
        if not isinstance(raw, list) or len(raw) > _MAX_CREDENTIALS:
            raise HandshakeError(
                f"`credentials` must be a list of at most {_MAX_CREDENTIALS}", reason="malformed"
            )
        try:
            return [Delegation.from_data(item) for item in raw]
        except DelegationError as exc:
            raise HandshakeError(
                f"the peer's credential is malformed: {exc.message}", reason="malformed"
            ) from None

    def _check_peer(
        self, peer: PublicIdentity, creds: list[Delegation], *, authenticated: bool
    ) -> VerifiedDelegation | None:
        """Apply our requirements to the peer; failures of an authenticated peer lower its trust."""
        try:
            grant = None
            if creds and self.verifier is not None:
                try:
                    grant = self.verifier.verify(creds, subject=peer.did)
                except DelegationError as exc:
                    if self.require:
                        raise HandshakeError(
                            f"the peer's delegation chain was refused: {exc.message}", reason="credential"
                        ) from None
            missing = [
                c
                for c in self.require
                if grant is None or not any(capability_covers(p, c) for p in grant.capabilities)
            ]
            if missing:
                raise HandshakeError(
                    f"peer `{peer.did}` does not hold {', '.join(f'`{c}`' for c in missing)}",
                    reason="capability",
                )
            if self.min_trust is not None and self.trust is not None:
                score = self.trust.score(peer.did)
                if score < self.min_trust:
                    raise HandshakeError(
                        f"peer `{peer.did}` has trust {score}, below the required {self.min_trust}",
                        reason="trust",
                    )
        except HandshakeError as exc:
            if authenticated and self.trust is not None:
                self.trust.record(peer.did, "handshake_failed", cause=f"handshake: {exc.message}")
            raise
        return grant

    def _session(
        self,
        peer: PublicIdentity,
        transcript: Mapping[str, Any],
        ephemeral: X25519PrivateKey,
        peer_ephemeral: bytes,
        grant: VerifiedDelegation | None,
        *,
        initiator: bool,
    ) -> Session:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        try:
            shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(peer_ephemeral))
        except ValueError:
            raise HandshakeError(
                "the peer's ephemeral key is a low-order point", reason="bad-ephemeral"
            ) from None
        digest = hashlib.sha256(canonical_json_bytes(transcript)).digest()
        okm = HKDF(hashes.SHA256(), 64, salt=digest, info=b"agentmesh/channel/v1").derive(shared)
        i2r, r2i = okm[:32], okm[32:]
        channel = SecureChannel(
            session_id=digest[:16],
            local_did=self.identity.did,
            peer_did=peer.did,
            send_key=i2r if initiator else r2i,
            recv_key=r2i if initiator else i2r,
            window=self.window,
            rekey_every=self.rekey_every,
            revocations=self.revocations,
        )
        # A successful handshake earns no trust: it proves only key possession, and would let a
        # peer farm its score by reconnecting.
        peer_trust = self.trust.score(peer.did) if self.trust is not None else None
        return Session(peer, channel, digest[:16].hex(), grant, peer_trust)


class PendingInitiation:
    """The initiator's state between hello and response. Completes once."""

    def __init__(
        self,
        handshake: Handshake,
        hello: dict[str, Any],
        ephemeral: X25519PrivateKey,
        expected_peer: str | None,
    ) -> None:
        self._handshake = handshake
        self._hello = hello
        self._ephemeral: X25519PrivateKey | None = ephemeral
        self._expected_peer = expected_peer
        self._lock = threading.Lock()

    def complete(self, response: Mapping[str, Any]) -> tuple[dict[str, Any], Session]:
        """Check the response; return the finish message to send and the established session.

        Raises:
            HandshakeError: ``malformed``, ``replayed`` (this state was already used), ``expired``,
                ``wrong-peer``, ``key-mismatch``, ``reflection``, ``revoked``, ``bad-signature``
                (forged, or a man in the middle changed a key or nonce), ``capability``, ``trust``.
        """
        hs = self._handshake
        with self._lock:
            ephemeral, self._ephemeral = self._ephemeral, None
        if ephemeral is None:
            raise HandshakeError("this handshake was already completed or failed", reason="replayed")
        if not isinstance(response, Mapping) or response.get("type") != RESPONSE:
            raise HandshakeError("not a handshake response", reason="malformed")
        peer = hs._peer_identity(response, "responder")
        if self._expected_peer is not None and peer.did != self._expected_peer:
            raise HandshakeError(
                f"the responder is `{peer.did}`, not the expected `{self._expected_peer}`",
                reason="wrong-peer",
            )
        if hs._now_ms() >= self._hello["expires_at"]:
            raise HandshakeError("the handshake expired before the response arrived", reason="expired")
        peer_ephemeral = _decode(response, "ephemeral", 32)
        _decode(response, "nonce", 32)
        peer_creds = hs._parse_credentials(response)
        transcript = {
            "type": TRANSCRIPT,
            "hello": _hash(self._hello),
            "initiator": hs.identity.did,
            "responder": peer.did,
            "initiator_nonce": self._hello["nonce"],
            "responder_nonce": response["nonce"],
            "initiator_ephemeral": self._hello["ephemeral"],
            "responder_ephemeral": response["ephemeral"],
            "initiator_credentials": [c.hash for c in hs.credentials],
            "responder_credentials": [c.hash for c in peer_creds],
            "expires_at": self._hello["expires_at"],
        }
        _verify(peer, {**transcript, "role": "responder"}, response.get("signature"))
        grant = hs._check_peer(peer, peer_creds, authenticated=True)
        finish = {
            "type": FINISH,
            "initiator": hs.identity.did,
            "transcript": _hash(transcript),
            "signature": hs.identity.sign({**transcript, "role": "initiator"}),
        }
        session = hs._session(peer, transcript, ephemeral, peer_ephemeral, grant, initiator=True)
        return finish, session


class PendingResponse:
    """The responder's state between response and finish. Completes once."""

    def __init__(
        self,
        handshake: Handshake,
        peer: PublicIdentity,
        transcript: dict[str, Any],
        ephemeral: X25519PrivateKey,
        peer_ephemeral: bytes,
        peer_credentials: list[Delegation],
    ) -> None:
        self._handshake = handshake
        self._peer = peer
        self._transcript = transcript
        self._ephemeral: X25519PrivateKey | None = ephemeral
        self._peer_ephemeral = peer_ephemeral
        self._peer_credentials = peer_credentials
        self._lock = threading.Lock()

    def complete(self, finish: Mapping[str, Any]) -> Session:
        """Check the initiator's finish and return the established session.

        Raises:
            HandshakeError: ``malformed``, ``replayed``, ``expired``, ``wrong-peer`` or ``bad-signature``.
        """
        hs = self._handshake
        with self._lock:
            ephemeral, self._ephemeral = self._ephemeral, None
        if ephemeral is None:
            raise HandshakeError("this handshake was already completed or failed", reason="replayed")
        if not isinstance(finish, Mapping) or finish.get("type") != FINISH:
            raise HandshakeError("not a handshake finish", reason="malformed")
        if finish.get("initiator") != self._peer.did:
            raise HandshakeError("the finish comes from another DID than the hello", reason="wrong-peer")
        if hs._now_ms() >= self._transcript["expires_at"]:
            raise HandshakeError("the handshake expired before the finish arrived", reason="expired")
        _verify(self._peer, {**self._transcript, "role": "initiator"}, finish.get("signature"))
        # The initiator's credentials are now bound to its key: check them as an authenticated peer.
        grant = hs._check_peer(self._peer, self._peer_credentials, authenticated=True)
        return hs._session(
            self._peer, self._transcript, ephemeral, self._peer_ephemeral, grant, initiator=False
        )


def _raw_public(key: X25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _decode(message: Mapping[str, Any], name: str, size: int) -> bytes:
    try:
        return b64d(message.get(name), size=size, what=f"`{name}`")
    except ValueError as exc:
        raise HandshakeError(f"handshake message: {exc}", reason="malformed") from None


def _verify(peer: PublicIdentity, payload: Mapping[str, Any], signature: object) -> None:
    if not isinstance(signature, str):
        raise HandshakeError("handshake message lacks a signature", reason="malformed")
    try:
        peer.verify(payload, signature)
    except SignatureError:
        raise HandshakeError(
            f"the handshake signature is not `{peer.did}`'s over this session "
            "(forged, replayed from another session, or a key was substituted in transit)",
            reason="bad-signature",
        ) from None
    except (IdentityError, CanonicalJSONError) as exc:
        raise HandshakeError(f"cannot verify the handshake signature: {exc}", reason="malformed") from None
