"""Governance for LlamaIndex: tools wrapped in a governed `AsyncBaseTool`.

LlamaIndex has no pre-tool hook: ``FunctionAgent``/``ReActAgent``/``AgentWorkflow`` call
``tool.acall(**kwargs)`` from a private step, and the instrumentation dispatcher's handlers only
observe (their exceptions are swallowed). So the adapter governs the tools themselves: a
`GovernedTool` is LlamaIndex's own async tool type, with the wrapped tool's metadata (name,
description, schema), and decides each call before the wrapped tool runs. A refused call is
answered with ``ToolOutput(is_error=True)`` holding the refusal, which the agent hands to the
model as the tool's result. The wrapped tool runs with the judged arguments.

There is no raise mode: the workflow agents catch every exception a tool raises and turn it
into an error ``ToolOutput`` (``BaseWorkflowAgent._call_tool``), so raising would not stop the
run; the refusal is always the error output.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Iterable
from typing import Any

from llama_index.core.tools import (
    AsyncBaseTool,
    BaseTool,
    FunctionTool,
    ToolMetadata,
    ToolOutput,
    adapt_to_async_tool,
)

from agt_integrations import ToolGovernor, Verdict

__all__ = ["GovernedTool", "govern_tools"]


class GovernedTool(AsyncBaseTool):
    """A LlamaIndex tool that checks every call against policy before the wrapped tool runs.

    Args:
        tool: The tool to govern (a `FunctionTool`, a query engine tool, any `BaseTool`).
        governor: The `agt_integrations.ToolGovernor` deciding the calls (shared by `govern_tools`).
        agent_name: Recorded as ``context.framework.agent`` (a tool is not told which agent calls it).
    """

    def __init__(self, tool: BaseTool, governor: ToolGovernor, *, agent_name: str | None = None) -> None:
        if isinstance(tool, FunctionTool) and tool.requires_context:
            # The agents pass the workflow Context only to a FunctionTool that asks for it by
            # signature; behind a proxy it would get none, so such a tool cannot be governed here.
            raise TypeError(
                f"tool `{tool.metadata.get_name()}` takes the workflow Context, which LlamaIndex passes only "
                "to a FunctionTool itself; a governed proxy cannot receive it"
            )
        self.tool = tool
        self._inner = adapt_to_async_tool(tool)
        self.governor = governor
        self.agent_name = agent_name

    @property
    def metadata(self) -> ToolMetadata:
        """The wrapped tool's metadata: the model sees the same tool."""
        return self.tool.metadata

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        """Decide, then run the wrapped tool synchronously when allowed."""
        name = self.tool.metadata.get_name()
        try:
            arguments = self._arguments(args, kwargs)
        except TypeError as exc:
            return self._refusal(name, kwargs, self.governor.failed(name, exc))
        verdict = self.governor.check(name, arguments, agent=self.agent_name)
        if not verdict.allowed:
            return self._refusal(name, arguments, verdict)
        started = time.perf_counter()
        try:
            output = self._inner.call(**self._judged(verdict))
        except BaseException as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        return self._complete(name, arguments, verdict, output, started)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        """Decide (awaiting async approval handlers), then run the wrapped tool when allowed."""
        name = self.tool.metadata.get_name()
        try:
            arguments = self._arguments(args, kwargs)
        except TypeError as exc:
            return self._refusal(name, kwargs, self.governor.failed(name, exc))
        verdict = await self.governor.check_async(name, arguments, agent=self.agent_name)
        if not verdict.allowed:
            return self._refusal(name, arguments, verdict)
        started = time.perf_counter()
        try:
            output = await self._inner.acall(**self._judged(verdict))
        except BaseException as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        return self._complete(name, arguments, verdict, output, started)

    @staticmethod
    def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if args:
            # Old-style single-input tools (``tool(input)``); the agents always call with keywords.
            if len(args) > 1 or kwargs:
                raise TypeError("a tool call with several positional arguments cannot be judged by name")
            return {"input": args[0]}
        return kwargs

    @staticmethod
    def _judged(verdict: Verdict) -> dict[str, Any]:
        assert verdict.outcome is not None
        return dict(verdict.outcome.request["args"])

    def _complete(
        self, name: str, arguments: dict[str, Any], verdict: Verdict, output: ToolOutput, started: float
    ) -> ToolOutput:
        post = self.governor.complete(
            verdict,
            result=output.content,
            error=output.exception if output.is_error else None,
            duration_s=time.perf_counter() - started,
        )
        return output if post.allowed else self._refusal(name, arguments, post)

    def _refusal(self, name: str, arguments: dict[str, Any], verdict: Verdict) -> ToolOutput:
        return ToolOutput(
            tool_name=name,
            content=verdict.message,
            raw_input=arguments,
            raw_output=verdict.message,
            is_error=True,
        )


def govern_tools(
    tools: Iterable[BaseTool | Any],
    policy: Any = None,
    *,
    agent_name: str | None = None,
    gate: Any = None,
    **gate_options: Any,
) -> list[GovernedTool]:
    """Wrap every tool (or plain function, as `FunctionTool.from_defaults` would) in a `GovernedTool`.

    Usage::

        agent = FunctionAgent(tools=govern_tools([search, delete_db], policy="policy.yaml"), llm=llm)

    Args:
        tools: LlamaIndex tools or plain callables.
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        agent_name: Recorded as ``context.framework.agent``.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """
    if "on_refusal" in gate_options:
        raise TypeError(
            "govern_tools has no on_refusal: LlamaIndex agents turn any tool exception into an error "
            "output, so a refusal is always an error ToolOutput"
        )
    governor = ToolGovernor(
        policy,
        framework="llama-index",
        framework_version=importlib.metadata.version("llama-index-core"),
        gate=gate,
        **gate_options,
    )
    return [
        GovernedTool(
            tool if isinstance(tool, BaseTool) else FunctionTool.from_defaults(fn=tool),
            governor,
            agent_name=agent_name,
        )
        for tool in tools
    ]
