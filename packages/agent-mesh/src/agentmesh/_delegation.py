"""Delegation credentials: signed, expiring, attenuated grants of capabilities between agents.

A credential says "`issuer` grants `subject` these `capabilities` from `not_before` until
`not_after`", optionally only towards an ``audience`` and for at most ``max_calls`` calls, and
how many further hops it may be re-delegated (``max_depth``). The issuer signs the RFC 8785
canonical JSON of every other field. A chain starts at a credential issued by a trusted root;
each next credential is issued by the previous one's subject, names the previous one's hash as
``parent``, and may only narrow: fewer capabilities, a shorter window, fewer calls, a smaller
audience, less depth. `DelegationVerifier.verify` walks the chain and names the first link that
fails and why (`DelegationError.link`, `.reason`).

Reasons: ``malformed``, ``empty``, ``too-deep``, ``untrusted-root``, ``bad-signature``,
``broken-chain``, ``widens``, ``revoked``, ``not-yet-valid``, ``expired``, ``wrong-audience``,
``wrong-subject``, and ``revocation-store`` when the revocation list cannot be read (refused:
an unreadable list never means "not revoked").
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from agentmesh._capabilities import check_pattern, patterns_within
from agentmesh._did import public_key_from_did
from agentmesh._encoding import b64e
from agentmesh._errors import DelegationError, IdentityError, MeshError, SignatureError
from agentmesh._identity import PublicIdentity
from agt_core import canonical_json, sha256_hex

if TYPE_CHECKING:
    from agentmesh._identity import AgentIdentity
    from agentmesh._revocation import RevocationList

__all__ = ["CallBudget", "Delegation", "DelegationVerifier", "VerifiedDelegation"]

DELEGATION_TYPE: Literal["agentmesh/delegation/v1"] = "agentmesh/delegation/v1"
DEFAULT_MAX_CHAIN = 5


class Delegation(BaseModel):
    """One signed delegation credential. Create with `Delegation.issue`, never by hand."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    type: Literal["agentmesh/delegation/v1"] = DELEGATION_TYPE
    id: str = Field(min_length=16, max_length=64, description="Random id, the handle for revocation.")
    issuer: str = Field(description="DID of the granting agent.")
    subject: str = Field(description="DID of the agent that receives the capabilities.")
    capabilities: tuple[str, ...] = Field(min_length=1, max_length=256)
    issued_at: int = Field(ge=0)
    not_before: int = Field(ge=0)
    not_after: int = Field(ge=0)
    audience: tuple[str, ...] | None = Field(
        default=None, description="Who may accept the credential (verifier names); None for anyone."
    )
    max_calls: int | None = Field(default=None, ge=1)
    max_depth: int = Field(default=0, ge=0, le=16, description="How many more hops it may be re-delegated.")
    parent: str | None = Field(default=None, description="Hash of the credential this one narrows.")
    signature: str

    @field_validator("issuer", "subject")
    @classmethod
    def _did(cls, value: str) -> str:
        try:
            public_key_from_did(value)
        except IdentityError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("capabilities")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            check_pattern(pattern)
        return value

    # Derived from the fields at construction, so equal credentials still compare equal.
    _hash: str = PrivateAttr(default="")

    def model_post_init(self, context: Any, /) -> None:
        self._hash = sha256_hex(canonical_json(self.model_dump(mode="json")))

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the credential's canonical JSON, signature included: what children name as parent."""
        return self._hash

    def signed_payload(self) -> dict[str, Any]:
        """The fields the issuer's signature covers (everything but the signature)."""
        data = self.model_dump(mode="json")
        del data["signature"]
        return data

    def to_json(self) -> str:
        """Canonical JSON text, for sending or storing."""
        return canonical_json(self.model_dump(mode="json"))

    @classmethod
    def from_data(cls, data: Any) -> Delegation:
        """Parse a credential from JSON text or decoded JSON data.

        Raises:
            DelegationError: ``malformed``, naming the first bad field.
        """
        try:
            if isinstance(data, str | bytes):
                return cls.model_validate_json(data)
            if isinstance(data, Delegation):
                return data
            return cls.model_validate(_lists_to_tuples(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "credential"
            raise DelegationError(
                f"delegation credential is malformed at `{where}`: {first['msg']}", reason="malformed"
            ) from None

    @classmethod
    def issue(
        cls,
        issuer: AgentIdentity,
        subject: str | PublicIdentity,
        capabilities: Iterable[str],
        *,
        ttl_s: float = 3600.0,
        not_before: float | None = None,
        not_after: float | None = None,
        audience: Iterable[str] | None = None,
        max_calls: int | None = None,
        max_depth: int = 0,
        parent: Delegation | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Delegation:
        """Sign a credential granting `capabilities` to `subject`.

        Args:
            issuer: The granting identity (signs). With `parent`, it must be the parent's subject.
            subject: The receiving agent's DID or identity.
            capabilities: Patterns granted (``email:send``, ``read:*``); with `parent`, within its.
            ttl_s: Lifetime from now, used when `not_after` is not given.
            not_before: Start of validity (Unix seconds; default now).
            not_after: End of validity (Unix seconds); with `parent`, capped at the parent's.
            audience: Verifier names that may accept it; None for any verifier.
            max_calls: At most this many governed calls under this credential.
            max_depth: How many further hops the subject may re-delegate (0: none).
            parent: The credential this one narrows, for a chain longer than one.
            clock: Current time in Unix seconds (tests pass a fixed one).

        Raises:
            DelegationError: if the credential would widen `parent` (checked again on verify).
        """
        now = clock()
        subject_did = subject.did if isinstance(subject, PublicIdentity) else subject
        start = int(now if not_before is None else not_before)
        end = int(now + ttl_s) if not_after is None else int(not_after)
        if parent is not None:
            if parent.subject != issuer.did:
                raise DelegationError(
                    "only the parent credential's subject can delegate under it", reason="broken-chain"
                )
            end = min(end, parent.not_after)
            start = max(start, parent.not_before)
        fields: dict[str, Any] = {
            "type": DELEGATION_TYPE,
            "id": b64e(secrets.token_bytes(16)),
            "issuer": issuer.did,
            "subject": subject_did,
            "capabilities": list(capabilities),
            "issued_at": int(now),
            "not_before": start,
            "not_after": end,
            "audience": None if audience is None else list(audience),
            "max_calls": max_calls,
            "max_depth": max_depth,
            "parent": None if parent is None else parent.hash,
        }
        fields["signature"] = issuer.sign(fields)
        credential = cls.from_data(fields)
        if parent is not None:
            problem = _narrowing_problem(credential, parent)
            if problem is not None:
                raise DelegationError(f"cannot issue: {problem}", reason=problem_reason(problem))
        return credential


def _lists_to_tuples(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return data


def problem_reason(problem: str) -> str:
    return "too-deep" if "depth" in problem else "widens"


def _narrowing_problem(child: Delegation, parent: Delegation) -> str | None:
    """Why `child` is not a narrowing of `parent`, or None when it is."""
    wider = patterns_within(child.capabilities, parent.capabilities)
    if wider:
        return f"capabilities {', '.join(f'`{p}`' for p in wider)} are not granted by the parent credential"
    if parent.max_depth < 1:
        return "the parent credential may not be re-delegated (max_depth 0)"
    if child.max_depth > parent.max_depth - 1:
        return f"max_depth {child.max_depth} exceeds the parent's remaining depth {parent.max_depth - 1}"
    if child.not_before < parent.not_before or child.not_after > parent.not_after:
        return "its validity window reaches outside the parent's"
    if parent.max_calls is not None and (child.max_calls is None or child.max_calls > parent.max_calls):
        return f"max_calls {child.max_calls} exceeds the parent's {parent.max_calls}"
    if parent.audience is not None and (
        child.audience is None or not set(child.audience) <= set(parent.audience)
    ):
        return "its audience is wider than the parent's"
    return None


class VerifiedDelegation(NamedTuple):
    """What a verified chain grants.

    Attributes:
        subject: DID of the agent the chain empowers (the last credential's subject).
        root: DID of the trusted root that issued the first credential.
        capabilities: The last credential's patterns: what the subject may do.
        depth: Number of credentials in the chain.
        not_after: When the chain stops being valid (Unix seconds).
        credential_ids: The ids of the chain's credentials, root first.
        limits: ``(credential hash, credential id, max_calls)`` for every link with a call limit.
    """

    subject: str
    root: str
    capabilities: tuple[str, ...]
    depth: int
    not_after: int
    credential_ids: tuple[str, ...]
    limits: tuple[tuple[str, str, int], ...]


class DelegationVerifier:
    """Checks delegation chains against trusted roots, time, revocations and this verifier's name.

    Args:
        trusted_roots: DIDs whose credentials start a chain; a mapping limits what each root may
            grant (``{"did:key:...": ["read:*"]}``), an iterable of DIDs lets them grant anything.
        revocations: Revoked credential ids and DIDs.
        audience: This verifier's name; credentials restricted to other audiences are refused,
            and so are audience-restricted ones when this is None.
        max_chain: Longest chain accepted (default 5).
        clock: Current time in Unix seconds.
    """

    def __init__(
        self,
        trusted_roots: Mapping[str, Iterable[str]] | Iterable[str],
        *,
        revocations: RevocationList | None = None,
        audience: str | None = None,
        max_chain: int = DEFAULT_MAX_CHAIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(trusted_roots, Mapping):
            roots = {did: tuple(check_pattern(p) for p in caps) for did, caps in trusted_roots.items()}
        else:
            roots = dict.fromkeys(trusted_roots, ("*",))
        for did in roots:
            public_key_from_did(did)
        # Fixed after construction (read-only properties): cached results depend on them.
        self._roots: dict[str, tuple[str, ...]] = roots
        self._audience = audience
        self._max_chain = max_chain
        self.revocations = revocations
        self.clock = clock
        self._verified: dict[str, None] = {}  # credential hashes whose signature checked out
        # Chains verified before, by their credential hashes and subject: what they grant and the
        # window in which that result stands (see `_recheck`).
        self._chains: dict[
            tuple[tuple[str, ...], str | None], tuple[VerifiedDelegation, int, list[Delegation]]
        ] = {}
        self._lock = threading.Lock()

    @property
    def trusted_roots(self) -> dict[str, tuple[str, ...]]:
        """Root DIDs and the patterns each may grant (a copy)."""
        return dict(self._roots)

    @property
    def audience(self) -> str | None:
        """This verifier's name, matched against credentials' ``audience``."""
        return self._audience

    @property
    def max_chain(self) -> int:
        """The longest chain accepted."""
        return self._max_chain

    def verify(
        self, chain: Sequence[Delegation | Mapping[str, Any] | str], *, subject: str | None = None
    ) -> VerifiedDelegation:
        """Verify `chain` (root-issued credential first) and return what it grants.

        Args:
            chain: The credentials, as objects, JSON data or JSON text.
            subject: The DID that must hold the chain (the presenter); None skips the check.

        Raises:
            DelegationError: naming the failing link (`link`) and the reason (`reason`).
        """
        if not chain:
            raise DelegationError("the delegation chain is empty", reason="empty")
        if len(chain) > self._max_chain:
            raise DelegationError(
                f"the delegation chain has {len(chain)} links; at most {self._max_chain} are accepted",
                reason="too-deep",
            )
        creds: list[Delegation] = []
        for i, item in enumerate(chain):
            try:
                creds.append(Delegation.from_data(item))
            except DelegationError as exc:
                raise DelegationError(f"link {i}: {exc.message}", reason=exc.reason, link=i) from None
        now = self.clock()
        key = (tuple(c.hash for c in creds), subject)
        cached = self._chains.get(key)
        if cached is not None and self._recheck(cached, now):
            return cached[0]
        for i, cred in enumerate(creds):
            self._check_link(i, cred, creds[i - 1] if i else None, now)
        leaf = creds[-1]
        if subject is not None and leaf.subject != subject:
            raise DelegationError(
                f"link {len(creds) - 1}: the chain empowers `{leaf.subject}`, not the presenter `{subject}`",
                reason="wrong-subject",
                link=len(creds) - 1,
            )
        grant = VerifiedDelegation(
            subject=leaf.subject,
            root=creds[0].issuer,
            capabilities=leaf.capabilities,
            depth=len(creds),
            not_after=min(c.not_after for c in creds),
            credential_ids=tuple(c.id for c in creds),
            limits=tuple((c.hash, c.id, c.max_calls) for c in creds if c.max_calls is not None),
        )
        with self._lock:
            if len(self._chains) > 10_000:
                self._chains.clear()
            self._chains[key] = (grant, max(c.not_before for c in creds), creds)
        return grant

    def _recheck(self, cached: tuple[VerifiedDelegation, int, list[Delegation]], now: float) -> bool:
        """Whether a chain that verified before still does: what can change is time and revocation.

        Everything else the full check looks at (signatures, links, narrowing, roots, audience,
        depth) is fixed by the credential hashes and this verifier's settings, which are part of
        the cache key or never change. When this says no, the full check runs and names the cause.
        """
        grant, not_before, creds = cached
        if not not_before <= now < grant.not_after:
            return False
        if self.revocations is not None:
            revoked = self.revocations
            try:
                for cred in creds:
                    if (
                        cred.hash in revoked
                        or cred.id in revoked
                        or cred.issuer in revoked
                        or cred.subject in revoked
                    ):
                        return False
            except MeshError:
                return False  # the full check reports the store failure
        return True

    def _check_link(self, i: int, cred: Delegation, parent: Delegation | None, now: float) -> None:
        def fail(message: str, reason: str) -> DelegationError:
            return DelegationError(f"link {i}: {message}", reason=reason, link=i)

        self._check_signature(i, cred)
        if parent is None:
            scope = self._roots.get(cred.issuer)
            if scope is None:
                raise fail(f"issuer `{cred.issuer}` is not a trusted root", "untrusted-root")
            if cred.parent is not None:
                raise fail("the first credential names a parent; the chain is incomplete", "broken-chain")
            wider = patterns_within(cred.capabilities, scope)
            if wider:
                raise fail(
                    f"root `{cred.issuer}` may not grant {', '.join(f'`{p}`' for p in wider)}", "widens"
                )
        else:
            if cred.issuer != parent.subject:
                raise fail(
                    f"issuer `{cred.issuer}` is not the subject of link {i - 1} (`{parent.subject}`)",
                    "broken-chain",
                )
            if cred.parent != parent.hash:
                raise fail(f"it does not name link {i - 1} as its parent", "broken-chain")
            problem = _narrowing_problem(cred, parent)
            if problem is not None:
                raise fail(problem, problem_reason(problem))
        if self.revocations is not None:
            for item, what, shown in (
                (cred.hash, "credential", cred.id),
                (cred.id, "credential", cred.id),
                (cred.issuer, "issuer", cred.issuer),
                (cred.subject, "subject", cred.subject),
            ):
                try:
                    why = self.revocations.reason(item)
                except MeshError as exc:
                    raise fail(f"cannot check revocations: {exc.message}", "revocation-store") from None
                if why is not None:
                    raise fail(f"the {what} `{shown}` is revoked ({why})", "revoked")
        if now < cred.not_before:
            raise fail(f"not valid before {cred.not_before} (now {int(now)})", "not-yet-valid")
        if now >= cred.not_after:
            raise fail(f"expired at {cred.not_after} (now {int(now)})", "expired")
        if cred.audience is not None and (self._audience is None or self._audience not in cred.audience):
            raise fail(
                f"it is restricted to audience {list(cred.audience)}, and this verifier is `{self._audience}`",
                "wrong-audience",
            )

    def _check_signature(self, i: int, cred: Delegation) -> None:
        digest = cred.hash
        if digest in self._verified:
            return
        try:
            PublicIdentity(cred.issuer).verify(cred.signed_payload(), cred.signature)
        except SignatureError:
            raise DelegationError(
                f"link {i}: the signature is not `{cred.issuer}`'s (forged or altered credential)",
                reason="bad-signature",
                link=i,
            ) from None
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[digest] = None


class CallBudget:
    """Counts governed calls against each credential's ``max_calls`` (thread-safe, in memory).

    One call consumes one unit from every link of the chain that has a limit, so a delegate
    cannot escape its parent's budget by re-delegating.
    """

    def __init__(self) -> None:
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def consume(self, grant: VerifiedDelegation) -> str | None:
        """Take one call from every limited link; return why not (and take nothing) if one is spent."""
        if not grant.limits:
            return None
        # Counted by credential hash, not id: ids are chosen by issuers, and one issuer must not be
        # able to spend another credential's budget by reusing its id.
        with self._lock:
            for digest, cred_id, limit in grant.limits:
                if self._used.get(digest, 0) >= limit:
                    return f"credential `{cred_id}` allows {limit} calls and all are used"
            for digest, _, _ in grant.limits:
                self._used[digest] = self._used.get(digest, 0) + 1
        return None

    def used(self, credential: Delegation) -> int:
        """How many calls were counted against a credential."""
        return self._used.get(credential.hash, 0)
