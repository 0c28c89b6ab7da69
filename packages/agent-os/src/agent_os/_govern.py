"""govern(): wrap any tool function so every call is decided, audited and enforced first."""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from agt_core import GovernanceDenied, RequestError

if TYPE_CHECKING:
    # The engine (pydantic, PyYAML, RE2) loads when a tool is first governed, not on import,
    # so `from agentmesh.governance import govern` stays fast.
    from agent_os._audit_log import AuditLog
    from agent_os._wiring import GovernOptions
    from agt_core import AuditSink, Decision, Enforcement

__all__ = ["default_audit_log", "govern", "governance_context"]

F = TypeVar("F", bound=Callable[..., Any])

_call_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "agt_call_context", default=None
)


def default_audit_log() -> AuditSink | AuditLog:
    """The process-wide audit sink that `govern` appends to unless told otherwise.

    An in-memory `AuditLog` unless `agent_os.pipeline().set_default_audit(...)` chose another.
    """
    from agent_os._pipeline import pipeline

    return pipeline().default_audit()


@contextmanager
def governance_context(**values: Any) -> Iterator[None]:
    """Add fields to the ``context`` of every governed call made inside the block.

    Example::

        with governance_context(user="alice", ticket="OPS-12"):
            safe_tool(action="read", table="users")   # conditions can test context.user
    """
    current = _call_context.get()
    merged = {**current, **values} if current else dict(values)
    token = _call_context.set(merged)
    try:
        yield
    finally:
        _call_context.reset(token)


def refusal_help(outcome: Enforcement) -> str | None:
    """What to do about a refusal, when the kernel knows: approvals nobody can give, missing fields."""
    approval = outcome.approval
    if approval is not None and not approval.approved and approval.handler == "DenyApprovals":
        return (
            "no approval handler is configured, so approvals are refused; pass "
            "approval_handler=CallbackApproval(fn) or ConsoleApproval() to govern()"
        )
    return decision_help(outcome.decision)


def decision_help(decision: Decision) -> str | None:
    """What to do about a refusal the policy decided: a rule that failed closed on a missing field."""
    if decision.errors:
        from agent_os._loading._missing import missing_field_help

        return missing_field_help(decision)
    return None


def current_context() -> Mapping[str, Any] | None:
    """The fields `governance_context` blocks around this call have set, or None."""
    return _call_context.get()


@overload
def govern(fn: F, /, **options: Unpack[GovernOptions]) -> F: ...
@overload
def govern(fn: None = None, /, **options: Unpack[GovernOptions]) -> Callable[[F], F]: ...


def govern(fn: Callable[..., Any] | None = None, /, *positional: Any, **options: Any) -> Any:
    """Wrap `fn` so that each call is checked against policy before it runs.

    Usable as ``govern(fn, policy=...)`` or as a decorator ``@govern(policy=...)``. The options
    are those of `GovernOptions`; ``policy`` is required.

    Each call: the arguments are bound and frozen (the tool receives exactly the values that were
    judged), the request goes through the kernel's pipeline (enrichers, guards, evaluation, rate
    limits, approval, audit, observers), and only an allowed call runs. A refused call raises
    `GovernanceDenied` (or returns ``on_deny(decision)``); every refusal is audited.

    Returns:
        A callable with `fn`'s name, docstring and signature, plus attributes ``policy_set``,
        ``kernel`` and ``audit_log``.

    Raises:
        PolicyError: at wrap time, if the policy cannot be loaded.
    """
    if positional:
        raise TypeError(
            'govern() takes the policy as a keyword: govern(fn, policy="policy.yaml")'
            if len(positional) == 1
            else "govern() takes the function as its only positional argument; pass options as keywords"
        )
    if "policy" not in options:
        raise TypeError("govern() needs policy=: a policy file path, YAML text, a dict or a PolicySet")
    if fn is None:
        return lambda f: _wrap(f, options)
    return _wrap(fn, options)


