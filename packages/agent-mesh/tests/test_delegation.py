"""Delegation chains: every way to widen, forge, outlive, over-extend or replay a grant is refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentmesh import (
    AgentIdentity,
    CallBudget,
    Delegation,
    DelegationError,
    DelegationVerifier,
    RevocationList,
    capability_covers,
)
from agentmesh._capabilities import check_pattern, covered_by, patterns_within

from .conftest import FakeClock, seeded


def chain3(
    root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock
) -> list[Delegation]:
    carol = seeded(9, "carol")
    c0 = Delegation.issue(root, alice, ["email:*", "read:*"], max_depth=2, clock=clock)
    c1 = Delegation.issue(alice, bob, ["email:send", "read:users"], max_depth=1, parent=c0, clock=clock)
    c2 = Delegation.issue(bob, carol, ["read:users"], parent=c1, clock=clock)
    return [c0, c1, c2]


def resign(issuer: AgentIdentity, cred: Delegation, **changes: Any) -> Delegation:
    """What a malicious issuer can do: sign any fields it likes with its own, real key."""
    fields = {**cred.signed_payload(), **changes}
    fields["signature"] = issuer.sign(fields)
    return Delegation.from_data(fields)


def refused(verifier: DelegationVerifier, chain: list[Any], **kw: Any) -> DelegationError:
    with pytest.raises(DelegationError) as info:
        verifier.verify(chain, **kw)
    return info.value


def test_valid_chain(root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    chain = chain3(root, alice, bob, clock)
    grant = DelegationVerifier([root.did], clock=clock).verify(chain, subject=chain[2].subject)
    assert grant.root == root.did
    assert grant.capabilities == ("read:users",)
    assert grant.depth == 3
    assert grant.credential_ids == tuple(c.id for c in chain)
    # The wire forms verify the same: objects, JSON data and JSON text.
    as_text = [c.to_json() for c in chain]
    as_data = [c.model_dump(mode="json") for c in chain]
    assert DelegationVerifier([root.did], clock=clock).verify(as_text) == grant
    assert DelegationVerifier([root.did], clock=clock).verify(as_data) == grant


def test_forged_signature(
    root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock
) -> None:
    chain = chain3(root, alice, bob, clock)
    data = chain[1].model_dump(mode="json")
    data["capabilities"] = ["email:*", "read:*"]  # altered after signing
    err = refused(DelegationVerifier([root.did], clock=clock), [chain[0], data, chain[2]])
    assert (err.link, err.reason) == (1, "bad-signature")
    assert "forged or altered" in err.message


def test_valid_signature_from_a_different_key(
    root: AgentIdentity, alice: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    # Mallory writes a credential that claims to come from the root and signs it herself.
    real = Delegation.issue(root, alice, ["read:*"], clock=clock)
    fake = resign(mallory, real, subject=mallory.did, capabilities=["*"])
    err = refused(DelegationVerifier([root.did], clock=clock), [fake])
    assert (err.link, err.reason) == (0, "bad-signature")


def test_untrusted_root(
    alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    cred = Delegation.issue(mallory, bob, ["read:*"], clock=clock)
    err = refused(DelegationVerifier([alice.did], clock=clock), [cred])
    assert (err.link, err.reason) == (0, "untrusted-root")


def test_root_scope_limits_what_it_may_grant(
    root: AgentIdentity, alice: AgentIdentity, clock: FakeClock
) -> None:
    cred = Delegation.issue(root, alice, ["read:*", "email:send"], clock=clock)
    err = refused(DelegationVerifier({root.did: ["read:*"]}, clock=clock), [cred])
    assert (err.link, err.reason) == (0, "widens")
    assert "`email:send`" in err.message


@pytest.mark.parametrize(
    ("changes", "reason", "fragment"),
    [
        ({"capabilities": ["email:*"]}, "widens", "`email:*` are not granted"),
        ({"capabilities": ["*"]}, "widens", "`*` are not granted"),
        ({"capabilities": ["delete:users"]}, "widens", "`delete:users`"),
        ({"max_depth": 2}, "too-deep", "max_depth 2 exceeds"),
        ({"not_after": 1_900_000_000}, "widens", "validity window"),
        ({"not_before": 1_000}, "widens", "validity window"),
        ({"max_calls": None}, "widens", "max_calls None exceeds the parent's 10"),
        ({"max_calls": 11}, "widens", "max_calls 11"),
        ({"audience": None}, "widens", "audience"),
        ({"audience": ["billing", "other"]}, "widens", "audience"),
    ],
)
def test_a_link_that_widens_its_parent_is_refused(
    root: AgentIdentity,
    alice: AgentIdentity,
    bob: AgentIdentity,
    clock: FakeClock,
    changes: dict[str, Any],
    reason: str,
    fragment: str,
) -> None:
    c0 = Delegation.issue(
        root, alice, ["email:send", "read:*"], max_depth=2, max_calls=10, audience=["billing"], clock=clock
    )
    c1 = Delegation.issue(
        alice, bob, ["read:users"], parent=c0, max_depth=1, max_calls=5, audience=["billing"], clock=clock
    )
    # Alice signs a wider grant with her own, real key: the signature is valid, the grant is not.
    wide = resign(alice, c1, **changes)
    err = refused(DelegationVerifier([root.did], audience="billing", clock=clock), [c0, wide])
    assert (err.link, err.reason) == (1, reason)
    assert fragment in err.message
    # issue() refuses to produce such a credential in the first place.
    with pytest.raises(DelegationError):
        Delegation.issue(
            alice, bob, changes.get("capabilities", ["email:*"]), parent=c0, max_depth=5, clock=clock
        )


def test_expired_and_not_yet_valid(
    root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock
) -> None:
    chain = chain3(root, alice, bob, clock)
    verifier = DelegationVerifier([root.did], clock=clock)
    clock.advance(3600)  # default lifetime is one hour: now == not_after
    err = refused(verifier, chain)
    assert (err.link, err.reason) == (0, "expired")
    future = Delegation.issue(root, alice, ["read:*"], not_before=clock.now + 60, clock=clock)
    err = refused(verifier, [future])
    assert (err.link, err.reason) == (0, "not-yet-valid")
    # A child issued later cannot outlive an expiring parent: issue() caps it.
    clock.now -= 3000
    short = Delegation.issue(root, alice, ["read:*"], max_depth=1, ttl_s=10, clock=clock)
    child = Delegation.issue(alice, bob, ["read:*"], parent=short, ttl_s=10_000, clock=clock)
    assert child.not_after == short.not_after


def test_too_deep(root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    chain = chain3(root, alice, bob, clock)
    err = refused(DelegationVerifier([root.did], max_chain=2, clock=clock), chain)
    assert (err.link, err.reason) == (None, "too-deep")
    # max_depth 0 forbids any re-delegation, even a narrower one.
    leaf = Delegation.issue(root, alice, ["read:*"], clock=clock)
    sneaky = resign(alice, Delegation.issue(alice, bob, ["read:x"], clock=clock), parent=leaf.hash)
    err = refused(DelegationVerifier([root.did], clock=clock), [leaf, sneaky])
    assert (err.link, err.reason) == (1, "too-deep")
    assert refused(DelegationVerifier([root.did], clock=clock), []).reason == "empty"


def test_broken_chain(
    root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    chain = chain3(root, alice, bob, clock)
    verifier = DelegationVerifier([root.did], clock=clock)
    # A link removed: carol's credential does not follow alice's.
    err = refused(verifier, [chain[0], chain[2]])
    assert (err.link, err.reason) == (1, "broken-chain")
    # Spliced from another chain with the same issuer and subject: the parent hash differs.
    other0 = Delegation.issue(root, alice, ["email:*", "read:*"], max_depth=2, clock=clock)
    err = refused(verifier, [other0, chain[1], chain[2]])
    assert (err.link, err.reason) == (1, "broken-chain")
    assert "does not name link 0" in err.message
    # The first link claims a parent that is not there.
    orphan = resign(root, chain[0], parent="0" * 64)
    assert refused(verifier, [orphan]).reason == "broken-chain"
    # Mallory cannot extend a chain that was not delegated to her.
    hijack = Delegation.issue(mallory, mallory.did, ["read:users"], clock=clock)
    hijack = resign(mallory, hijack, parent=chain[1].hash)
    err = refused(verifier, [chain[0], chain[1], hijack])
    assert (err.link, err.reason) == (2, "broken-chain")


def test_revoked(root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    chain = chain3(root, alice, bob, clock)
    revocations = RevocationList()
    verifier = DelegationVerifier([root.did], revocations=revocations, clock=clock)
    verifier.verify(chain)
    revocations.revoke(chain[1], "key leaked")
    err = refused(verifier, chain)
    assert (err.link, err.reason) == (1, "revoked")
    assert "key leaked" in err.message
    revocations2 = RevocationList()
    revocations2.revoke(alice)  # the identity: every credential it issued or holds falls
    err = refused(DelegationVerifier([root.did], revocations=revocations2, clock=clock), chain)
    assert (err.link, err.reason) == (0, "revoked")
    assert chain[1] in revocations and alice in revocations2 and len(revocations) == 1
    with pytest.raises(TypeError):
        revocations.revoke(42)


def test_replayed_by_another_agent(
    root: AgentIdentity, alice: AgentIdentity, mallory: AgentIdentity, clock: FakeClock
) -> None:
    cred = Delegation.issue(root, alice, ["read:*"], clock=clock)
    err = refused(DelegationVerifier([root.did], clock=clock), [cred], subject=mallory.did)
    assert (err.link, err.reason) == (0, "wrong-subject")


def test_audience(root: AgentIdentity, alice: AgentIdentity, clock: FakeClock) -> None:
    cred = Delegation.issue(root, alice, ["read:*"], audience=["billing"], clock=clock)
    DelegationVerifier([root.did], audience="billing", clock=clock).verify([cred])
    assert (
        refused(DelegationVerifier([root.did], audience="hr", clock=clock), [cred]).reason == "wrong-audience"
    )
    assert refused(DelegationVerifier([root.did], clock=clock), [cred]).reason == "wrong-audience"


def test_call_budget(root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock) -> None:
    c0 = Delegation.issue(root, alice, ["read:*"], max_calls=3, max_depth=1, clock=clock)
    c1 = Delegation.issue(alice, bob, ["read:*"], max_calls=3, parent=c0, clock=clock)
    verifier, budget = DelegationVerifier([root.did], clock=clock), CallBudget()
    alice_grant, bob_grant = verifier.verify([c0]), verifier.verify([c0, c1])
    assert budget.consume(bob_grant) is None
    assert budget.consume(bob_grant) is None
    # Bob's calls spent the parent's budget too: alice has one left, then nobody has any.
    assert budget.consume(alice_grant) is None
    assert budget.consume(alice_grant) is not None
    assert "all are used" in (budget.consume(bob_grant) or "")
    # A sibling credential that reuses c1's id (ids are the issuer's choice) has its own budget.
    twin = resign(alice, c1, max_calls=2)
    assert twin.id == c1.id and budget.consume(verifier.verify([c0, twin])) is not None  # parent spent
    assert budget.used(twin) == 0
    assert budget.used(c0) == 3 and budget.used(c1) == 2


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        {"type": "agentmesh/delegation/v1"},
        {"capabilities": ["read:*"], "extra": 1},
    ],
)
def test_malformed(data: Any, root: AgentIdentity, alice: AgentIdentity, clock: FakeClock) -> None:
    good = Delegation.issue(root, alice, ["read:*"], clock=clock).model_dump(mode="json")
    if isinstance(data, dict) and "capabilities" in data:
        data = {**good, **data}
    err = refused(DelegationVerifier([root.did], clock=clock), [data])
    assert (err.link, err.reason) == (0, "malformed")


@pytest.mark.parametrize("bad", ["re*d", "*:send", "read:*:x", "Read", "read:", ":x", "", "read users"])
def test_bad_patterns(bad: str, root: AgentIdentity, alice: AgentIdentity, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="capability pattern"):
        check_pattern(bad)
    with pytest.raises(DelegationError, match="malformed"):
        Delegation.issue(root, alice, [bad], clock=clock)


def test_capability_matching() -> None:
    assert capability_covers("read:*", "read")
    assert capability_covers("read:*", "read:users:rows")
    assert not capability_covers("read:*", "reader")
    assert not capability_covers("read:users", "read:users:rows")
    assert capability_covers("*", "anything:at:all")
    assert patterns_within(["read:users", "read:x:*"], ["read:*"]) == []
    assert patterns_within(["read:*"], ["read:users"]) == ["read:*"]
    assert patterns_within(["*"], ["read:*", "email:*"]) == ["*"]


SEGMENTS = st.sampled_from(["a", "b", "ab"])
NAMES = st.lists(SEGMENTS, min_size=1, max_size=3).map(":".join)
PATTERNS = st.one_of(st.just("*"), NAMES, NAMES.map(lambda n: n + ":*"))
UNIVERSE = [
    ":".join(p) for n in (1, 2, 3, 4) for p in __import__("itertools").product(["a", "b", "ab"], repeat=n)
]


@settings(deadline=None)
@given(PATTERNS, PATTERNS)
def test_covered_by_agrees_with_brute_force(child: str, parent: str) -> None:
    """Attenuation is sound and complete: `covered_by` holds exactly when every name the child
    grants (in a universe deeper than any pattern) is granted by the parent."""
    brute = all(capability_covers(parent, n) for n in UNIVERSE if capability_covers(child, n))
    assert covered_by(child, parent) == brute


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(0, 2000)),
        st.tuples(st.just("revoke"), st.integers(0, 5)),
        st.tuples(st.just("verify"), st.integers(0, 2)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_cached_verification_agrees_with_a_fresh_verifier(ops: list[tuple[str, int]]) -> None:
    """The fast path (a chain verified before is only re-checked for time and revocation) gives
    exactly the answer of a verifier that checks everything from scratch."""
    clock = FakeClock()
    root, alice, bob = seeded(1, "root"), seeded(2, "alice"), seeded(3, "bob")
    c0 = Delegation.issue(root, alice, ["read:*"], max_depth=1, ttl_s=5000, clock=clock)
    clock.advance(500)
    c1 = Delegation.issue(alice, bob, ["read:x"], parent=c0, ttl_s=3000, clock=clock)
    clock.advance(-500)
    chains = [[c0], [c0, c1], [c1]]
    revocable: list[Any] = [c0, c1.id, root.did, alice.did, bob.did, "unrelated"]
    revocations = RevocationList()
    cached = DelegationVerifier([root.did], revocations=revocations, clock=clock)

    def outcome(verifier: DelegationVerifier, chain: list[Delegation]) -> object:
        try:
            return verifier.verify(chain)
        except DelegationError as exc:
            return (exc.link, exc.reason, exc.message)

    for op, arg in ops:
        if op == "advance":
            clock.advance(arg)
        elif op == "revoke":
            revocations.revoke(revocable[arg])
        else:
            fresh = DelegationVerifier([root.did], revocations=revocations, clock=clock)
            assert outcome(cached, chains[arg]) == outcome(fresh, chains[arg])
