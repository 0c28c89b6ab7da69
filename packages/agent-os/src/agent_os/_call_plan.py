"""The native call plan: a governed call's request, decision and audit record in one native crossing.

A policy set compiled by agt-evaluator can decide a governed function's common calls natively
(`agt_evaluator.NativePolicySet.call_plan`): keyword arguments that are short ASCII strings,
safe integers, booleans or None, read, checked, evaluated and recorded without the kernel's
Python steps. That is only the same call when the kernel would do nothing else with it, so the
plan is made only when nothing else is configured; what can change after wrapping (the
pipeline's enrichers, guards and observers, a `governance_context` block) is checked at each
call by `govern()`. The plan itself declines (returns None) any call it does not cover exactly,
before it has recorded anything, and the kernel's general path then decides it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_os._audit_log import AuditLog

if TYPE_CHECKING:
    from agent_os._kernel import Kernel
    from agent_os._request_builder import RequestBuilder

__all__ = ["native_call_plan"]


def native_call_plan(kernel: Kernel, builder: RequestBuilder, *, post_tool: bool) -> Any | None:
    """The policy set's call plan for this governed function, or None where the kernel must see each call.

    With an audit log, the log's chain is moved into the policy set's native trail first (see
    `AuditLog._adopt_native`): the plan then decides a call and appends its record in one crossing.

    Not made when the kernel has anything the plan does not do: its own enrichers, guards or
    observers, sql/k8s facets, redaction, rate limits, post_tool rules, an audit sink other than
    a plain `AuditLog` (no ``sink=``) whose records the policy set's checked ``chain_record``
    writes; nor when the function's signature needs the general binding (positional-only or
    variadic parameters, a partial's preset arguments, a method governed in its class body,
    annotations that are not exact types, parameter names that are not short ASCII).
    """
    make = getattr(kernel.policy_set, "call_plan", None)
    if make is None or post_tool:
        return None
    if kernel.enrichers or kernel.guards or kernel.observers:
        return None
    if kernel.facets is not None or kernel.redactor is not None or kernel.policy_set.limits:
        return None
    audit = kernel.audit
    # The plan's records are laid out by the same native code as the kernel's checked chain_record.
    if audit is not None and not (type(audit) is AuditLog and audit._sink is None and kernel._chain_record):
        return None
    limits = builder.limits
    if not (
        builder.simple
        and not builder.skip_first
        and builder.var_keyword is None
        and not builder.checks
        and builder.names_chars >= 0
        and builder.longest_name <= limits.max_string_length
    ):
        return None
    make_trail = getattr(kernel.policy_set, "native_trail", None)
    if audit is not None and make_trail is None:
        return None
    # The log's chain moves into native memory, so the plan appends in the same crossing.
    trail = None if audit is None or make_trail is None else audit._adopt_native(make_trail)
    exact = dict(builder.fast_checks)
    params = [
        (name, builder.defaults.get(name), name in builder.defaults, exact.get(name, ()))
        for name in builder.signature.parameters
    ]
    plan: Any = make(
        builder.tool,
        params,
        builder.agent,
        builder.context,
        builder.agent_json,
        builder.context_json,
        (limits.max_items, limits.max_string_length, limits.max_total_chars),
        trail,
    )
    return plan
