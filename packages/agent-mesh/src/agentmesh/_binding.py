"""Bind an identity to governed calls: an enricher, a guard and a trust observer for the kernel.

`MeshBinding` turns an `AgentIdentity` (with its delegation chain, trust ledger and revocation
list) into the kernel's extension points, so every governed call of that agent carries facts a
policy can decide on, and an audit record proves which agent asked::

    binding = MeshBinding(identity, credentials=chain, verifier=verifier, trust=ledger)
    safe_tool = govern(tool, policy="policy.yaml", **binding.govern_options())

The enricher (``mesh-identity``) adds to the request:

* ``agent.did``, ``agent.name``; ``agent.trust`` (0-1000) and ``agent.trust_tier`` when a ledger is set;
* ``agent.capabilities`` (the verified chain's patterns; empty when there is no valid chain),
  ``agent.delegation`` (``valid``, ``root``, ``depth``, ``expires_at``, ``credentials``,
  ``error``, ``reason``), ``agent.capability_granted`` (whether the chain covers this call);
* ``context.required_capability``: the capability this call needs (default: the tool name,
  or ``<tool>:<action.type>`` when the call passes an ``action`` different from the tool name);
* ``agent.signature``: the agent's Ed25519 signature over the call (`request_signature_payload`),
  so the audit record proves the holder of the DID's key asked for exactly this action with
  exactly these arguments (`verify_request_signature`).

The guard (``mesh-guard``) refuses before evaluation when the agent's DID is revoked, when
capabilities are enforced and the chain is invalid or does not cover the call, when a
credential's ``max_calls`` is spent, or when the trust score is below ``min_trust``. The
observer records ``policy_violation`` for each denied call and ``success`` for each call that
completed without raising. Each part works alone too; all three are fail-closed: a failure to
read trust or verify credentials refuses the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from agentmesh._capabilities import capability_covers
from agentmesh._delegation import CallBudget, Delegation, DelegationVerifier, VerifiedDelegation
from agentmesh._errors import DelegationError, SignatureError
from agentmesh._identity import PublicIdentity
from agentmesh._trust import tier_of

if TYPE_CHECKING:
    from agentmesh._identity import AgentIdentity
    from agentmesh._revocation import RevocationList
    from agentmesh._trust import TrustLedger
    from agt_core import Enforcement

__all__ = [
    "MeshBinding",
    "default_capability",
    "request_signature_payload",
    "verify_request_signature",
]

REQUEST_SIGNATURE_TYPE = "agentmesh/request/v1"
_NOT_DELEGATED = " is not delegated to"


def default_capability(request: Mapping[str, Any]) -> str:
    """The capability a call needs: ``<tool>``, or ``<tool>:<action.type>`` when they differ."""
    action = request["action"]
    tool, kind = action.get("tool") or action["type"], action["type"]
    return tool if kind == tool else f"{tool}:{kind}"


def request_signature_payload(request: Mapping[str, Any]) -> dict[str, Any]:
    """What the agent signs for one call: its DID and id, the action, the arguments, the stage.

    Context is not covered: other enrichers may add to it after ours runs.
    """
    agent = request["agent"]
    return {
        "type": REQUEST_SIGNATURE_TYPE,
        "did": agent["did"],
        "agent_id": agent["id"],
        "action": request["action"],
        "args": request.get("args", {}),
        "stage": request.get("stage", "pre_tool"),
    }


def verify_request_signature(request: Mapping[str, Any]) -> str:
    """Check the agent signature a governed request carries (e.g. an audit record's ``request``).

    Returns:
        The DID that signed it.

    Raises:
        SignatureError: if the request has no signature, or it does not verify for ``agent.did``
            over this action, these arguments and this stage.
    """
    agent = request.get("agent") if isinstance(request, Mapping) else None
    if not isinstance(agent, Mapping) or not isinstance(agent.get("signature"), str):
        raise SignatureError("the request carries no agent signature", reason="unsigned")
    did = agent.get("did")
    if not isinstance(did, str):
        raise SignatureError("the request carries no agent DID", reason="unsigned")
    PublicIdentity(did).verify(request_signature_payload(request), agent["signature"])
    return did


class MeshBinding:
    """The kernel extensions of one agent identity.

    Args:
        identity: The acting agent.
        credentials: Its delegation chain (root-issued first); empty for none.
        verifier: Checks the chain (trusted roots, time, revocations). Without one, the agent
            has no verified capabilities.
        trust: Trust ledger: read into ``agent.trust``, written by the observer.
        revocations: Revoked DIDs and credentials (the guard refuses a revoked agent).
        enforce_capabilities: The guard refuses calls the chain does not cover (default: True
            when a verifier is given). Otherwise the policy decides on ``agent.capability_granted``.
        min_trust: The guard refuses calls while the agent's score is below this.
        capability: Maps a request to the capability it needs (default `default_capability`).
        budget: Counts calls against credentials' ``max_calls`` (default: one per binding).
        sign_requests: Add ``agent.signature`` to every request (default True).
    """

    def __init__(
        self,
        identity: AgentIdentity,
        *,
        credentials: Iterable[Delegation | Mapping[str, Any] | str] = (),
        verifier: DelegationVerifier | None = None,
        trust: TrustLedger | None = None,
        revocations: RevocationList | None = None,
        enforce_capabilities: bool | None = None,
        min_trust: int | None = None,
        capability: Callable[[Mapping[str, Any]], str] = default_capability,
        budget: CallBudget | None = None,
        sign_requests: bool = True,
    ) -> None:
        self.identity = identity
        self.credentials = tuple(Delegation.from_data(c) for c in credentials)
        self.verifier = verifier
        self.trust = trust
        self.revocations = revocations if revocations is not None else getattr(verifier, "revocations", None)
        self.enforce_capabilities = (
            verifier is not None if enforce_capabilities is None else enforce_capabilities
        )
        if self.enforce_capabilities and verifier is None:
            raise ValueError("enforce_capabilities=True needs a verifier= to check the delegation chain")
        if min_trust is not None and trust is None:
            raise ValueError("min_trust= needs a trust= ledger")
        self.min_trust = min_trust
        self.capability = capability
        self.budget = budget if budget is not None else CallBudget()
        self.sign_requests = sign_requests
        self.enricher = _MeshEnricher(self)
        self.guard = _MeshGuard(self)
        self.observer = _TrustObserver(self)

    def grant(self) -> tuple[VerifiedDelegation | None, DelegationError | None]:
        """Verify the chain now: what it grants, or why it grants nothing."""
        if not self.credentials:
            return None, None
        if self.verifier is None:
            return None, DelegationError("no verifier is configured for the chain", reason="no-verifier")
        try:
            return self.verifier.verify(self.credentials, subject=self.identity.did), None
        except DelegationError as exc:
            return None, exc

    def govern_options(self) -> dict[str, Any]:
        """Keyword arguments for `agent_os.govern`: ``agent_id`` (the DID), the enricher, guard and observer."""
        return {
            "agent_id": self.identity.did,
            "enrichers": [self.enricher],
            "guards": [self.guard],
            "observers": [self.observer] if self.trust is not None else [],
        }


class _MeshEnricher:
    """Adds identity, trust, delegation facts and the agent's signature to each request."""

    name = "mesh-identity"

    def __init__(self, binding: MeshBinding) -> None:
        self._b = binding

    def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
        b = self._b
        grant, error = b.grant()
        needed = b.capability(request)
        agent: dict[str, Any] = {
            "did": b.identity.did,
            "name": b.identity.name,
            "capabilities": list(grant.capabilities) if grant else [],
            "capability_granted": grant is not None
            and any(capability_covers(p, needed) for p in grant.capabilities),
            "delegation": {
                "valid": grant is not None,
                "root": grant.root if grant else None,
                "depth": grant.depth if grant else 0,
                "expires_at": grant.not_after if grant else None,
                "credentials": list(grant.credential_ids) if grant else [],
                "error": error.message if error else None,
                "reason": error.reason if error else None,
            },
        }
        if b.trust is not None:
            score = b.trust.score(b.identity.did)
            agent["trust"] = score
            agent["trust_tier"] = tier_of(score)
        if b.sign_requests:
            signed = {**request, "agent": {**request["agent"], "did": b.identity.did}}
            agent["signature"] = b.identity.sign(request_signature_payload(signed))
        return {"agent": agent, "context": {"required_capability": needed}}


class _MeshGuard:
    """Refuses calls of a revoked agent, outside its delegated capabilities, or below minimum trust."""

    name = "mesh-guard"

    def __init__(self, binding: MeshBinding) -> None:
        self._b = binding

    def check(self, request: Mapping[str, Any]) -> str | None:
        b = self._b
        did = b.identity.did
        if b.revocations is not None:
            why = b.revocations.reason(did)
            if why is not None:
                return f"agent `{did}` is revoked ({why})"
        if b.min_trust is not None and b.trust is not None:
            score = b.trust.score(did)
            if score < b.min_trust:
                return f"agent `{did}` has trust {score}, below the required {b.min_trust}"
        if not b.enforce_capabilities:
            return None
        grant, error = b.grant()
        if grant is None:
            return (
                f"agent `{did}` has no valid delegation: {error.message}"
                if error
                else f"agent `{did}` holds no delegation credentials"
            )
        needed = b.capability(request)
        if not any(capability_covers(p, needed) for p in grant.capabilities):
            return f"capability `{needed}`{_NOT_DELEGATED} `{did}` (granted: {', '.join(grant.capabilities)})"
        return b.budget.consume(grant)


class _TrustObserver:
    """Moves the agent's trust score: ``policy_violation`` on each deny, ``success`` on each clean completion."""

    def __init__(self, binding: MeshBinding) -> None:
        self._b = binding

    def _ours(self, outcome: Enforcement) -> bool:
        agent = outcome.request.get("agent") if outcome.request is not None else None
        return isinstance(agent, Mapping) and agent.get("did") == self._b.identity.did

    def on_decision(self, outcome: Enforcement) -> None:
        decision = outcome.decision
        if self._b.trust is None or outcome.allowed or decision.effect != "deny" or not self._ours(outcome):
            return
        # Only the agent's own overreach counts: a policy rule or default that denied it, or our
        # guard refusing an undelegated capability. A kill switch, a rate limit, a failing
        # evaluator or our guard refusing for low trust say nothing new about the agent (and
        # counting the last would spiral its score down while it retries).
        if decision.rate_limited:
            return
        if decision.refused_by is not None and not (
            decision.refused_by == f"guard:{_MeshGuard.name}" and _NOT_DELEGATED in decision.message
        ):
            return
        who = decision.refused_by or (f"rule `{decision.rule}`" if decision.rule else "the default action")
        self._b.trust.record(
            self._b.identity.did, "policy_violation", cause=f"denied by {who}: {decision.message}"
        )

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        if self._b.trust is None or error is not None or not self._ours(outcome):
            return
        action = outcome.request.get("action", {})
        self._b.trust.record(self._b.identity.did, "success", cause=f"completed `{action.get('tool')}`")
