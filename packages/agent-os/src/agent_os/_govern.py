"""govern(): wrap any tool function so every call is decided, audited and enforced first."""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from json.encoder import encode_basestring as encode_json_string  # RFC 8785 string escaping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from agent_os._request_builder import DEFAULT_REQUEST_LIMITS, RequestLimits, to_json_data
from agt_core import GovernanceDenied, PolicySet, RequestError, canonical_json

if TYPE_CHECKING:
    # The engine (pydantic, PyYAML, RE2) loads when a tool is first governed, not on import,
    # so `from agentmesh.governance import govern` stays fast.
    from agent_os._approval import ApprovalHandler
    from agent_os._audit_log import AuditLog
    from agent_os._compile import PolicySource
    from agent_os._kernel import Enforcement
    from agent_os._rate_limit import RateLimiter
    from agt_core import Decision

__all__ = ["default_audit_log", "govern", "governance_context"]

F = TypeVar("F", bound=Callable[..., Any])

_default_log: AuditLog | None = None
_default_log_lock = threading.Lock()
# One limiter per policy set, so a rule's limit counts across every tool governed by that set.
_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()
_notices: dict[str, set[tuple[str, str]]] = {}
_call_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "agt_call_context", default=None
)


def default_audit_log() -> AuditLog:
    """The process-wide audit log that `govern` appends to unless told otherwise."""
    global _default_log
    if _default_log is None:
        from agent_os._audit_log import AuditLog

        with _default_log_lock:
            if _default_log is None:
                _default_log = AuditLog()
    return _default_log


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


def _noticed_for(policy_set: PolicySet) -> set[tuple[str, str]]:
    """The warn/log rules already reported for this policy set: a notice comes once per rule per process."""
    with _limiters_lock:
        return _notices.setdefault(policy_set.hash, set())


def _limiter_for(policy_set: PolicySet) -> RateLimiter:
    from agent_os._rate_limit import RateLimiter

    with _limiters_lock:
        limiter = _limiters.get(policy_set.hash)
        if limiter is None:
            limiter = _limiters[policy_set.hash] = RateLimiter()
        return limiter


