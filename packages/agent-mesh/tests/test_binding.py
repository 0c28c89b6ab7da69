"""End to end through govern(): identity facts reach the policy, the guard refuses what was not
delegated, trust moves with outcomes, and each audit record proves which agent asked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_os import AuditLog, govern
from agentmesh import (
    AgentIdentity,
    Delegation,
    DelegationVerifier,
    MeshBinding,
    RevocationList,
    SignatureError,
    TrustLedger,
    verify_request_signature,
)
from agt_core import GovernanceDenied, verify_audit_lines

from .conftest import FakeClock

# request_schema declares what the mesh enricher adds beyond the toolkit's built-in field list.
POLICY = """
apiVersion: governance.toolkit/v1
name: mesh
default_action: allow
request_schema:
  args: map
  agent: {capability_granted: bool, trust_tier: string, delegation: map}
rules:
- name: low-trust-no-email
  condition: "action.tool == 'email' && agent.trust < 450"
  action: deny
- name: only-delegated
  condition: "!has(agent.capability_granted) || !agent.capability_granted"  # without the fact: refused
  action: deny
"""


NO_DROPS = """
apiVersion: governance.toolkit/v1
name: p
default_action: allow
rules:
- {name: no-drops, condition: "action.type == 'drop'", action: deny}
"""


def email(action: str, to: str) -> str:
    return f"{action} to {to}"


def storage(action: str, key: str) -> str:
    return f"{action} {key}"


@pytest.fixture
def setup(root: AgentIdentity, alice: AgentIdentity, clock: FakeClock) -> dict[str, Any]:
    revocations = RevocationList()
    verifier = DelegationVerifier([root.did], revocations=revocations, clock=clock)
    ledger = TrustLedger(clock=clock)
    cred = Delegation.issue(root, alice, ["email:send", "storage:read"], max_calls=5, clock=clock)
    return {"verifier": verifier, "ledger": ledger, "cred": cred, "revocations": revocations}


def governed(binding: MeshBinding, fn: Any, audit: AuditLog, policy: str = POLICY) -> Any:
    return govern(fn, policy=policy, audit=audit, **binding.govern_options())


def test_request_carries_identity_and_the_audit_record_proves_who_asked(
    alice: AgentIdentity, setup: dict[str, Any]
) -> None:
    audit = AuditLog()
    binding = MeshBinding(
        alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=setup["ledger"]
    )
    safe_email = governed(binding, email, audit)
    assert safe_email(action="send", to="bob@example.com") == "send to bob@example.com"
    record = audit.records()[-1]
    request = record.request
    agent = request["agent"]
    assert agent["id"] == alice.did and agent["did"] == alice.did and agent["name"] == "alice"
    assert agent["trust"] == 500 and agent["trust_tier"] == "standard"
    assert agent["capabilities"] == ["email:send", "storage:read"]
    assert agent["capability_granted"] is True
    assert agent["delegation"]["valid"] is True and agent["delegation"]["depth"] == 1
    assert request["context"]["required_capability"] == "email:send"
    assert verify_request_signature(request) == alice.did
    # The exported trail verifies as a chain, and each line still carries a verifiable signature.
    lines = audit.lines()
    verify_audit_lines(lines, expected_head=audit.head[1])
    assert verify_request_signature(json.loads(lines[-1])["request"]) == alice.did


def test_a_tampered_audit_request_no_longer_verifies(
    alice: AgentIdentity, mallory: AgentIdentity, setup: dict[str, Any]
) -> None:
    audit = AuditLog()
    binding = MeshBinding(
        alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=setup["ledger"]
    )
    governed(binding, email, audit)(action="send", to="bob@example.com")
    request = json.loads(json.dumps(audit.records()[-1].request))
    for mutate in (
        lambda r: r["args"].update(to="mallory@example.com"),
        lambda r: r["action"].update(type="delete"),
        lambda r: r["agent"].update(did=mallory.did),
        lambda r: r["agent"].update(id="someone-else"),
        lambda r: r.update(stage="post_tool"),
        lambda r: r["agent"].pop("signature"),
    ):
        copy = json.loads(json.dumps(request))
        mutate(copy)
        with pytest.raises(SignatureError):
            verify_request_signature(copy)
    # Mallory cannot re-sign the record as alice: her signature does not verify under alice's DID.
    forged = json.loads(json.dumps(request))
    forged["args"]["to"] = "mallory@example.com"
    from agentmesh import request_signature_payload

    forged["agent"]["signature"] = mallory.sign(request_signature_payload(forged))
    with pytest.raises(SignatureError):
        verify_request_signature(forged)


def test_guard_refuses_what_was_not_delegated(alice: AgentIdentity, setup: dict[str, Any]) -> None:
    audit = AuditLog()
    binding = MeshBinding(alice, credentials=[setup["cred"]], verifier=setup["verifier"])
    safe_storage = governed(binding, storage, audit)
    assert safe_storage(action="read", key="k") == "read k"
    with pytest.raises(GovernanceDenied) as info:
        safe_storage(action="delete", key="k")
    decision = info.value.decision
    assert decision.refused_by == "guard:mesh-guard"
    assert "capability `storage:delete` is not delegated" in decision.message
    # The refusal is audited with the agent's identity and signature.
    assert verify_request_signature(audit.records()[-1].request) == alice.did


def test_policy_decides_on_capabilities_when_the_guard_does_not_enforce(
    alice: AgentIdentity, setup: dict[str, Any]
) -> None:
    binding = MeshBinding(
        alice,
        credentials=[setup["cred"]],
        verifier=setup["verifier"],
        trust=setup["ledger"],
        enforce_capabilities=False,
    )
    safe_storage = governed(binding, storage, AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        safe_storage(action="delete", key="k")
    assert info.value.decision.rule == "only-delegated"


def test_expired_revoked_and_exhausted_credentials(
    alice: AgentIdentity, setup: dict[str, Any], clock: FakeClock
) -> None:
    binding = MeshBinding(
        alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=setup["ledger"]
    )
    safe_email = governed(binding, email, AuditLog())
    for _ in range(5):
        safe_email(action="send", to="x")
    with pytest.raises(GovernanceDenied, match="allows 5 calls and all are used"):
        safe_email(action="send", to="x")
    fresh = MeshBinding(alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=setup["ledger"])
    safe_email = governed(fresh, email, AuditLog())
    clock.advance(3600)
    with pytest.raises(GovernanceDenied, match=r"no valid delegation: link 0: expired"):
        safe_email(action="send", to="x")
    clock.advance(-3600)
    setup["revocations"].revoke(setup["cred"], "rotated")
    with pytest.raises(GovernanceDenied, match=r"link 0: the credential .* is revoked \(rotated\)"):
        safe_email(action="send", to="x")
    setup["revocations"].revoke(alice, "compromised")
    with pytest.raises(GovernanceDenied, match=r"agent `did:key:.*` is revoked \(compromised\)"):
        safe_email(action="send", to="x")


def test_forged_credential_gives_no_capabilities(
    alice: AgentIdentity, mallory: AgentIdentity, setup: dict[str, Any], root: AgentIdentity, clock: FakeClock
) -> None:
    data = setup["cred"].model_dump(mode="json")
    data["capabilities"] = ["*"]
    binding = MeshBinding(alice, credentials=[data], verifier=setup["verifier"])
    with pytest.raises(GovernanceDenied, match="forged or altered"):
        governed(binding, email, AuditLog())(action="send", to="x")
    # Alice's genuine credential does not empower mallory.
    stolen = MeshBinding(mallory, credentials=[setup["cred"]], verifier=setup["verifier"])
    with pytest.raises(GovernanceDenied, match="not the presenter"):
        governed(stolen, email, AuditLog())(action="send", to="x")


def test_trust_moves_with_outcomes_and_the_policy_reads_it(
    alice: AgentIdentity, setup: dict[str, Any]
) -> None:
    ledger: TrustLedger = setup["ledger"]
    binding = MeshBinding(alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=ledger)
    policy = (
        POLICY
        + """- name: no-bcc
  condition: "action.tool == 'email' && args.to == 'everyone'"
  action: deny
