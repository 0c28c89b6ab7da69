"""The kernel: one enforcement path for every governed action.

``Kernel.enforce(request)`` runs the stages in a fixed order:

1. evaluate the compiled policy set (pure; fail closed on condition errors);
2. apply rate limits of every matched rule (stateful, per agent and rule);
3. ask the approval handler when the decision is require_approval;
4. append the decision (and approval) to the audit log;
5. emit warn/log rule notices, once per rule.

Anything that fails in 1-4 refuses the action: evaluation turns errors into a deny decision,
approval failures raise `ApprovalError`, audit failures raise `AuditError`.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

from agent_os._approval import ApprovalHandler, ApprovalRequest, ApprovalResponse, DenyApprovals
from agent_os._audit_log import AuditLog, _Clock
from agent_os._rate_limit import RateLimiter
from agt_core import STAGES, ApprovalError, ApprovalRecord, Decision, PolicySet, RuleError, content_hash

__all__ = ["Enforcement", "Kernel", "refusal"]

logger = logging.getLogger("agent_os")


def refusal(policy_set: PolicySet, reason: str, stage: str) -> Decision:
    """A deny decided by the kernel itself (bad request, failed evaluator), with the reason as its error."""
    return Decision(
        effect="deny",
        allowed=False,
        message=reason,
        stage=stage,
        policy_set_hash=policy_set.hash,
        errors=(RuleError(policy=None, rule=None, message=reason),),
    )


class Enforcement(NamedTuple):
    """The outcome of enforcing one request (a named tuple: cheap on the governed-call path).

    Attributes:
        allowed: Whether the action may run.
        decision: The policy decision (after rate limits).
        approval: The approval record, when the decision required one.
        audit_hash: The audit record's hash, or None when auditing is off.
    """

    allowed: bool
    decision: Decision
    approval: ApprovalRecord | None
    audit_hash: str | None


class Kernel:
    """Evaluates, rate-limits, approves and audits requests against one compiled policy set.

    Args:
        policy_set: The compiled policies.
        audit: The audit log to append to, or None for no audit.
        approval_handler: Decides require_approval decisions; default refuses them.
        rate_limiter: Shared limiter; by default each kernel has its own.
        noticed: Shared record of warn/log rules already reported; by default each kernel has its own.
    """

    def __init__(
        self,
        policy_set: PolicySet,
        *,
        audit: AuditLog | None,
        approval_handler: ApprovalHandler | None = None,
        rate_limiter: RateLimiter | None = None,
        noticed: set[tuple[str, str]] | None = None,
    ) -> None:
        self.policy_set = policy_set
        self.audit = audit
        self.approval_handler: ApprovalHandler = approval_handler or DenyApprovals()
        self.rate_limiter = rate_limiter or RateLimiter()
        self._limits = dict(policy_set.limits)
        self._hashes = dict(policy_set.policy_hashes)
        self._noticed: set[tuple[str, str]] = noticed if noticed is not None else set()
        self._noticed_lock = threading.Lock()
        self._clock = _Clock()

    # -- decisions --------------------------------------------------------------------------

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        """Evaluate `request`; an evaluator that fails denies instead of raising (fail closed)."""
        try:
            return self.policy_set.evaluate(request)
        except Exception as exc:
            stage = request.get("stage", "pre_tool") if isinstance(request, Mapping) else "pre_tool"
            return refusal(
                self.policy_set,
                f"the policy evaluator failed: {type(exc).__name__}: {exc}",
                stage if stage in STAGES else "pre_tool",
            )

    def decide(self, request: Mapping[str, Any]) -> Decision:
        """Evaluate `request` and apply rate limits. Records a call against every limit it uses."""
        decision = self.evaluate(request)
        if self._limits and decision.effect != "deny" and decision.matched:
            limited = [
                (m.policy, m.rule, self._limits[(m.policy, m.rule)])
                for m in decision.matched
                if (m.policy, m.rule) in self._limits
            ]
            if limited:
                agent_id = request["agent"]["id"]
                hit = self.rate_limiter.acquire(agent_id, limited)
                if hit is not None:
                    decision = self._rate_limited(decision, agent_id, *hit)
        return decision

    def _rate_limited(
        self, decision: Decision, agent_id: str, policy: str, rule: str, limit: str, retry_after: float
    ) -> Decision:
        data = decision.model_dump()
        data.update(
            effect="deny",
            allowed=False,
            rule=rule,
            policy=policy,
            policy_hash=self._hashes.get(policy),
            approvers=(),
            rate_limited=True,
            message=(
                f"rate limit `{limit}` of rule `{rule}` is exhausted for agent `{agent_id}`; "
                f"retry in {max(retry_after, 0.0):.1f} s"
            ),
        )
        return Decision.model_validate(data)

    # -- enforcement ------------------------------------------------------------------------

    def enforce(self, request: Mapping[str, Any], *, request_json: str | None = None) -> Enforcement:
        """Decide, ask for approval if needed, audit, and say whether the action may run.

        Args:
            request: The evaluation request (plain JSON data).
            request_json: Its canonical JSON, if the caller has it; saves re-serialising for the audit.
        """
        decision = self.decide(request) if self._limits else self.evaluate(request)
        if decision.effect != "require_approval":
            # The common path, kept flat: no approval, one audit append.
            audit_hash = None
            if self.audit is not None:
                audit_hash = self.audit.append(request, decision, None, request_json=request_json)
            if decision.matched and decision.allowed:
                self._notice(decision)
            return Enforcement(decision.allowed, decision, None, audit_hash)
        approval = None
        if decision.effect == "require_approval":
            approval_request = self._approval_request(decision, request)
            try:
                response = self.approval_handler(approval_request)
                if inspect.isawaitable(response):
                    raise TypeError("the approval handler is async; govern an async function to use it")
            except Exception as exc:
                self._handler_failed(request, decision, approval_request, exc)
            approval = self._approval_record(approval_request, response)
        return self._finish(request, decision, approval, request_json)

    async def enforce_async(
        self, request: Mapping[str, Any], *, request_json: str | None = None
    ) -> Enforcement:
        """`enforce` for async callers: an async handler is awaited, a sync one runs in a thread."""
        decision = self.decide(request)
        approval = None
        if decision.effect == "require_approval":
            approval_request = self._approval_request(decision, request)
            handler = self.approval_handler
            try:
                if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
                    getattr(handler, "__call__", None)  # noqa: B004 - we need the method itself
                ):
                    response = await handler(approval_request)  # type: ignore[misc]
                else:
                    response = await asyncio.to_thread(handler, approval_request)
            except Exception as exc:
                self._handler_failed(request, decision, approval_request, exc)
            approval = self._approval_record(approval_request, response)
        return self._finish(request, decision, approval, request_json)

    def _finish(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval: ApprovalRecord | None,
        request_json: str | None,
    ) -> Enforcement:
        allowed = decision.allowed or (approval is not None and approval.approved)
        audit_hash = None
        if self.audit is not None:
            audit_hash = self.audit.append(request, decision, approval, request_json=request_json)
        if allowed and decision.matched:
            self._notice(decision)
        return Enforcement(allowed, decision, approval, audit_hash)

    def _approval_request(self, decision: Decision, request: Mapping[str, Any]) -> ApprovalRequest:
        # A deep copy: the handler is user code, and the request's agent and context dicts are shared.
        return ApprovalRequest(
            decision=decision, request=copy.deepcopy(dict(request)), request_hash=content_hash(request)
        )

    def _approval_record(self, approval_request: ApprovalRequest, response: Any) -> ApprovalRecord:
        if not isinstance(response, ApprovalResponse):
            response = ApprovalResponse(
                False, None, f"approval handler returned `{type(response).__name__}`, not an ApprovalResponse"
            )
        return ApprovalRecord(
            approved=response.approved,
            approver=response.approver,
            decided_at=self._clock.now(),
            request_hash=approval_request.request_hash,
            handler=type(self.approval_handler).__name__,
            reason=response.reason,
        )

    def _handler_failed(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval_request: ApprovalRequest,
        exc: Exception,
    ) -> None:
        record = ApprovalRecord(
            approved=False,
            approver=None,
            decided_at=self._clock.now(),
            request_hash=approval_request.request_hash,
            handler=type(self.approval_handler).__name__,
            reason=f"approval handler raised {type(exc).__name__}: {exc}",
        )
        if self.audit is not None:
            self.audit.append(request, decision, record)
        raise ApprovalError(
            f"approval handler failed for rule `{decision.rule}`: {exc}",
            help="the action was refused and the failure recorded in the audit log",
        ) from exc

    def _notice(self, decision: Decision) -> None:
        """Log each matched warn or log rule the first time it lets a call through."""
        for m in decision.matched:
            if m.action not in ("warn", "log"):
                continue
            key = (m.policy, m.rule)
            if key in self._noticed:
                continue
            with self._noticed_lock:
                if key in self._noticed:
                    continue
                self._noticed.add(key)
            level = logging.WARNING if m.action == "warn" else logging.INFO
            message = decision.message if decision.rule == m.rule else ""
            logger.log(
                level,
                "policy `%s` rule `%s` (%s) matched and let the call through%s; "
                "further matches of this rule are recorded in the audit log only",
                m.policy,
                m.rule,
                m.action,
                f": {message}" if message else "",
            )
