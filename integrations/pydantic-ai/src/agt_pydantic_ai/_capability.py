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
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability, CapabilityOrdering
from pydantic_ai.capabilities.abstract import WrapToolExecuteHandler
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.tools import ToolDefinition

from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ToolGovernance"]


class ToolGovernance(AbstractCapability[Any]):
    """Checks every tool call of an agent against policy before it runs.

    Usage::

        agent = Agent(model, tools=[...], capabilities=[ToolGovernance(policy="policy.yaml")])

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` returns the refusal as the tool result; ``"raise"`` raises
            `GovernanceDenied` (or the gate's own error) out of the run.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self, policy: Any = None, *, on_refusal: OnRefusal = "refuse", gate: Any = None, **gate_options: Any
    ) -> None:
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
        verdict = await self.governor.check_async(call.tool_name, args, **_framework_fields(ctx, call))
        if not verdict.allowed:
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


def _framework_fields(ctx: RunContext[Any], call: ToolCallPart) -> dict[str, Any]:
    agent = ctx.agent
    return {
        "agent": getattr(agent, "name", None),
        "run_id": ctx.run_id,
        "conversation_id": ctx.conversation_id,
        "run_step": ctx.run_step,
        "tool_call_id": call.tool_call_id,
    }