"""
    )
    safe_email = governed(binding, email, AuditLog(), policy)
    safe_email(action="send", to="x")
    assert ledger.score(alice.did) == 501
    with pytest.raises(GovernanceDenied):
        safe_email(action="send", to="everyone")
    assert ledger.score(alice.did) == 451
    assert "denied by rule `no-bcc`" in ledger.history(alice.did)[-1].cause
    with pytest.raises(GovernanceDenied):
        safe_email(action="send", to="everyone")
    # Now at 401: the policy's low-trust rule refuses even a harmless email.
    with pytest.raises(GovernanceDenied) as info:
        safe_email(action="send", to="x")
    assert info.value.decision.rule == "low-trust-no-email"


def test_min_trust_guard(alice: AgentIdentity, setup: dict[str, Any]) -> None:
    ledger: TrustLedger = setup["ledger"]
    binding = MeshBinding(
        alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=ledger, min_trust=300
    )
    safe_email = governed(binding, email, AuditLog())
    ledger.record(alice.did, "credential_revoked", cause="test")
    with pytest.raises(GovernanceDenied, match="trust 200, below the required 300"):
        safe_email(action="send", to="x")


def test_unreadable_trust_store_refuses_the_call(alice: AgentIdentity, setup: dict[str, Any]) -> None:
    ledger: TrustLedger = setup["ledger"]
    binding = MeshBinding(alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=ledger)
    safe_email = governed(binding, email, AuditLog())
    ledger.close()
    with pytest.raises(GovernanceDenied) as info:
        safe_email(action="send", to="x")
    assert info.value.decision.refused_by == "enricher:mesh-identity"
    assert "cannot read the trust score" in info.value.decision.message


def test_binding_configuration_errors(alice: AgentIdentity, setup: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="verifier"):
        MeshBinding(alice, enforce_capabilities=True)
    with pytest.raises(ValueError, match="trust"):
        MeshBinding(alice, min_trust=10)
    # Without credentials or verifier: identity and signature only; the guard enforces nothing.
    audit = AuditLog()
    safe_storage = governed(MeshBinding(alice), storage, audit, policy=NO_DROPS)
    assert safe_storage(action="delete", key="k") == "delete k"
    agent = audit.records()[-1].request["agent"]
    assert agent["capabilities"] == [] and agent["delegation"]["valid"] is False
    assert verify_request_signature(audit.records()[-1].request) == alice.did


def test_only_the_agents_own_overreach_costs_trust(alice: AgentIdentity, setup: dict[str, Any]) -> None:
    ledger: TrustLedger = setup["ledger"]

    class KillSwitch:
        name = "kill-switch"
        pulled = False

        def check(self, request: Any) -> str | None:
            return "pulled" if self.pulled else None

    kill = KillSwitch()
    binding = MeshBinding(
        alice, credentials=[setup["cred"]], verifier=setup["verifier"], trust=ledger, min_trust=460
    )
    options = binding.govern_options()
    options["guards"] = [kill, *options["guards"]]
    safe_storage = govern(storage, policy=POLICY, audit=AuditLog(), **options)
    kill.pulled = True
    with pytest.raises(GovernanceDenied, match="pulled"):
        safe_storage(action="read", key="k")
    assert ledger.score(alice.did) == 500  # a kill switch says nothing about alice
    kill.pulled = False
    with pytest.raises(GovernanceDenied, match="not delegated"):
        safe_storage(action="delete", key="k")
    assert ledger.score(alice.did) == 450  # overreach costs
    with pytest.raises(GovernanceDenied, match="below the required 460"):
        safe_storage(action="read", key="k")
    assert ledger.score(alice.did) == 450  # refusals for low trust do not spiral it down


def test_identity_alone_binds_did_and_signature(alice: AgentIdentity) -> None:
    audit = AuditLog()
    safe_storage = govern(storage, policy=NO_DROPS, audit=audit, **alice.govern_options())
    assert safe_storage(action="get", key="k") == "get k"
    request = audit.records()[-1].request
    assert request["agent"]["id"] == alice.did
    assert verify_request_signature(request) == alice.did
