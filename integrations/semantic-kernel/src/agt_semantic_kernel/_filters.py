"""Governance for Semantic Kernel: kernel filters that gate every function invocation.

Two filters, registered on the kernel:

* ``FUNCTION_INVOCATION`` runs around *every* kernel function invocation (``kernel.invoke``,
  ``invoke_stream``, a function the model calls, a function an agent calls through the kernel),
  so nothing runs unjudged. A refused call never reaches ``next``; ``context.result`` is set to
  a `FunctionResult` holding the refusal, which is what the caller, or the model, receives.
* ``AUTO_FUNCTION_INVOCATION`` runs around each call the model asks for in the auto-invoke
  loop, and sees what the model sent: the tool-call id, the request and function sequence
  indexes. It makes the decision for model-initiated calls (with that context in the audit
  record) and hands it to the inner function filter, so each call is decided once. A refusal is
  the ``function_result`` the model reads. Raise mode raises `GovernanceDenied` from this filter:
  SK does not catch it, so the chat completion call (or the agent's ``invoke``) raises and the
  loop stops. (From the function filter an exception inside the auto-invoke loop would be turned
  into an error text for the model, so the function filter raises only for direct invocations.)

The function runs with the judged arguments: the filter replaces ``context.arguments`` with a
`KernelArguments` of exactly the values the policy saw (execution settings kept).
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from inspect import isasyncgen, isgenerator
from typing import Any

from semantic_kernel import Kernel
from semantic_kernel.filters import AutoFunctionInvocationContext, FilterTypes, FunctionInvocationContext
from semantic_kernel.functions import FunctionResult, KernelArguments, KernelFunction

from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["KernelGovernance"]

# The auto-invoke filter's verdict for the function invocation it is about to start: the
# function filter takes it instead of deciding the same call again.
_decided: ContextVar[tuple[KernelFunction, Verdict, KernelArguments] | None] = ContextVar(
    "agt_sk_decided", default=None
)

Next = Callable[[Any], Awaitable[None]]


class KernelGovernance:
    """Checks every kernel function invocation against policy before it runs.

    Usage::

        KernelGovernance(policy="policy.yaml").install(kernel)

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        agent_name: The agent using the kernel, recorded as ``context.framework.agent``.
        on_refusal: ``"refuse"`` answers with a `FunctionResult` holding the refusal;
            ``"raise"`` raises `GovernanceDenied` (see the module docstring).
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        agent_name: str | None = None,
        on_refusal: OnRefusal = "refuse",
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        self.agent_name = agent_name
        self.governor = ToolGovernor(
            policy,
            framework="semantic-kernel",
            framework_version=importlib.metadata.version("semantic-kernel"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )
        # Bound once: SK identifies a filter by the id() of the callable it was given.
        self._filters: tuple[tuple[FilterTypes, Any], ...] = (
            (FilterTypes.AUTO_FUNCTION_INVOCATION, self.auto_function_invocation_filter),
            (FilterTypes.FUNCTION_INVOCATION, self.function_invocation_filter),
        )

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    def install(self, kernel: Kernel) -> Kernel:
        """Add both filters to `kernel` (idempotent); returns the kernel.

        Install after your own filters: SK runs the first-added filter outermost, so the
        governance filters sit closest to the function and judge the arguments it will receive.
        """
        for filter_type, function in self._filters:
            if not _has_filter(kernel, filter_type, function):
                kernel.add_filter(filter_type, function)
        return kernel

    # -- the filters ----------------------------------------------------------------------------

    async def auto_function_invocation_filter(
        self, context: AutoFunctionInvocationContext, next: Next
    ) -> None:
        """Decide a call the model asked for; a refusal becomes the result the model reads."""
        call = context.function_call_content
        verdict = await self._check(
            context.function,
            context.arguments,
            tool_call_id=call.id if call is not None else None,
            request_sequence_index=context.request_sequence_index,
            function_sequence_index=context.function_sequence_index,
        )
        if not verdict.allowed:
            if self.governor.raises:
                raise verdict.exception()
            context.function_result = _refusal(context.function, verdict)
            return
        context.arguments = _judged(context.arguments, verdict)
        token = _decided.set((context.function, verdict, context.arguments))
        try:
            await next(context)
        finally:
            _decided.reset(token)

    async def function_invocation_filter(self, context: FunctionInvocationContext, next: Next) -> None:
        """Decide any function invocation (unless the auto-invoke filter just did); run it only when allowed."""
        decided = _decided.get()
        if decided is not None and decided[0] is context.function and decided[2] is context.arguments:
            # The auto-invoke filter decided this very invocation and already set the judged arguments.
            _decided.set(None)  # one decision covers exactly one invocation
            verdict = decided[1]
        else:
            verdict = await self._check(context.function, context.arguments)
            if not verdict.allowed:
                if self.governor.raises:
                    raise verdict.exception()
                context.result = _refusal(context.function, verdict)
                return
            context.arguments = _judged(context.arguments, verdict)
        started = time.perf_counter()
        try:
            await next(context)
        except BaseException as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        value = context.result.value if context.result is not None else None
        if isasyncgen(value) or isgenerator(value):
            value = None  # a streaming result is consumed by the caller, not here
        post = self.governor.complete(verdict, result=value, duration_s=time.perf_counter() - started)
        if not post.allowed:
            context.result = _refusal(context.function, post)

    async def _check(self, function: KernelFunction, arguments: KernelArguments, **fields: Any) -> Verdict:
        try:
            args = dict(arguments)
        except Exception as exc:
            return self.governor.failed(function.name, exc)
        return await self.governor.check_async(
            function.name,
            args,
            agent=self.agent_name,
            plugin=function.plugin_name,
            function=function.fully_qualified_name,
            **fields,
        )


def _judged(arguments: KernelArguments, verdict: Verdict) -> KernelArguments:
    """A `KernelArguments` holding exactly the judged values (the execution settings kept)."""
    assert verdict.outcome is not None
    judged: Mapping[str, Any] = verdict.outcome.request["args"]
    return KernelArguments(settings=arguments.execution_settings, **judged)


def _refusal(function: KernelFunction, verdict: Verdict) -> FunctionResult:
    return FunctionResult(
        function=function.metadata,
        value=verdict.message,
        metadata={
            "agt_refused": True,
            "agt_rule": verdict.outcome.decision.rule if verdict.outcome else None,
        },
    )


def _has_filter(kernel: Kernel, filter_type: FilterTypes, function: Any) -> bool:
    filters = (
        kernel.auto_function_invocation_filters
        if filter_type is FilterTypes.AUTO_FUNCTION_INVOCATION
        else kernel.function_invocation_filters
    )
    return any(filter_id == id(function) for filter_id, _ in filters)
