"""Races (replayed hellos, double completion, shared budgets, concurrent senders) and fuzzing:
whatever arrives from outside, only our own errors come out."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentmesh import (
    AgentIdentity,
    CallBudget,
    ChannelError,
    Delegation,
    DelegationError,
    DelegationVerifier,
    Handshake,
    HandshakeError,
    IdentityError,
    PublicIdentity,
)

from .conftest import FakeClock, seeded


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(i) on n threads released together; each result or exception in order."""
    start = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_hello_replayed_concurrently_is_answered_once(alice: AgentIdentity, bob: AgentIdentity) -> None:
    responder = Handshake(bob)
    hello, _ = Handshake(alice).initiate()
    results = race(8, lambda i: responder.respond(hello))
    answered = [r for r in results if not isinstance(r, Exception)]
    assert len(answered) == 1
    assert all(isinstance(r, HandshakeError) and r.reason == "replayed" for r in results if r not in answered)


def test_a_pending_handshake_completes_once_under_races(alice: AgentIdentity, bob: AgentIdentity) -> None:
    hello, pending_a = Handshake(alice).initiate()
    response, pending_b = Handshake(bob).respond(hello)
    results = race(6, lambda i: pending_a.complete(response))
    done = [r for r in results if not isinstance(r, Exception)]
    assert len(done) == 1
    finish = done[0][0]
    results = race(6, lambda i: pending_b.complete(finish))
    assert sum(not isinstance(r, Exception) for r in results) == 1


def test_call_budget_is_exact_under_races(root: AgentIdentity, alice: AgentIdentity) -> None:
    clock = FakeClock()
    grant = DelegationVerifier([root.did], clock=clock).verify(
        [Delegation.issue(root, alice, ["x"], max_calls=37, clock=clock)]
    )
    budget = CallBudget()
    results = race(8, lambda i: [budget.consume(grant) for _ in range(10)])
    allowed = sum(r is None for batch in results for r in batch)
    assert allowed == 37


def test_concurrent_senders_share_one_sequence(alice: AgentIdentity, bob: AgentIdentity) -> None:
    hello, pa = Handshake(alice).initiate()
    response, pb = Handshake(bob, window=1024).respond(hello)
    finish, sa = pa.complete(response)
    sb = pb.complete(finish)
    batches = race(4, lambda i: [sa.channel.seal(b"%d-%d" % (i, k)) for k in range(50)])
    frames = [f for batch in batches for f in batch]
    assert len({f[20:28] for f in frames}) == 200  # no sequence number (nonce) used twice
    opened = {sb.channel.open(f) for f in frames}
    assert len(opened) == 200


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_channel_open_only_raises_channel_errors(data: bytes) -> None:
    channel = _CHANNELS[1]
    with contextlib.suppress(ChannelError):
        channel.open(data)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "initiator", "key", "nonce", "ephemeral", "expires_at",
                                        "credentials", "extra"]), _JSON | st.integers(2**53, 2**64)))  # fmt: skip
def test_respond_only_raises_handshake_errors(fields: dict[str, Any]) -> None:
    hello = {**_HELLO, **fields}
    with contextlib.suppress(HandshakeError):
        Handshake(_BOB, clock=_CLOCK).respond(hello)


@settings(max_examples=100, deadline=None)
@given(_JSON)
def test_credential_parsing_only_raises_delegation_errors(data: Any) -> None:
    with contextlib.suppress(DelegationError):
        DelegationVerifier([seeded(1, "root").did]).verify([data])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_did_parsing_only_raises_identity_errors(text: str) -> None:
    with contextlib.suppress(IdentityError):
        PublicIdentity("did:key:z" + text)


def _channels() -> tuple[Any, Any]:
    hello, pa = Handshake(seeded(2, "alice")).initiate()
    response, pb = Handshake(seeded(3, "bob")).respond(hello)
    finish, sa = pa.complete(response)
    return sa.channel, pb.complete(finish).channel


_CHANNELS = _channels()
_CLOCK = FakeClock()
_BOB = seeded(3, "bob")
_HELLO = Handshake(seeded(2, "alice"), clock=_CLOCK).initiate()[0]  # valid: fuzzing reaches the deep checks
