"""Encrypted channel: nothing can be read, altered, replayed, reordered beyond the window or reflected."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentmesh import AgentIdentity, ChannelError, Handshake, RevocationList, SecureChannel

from .conftest import FakeClock, seeded


def pair(
    a: AgentIdentity, b: AgentIdentity, *, revocations: RevocationList | None = None, **kw: int
) -> tuple[SecureChannel, SecureChannel]:
    clock = FakeClock()
    ha = Handshake(a, clock=clock, revocations=revocations, **kw)
    hb = Handshake(b, clock=clock, revocations=revocations, **kw)
    hello, pending_a = ha.initiate()
    response, pending_b = hb.respond(hello)
    finish, sa = pending_a.complete(response)
    return sa.channel, pending_b.complete(finish).channel


def refused(reason: str, channel: SecureChannel, frame: bytes) -> ChannelError:
    with pytest.raises(ChannelError) as info:
        channel.open(frame)
    assert info.value.reason == reason, info.value
    return info.value


def test_confidentiality(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, b = pair(alice, bob)
    secret = b"the launch code is 0000" * 4
    frame = a.seal(secret)
    assert secret not in frame and b"launch" not in frame
    assert alice.did.encode() in frame  # the sender DID travels in clear, authenticated
    assert b.open(frame) == secret
    assert a.seal(secret) != frame  # a new nonce each message


@pytest.mark.parametrize("where", ["magic", "session", "seq", "did", "ciphertext", "tag"])
def test_any_altered_byte_is_refused(alice: AgentIdentity, bob: AgentIdentity, where: str) -> None:
    a, b = pair(alice, bob)
    frame = bytearray(a.seal(b"transfer 10 EUR to bob"))
    did_end = 29 + frame[28]
    index = {
        "magic": 0,
        "session": 5,
        "seq": 27,
        "did": 40,
        "ciphertext": did_end + 3,
        "tag": len(frame) - 1,
    }[where]
    frame[index] ^= 0x01
    expected = {"magic": "malformed", "session": "wrong-session", "did": "wrong-sender"}.get(where, "altered")
    refused(expected, b, bytes(frame))


def test_truncated_and_junk_frames(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, b = pair(alice, bob)
    frame = a.seal(b"x")
    refused("malformed", b, frame[:20])
    refused("malformed", b, b"")
    refused("altered", b, frame[:-1])
    long_did = frame[:28] + bytes([200]) + frame[29:]
    with pytest.raises(ChannelError):
        b.open(long_did)


def test_replay_is_refused(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, b = pair(alice, bob)
    frames = [a.seal(b"%d" % i) for i in range(3)]
    for f in frames:
        b.open(f)
    for f in frames:
        refused("replayed", b, f)


def test_reordering_within_the_window_is_accepted_once(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, b = pair(alice, bob, window=8)
    frames = [a.seal(b"%d" % i) for i in range(10)]
    assert b.open(frames[9]) == b"9"
    assert b.open(frames[2]) == b"2"  # 7 behind: inside the window
    refused("replayed", b, frames[2])
    err = refused("too-old", b, frames[1])  # 8 behind: outside the window
    assert "older than the replay window" in err.message


def test_reflection_back_to_the_sender(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, _ = pair(alice, bob)
    frame = a.seal(b"hello")
    refused("wrong-sender", a, frame)
    # Rewriting the sender DID to the peer's does not help: the header is authenticated and
    # alice's receive key is not her send key.
    did_len = frame[28]
    forged = frame[:28] + bytes([len(bob.did)]) + bob.did.encode() + frame[29 + did_len :]
    refused("altered", a, forged)


def test_key_confusion_across_sessions(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a1, b1 = pair(alice, bob)
    _a2, b2 = pair(alice, bob)
    frame = a1.seal(b"for session 1")
    refused("wrong-session", b2, frame)
    relabelled = frame[:4] + b2.session_id + frame[20:]
    refused("altered", b2, relabelled)
    # A third party's channel with bob: its frames carry carol's DID, not alice's.
    carol = seeded(9, "carol")
    c3, _ = pair(carol, bob)
    refused("wrong-session", b1, c3.seal(b"x"))


def test_revoked_sender(alice: AgentIdentity, bob: AgentIdentity) -> None:
    revocations = RevocationList()
    a, b = pair(alice, bob, revocations=revocations)
    before = a.seal(b"sent before revocation")
    revocations.revoke(alice.did, "key stolen")
    err = refused("revoked", b, before)
    assert "key stolen" in err.message
    with pytest.raises(ChannelError, match="revoked"):
        a.seal(b"after")


def test_rekeying(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, b = pair(alice, bob, rekey_every=3, window=16)
    frames = [a.seal(b"%d" % i) for i in range(10)]
    assert a.send_epoch == 3
    # Out of order across an epoch boundary, inside the window.
    order = [0, 1, 4, 2, 3, 5, 8, 6, 7, 9]
    assert [b.open(frames[i]) for i in order] == [b"%d" % i for i in order]
    # Keys of epochs older than the previous one are gone: a late frame cannot be opened.
    a2, b2 = pair(alice, bob, rekey_every=2, window=64)
    early = [a2.seal(b"%d" % i) for i in range(8)]
    b2.open(early[7])
    refused("too-old", b2, early[0])
    # A frame claiming to be far ahead is refused without unbounded work.
    frame = a2.seal(b"x")
    refused("too-far-ahead", b2, frame[:20] + (10_000).to_bytes(8, "big") + frame[28:])


def test_bidirectional_keys_differ(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, b = pair(alice, bob)
    assert a._send.key == b._recv.key and a._recv.key == b._send.key
    assert a._send.key != a._recv.key


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_delivery_order_accepts_each_message_at_most_once(data: st.DataObject) -> None:
    """Model check: with duplicates and shuffling, the receiver accepts a message iff it is new
    and not behind the window, and what it accepts is exactly what was sent."""
    a, b = pair(seeded(2, "a"), seeded(3, "b"), window=8, rekey_every=5)
    count = data.draw(st.integers(1, 30))
    frames = [a.seal(b"m%d" % i) for i in range(count)]
    deliveries = data.draw(st.lists(st.integers(0, count - 1), max_size=60))
    accepted: set[int] = set()
    highest = -1
    for i in deliveries:
        epoch = max(highest, 0) // 5  # the receiver's key epoch follows the newest accepted message
        expect_ok = i not in accepted and i > highest - 8 and epoch - 1 <= i // 5 <= epoch + 4
        try:
            assert b.open(frames[i]) == b"m%d" % i
            ok = True
        except ChannelError as exc:
            assert exc.reason in {"replayed", "too-old", "too-far-ahead"}
            ok = False
        assert ok == expect_ok, (i, sorted(accepted), highest)
        if ok:
            accepted.add(i)
            highest = max(highest, i)


def test_random_bit_flips_never_decrypt(alice: AgentIdentity, bob: AgentIdentity) -> None:
    a, b = pair(alice, bob)
    rng = random.Random(7)
    for _ in range(200):
        frame = bytearray(a.seal(b"payload"))
        frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        with pytest.raises(ChannelError):
            b.open(bytes(frame))
