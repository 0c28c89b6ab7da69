"""Governance for AutoGen AgentChat tools: a `Workbench` that gates every call before it runs.

AgentChat has no tool hook; an agent's tools live in a workbench (``AssistantAgent(tools=...)``
builds a ``StaticStreamWorkbench``; ``workbench=`` takes any, e.g. ``McpWorkbench``), and the
agent calls ``call_tool`` (or ``call_tool_stream`` on a ``StaticStreamWorkbench``) for every
tool call the model makes. `GovernedWorkbench` wraps a workbench (or a list of tools) and
decides each call first. A refused call never reaches the inner workbench; it is answered with
an error `ToolResult` (``is_error=True``) holding the refusal, which AgentChat hands to the model
as the function's result.

There is no raise mode: AgentChat 0.7.5 has no fail-closed signal for a workbench. An exception
out of ``call_tool`` does not stop the run: AssistantAgent runs the calls in a task that feeds an
event queue, the task dies before it marks the end of the queue, and the agent waits forever
(verified). A refusal is therefore always the error result; a team that must stop on one can
use a termination condition on ``ToolCallExecutionEvent``.

The tool runs with the judged arguments (``outcome.request["args"]``), so what runs is what was
decided. Handoff tools (``handoffs=``) are executed by AssistantAgent itself, outside any
workbench, and are not governed here.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken, MessageHandlerContext
from autogen_core.tools import (
    BaseTool,
    StaticStreamWorkbench,
    TextResultContent,
    ToolResult,
    ToolSchema,
    Workbench,
)

from agt_integrations import ToolGovernor, Verdict

__all__ = ["GovernedWorkbench"]


class GovernedWorkbench(StaticStreamWorkbench):
    """A workbench that checks every tool call against policy before the inner workbench runs it.

    Usage::

        agent = AssistantAgent("ops", model_client, workbench=GovernedWorkbench(tools, policy="policy.yaml"))

    It is a ``StaticStreamWorkbench`` so that AssistantAgent streams through it: a streaming
    inner workbench keeps streaming its tools' intermediate results.

    Args:
        tools: The inner `Workbench` (``StaticWorkbench``, ``McpWorkbench``, ...), or the tools
            (`BaseTool` objects) to put in a ``StaticStreamWorkbench``.
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        agent_name: The agent using the workbench, recorded as ``context.framework.agent``
            (a workbench is not told which agent calls it).
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        tools: Workbench | Sequence[BaseTool[Any, Any]],
        policy: Any = None,
        *,
        agent_name: str | None = None,
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        if "on_refusal" in gate_options:
            raise TypeError(
                "GovernedWorkbench has no on_refusal: AgentChat hangs on an exception from a workbench, "
                "so a refusal is always an error ToolResult"
            )
        super().__init__([])
        self.inner: Workbench = tools if isinstance(tools, Workbench) else StaticStreamWorkbench(list(tools))
        self.agent_name = agent_name
        self.governor = ToolGovernor(
            policy,
            framework="autogen",
            framework_version=importlib.metadata.version("autogen-agentchat"),
            gate=gate,
            **gate_options,
        )

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    # -- the governed calls ---------------------------------------------------------------------

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
        call_id: str | None = None,
    ) -> ToolResult:
        """Decide the call; run it on the inner workbench only when allowed."""
        verdict = await self._check(name, arguments, call_id)
        if not verdict.allowed:
            return self._refuse(name, verdict)
        assert verdict.outcome is not None
        judged = verdict.outcome.request["args"]
        return await self._call_inner(name, judged, cancellation_token, call_id, verdict)

    async def call_tool_stream(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
        call_id: str | None = None,
    ) -> AsyncGenerator[Any | ToolResult, None]:
        """Decide the call; stream it from the inner workbench only when allowed."""
        verdict = await self._check(name, arguments, call_id)
        if not verdict.allowed:
            yield self._refuse(name, verdict)
            return
        assert verdict.outcome is not None
        judged = verdict.outcome.request["args"]
        started = time.perf_counter()
        if not isinstance(self.inner, StaticStreamWorkbench):
            yield await self._call_inner(name, judged, cancellation_token, call_id, verdict)
            return
        final: ToolResult | None = None
        try:
            async for event in self.inner.call_tool_stream(name, judged, cancellation_token, call_id):
                if isinstance(event, ToolResult):
                    final = event
                else:
                    yield event
        except BaseException as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        if final is None:
            final = ToolResult(
                name=name, result=[TextResultContent(content=f"tool `{name}` gave no result")], is_error=True
            )
        yield self._complete(name, verdict, final, started)

    async def _call_inner(
        self,
        name: str,
        judged: Mapping[str, Any],
        cancellation_token: CancellationToken | None,
        call_id: str | None,
        verdict: Verdict,
    ) -> ToolResult:
        started = time.perf_counter()
        try:
            result = await self.inner.call_tool(name, judged, cancellation_token, call_id)
        except BaseException as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        return self._complete(name, verdict, result, started)

    async def _check(self, name: str, arguments: Mapping[str, Any] | None, call_id: str | None) -> Verdict:
        return await self.governor.check_async(
            name, arguments if arguments is not None else {}, **self._framework_fields(call_id)
        )

    def _framework_fields(self, call_id: str | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"agent": self.agent_name, "tool_call_id": call_id}
        try:
            # Inside a team the runtime tells which runtime agent (type and team key) is handling the call.
            runtime_agent = MessageHandlerContext.agent_id()
        except RuntimeError:
            return fields
        fields["runtime_agent_type"] = runtime_agent.type
        fields["runtime_agent_key"] = runtime_agent.key
        return fields

    def _complete(self, name: str, verdict: Verdict, result: ToolResult, started: float) -> ToolResult:
        post = self.governor.complete(
            verdict,
            result=result.to_text(),
            error=RuntimeError(result.to_text()) if result.is_error else None,
            duration_s=time.perf_counter() - started,
        )
        return result if post.allowed else self._refuse(name, post)

    @staticmethod
    def _refuse(name: str, verdict: Verdict) -> ToolResult:
        return ToolResult(name=name, result=[TextResultContent(content=verdict.message)], is_error=True)

    # -- the rest is the inner workbench's ------------------------------------------------------

    async def list_tools(self) -> list[ToolSchema]:
        """The inner workbench's tools."""
        return list(await self.inner.list_tools())

    async def start(self) -> None:
        """Start the inner workbench."""
        await self.inner.start()

    async def stop(self) -> None:
        """Stop the inner workbench."""
        await self.inner.stop()

    async def reset(self) -> None:
        """Reset the inner workbench."""
        await self.inner.reset()

    async def save_state(self) -> Mapping[str, Any]:
        """The inner workbench's state."""
        return await self.inner.save_state()

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore the inner workbench's state."""
        await self.inner.load_state(state)

    def _to_config(self) -> Any:
        # A governed workbench holds a live gate (policy, audit sink, approval handler), which has
        # no faithful component config; dumping one would silently drop the governance.
        raise TypeError("GovernedWorkbench cannot be dumped as a component config; build it in code")
