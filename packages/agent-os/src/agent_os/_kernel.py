"""The kernel: one enforcement path for every governed action, refusals included.

``Kernel.enforce(request)`` runs the steps in a fixed order:

1. enrichers add facts to ``agent``/``context`` (a failing enricher refuses);
2. guards may refuse (kill switch, circuit breaker, ring check; a failing guard refuses);
3. the evaluator decides (anything it raises, a Rust panic included, refuses);
4. rate limits of every matched rule (per agent and rule);
5. the approval handler, for require_approval (bounded by ``approval_timeout``);
6. the audit sink appends the decision (if it fails, `AuditError`: nothing runs unaudited),
   redacted first when the policies or the kernel's ``redaction`` ask for it (`agent_os.redaction`);
7. observers see the outcome (a failing observer is logged and counted, never changes it);
8. warn/log notices, once per rule per policy set per pipeline.

Every refusal, whoever makes it (the request builder, an enricher, a guard, the evaluator, an
approval failure), goes through `Kernel.refuse`: a deny decision naming who refused in
``refused_by``, audited and observed like any other decision.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from agent_os._approval import (
    ApprovalHandler,
    ApprovalPending,
    ApprovalRequest,
    ApprovalResponse,
    DenyApprovals,
)
from agent_os._audit_log import AuditLog
from agent_os._facets import Facets
from agent_os._pipeline import Pipeline
from agent_os._request_builder import DEFAULT_REQUEST_LIMITS, to_json_data
from agt_core import (
    GENESIS_HASH,
    STAGES,
    ApprovalError,
    ApprovalRecord,
    AuditError,
    AuditSink,
    AuditWriteError,
    Decision,
    Enforcement,
    Enricher,
    Guard,
    Observer,
    PolicySet,
    RateLimitStore,
    RequestError,
    RuleError,
    UtcClock,
    audit_record_body,
    content_hash,
    record_hash,
)

__all__ = ["DEFAULT_APPROVAL_TIMEOUT", "Enforcement", "Kernel"]

logger = logging.getLogger("agent_os")

DEFAULT_APPROVAL_TIMEOUT = 300.0
"""Seconds the kernel waits for any approval handler before refusing (a hung handler never blocks forever)."""

# Exceptions that must keep propagating: the user stopping the process. Everything else an
# extension or evaluator raises (including BaseException subclasses such as pyo3's PanicException)
# refuses the call.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)
_ENRICHABLE = frozenset({"agent", "context"})
_new_tuple = tuple.__new__


class Kernel:
    """Runs the governed-call pipeline for one compiled policy set.

    Args:
        policy_set: The compiled policies (any `agt_core.PolicySet`).
        audit: Where decisions are recorded (any `agt_core.AuditSink`), or None for no audit.
        approval_handler: Decides require_approval decisions; the default refuses them.
        approval_timeout: Seconds to wait for the handler before refusing; None waits forever.
        rate_limiter: Where limits are counted; default: the pipeline's limiter for this policy set.
        pipeline: Where process-wide extensions and state live; default: `agent_os.pipeline()`.
        enrichers: This kernel's own enrichers, run after the pipeline's.
        guards: This kernel's own guards, run after the pipeline's.
        observers: This kernel's own observers, run after the pipeline's.
        redaction: Redaction on top of the policy set's ``redaction:`` blocks (a
            `agent_os.redaction.Redactor`, an `agt_core.Redaction` or its mapping, or True for
            every detector); the audit sink then stores the request redacted.
        facets: The ``sql``/``k8s`` facts to derive from each request's arguments (`agent_os._facets`).
    """

    def __init__(
        self,
        policy_set: PolicySet,
        *,
        audit: AuditSink | None,
        approval_handler: ApprovalHandler | None = None,
        approval_timeout: float | None = DEFAULT_APPROVAL_TIMEOUT,
        rate_limiter: RateLimitStore | None = None,
        pipeline: Pipeline | None = None,
        enrichers: Sequence[Enricher] = (),
        guards: Sequence[Guard] = (),
        observers: Sequence[Observer] = (),
        redaction: Any = None,
        facets: Facets | None = None,
    ) -> None:
        from agent_os._pipeline import pipeline as process_pipeline
        from agent_os._redaction import policy_redactor

        self.policy_set = policy_set
        # Bound once: the governed call's evaluation is one call (the native set's is Rust's own method).
        self._evaluate = policy_set.evaluate
        self.audit = audit
        self.approval_handler: ApprovalHandler = approval_handler or DenyApprovals()
        self.approval_timeout = approval_timeout
        self.pipeline = pipeline if pipeline is not None else process_pipeline()
        self.rate_limiter: RateLimitStore = rate_limiter or self.pipeline.limiter_for(policy_set)
        self.enrichers = tuple(enrichers)
        self.guards = tuple(guards)
        self.observers = tuple(observers)
        self.facets = facets
        # None unless the policies or the caller ask for redaction: then the audit step redacts first.
        self.redactor = policy_redactor(policy_set, redaction)
        self._limits = dict(policy_set.limits)
        self._hashes = dict(policy_set.policy_hashes)
        self._noticed = self.pipeline.noticed_for(policy_set)
        self._noticed_lock = threading.Lock()
        self._clock = UtcClock()
        # Our request builder's canonical JSON of the request is handed only to sinks that declare
        # they take it (agent-os's AuditLog, agent-hypervisor's stores); it is never caller-supplied.
        self._audit_takes_json = (
            type(audit) is AuditLog or getattr(type(audit), "accepts_request_json", False) is True
        )
        # A policy set may build and hash audit records natively (agt-evaluator's `chain_record`):
        # our AuditLog then uses it, once it has been shown to write agt-core's exact bytes.
        self._chain_record = _checked_chain_record(policy_set) if type(audit) is AuditLog else None

    # -- the pipeline, step by step ----------------------------------------------------------

    def enforce(self, request: Mapping[str, Any]) -> Enforcement:
        """Run the whole pipeline on `request` (plain JSON data) and say whether the action may run.

        Never raises for a refusal: the returned `Enforcement` says ``allowed=False`` and carries
        the decision. Raises `AuditError` when the decision could not be recorded (the action must
        not run), and `ApprovalError` when the approval handler failed (recorded, then raised).
        """
        return self._enforce(request, None)

    def _enforce(self, request: Mapping[str, Any], request_json: str | None) -> Enforcement:
        # `request_json` is the canonical JSON our own request builder made from the same data;
        # it is dropped as soon as an enricher changes the request. Callers never supply it.
        if self.facets is not None:  # sql/k8s facts derived from the arguments (agent_os._facets)
            request, request_json = self.facets.apply(request), None
        pipe = self.pipeline
        if pipe.enrichers or self.enrichers:
            enriched = self._enrich(request, (*pipe.enrichers, *self.enrichers))
            if isinstance(enriched, Enforcement):
                return enriched
            if enriched is not request:
                request, request_json = enriched, None
        if pipe.guards or self.guards:
            refused = self._guard(request, (*pipe.guards, *self.guards))
            if refused is not None:
                return refused
        if self._limits:
            decision = self.decide(request)
        else:
            # evaluate(), inline: this is the common governed call's path.
            try:
                decision = self._evaluate(request)
            except _PASS_THROUGH:
                raise
            except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException(BaseException)
                decision = self._evaluator_failed(request, exc)
            if type(decision) is not Decision:
                decision = self._evaluator_failed(request, None, decision)
        if decision.effect == "require_approval":
            approval_request = self._approval_request(decision, request)
            approval = self._ask(approval_request, request, decision)
            return self._finish(request, decision, approval, None)
        return self._finish(request, decision, None, request_json)

    async def enforce_async(self, request: Mapping[str, Any]) -> Enforcement:
        """`enforce` for async callers: an async approval handler is awaited, a sync one runs in a thread.

        If the task is cancelled while an approval is pending, the require_approval decision is
        recorded as refused before the cancellation propagates.
        """
        return await self._enforce_async(request, None)

    async def _enforce_async(self, request: Mapping[str, Any], request_json: str | None) -> Enforcement:
        if self.facets is not None:
            request, request_json = self.facets.apply(request), None
        pipe = self.pipeline
        if pipe.enrichers or self.enrichers:
            enriched = self._enrich(request, (*pipe.enrichers, *self.enrichers))
            if isinstance(enriched, Enforcement):
                return enriched
            if enriched is not request:
                request, request_json = enriched, None
        if pipe.guards or self.guards:
            refused = self._guard(request, (*pipe.guards, *self.guards))
            if refused is not None:
                return refused
        decision = self.decide(request)
        if decision.effect != "require_approval":
            return self._finish(request, decision, None, request_json)
        approval_request = self._approval_request(decision, request)
        approval = await self._ask_async(approval_request, request, decision)
        return self._finish(request, decision, approval, None)

    def _enrich(self, request: Mapping[str, Any], enrichers: Sequence[Enricher]) -> Any:
        """The request with every enricher's additions, or the refusal when one fails."""
        for enricher in enrichers:
            name = getattr(enricher, "name", type(enricher).__name__)
            try:
                additions = enricher.enrich(request)
                if additions is None:
                    continue
                request = _merge_additions(request, additions, name)
            except _PASS_THROUGH:
                raise
            except BaseException as exc:
                return self.refuse(
                    request,
                    f"enricher `{name}` failed: {type(exc).__name__}: {exc}",
                    by=f"enricher:{name}",
                )
        return request

    def _guard(self, request: Mapping[str, Any], guards: Sequence[Guard]) -> Enforcement | None:
        for guard in guards:
            name = getattr(guard, "name", type(guard).__name__)
            try:
                reason = guard.check(request)
            except _PASS_THROUGH:
                raise
            except BaseException as exc:
                return self.refuse(
                    request, f"guard `{name}` failed: {type(exc).__name__}: {exc}", by=f"guard:{name}"
                )
            if reason is not None:
                return self.refuse(request, f"refused by guard `{name}`: {reason}", by=f"guard:{name}")
        return None

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        """Evaluate `request`; an evaluator that fails in any way denies instead (fail closed)."""
        try:
            decision = self._evaluate(request)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException(BaseException)
            return self._evaluator_failed(request, exc)
        if type(decision) is not Decision:
            return self._evaluator_failed(request, None, decision)
        return decision

    def _evaluator_failed(
        self, request: Mapping[str, Any], exc: BaseException | None, got: Any = None
    ) -> Decision:
        if exc is not None:
            reason = f"the policy evaluator failed: {type(exc).__name__}: {exc}"
        else:
            reason = f"the policy evaluator returned `{type(got).__name__}`, not a Decision"
        return self.refusal(reason, _stage_of(request), by="kernel:evaluator")

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
                try:
                    hit = self.rate_limiter.acquire(agent_id, limited)
                except Exception as exc:  # a shared store (SQLite, PostgreSQL) that cannot be reached
                    return self.refusal(
                        f"rate limits could not be checked: {type(exc).__name__}: {exc}",
                        _stage_of(request),
                        by="kernel:rate_limiter",
                    )
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

    # -- refusals ------------------------------------------------------------------------------

    def refusal(self, reason: str, stage: str = "pre_tool", *, by: str = "kernel") -> Decision:
        """A deny decided outside the policy (bad request, failed evaluator or extension)."""
        return Decision(
            effect="deny",
            allowed=False,
            message=reason,
            stage=stage if stage in STAGES else "pre_tool",
            policy_set_hash=self.policy_set.hash,
            errors=(RuleError(policy=None, rule=None, message=reason),),
            refused_by=by,
        )

    def refuse(self, request: Mapping[str, Any], reason: str, *, by: str) -> Enforcement:
        """Refuse `request` for `reason`: the one route every non-policy refusal takes (audited, observed).

        Args:
            request: What was being attempted, as far as it is known (plain JSON data).
            reason: Why it is refused; becomes the decision's message and error.
            by: Who refused: ``kernel:request``, ``enricher:<name>``, ``guard:<name>``, ...
        """
        decision = self.refusal(reason, _stage_of(request), by=by)
        return self._finish(request, decision, None, None)

    # -- approval ------------------------------------------------------------------------------

    def _approval_request(self, decision: Decision, request: Mapping[str, Any]) -> ApprovalRequest:
        # A deep copy: the handler is user code, and the request's agent and context dicts are shared.
        return ApprovalRequest(
            decision=decision, request=copy.deepcopy(dict(request)), request_hash=content_hash(request)
        )

    def _ask(
        self, approval_request: ApprovalRequest, request: Mapping[str, Any], decision: Decision
    ) -> ApprovalRecord:
        handler = self.approval_handler
        if _is_async(handler):
            self._approval_failed(
                request,
                decision,
                approval_request,
                "the approval handler is async; govern an async function (or use ToolGate.check_async)",
                None,
            )
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["answer"] = handler(approval_request)
            except BaseException as exc:  # reported in the caller's thread
                box["error"] = exc

        if self.approval_timeout is None:
            run()
        else:
            worker = threading.Thread(target=run, name="agt-approval", daemon=True)
            worker.start()
            worker.join(self.approval_timeout)
            if worker.is_alive():
                return self._record(
                    approval_request,
                    ApprovalResponse(
                        False, None, f"approval handler gave no answer within {self.approval_timeout:g} s"
                    ),
                )
        if "error" in box:
            exc = box["error"]
            if isinstance(exc, ApprovalPending):
                return self._pending(approval_request, exc)
            self._approval_failed(request, decision, approval_request, f"{type(exc).__name__}: {exc}", exc)
        return self._checked_record(approval_request, box.get("answer"))

    async def _ask_async(
        self, approval_request: ApprovalRequest, request: Mapping[str, Any], decision: Decision
    ) -> ApprovalRecord:
        handler = self.approval_handler
        try:
            pending: Any = (
                handler(approval_request)
                if _is_async(handler)
                else asyncio.to_thread(handler, approval_request)
            )
            answer: Any = await asyncio.wait_for(pending, self.approval_timeout)
        except TimeoutError:
            return self._record(
                approval_request,
                ApprovalResponse(
                    False, None, f"approval handler gave no answer within {self.approval_timeout:g} s"
                ),
            )
        except asyncio.CancelledError:
            # The caller gave up while the approval was pending: the decision is still recorded.
            record = self._record(
                approval_request, ApprovalResponse(False, None, "cancelled while the approval was pending")
            )
            self._finish(request, decision, record, None)
            raise
        except ApprovalPending as exc:
            return self._pending(approval_request, exc)
        except BaseException as exc:
            self._approval_failed(request, decision, approval_request, f"{type(exc).__name__}: {exc}", exc)
        return self._checked_record(approval_request, answer)

    def _checked_record(self, approval_request: ApprovalRequest, answer: Any) -> ApprovalRecord:
        """Turn a handler's answer into a record, refusing anything that is not an exact, bound answer."""
        if not isinstance(answer, ApprovalResponse):
            return self._record(
                approval_request,
                ApprovalResponse(
                    False,
                    None,
                    f"approval handler returned `{type(answer).__name__}`, not an ApprovalResponse",
                ),
            )
        problem = _response_problem(answer, approval_request.request_hash)
        if problem is not None:
            return self._record(approval_request, ApprovalResponse(False, None, problem))
        return self._record(approval_request, answer)

    def _pending(self, approval_request: ApprovalRequest, signal: ApprovalPending) -> ApprovalRecord:
        """The handler passed the decision to a person out of band: refused for now, recorded as pending."""
        return ApprovalRecord(
            approved=False,
            approver=None,
            decided_at=self._clock.now(),
            request_hash=approval_request.request_hash,
            handler=type(self.approval_handler).__name__,
            reason=signal.reason or "waiting for a decision out of band",
            pending=True,
        )

    def _record(self, approval_request: ApprovalRequest, response: ApprovalResponse) -> ApprovalRecord:
        return ApprovalRecord(
            approved=response.approved,
            approver=response.approver,
            decided_at=self._clock.now(),
            request_hash=approval_request.request_hash,
            handler=type(self.approval_handler).__name__,
            reason=response.reason,
        )

    def _approval_failed(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval_request: ApprovalRequest,
        reason: str,
        exc: BaseException | None,
    ) -> NoReturn:
        """Record the failed approval as a refusal, then raise `ApprovalError` (or re-raise an interrupt)."""
        record = self._record(
            approval_request, ApprovalResponse(False, None, f"approval handler failed: {reason}")
        )
        self._finish(request, decision, record, None)
        if isinstance(exc, _PASS_THROUGH):
            raise exc
        raise ApprovalError(
            f"approval handler failed for rule `{decision.rule}`: {reason}",
            help="the action was refused and the failure recorded in the audit log",
        ) from exc

    # -- audit, observers, notices ------------------------------------------------------------

    def _finish(
        self,
        request: Mapping[str, Any],
        decision: Decision,
        approval: ApprovalRecord | None,
        request_json: str | None,
    ) -> Enforcement:
        allowed = decision.allowed or (approval is not None and approval.approved)
        audit_hash = None
        audit = self.audit
        if audit is not None:
            try:
                if self.redactor is not None:
                    # The policy judged the request as made; the record is hashed from the redacted copy.
                    logged, logged_decision, logged_approval = self.redactor.for_audit(
                        request, decision, approval
                    )
                    audit_hash = audit.append(logged, logged_decision, logged_approval)
                elif request_json is not None and self._chain_record is not None:
                    audit_hash = audit.append(  # type: ignore[call-arg]
                        request, decision, approval, request_json=request_json, record=self._chain_record
                    )
                elif request_json is not None and self._audit_takes_json:
                    audit_hash = audit.append(request, decision, approval, request_json=request_json)  # type: ignore[call-arg]
                else:
                    audit_hash = audit.append(request, decision, approval)
            except AuditError:
                raise
            except Exception as exc:
                raise AuditWriteError(
                    f"the audit sink `{type(audit).__name__}` failed: {type(exc).__name__}: {exc}",
                    help="the action was refused because its decision could not be recorded",
                ) from exc
        # Enforcement's own __new__ is a Python function; tuple.__new__ builds the same named tuple.
        outcome: Enforcement = _new_tuple(Enforcement, (allowed, decision, approval, audit_hash, request))
        pipe = self.pipeline
        if pipe.observers or self.observers:
            self._observe(outcome)
        if decision.matched:
            # warn and log rules annotate whether or not the call runs: noticed either way.
            self._notice(decision, allowed)
        return outcome

    def _observe(self, outcome: Enforcement) -> None:
        for observer in (*self.pipeline.observers, *self.observers):
            try:
                observer.on_decision(outcome)
            except Exception as exc:
                self._observer_failed(observer, "on_decision", exc)

    def complete(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        """Tell observers how an allowed call ended: its result, or the exception it raised."""
        observers = (*self.pipeline.observers, *self.observers)
        for observer in observers:
            try:
                observer.on_completion(outcome, result, error, duration_s)
            except Exception as exc:
                self._observer_failed(observer, "on_completion", exc)

    def _observer_failed(self, observer: Observer, method: str, exc: Exception) -> None:
        self.pipeline.observer_failures += 1
        logger.warning(
            "observer `%s`.%s raised %s: %s; the outcome stands",
            type(observer).__name__,
            method,
            type(exc).__name__,
            exc,
        )

    def _notice(self, decision: Decision, allowed: bool) -> None:
        """Log each matched warn or log rule the first time it matches (they annotate, never decide)."""
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
            logger.log(
                level,
                "policy `%s` rule `%s` (%s) matched; the call was %s by %s%s; "
                "further matches of this rule are recorded in the audit log only",
                m.policy,
                m.rule,
                m.action,
                "allowed" if allowed else "refused",
                f"rule `{decision.rule}`" if decision.rule is not None else "the default",
                f" ({decision.message})" if decision.message else "",
            )

    def __repr__(self) -> str:
        names = ", ".join(self.policy_set.policy_names)
        return f"Kernel(policies=[{names}], audit={type(self.audit).__name__ if self.audit else None})"


def _checked_chain_record(policy_set: PolicySet) -> Callable[..., tuple[str, str]] | None:
    """The policy set's native audit-record function, after it wrote agt-core's exact record once.

    Raises:
        AuditWriteError: if it writes anything else (a broken build must not write the trail).
    """
    record = getattr(policy_set, "chain_record", None)
    if record is None:
        return None
    # Non-ASCII text and an escape: the record must be the same characters, hashed as UTF-8.
    parts = ('{"a":"\u00e9\\\\"}', '{"effect":"allow"}', "null")
    micros = 1_780_000_000_123_456  # a fixed instant: the timestamps must agree to the microsecond
    expected_body = audit_record_body(
        seq=7,
        timestamp=_utc_text(micros),
        prev_hash=GENESIS_HASH,
        request_json=parts[0],
        decision_json=parts[1],
        approval_json=parts[2],
    )
    try:
        got = record(7, GENESIS_HASH, *parts, micros)
    except Exception as exc:
        raise AuditWriteError(
            f"the policy set's chain_record failed its self-check: {type(exc).__name__}: {exc}"
        ) from exc
    if got != (expected_body, record_hash(expected_body)):
        raise AuditWriteError(
            "the policy set's chain_record does not write agt-core's audit record",
            help="reinstall agt-evaluator, or govern with evaluator='python'",
        )
    checked: Callable[..., tuple[str, str]] = record
    return checked


def _utc_text(micros: int) -> str:
    """``micros`` since the epoch as `agt_core.UtcClock` writes the time."""
    second, micro = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{micro:06d}Z"


def _stage_of(request: Any) -> str:
    stage = request.get("stage", "pre_tool") if isinstance(request, Mapping) else "pre_tool"
    return stage if isinstance(stage, str) and stage in STAGES else "pre_tool"


def _is_async(handler: Any) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - we need the method itself
    )


