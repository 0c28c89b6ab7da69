"""Governance for PydanticAI 2.x: a capability whose ``wrap_tool_execute`` gates every tool call.

``wrap_tool_execute`` sees the *validated* arguments, the values the tool function will
receive, so those are what the policy judges. Returning without calling ``handler`` skips the
tool and the returned text becomes the tool's result, which the model reads on its next turn;
raise mode raises `GovernanceDenied`, which PydanticAI propagates out of the run (it is not a
`ModelRetry`, so the model is not asked to try again). The capability orders itself outermost
so no other capability runs a tool it has not allowed.
"""

from __future__ import annotations

import importlib.metadata
import time
from contextvars import ContextVar
from typing import Any, Literal

from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability, CapabilityOrdering
from pydantic_ai.capabilities.abstract import WrapToolExecuteHandler
from pydantic_ai.exceptions import ApprovalRequired
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.tools import ToolDefinition

from agent_os import ApprovalRequest, ApprovalResponse
from agt_core import ApprovalError
from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ApprovalDeferred", "ToolGovernance"]

# Whether PydanticAI says the current tool call was approved through DeferredToolResults.
_approved_by_framework: ContextVar[bool] = ContextVar("agt_pydantic_ai_approved", default=False)


class ApprovalDeferred(Exception):
    """Raised by the deferred approver: the human answers through PydanticAI's deferred tool results."""


class _DeferredApprover:
    """The gate's approval handler in ``approvals="deferred"`` mode.

    A call PydanticAI has not yet seen approved is deferred: the kernel records the pending
    approval as a refusal (the call does not run now) and the capability raises
    `ApprovalRequired`. When the run resumes with ``DeferredToolResults(approvals={id: True})``,
    PydanticAI re-executes the call with ``tool_call_approved``; this handler then approves that
    exact request, and the approval is audited with it. Async, so the kernel awaits it in the
    caller's context (where the flag is set) instead of running it in a thread.
    """

    async def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        if _approved_by_framework.get():
            return request.approve(
                "pydantic-ai:deferred-tool-results", "approved through DeferredToolResults"
            )
        raise ApprovalDeferred("approval requested through PydanticAI's deferred tool calls")


class ToolGovernance(AbstractCapability[Any]):
    """Checks every tool call of an agent against policy before it runs.

    Usage::

        agent = Agent(model, tools=[...], capabilities=[ToolGovernance(policy="policy.yaml")])

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` returns the refusal as the tool result; ``"raise"`` raises
            `GovernanceDenied` (or the gate's own error) out of the run.
        approvals: ``"handler"`` (default): require_approval rules ask the ``approval_handler``
            inline. ``"deferred"``: they use PydanticAI's human-in-the-loop instead: the call is
            deferred with `ApprovalRequired` (the run ends with ``DeferredToolRequests``; give
            the agent ``output_type=[str, DeferredToolRequests]``) and runs when the run is
            resumed with ``DeferredToolResults(approvals={tool_call_id: True})``.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        approvals: Literal["handler", "deferred"] = "handler",
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        if approvals not in ("handler", "deferred"):
            raise ValueError(f"approvals must be 'handler' or 'deferred', got {approvals!r}")
        if approvals == "deferred":
            if gate is not None or "approval_handler" in gate_options:
                raise TypeError(
                    'approvals="deferred" answers approvals itself: pass neither gate= nor approval_handler='
                )
            gate_options["approval_handler"] = _DeferredApprover()
        self.approvals = approvals
        self.governor = ToolGovernor(
            policy,
            framework="pydantic-ai",
            framework_version=importlib.metadata.version("pydantic-ai-slim"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    def get_ordering(self) -> CapabilityOrdering:
        """Outermost: every other capability's tool hooks run inside an allowed call only."""
        return CapabilityOrdering(position="outermost")

    async def wrap_tool_execute(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: dict[str, Any],
        handler: WrapToolExecuteHandler,
    ) -> Any:
        """Decide on the validated arguments; run the tool only if allowed, then check its result."""
        token = _approved_by_framework.set(ctx.tool_call_approved)
        try:
            verdict = await self.governor.check_async(call.tool_name, args, **_framework_fields(ctx, call))
        finally:
            _approved_by_framework.reset(token)
        if not verdict.allowed:
            if _deferred(verdict):
                raise ApprovalRequired(metadata={"governance": verdict.message})
            return self._refuse(verdict)
        started = time.perf_counter()
        try:
            result = await handler(args)
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        post = self.governor.complete(verdict, result=result, duration_s=time.perf_counter() - started)
        return result if post.allowed else self._refuse(post)

    def _refuse(self, verdict: Verdict) -> str:
        if self.governor.raises:
            raise verdict.exception()
        return verdict.message


def _deferred(verdict: Verdict) -> bool:
    return isinstance(verdict.error, ApprovalError) and isinstance(verdict.error.__cause__, ApprovalDeferred)


def _framework_fields(ctx: RunContext[Any], call: ToolCallPart) -> dict[str, Any]:
    agent = ctx.agent
    return {
        "agent": getattr(agent, "name", None),
        "run_id": ctx.run_id,
        "conversation_id": ctx.conversation_id,
        "run_step": ctx.run_step,
        "approved_by_framework": ctx.tool_call_approved or None,
        "tool_call_id": call.tool_call_id,
    }
