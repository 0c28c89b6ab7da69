"""Mutual handshake: proof of key possession, freshness, binding, and every attack in the issue."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agentmesh import (
    AgentIdentity,
    Delegation,
    DelegationVerifier,
    Handshake,
    HandshakeError,
    RevocationList,
    Session,
    TrustLedger,
)
from agentmesh._encoding import b64e

from .conftest import FakeClock


def run(a: Handshake, b: Handshake, expected: str | None = None) -> tuple[Session, Session]:
    hello, pending_a = a.initiate(expected_peer=expected)
    response, pending_b = b.respond(hello)
    finish, session_a = pending_a.complete(response)
    return session_a, pending_b.complete(finish)


def fails(reason: str, fn: Any, *args: Any) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        fn(*args)
    assert info.value.reason == reason, info.value
    return info.value


def test_mutual_handshake(alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    sa, sb = run(Handshake(alice, clock=clock), Handshake(bob, clock=clock), expected=bob.did)
    assert sa.peer.did == bob.did and sb.peer.did == alice.did
    assert sa.session_id == sb.session_id
    assert sb.channel.open(sa.channel.seal(b"ping")) == b"ping"
    assert sa.channel.open(sb.channel.seal(b"pong")) == b"pong"
    # Two handshakes between the same agents never share keys.
    sa2, _ = run(Handshake(alice, clock=clock), Handshake(bob, clock=clock))
    assert sa2.session_id != sa.session_id


def test_forged_response_signature(
    alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    hello, pending = Handshake(alice, clock=clock).initiate()
    response, _ = Handshake(bob, clock=clock).respond(hello)
    forged = dict(response, signature=b64e(bytes(64)))
    err = fails("bad-signature", pending.complete, forged)
    assert bob.did in err.message


def test_valid_signature_by_another_key(
    alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    # Mallory answers as bob, with bob's DID and key, but can only sign with her own key.
    hello, pending = Handshake(alice, clock=clock).initiate(expected_peer=bob.did)
    response, _ = Handshake(mallory, clock=clock).respond(hello)
    impostor = dict(response, responder=bob.did, key=b64e(bob.public_key))
    fails("bad-signature", pending.complete, impostor)


def test_key_that_does_not_match_the_claimed_did(
    alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    hello, pending = Handshake(alice, clock=clock).initiate()
    bad_hello = dict(hello, key=b64e(mallory.public_key))
    fails("key-mismatch", Handshake(bob, clock=clock).respond, bad_hello)
    response, _ = Handshake(bob, clock=clock).respond(hello)
    fails("key-mismatch", pending.complete, dict(response, key=b64e(mallory.public_key)))


def test_unexpected_peer(
    alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    # Mallory answers honestly as herself, but alice wanted bob.
    hello, pending = Handshake(alice, clock=clock).initiate(expected_peer=bob.did)
    response, _ = Handshake(mallory, clock=clock).respond(hello)
    fails("wrong-peer", pending.complete, response)


def test_man_in_the_middle_key_substitution(
    alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock
) -> None:
    """Mallory relays and swaps in her own ephemeral keys to read the traffic: both sides notice."""
    mallory_eph = b64e(X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    # Swap towards bob: bob signs over mallory's key, which alice never sent.
    hello, pending = Handshake(alice, clock=clock).initiate(expected_peer=bob.did)
    response, _ = Handshake(bob, clock=clock).respond(dict(hello, ephemeral=mallory_eph))
    fails("bad-signature", pending.complete, response)
    # Swap towards alice: bob's signature does not cover mallory's key.
    hello, pending = Handshake(alice, clock=clock).initiate(expected_peer=bob.did)
    response, _ = Handshake(bob, clock=clock).respond(hello)
    fails("bad-signature", pending.complete, dict(response, ephemeral=mallory_eph))
    # Swap in the finish direction: bob refuses alice's signature over a transcript he did not see.
    hello, pending = Handshake(alice, clock=clock).initiate(expected_peer=bob.did)
    response, pending_b = Handshake(bob, clock=clock).respond(hello)
    finish, _ = pending.complete(response)
    tampered = copy.deepcopy(finish)
    tampered["signature"] = Handshake(alice, clock=clock).identity.sign({"other": "transcript"})
    fails("bad-signature", pending_b.complete, tampered)


def test_replayed_hello(alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    responder = Handshake(bob, clock=clock)
    hello, _ = Handshake(alice, clock=clock).initiate()
    responder.respond(hello)
    err = fails("replayed", responder.respond, hello)
    assert "already answered" in err.message


def test_replayed_response_and_finish(alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    a, b = Handshake(alice, clock=clock), Handshake(bob, clock=clock)
    hello, pending_a = a.initiate()
    response, pending_b = b.respond(hello)
    finish, _ = pending_a.complete(response)
    pending_b.complete(finish)
    fails("replayed", pending_a.complete, response)
    fails("replayed", pending_b.complete, finish)
    # An old response or finish presented to a new handshake does not verify (fresh nonces).
    hello2, pending_a2 = a.initiate()
    fails("bad-signature", pending_a2.complete, response)
    _, pending_b2 = b.respond(hello2)
    fails("bad-signature", pending_b2.complete, finish)


def test_expired_challenge(alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    a, b = Handshake(alice, clock=clock, ttl_s=30), Handshake(bob, clock=clock, ttl_s=30)
    hello, pending_a = a.initiate()
    clock.advance(30)
    fails("expired", b.respond, hello)
    clock.advance(-30)
    response, pending_b = b.respond(hello)
    clock.advance(30)
    fails("expired", pending_a.complete, response)
    hello, pending_a = a.initiate()
    response, pending_b = b.respond(hello)
    finish, _ = pending_a.complete(response)
    clock.advance(31)
    fails("expired", pending_b.complete, finish)
    # A hello that claims to stay valid longer than the responder allows is refused too.
    long_lived = Handshake(alice, clock=clock, ttl_s=3600).initiate()[0]
    fails("expired", b.respond, long_lived)


def test_reflection(alice: AgentIdentity, clock: FakeClock) -> None:
    a = Handshake(alice, clock=clock)
    hello, pending = a.initiate()
    fails("reflection", Handshake(alice, clock=clock).respond, hello)
    # A response built by reflecting our own hello back (our DID as the responder) is refused.
    reflected = {**hello, "type": "agentmesh/handshake-response/v1", "responder": alice.did, "signature": "x"}
    fails("reflection", pending.complete, reflected)


def test_malformed_messages(alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    b = Handshake(bob, clock=clock)
    hello, _ = Handshake(alice, clock=clock).initiate()
    for bad in ({}, dict(hello, type="x"), dict(hello, nonce="short"), dict(hello, ephemeral=None),
                dict(hello, expires_at="soon"), dict(hello, credentials="x"), dict(hello, initiator="did:web:x")):  # fmt: skip
        with pytest.raises(HandshakeError):
            b.respond(bad)


def test_revoked_peer(alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    revocations = RevocationList()
    revocations.revoke(alice.did, "compromised")
    hello, _ = Handshake(alice, clock=clock).initiate()
    err = fails("revoked", Handshake(bob, revocations=revocations, clock=clock).respond, hello)
    assert "compromised" in err.message


def test_required_capabilities(
    root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    verifier = DelegationVerifier([root.did], clock=clock)
    cred = Delegation.issue(root, alice, ["email:*"], clock=clock)
    strict = Handshake(bob, verifier=verifier, require=["email:send"], clock=clock)
    _sa, sb = run(Handshake(alice, credentials=[cred], clock=clock), strict)
    assert sb.peer_grant is not None and sb.peer_grant.capabilities == ("email:*",)
    # Without credentials, or with too narrow ones: refused.
    fails("capability", run, Handshake(alice, clock=clock), strict)
    narrow = Delegation.issue(root, alice, ["email:read"], clock=clock)
    fails("capability", run, Handshake(alice, credentials=[narrow], clock=clock), strict)
    # Mallory presents alice's credential: the chain empowers alice, not her.
    err = fails("credential", run, Handshake(mallory, credentials=[cred], clock=clock), strict)
    assert "not the presenter" in err.message
    # The initiator can require capabilities of the responder too.
    fails("capability", run, Handshake(alice, verifier=verifier, require=["hr:read"], clock=clock),
          Handshake(bob, clock=clock))  # fmt: skip


def test_minimum_trust_reads_our_ledger_not_the_peers_claim(
    alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock
) -> None:
    ledger = TrustLedger(clock=clock)
    ledger.record(alice.did, "policy_violation", cause="earlier")
    picky = Handshake(bob, trust=ledger, min_trust=480, clock=clock)
    hello, _ = Handshake(alice, clock=clock).initiate()
    # A peer cannot claim a score: unknown fields are refused, and the score comes from our ledger.
    fails("malformed", picky.respond, dict(hello, trust_score=1000))
    err = fails("trust", picky.respond, hello)
    assert "450" in err.message
    ledger.record(alice.did, "restore", cause="operator", delta=100)
    _sa, sb = run(Handshake(alice, clock=clock), picky)
    assert sb.peer_trust == 550


def test_failed_handshakes_lower_trust_only_when_the_peer_is_authenticated(
    root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    ledger = TrustLedger(clock=clock)
    verifier = DelegationVerifier([root.did], clock=clock)
    initiator = Handshake(alice, trust=ledger, verifier=verifier, require=["hr:read"], clock=clock)
    fails("capability", run, initiator, Handshake(bob, clock=clock))
    assert ledger.score(bob.did) == 470  # bob proved his key, then fell short
    assert "does not hold `hr:read`" in ledger.history(bob.did)[0].cause
    # Mallory impersonating bob fails at the signature: bob's score is not touched by her.
    hello, pending = Handshake(alice, trust=ledger, clock=clock).initiate()
    response, _ = Handshake(mallory, clock=clock).respond(hello)
    fails("bad-signature", pending.complete, dict(response, responder=bob.did, key=b64e(bob.public_key)))
    assert ledger.score(bob.did) == 470


def test_configuration_errors(alice: AgentIdentity) -> None:
    with pytest.raises(ValueError, match="verifier"):
        Handshake(alice, require=["x"])
    with pytest.raises(ValueError, match="trust"):
        Handshake(alice, min_trust=10)
    with pytest.raises(ValueError, match="capability name"):
        Handshake(alice, require=["read:*"], verifier=DelegationVerifier([alice.did]))
