"""Governance for Microsoft Agent Framework: function middleware that gates every tool call.

A refused call gets ``context.result`` set to the refusal text and ``call_next`` is never
called, so the tool does not run and the model reads the refusal as the function result. Raise
mode raises `MiddlewareFailure`, the framework's documented fail-closed signal: it is never
turned into a tool-error result, cancels the sibling calls of the batch and propagates to the
caller of ``Agent.run``. (An ordinary exception from function middleware would become a
tool-error result and the loop would go on: fail-open for a policy layer, so we never rely on
one.)
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agent_framework import FunctionInvocationContext, FunctionMiddleware, MiddlewareFailure
from pydantic import BaseModel

from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["GovernanceMiddleware"]


class GovernanceMiddleware(FunctionMiddleware):
    """Checks every function call of an agent against policy before it runs.

    Usage::

        agent = Agent(client=client, tools=[...], middleware=[GovernanceMiddleware(policy="policy.yaml")])

    Argument-repair middleware must come before it in ``middleware`` so the policy judges the
    arguments the tool receives.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` sets the refusal as the function result; ``"raise"`` aborts the
            run with `MiddlewareFailure` (its ``__cause__`` is the `GovernanceDenied` or the gate's
            own error).
        agent_name: Recorded as ``context.framework.agent`` (function middleware is not told
            which agent is running).
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        agent_name: str | None = None,
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework="agent-framework",
            framework_version=importlib.metadata.version("agent-framework-core"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )
        self.agent_name = agent_name

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    async def process(
        self, context: FunctionInvocationContext, call_next: Callable[[], Awaitable[None]]
    ) -> None:
        """Decide; call ``call_next`` (the rest of the pipeline and the tool) only if allowed."""
        arguments = context.arguments
        args = arguments.model_dump() if isinstance(arguments, BaseModel) else dict(arguments)
        verdict = await self.governor.check_async(context.function.name, args, **self._fields(context))
        if not verdict.allowed:
            self._refuse(context, verdict)
            return
        started = time.perf_counter()
        try:
            await call_next()
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        post = self.governor.complete(
            verdict, result=_plain(context.result), duration_s=time.perf_counter() - started
        )
        if not post.allowed:
            self._refuse(context, post)

    def _refuse(self, context: FunctionInvocationContext, verdict: Verdict) -> None:
        if self.governor.raises:
            raise MiddlewareFailure(verdict.message) from verdict.exception()
        context.result = verdict.message

    def _fields(self, context: FunctionInvocationContext) -> dict[str, Any]:
        session = context.session
        metadata: Mapping[str, Any] = context.metadata
        return {
            "agent": self.agent_name,
            "session_id": getattr(session, "session_id", None),
            "service_session_id": getattr(session, "service_session_id", None),
            "tool_call_id": metadata.get("call_id"),
        }


def _plain(result: Any) -> Any:
    """The function result as JSON-able data for post_tool rules (``list[Content]`` becomes dicts)."""
    if isinstance(result, list):
        return [item.to_dict() if hasattr(item, "to_dict") else item for item in result]
    return result
