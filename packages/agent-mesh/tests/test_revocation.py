"""Revocation lists kept in a file: shared between processes, surviving restarts, failing closed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentmesh import (
    AgentIdentity,
    ChannelError,
    Delegation,
    DelegationError,
    DelegationVerifier,
    Handshake,
    HandshakeError,
    MeshError,
    RevocationList,
)

from .conftest import FakeClock


def test_revocations_survive_a_restart(tmp_path: Path, alice: AgentIdentity) -> None:
    path = str(tmp_path / "revoked.db")
    first = RevocationList(path)
    first.revoke(alice, "key leaked")
    first.close()
    again = RevocationList(path)
    assert again.reason(alice.did) == "key leaked" and len(again) == 1


def test_a_revocation_in_another_process_is_seen_at_the_next_check(
    tmp_path: Path, root: AgentIdentity, alice: AgentIdentity, clock: FakeClock
) -> None:
    path = str(tmp_path / "revoked.db")
    revocations = RevocationList(path)
    cred = Delegation.issue(root, alice, ["read:*"], clock=clock)
    verifier = DelegationVerifier([root.did], revocations=revocations, clock=clock)
    verifier.verify([cred])  # cached from now on
    code = f"from agentmesh import RevocationList; RevocationList({path!r}).revoke({cred.id!r}, 'rotated')"
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(DelegationError) as info:
        verifier.verify([cred])
    assert (info.value.reason, info.value.link) == ("revoked", 0)
    assert "rotated" in info.value.message


def test_an_unreadable_list_refuses_everything(
    tmp_path: Path, root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity, clock: FakeClock
) -> None:
    revocations = RevocationList(str(tmp_path / "revoked.db"))
    cred = Delegation.issue(root, alice, ["read:*"], clock=clock)
    verifier = DelegationVerifier([root.did], revocations=revocations, clock=clock)
    verifier.verify([cred])
    hello, pa = Handshake(alice, revocations=revocations, clock=clock).initiate()
    response, pb = Handshake(bob, revocations=revocations, clock=clock).respond(hello)
    finish, session_a = pa.complete(response)
    session_b = pb.complete(finish)
    frame = session_a.channel.seal(b"before")
    revocations.close()  # the store is gone: nothing may pass as "not revoked"
    with pytest.raises(DelegationError) as d:
        verifier.verify([cred])
    assert d.value.reason == "revocation-store"
    with pytest.raises(HandshakeError) as h:
        Handshake(bob, revocations=revocations, clock=clock).respond(
            Handshake(alice, clock=clock).initiate()[0]
        )
    assert h.value.reason == "revocation-store"
    with pytest.raises(ChannelError) as c:
        session_b.channel.open(frame)
    assert c.value.reason == "revocation-store"
    with pytest.raises(MeshError):
        revocations.revoke(alice)


def test_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(MeshError, match="cannot open revocation list"):
        RevocationList(str(tmp_path / "no-such-dir" / "r.db"))