def _response_problem(response: ApprovalResponse, request_hash: str) -> str | None:
    """Why an `ApprovalResponse` cannot be accepted as given, or None."""
    answer: Any = response  # user code: the declared field types are not guaranteed at runtime
    if type(answer.approved) is not bool:
        return f"`approved` must be True or False, not `{response.approved!r}`"
    if answer.approver is not None and type(answer.approver) is not str:
        return f"`approver` must be a string or None, not `{type(answer.approver).__name__}`"
    if not isinstance(answer.reason, str):
        return f"`reason` must be a string, not `{type(answer.reason).__name__}`"
    if response.approved:
        if response.request_hash is None:
            return (
                "the approval is not bound to a request; answer with request.approve(approver) "
                "(or ApprovalResponse(..., request_hash=request.request_hash))"
            )
        if response.request_hash != request_hash:
            return "the approval was given for a different request (request hash mismatch)"
    return None


def _merge_additions(request: Mapping[str, Any], additions: Any, name: str) -> dict[str, Any]:
    """`request` with an enricher's additions merged one level deep into ``agent`` and ``context``."""
    if not isinstance(additions, Mapping):
        raise TypeError(f"enrich() returned `{type(additions).__name__}`, not a mapping")
    unknown = set(additions) - _ENRICHABLE
    if unknown:
        raise ValueError(f"enrichers may only add to `agent` and `context`, not {sorted(map(str, unknown))}")
    merged = dict(request)
    for part, values in additions.items():
        if not isinstance(values, Mapping):
            raise TypeError(f"enrich() returned `{type(values).__name__}` for `{part}`, not a mapping")
        data = to_json_data(values, DEFAULT_REQUEST_LIMITS, where=f"{part} (from enricher `{name}`)")
        if part == "agent" and "id" in data and data["id"] != request["agent"].get("id"):
            raise RequestError(f"enricher `{name}` tried to change `agent.id`")
        base = request.get(part)
        merged[part] = {**(base if isinstance(base, Mapping) else {}), **data}
    return merged
