"""Governance for DSPy: tools wrapped in a governed `dspy.Tool`.

DSPy has no blocking hook: ``BaseCallback.on_tool_start`` only observes (``with_callbacks``
catches and logs whatever a callback raises, and the inputs it sees are a copy). ``dspy.ReAct``
(and any module given tools) calls ``tool(**args)`` / ``await tool.acall(**args)`` on the
`dspy.Tool` objects it holds, so the adapter governs the tools themselves: a `GovernedTool` is a
`dspy.Tool` with the wrapped tool's name, description and argument schema (the model sees the
same tool) that decides each call before the wrapped function runs. A refused call returns the
refusal text (rule and message) as the tool's result, which ReAct records as the observation the
model reads next. Callbacks still see every call (``on_tool_start``/``on_tool_end``), refused
ones included. The function runs with the judged arguments (then parsed to its types by DSPy,
as for any tool).

There is no raise mode: ReAct catches every exception a tool raises and records it as an
"Execution error" observation for the model, so raising would not stop the run.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import Callable, Iterable
from typing import Any

import dspy  # type: ignore[import-untyped]  # dspy ships no py.typed
from dspy.utils.callback import with_callbacks  # type: ignore[import-untyped]

from agt_integrations import ToolGovernor, Verdict

__all__ = ["GovernedTool", "govern_tools"]


class GovernedTool(dspy.Tool):  # type: ignore[misc]
    """A `dspy.Tool` that checks every call against policy before the wrapped function runs.

    Args:
        tool: The `dspy.Tool` (or plain function) to govern.
        governor: The `agt_integrations.ToolGovernor` deciding the calls (shared by `govern_tools`).
        agent_name: Recorded as ``context.framework.agent`` (a tool is not told which module calls it).
    """

    # dspy.Tool is a pydantic model: the adapter's state lives in private attributes.
    _wrapped: Any
    _governor: ToolGovernor
    _agent_name: str | None

    def __init__(
        self, tool: dspy.Tool | Callable[..., Any], governor: ToolGovernor, *, agent_name: str | None = None
    ) -> None:
        inner = tool if isinstance(tool, dspy.Tool) else dspy.Tool(tool)
        super().__init__(
            inner.func,
            name=inner.name,
            desc=inner.desc,
            args=inner.args,
            arg_types=inner.arg_types,
            arg_desc=inner.arg_desc,
        )
        self.has_kwargs = inner.has_kwargs
        self._wrapped = inner
        self._governor = governor
        self._agent_name = agent_name

    @property
    def tool(self) -> dspy.Tool:
        """The wrapped tool."""
        return self._wrapped

    @property
    def governor(self) -> ToolGovernor:
        """The `agt_integrations.ToolGovernor` deciding the calls."""
        return self._governor

    @property
    def agent_name(self) -> str | None:
        """The name recorded as ``context.framework.agent``."""
        return self._agent_name

    @with_callbacks  # type: ignore[untyped-decorator]
    def __call__(self, **kwargs: Any) -> Any:
        """Decide the call; run the wrapped function with the judged arguments only when allowed."""
        verdict = self.governor.check(self.name, kwargs, agent=self.agent_name)
        if not verdict.allowed:
            return verdict.message
        try:
            parsed = self._validate_and_parse_args(**_judged(verdict))
            result = self.func(**parsed)
            if asyncio.iscoroutine(result):
                if not dspy.settings.allow_tool_async_sync_conversion:
                    result.close()
                    raise ValueError(
                        "You are calling `__call__` on an async tool, please use `acall` instead or enable "
                        "async-to-sync conversion with `dspy.configure(allow_tool_async_sync_conversion=True)`"
                    )
                result = self._run_async_in_sync(result)
        except BaseException as exc:
            self.governor.complete(verdict, error=exc)
            raise
        return self._complete(verdict, result)

    @with_callbacks  # type: ignore[untyped-decorator]
    async def acall(self, **kwargs: Any) -> Any:
        """Decide the call (awaiting async approval handlers); run it only when allowed."""
        verdict = await self.governor.check_async(self.name, kwargs, agent=self.agent_name)
        if not verdict.allowed:
            return verdict.message
        try:
            parsed = self._validate_and_parse_args(**_judged(verdict))
            result = self.func(**parsed)
            if asyncio.iscoroutine(result):
                result = await result
        except BaseException as exc:
            self.governor.complete(verdict, error=exc)
            raise
        return self._complete(verdict, result)

    def _complete(self, verdict: Verdict, result: Any) -> Any:
        post = self.governor.complete(
            verdict, result=result if isinstance(result, str | int | float | bool) else None
        )
        return result if post.allowed else post.message


def _judged(verdict: Verdict) -> dict[str, Any]:
    assert verdict.outcome is not None
    return dict(verdict.outcome.request["args"])


def govern_tools(
    tools: Iterable[dspy.Tool | Callable[..., Any]],
    policy: Any = None,
    *,
    agent_name: str | None = None,
    gate: Any = None,
    **gate_options: Any,
) -> list[GovernedTool]:
    """Wrap every tool (or plain function) in a `GovernedTool` sharing one gate.

    Usage::

        react = dspy.ReAct("question -> answer", tools=govern_tools([search, delete_db], policy="policy.yaml"))

    Args:
        tools: `dspy.Tool` objects or plain functions.
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        agent_name: Recorded as ``context.framework.agent``.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """
    if "on_refusal" in gate_options:
        raise TypeError(
            "govern_tools has no on_refusal: dspy.ReAct records any tool exception as an observation, "
            "so a refusal is always the tool's result"
        )
    governor = ToolGovernor(
        policy,
        framework="dspy",
        framework_version=importlib.metadata.version("dspy"),
        gate=gate,
        **gate_options,
    )
    return [GovernedTool(tool, governor, agent_name=agent_name) for tool in tools]
