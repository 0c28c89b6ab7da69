"""Governance for smolagents: tools wrapped in a governed smolagents `Tool`.

smolagents has no pre-tool hook (``step_callbacks`` run after a step). Both ``ToolCallingAgent``
(``execute_tool_call``) and ``CodeAgent`` (generated code calls tools by name) call the `Tool`
objects they were given, so the adapter governs the tools themselves: a `GovernedTool` carries
the wrapped tool's name, description, inputs and output type (the model sees the same tool) and
decides each call before the wrapped tool runs. A refused call returns the refusal text (rule
and message) as the tool's output: the ``ToolCallingAgent`` model reads it as the observation,
``CodeAgent`` code gets it as the call's value. The wrapped tool runs with the judged arguments.

There is no raise mode: smolagents catches every exception a tool raises and feeds it back to
the model as an error to retry (``AgentToolExecutionError``), so raising would not stop the run.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from typing import Any

from smolagents import Tool  # type: ignore[import-untyped]  # smolagents ships no py.typed

from agt_integrations import ToolGovernor

__all__ = ["GovernedTool", "govern_tools"]


class GovernedTool(Tool):  # type: ignore[misc]
    """A smolagents tool that checks every call against policy before the wrapped tool runs.

    Args:
        tool: The smolagents `Tool` to govern.
        governor: The `agt_integrations.ToolGovernor` deciding the calls (shared by `govern_tools`).
        agent_name: Recorded as ``context.framework.agent`` (a tool is not told which agent calls it).
    """

    # The proxy's forward takes whatever the wrapped tool takes.
    skip_forward_signature_validation = True

    def __init__(self, tool: Tool, governor: ToolGovernor, *, agent_name: str | None = None) -> None:
        self.name = tool.name
        self.description = tool.description
        self.inputs = tool.inputs
        self.output_type = tool.output_type
        self.output_schema = getattr(tool, "output_schema", None)
        self.tool = tool
        self.governor = governor
        self.agent_name = agent_name
        super().__init__()
        self.is_initialized = True  # setup is the wrapped tool's, on its first allowed call

    def __call__(self, *args: Any, sanitize_inputs_outputs: bool = False, **kwargs: Any) -> Any:
        """Decide the call; run the wrapped tool with the judged arguments only when allowed."""
        if (
            len(args) == 1
            and not kwargs
            and isinstance(args[0], dict)
            and all(k in self.inputs for k in args[0])
        ):
            kwargs = dict(args[0])  # as smolagents' Tool.__call__ reads a single dict
            args = ()
        if args:
            names = list(self.inputs)
            if len(args) > len(names):
                return self.governor.failed(self.name, TypeError("too many positional arguments")).message
            kwargs = {**dict(zip(names, args, strict=False)), **kwargs}
        verdict = self.governor.check(self.name, kwargs, agent=self.agent_name)
        if not verdict.allowed:
            return verdict.message
        assert verdict.outcome is not None
        judged = dict(verdict.outcome.request["args"])
        try:
            result = self.tool(**judged, sanitize_inputs_outputs=sanitize_inputs_outputs)
        except BaseException as exc:
            self.governor.complete(verdict, error=exc)
            raise
        post = self.governor.complete(
            verdict, result=result if isinstance(result, str | int | float | bool) else None
        )
        return result if post.allowed else post.message

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Never reached: `__call__` decides and then calls the wrapped tool."""
        return self(*args, **kwargs)


def govern_tools(
    tools: Iterable[Tool],
    policy: Any = None,
    *,
    agent_name: str | None = None,
    gate: Any = None,
    **gate_options: Any,
) -> list[GovernedTool]:
    """Wrap every tool in a `GovernedTool` sharing one gate.

    Usage::

        agent = ToolCallingAgent(tools=govern_tools([search, delete_db], policy="policy.yaml"), model=model)

    Args:
        tools: smolagents tools (``@tool`` functions, `Tool` subclasses, MCP or Hub tools).
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        agent_name: Recorded as ``context.framework.agent``.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """
    if "on_refusal" in gate_options:
        raise TypeError(
            "govern_tools has no on_refusal: smolagents feeds any tool exception back to the model to retry, "
            "so a refusal is always the tool's output"
        )
    governor = ToolGovernor(
        policy,
        framework="smolagents",
        framework_version=importlib.metadata.version("smolagents"),
        gate=gate,
        **gate_options,
    )
    return [GovernedTool(tool, governor, agent_name=agent_name) for tool in tools]