def _wrap(fn: Callable[..., Any], options: Mapping[str, Any]) -> Callable[..., Any]:
    # Imported here, like the engine: `from agentmesh.governance import govern` stays cheap
    # (the request builder pulls in inspect, dataclasses, unicodedata).
    import inspect

    from agent_os._call_plan import native_call_plan
    from agent_os._request_builder import RequestBuilder, to_json_data, unwrap_partial
    from agent_os._wiring import (
        GovernOptions,
        agent_data,
        build_kernel,
        expand_agent,
        request_limits,
        resolve_policy,
        with_manifest,
    )

    unknown = set(options) - set(GovernOptions.__annotations__)
    if unknown:
        raise TypeError(f"govern() got unexpected option(s): {', '.join(sorted(unknown))}")
    options = expand_agent(options)
    if not callable(fn):
        raise TypeError(f"govern() needs a callable, got `{type(fn).__name__}`")
    target, preset = unwrap_partial(fn)
    tool = options.get("tool_name") or getattr(target, "__name__", None) or type(target).__name__
    options = with_manifest(options, tool, target)
    policy_set = resolve_policy(options)
    kernel = build_kernel(options, policy_set)
    limits = request_limits(options)
    builder = RequestBuilder(
        target,
        tool,
        agent_data(options),
        options.get("context") or {},
        limits,
        preset=preset,
        consume_iterators=bool(options.get("consume_iterators", False)),
        check_types=bool(options.get("check_types", True)),
    )
    on_deny = options.get("on_deny")
    post_tool = "post_tool" in policy_set.stages
    audited = kernel.audit is not None
    # A partial is called through its target: the frozen call already holds its preset arguments.
    call_target = target

    def refused(outcome: Enforcement) -> Any:
        if on_deny is not None:
            return on_deny(outcome.decision)
        raise GovernanceDenied(outcome.decision, approval=outcome.approval, help=refusal_help(outcome))

    def unbuildable(exc: RequestError) -> Enforcement:
        # What is known of the call: its tool and agent, never the arguments that failed to convert.
        known = {
            "action": {"type": tool, "tool": tool},
            "args": {},
            "agent": builder.agent,
            "context": builder.context,
            "stage": "pre_tool",
        }
        return kernel.refuse(known, f"request could not be built: {exc.message}", by="kernel:request")

    def with_context(request: dict[str, Any], request_json: str | None) -> tuple[dict[str, Any], str | None]:
        dynamic = _call_context.get()
        if not dynamic:
            return request, request_json
        context = {**request["context"], **to_json_data(dynamic, limits, where="context")}
        return {**request, "context": context}, None

    redactor = kernel.redactor if kernel.redactor is not None and kernel.redactor.results else None

    def redacted(outcome: Enforcement, result: Any) -> Any:
        # After post_tool rules judged the result as returned: the caller gets it redacted.
        assert redactor is not None
        try:
            return redactor.redact_result(result)[0]
        except RequestError as exc:
            post = {**outcome.request, "stage": "post_tool", "result": None}
            why = f"result could not be scanned for secrets: {exc.message}"
            return refused(kernel.refuse(post, why, by="kernel:redaction"))

    def post_request(outcome: Enforcement, result: Any) -> dict[str, Any] | Enforcement:
        request = dict(outcome.request)
        try:
            return {**request, "stage": "post_tool", "result": to_json_data(result, limits, where="result")}
        except RequestError as exc:
            post = {**request, "stage": "post_tool", "result": None}
            return kernel.refuse(post, f"result could not be checked: {exc.message}", by="kernel:request")

    notice = kernel._notice
    pipe = kernel.pipeline
    # Common calls decided and recorded in one native crossing (agent_os._call_plan), when
    # nothing else in the pipeline needs to see them.
    plan = native_call_plan(kernel, builder, post_tool=post_tool) if redactor is None else None
    fast: Callable[[dict[str, Any]], Decision | None] | None = None
    if plan is not None:
        fast = plan.decide_and_append if audited else plan.decide

    def planned(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Decision | None:
        """The call plan's decision (recorded), or None where the kernel's steps must decide the call.

        Checked per call: what can change after wrapping (the pipeline's extensions, a
        `governance_context` block) sends the call down the general path.
        """
        if args or pipe.enrichers or pipe.guards or pipe.observers or _call_context.get():
            return None
        try:
            decision = fast(kwargs)  # type: ignore[misc]  # only called when there is a plan
        except Exception:  # the general path decides instead, and records any failure
            return None
        if decision is not None and decision.matched:
            notice(decision, decision.allowed)
        return decision

    def refused_by_policy(decision: Decision) -> Any:
        if on_deny is not None:
            return on_deny(decision)
        raise GovernanceDenied(decision, help=decision_help(decision))

    # An object with `async def __call__` is awaited like an async function.
    if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(getattr(target, "__call__", None)):  # noqa: B004

        @functools.wraps(fn)
        async def governed_async(*args: Any, **kwargs: Any) -> Any:
            decision = planned(args, kwargs) if fast is not None else None
            if decision is not None:
                return await call_target(**kwargs) if decision.allowed else refused_by_policy(decision)
            try:
                request, request_json, (call_args, call_kwargs) = builder.build(
                    args, kwargs, with_json=audited
                )
                request, request_json = with_context(request, request_json)
            except RequestError as exc:
                outcome = unbuildable(exc)
            else:
                outcome = await kernel._enforce_async(request, request_json)
            if not outcome.allowed:
                return refused(outcome)
            started = time.perf_counter()
            try:
                result = await call_target(*call_args, **call_kwargs)
            except BaseException as exc:
                kernel.complete(outcome, None, exc, time.perf_counter() - started)
                raise
            kernel.complete(outcome, result, None, time.perf_counter() - started)
            if post_tool:
                post = post_request(outcome, result)
                post_outcome = post if not isinstance(post, dict) else await kernel._enforce_async(post, None)
                if not post_outcome.allowed:
                    return refused(post_outcome)
            if redactor is not None:
                return redacted(outcome, result)
            return result

        governed: Any = governed_async
    else:
        build = builder.build
        enforce = kernel._enforce
        complete = kernel.complete
        own_observers = bool(kernel.observers)

        @functools.wraps(fn)
        def governed_sync(*args: Any, **kwargs: Any) -> Any:
            decision = planned(args, kwargs) if fast is not None else None
            if decision is not None:
                return call_target(**kwargs) if decision.allowed else refused_by_policy(decision)
            try:
                request, request_json, (call_args, call_kwargs) = build(args, kwargs, with_json=audited)
                if _call_context.get():
                    request, request_json = with_context(request, request_json)
            except RequestError as exc:
                outcome = unbuildable(exc)
            else:
                outcome = enforce(request, request_json)
            if not outcome.allowed:
                return refused(outcome)
            if pipe.observers or own_observers:
                started = time.perf_counter()
                try:
                    result = call_target(*call_args, **call_kwargs)
                except BaseException as exc:
                    complete(outcome, None, exc, time.perf_counter() - started)
                    raise
                complete(outcome, result, None, time.perf_counter() - started)
            else:
                result = call_target(*call_args, **call_kwargs)
            if post_tool:
                post = post_request(outcome, result)
                post_outcome = post if not isinstance(post, dict) else kernel._enforce(post, None)
                if not post_outcome.allowed:
                    return refused(post_outcome)
            if redactor is not None:
                return redacted(outcome, result)
            return result

        governed = governed_sync
    governed.native_plan = plan
    governed.policy_set = policy_set
    governed.kernel = kernel
    governed.audit_log = kernel.audit
    wrapped: Callable[..., Any] = governed
    return wrapped