class _RequestBuilder:
    """Builds the request for one governed function; the signature is inspected once."""

    def __init__(
        self,
        fn: Callable[..., Any],
        tool: str,
        agent: Mapping[str, Any],
        context: Mapping[str, Any],
        limits: RequestLimits,
    ) -> None:
        self.tool = tool
        self.limits = limits
        self.agent = to_json_data(agent, limits, where="agent")
        self.context = to_json_data(context, limits, where="context")
        # Canonical JSON of the parts that never change, so the audit record costs one small encode.
        self.agent_json = canonical_json(self.agent)
        self.context_json = canonical_json(self.context)
        self.action_json = canonical_json({"tool": tool, "type": tool})
        self.tool_json_prefix = '{"tool":' + encode_json_string(tool) + ',"type":'

        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters.values())
        # A method decorated in its class body receives the instance first; it is not an argument.
        self.skip_first = bool(params) and params[0].name in ("self", "cls") and not inspect.ismethod(fn)
        simple_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        self.simple = all(p.kind in simple_kinds for p in params)
        self.positional = tuple(p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.names = frozenset(p.name for p in params)
        self.defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        self.var_keyword = next((p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD), None)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Every argument by parameter name, defaults included; raises TypeError for a bad call."""
        if self.simple and not args and not self.skip_first and kwargs.keys() <= self.names:
            # The common agent-framework call: keywords only.
            bound = {**self.defaults, **kwargs}
            if len(bound) == len(self.names):
                return bound
        elif self.simple and len(args) <= len(self.positional) and kwargs.keys() <= self.names:
            bound = dict(self.defaults)
            bound.update(zip(self.positional, args, strict=False))
            if kwargs:
                for name in self.positional[: len(args)]:
                    if name in kwargs:
                        raise TypeError(f"{self.tool}() got multiple values for argument '{name}'")
                bound.update(kwargs)
            if len(bound) == len(self.names):
                if self.skip_first:
                    del bound[self.positional[0]]
                return bound
        ba = self.signature.bind(*args, **kwargs)  # raises the same TypeError the call would
        ba.apply_defaults()
        bound = dict(ba.arguments)
        if self.var_keyword is not None:
            bound.update(bound.pop(self.var_keyword))
        if self.skip_first:
            bound.pop(next(iter(self.signature.parameters)), None)
        return bound

    def build(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, with_json: bool = True
    ) -> tuple[dict[str, Any], str | None]:
        """The pre_tool request for one call and its canonical JSON (None when not cheap to build).

        Raises:
            RequestError: if an argument cannot be represented or breaks the limits.
            TypeError: for a call that does not match the function's signature.
        """
        bound = self.bind(args, kwargs)
        action: dict[str, Any] = {"type": self.tool, "tool": self.tool}
        action_json: str | None = self.action_json
        given = bound.get("action")
        if type(given) is str:
            action["type"] = given
            action_json = self.tool_json_prefix + encode_json_string(given) + "}"
        elif isinstance(given, Mapping):
            action_json = None
            action_type = given.get("type")
            if type(action_type) is not str:
                raise RequestError("argument `action` is a mapping without a string `type`")
            extra = to_json_data(given, self.limits, where="action")
            action.update(extra)
            action["tool"] = self.tool
        context = self.context
        context_json: str | None = self.context_json
        dynamic = _call_context.get()
        if dynamic:
            context = {**context, **to_json_data(dynamic, self.limits, where="context")}
            context_json = None
        args_data = to_json_data(bound, self.limits)
        # agent and context are shared between calls: conditions only read them, and approval
        # handlers get a private copy of the request.
        request = {
            "action": action,
            "args": args_data,
            "agent": self.agent,
            "context": context,
            "stage": "pre_tool",
        }
        if not with_json or action_json is None or context_json is None:
            return request, None
        # Keys in RFC 8785 order: action, agent, args, context, stage.
        return request, (
            f'{{"action":{action_json},"agent":{self.agent_json},"args":{canonical_json(args_data)},'
            f'"context":{context_json},"stage":"pre_tool"}}'
        )


@overload
def govern(
    fn: F,
    /,
    *,
    policy: PolicySource | PolicySet,
    audit: bool | AuditLog = True,
    agent_id: str = "default",
    agent: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    on_deny: Callable[[Decision], Any] | None = None,
    approval_handler: ApprovalHandler | None = None,
    tool_name: str | None = None,
    request_limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
    base_dir: str | None = None,
    rate_limiter: RateLimiter | None = None,
) -> F: ...
@overload
def govern(
    fn: None = None,
    /,
    *,
    policy: PolicySource | PolicySet,
    audit: bool | AuditLog = True,
    agent_id: str = "default",
    agent: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    on_deny: Callable[[Decision], Any] | None = None,
    approval_handler: ApprovalHandler | None = None,
    tool_name: str | None = None,
    request_limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
    base_dir: str | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Callable[[F], F]: ...


def govern(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    policy: PolicySource | PolicySet,
    audit: bool | AuditLog = True,
    agent_id: str = "default",
    agent: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    on_deny: Callable[[Decision], Any] | None = None,
    approval_handler: ApprovalHandler | None = None,
    tool_name: str | None = None,
    request_limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
    base_dir: str | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Any:
    """Wrap `fn` so that each call is checked against policy before it runs.

    Usable as ``govern(fn, policy=...)`` or as a decorator ``@govern(policy=...)``.

    Args:
        fn: A function, async function, or bound method.
        policy: A policy file or directory path, YAML text, a dict, a list of those, or a compiled
            `PolicySet` (required).
        audit: True (default) appends to `default_audit_log()`; an `AuditLog` appends there;
            False turns auditing off.
        agent_id: The acting agent's id, visible to conditions as ``agent.id`` (default ``"default"``).
        agent: Extra agent attributes (roles, team, DID), visible as ``agent.<name>``.
        context: Fixed context for every call, visible as ``context.<name>``; add per-call context
            with `governance_context`.
        on_deny: Called with the `Decision` instead of raising `GovernanceDenied`; its return value
            becomes the call's result.
        approval_handler: Decides require_approval rules; the default refuses them.
        tool_name: The tool's name in requests (default: ``fn.__name__``).
        request_limits: Size and depth bounds on requests (default `RequestLimits()`).
        base_dir: Folder that ``extends`` paths of an inline (non-file) policy are relative to.
        rate_limiter: Where rule limits are counted. By default every tool governed by the same
            policy set in this process shares one limiter, so a rule's limit holds across tools.

    Returns:
        A callable with `fn`'s name, docstring and signature, plus attributes ``policy_set``,
        ``kernel`` and ``audit_log``.

    Raises:
        PolicyError: at wrap time, if the policy cannot be loaded.
    """
    options: dict[str, Any] = {
        "policy": policy,
        "audit": audit,
        "agent_id": agent_id,
        "agent": agent,
        "context": context,
        "on_deny": on_deny,
        "approval_handler": approval_handler,
        "tool_name": tool_name,
        "request_limits": request_limits,
        "base_dir": base_dir,
        "rate_limiter": rate_limiter,
    }
    if fn is None:
        return lambda f: _wrap(f, **options)
    return _wrap(fn, **options)


def _wrap(
    fn: Callable[..., Any],
    *,
    policy: PolicySource | PolicySet,
    audit: bool | AuditLog = True,
    agent_id: str = "default",
    agent: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    on_deny: Callable[[Decision], Any] | None = None,
    approval_handler: ApprovalHandler | None = None,
    tool_name: str | None = None,
    request_limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
    base_dir: str | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Callable[..., Any]:
    from agent_os._audit_log import AuditLog
    from agent_os._compile import compile_policies
    from agent_os._kernel import Enforcement, Kernel, refusal

    if not callable(fn):
        raise TypeError(f"govern() needs a callable, got `{type(fn).__name__}`")
    policy_set = policy if isinstance(policy, PolicySet) else compile_policies(policy, base_dir=base_dir)
    if audit is True:
        audit_log: AuditLog | None = default_audit_log()
    elif audit is False or audit is None:
        audit_log = None
    elif isinstance(audit, AuditLog):
        audit_log = audit
    else:
        raise TypeError("audit must be True, False or an AuditLog")
    kernel = Kernel(
        policy_set,
        audit=audit_log,
        approval_handler=approval_handler,
        rate_limiter=rate_limiter or _limiter_for(policy_set),
        noticed=_noticed_for(policy_set),
    )
    tool = tool_name or getattr(fn, "__name__", None) or type(fn).__name__
    agent_data = {**(agent or {}), "id": agent_id}
    builder = _RequestBuilder(fn, tool, agent_data, context or {}, request_limits)
    post_tool = "post_tool" in policy_set.stages
    audited = audit_log is not None

    def refused(outcome: Enforcement) -> Any:
        if on_deny is not None:
            return on_deny(outcome.decision)
        raise GovernanceDenied(outcome.decision, approval=outcome.approval)

    def refuse_request(exc: RequestError) -> tuple[dict[str, Any], Enforcement]:
        # The call is refused, and the refusal audited like any other decision.
        request = {
            "action": {"type": tool, "tool": tool},
            "args": {},
            "agent": dict(builder.agent),
            "context": {},
            "stage": "pre_tool",
        }
        decision = refusal(policy_set, f"request could not be built: {exc.message}", "pre_tool")
        audit_hash = audit_log.append(request, decision) if audit_log is not None else None
        return request, Enforcement(False, decision, None, audit_hash)

    def post_request(request: dict[str, Any], result: Any) -> dict[str, Any] | Enforcement:
        try:
            return {
                **request,
                "stage": "post_tool",
                "result": to_json_data(result, request_limits, where="result"),
            }
        except RequestError as exc:
            post = {**request, "stage": "post_tool", "result": None}
            decision = refusal(policy_set, f"result could not be checked: {exc.message}", "post_tool")
            audit_hash = audit_log.append(post, decision) if audit_log is not None else None
            return Enforcement(False, decision, None, audit_hash)

    # An object with `async def __call__` is awaited like an async function.
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):  # noqa: B004

        @functools.wraps(fn)
        async def governed_async(*args: Any, **kwargs: Any) -> Any:
            try:
                request, request_json = builder.build(args, kwargs, with_json=audited)
            except RequestError as exc:
                request, outcome = refuse_request(exc)
            else:
                outcome = await kernel.enforce_async(request, request_json=request_json)
            if not outcome.allowed:
                return refused(outcome)
            result = await fn(*args, **kwargs)
            if post_tool:
                post = post_request(request, result)
                outcome = post if isinstance(post, Enforcement) else await kernel.enforce_async(post)
                if not outcome.allowed:
                    return refused(outcome)
            return result

        governed: Any = governed_async
    else:
        build = builder.build
        enforce = kernel.enforce

        @functools.wraps(fn)
        def governed_sync(*args: Any, **kwargs: Any) -> Any:
            try:
                request, request_json = build(args, kwargs, with_json=audited)
            except RequestError as exc:
                request, outcome = refuse_request(exc)
            else:
                outcome = enforce(request, request_json=request_json)
            if not outcome.allowed:
                return refused(outcome)
            result = fn(*args, **kwargs)
            if post_tool:
                post = post_request(request, result)
                outcome = post if isinstance(post, Enforcement) else kernel.enforce(post)
                if not outcome.allowed:
                    return refused(outcome)
            return result

        governed = governed_sync
    governed.policy_set = policy_set
    governed.kernel = kernel
    governed.audit_log = audit_log
    wrapped: Callable[..., Any] = governed
    return wrapped
