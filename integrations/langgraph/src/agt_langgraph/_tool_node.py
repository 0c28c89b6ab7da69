"""Governance for LangGraph's `ToolNode`: its ``wrap_tool_call`` / ``awrap_tool_call`` interceptors.

`ToolNode` calls the interceptor with a `ToolCallRequest` and an ``execute`` callable for every
tool call of a model turn (parallel calls each get their own). A refused call returns an error
`ToolMessage` with the refusal text and never calls ``execute``; in raise mode the interceptor
raises `GovernanceDenied`, which `ToolNode`'s default error handling re-raises out of the graph.
LangChain's ``create_agent`` builds its tool node from the same interceptors, so
`agt_langchain` reuses this class.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ToolCallGovernance"]

ToolResult = ToolMessage | Command[Any]


class ToolCallGovernance:
    """Checks every `ToolNode` call against policy before it runs.

    Usage::

        governance = ToolCallGovernance(policy="policy.yaml")
        node = ToolNode(tools, wrap_tool_call=governance.wrap_tool_call,
                        awrap_tool_call=governance.awrap_tool_call)

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` answers the model with an error `ToolMessage`; ``"raise"``
            raises `GovernanceDenied` (or the gate's own error) out of the graph.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    framework = "langgraph"
    distribution = "langgraph"

    def __init__(
        self, policy: Any = None, *, on_refusal: OnRefusal = "refuse", gate: Any = None, **gate_options: Any
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework=self.framework,
            framework_version=importlib.metadata.version(self.distribution),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    def wrap_tool_call(
        self, request: ToolCallRequest, execute: Callable[[ToolCallRequest], ToolResult]
    ) -> ToolResult:
        """The sync interceptor: decide, then run the tool only if allowed."""
        call = request.tool_call
        verdict = self.governor.check(call["name"], call["args"], **_framework_fields(request))
        if not verdict.allowed:
            return self._refuse(request, verdict)
        started = time.perf_counter()
        try:
            result = execute(request)
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        return self._finish(request, verdict, result, time.perf_counter() - started)

    async def awrap_tool_call(
        self, request: ToolCallRequest, execute: Callable[[ToolCallRequest], Awaitable[ToolResult]]
    ) -> ToolResult:
        """The async interceptor (`ainvoke`, `astream`): the same decision, awaiting async approvers."""
        call = request.tool_call
        verdict = await self.governor.check_async(call["name"], call["args"], **_framework_fields(request))
        if not verdict.allowed:
            return self._refuse(request, verdict)
        started = time.perf_counter()
        try:
            result = await execute(request)
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        return self._finish(request, verdict, result, time.perf_counter() - started)

    def _finish(
        self, request: ToolCallRequest, verdict: Verdict, result: ToolResult, duration_s: float
    ) -> ToolResult:
        content = result.content if isinstance(result, ToolMessage) else result
        post = self.governor.complete(verdict, result=content, duration_s=duration_s)
        return result if post.allowed else self._refuse(request, post)

    def _refuse(self, request: ToolCallRequest, verdict: Verdict) -> ToolMessage:
        if self.governor.raises:
            raise verdict.exception()
        call = request.tool_call
        return ToolMessage(
            content=verdict.message, name=call["name"], tool_call_id=call["id"], status="error"
        )


def _framework_fields(request: ToolCallRequest) -> dict[str, Any]:
    """Agent name, thread, run, node and the model's tool-call id, from the tool runtime's config."""
    fields: dict[str, Any] = {"tool_call_id": request.tool_call.get("id")}
    runtime = request.runtime
    config: Mapping[str, Any] = getattr(runtime, "config", None) or {}
    metadata: Mapping[str, Any] = config.get("metadata") or {}
    configurable: Mapping[str, Any] = config.get("configurable") or {}
    fields["agent"] = metadata.get("lc_agent_name")
    fields["thread_id"] = _text(configurable.get("thread_id") or metadata.get("thread_id"))
    fields["run_id"] = _text(config.get("run_id") or metadata.get("run_id"))
    fields["node"] = metadata.get("langgraph_node")
    fields["checkpoint_ns"] = metadata.get("checkpoint_ns") or None
    return fields


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
