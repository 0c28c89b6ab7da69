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
from typing import Any, Literal

from langchain_core.messages import ToolMessage
from langgraph.errors import GraphBubbleUp
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command, interrupt

from agent_os import ApprovalRequest, ApprovalResponse
from agt_core import ApprovalError
from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ToolCallGovernance"]

ToolResult = ToolMessage | Command[Any]
Approvals = Literal["handler", "interrupt"]


class InterruptApprover:
    """The gate's approval handler in ``approvals="interrupt"`` mode: asks through LangGraph's `interrupt()`.

    The first time, `interrupt()` pauses the graph (it needs a checkpointer); the kernel records
    the pending approval as a refusal and the interceptor lets LangGraph's interrupt through. On
    ``Command(resume=answer)`` LangGraph re-runs the tool node, `interrupt()` returns the answer,
    and this handler turns it into an approval of exactly this request, audited with it. The
    interrupt's value is plain data: ``{"type": "agt_approval", "tool", "args", "rule",
    "policy", "message", "approvers", "request_hash"}``.

    The answer is ``True``/``False``, or ``{"approved": bool, "approver": str, "reason": str}``;
    anything else refuses.
    """

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        """Ask (pause the graph) or, when resumed, answer with the human's decision."""
        decision = request.decision
        answer = interrupt(
            {
                "type": "agt_approval",
                "tool": request.action.get("tool"),
                "args": dict(request.args),
                "rule": decision.rule,
                "policy": decision.policy,
                "message": decision.message,
                "approvers": list(decision.approvers),
                "request_hash": request.request_hash,
            }
        )
        if answer is True:
            return request.approve("langgraph:interrupt", "approved on resume")
        if isinstance(answer, Mapping) and answer.get("approved") is True:
            return request.approve(
                str(answer.get("approver") or "langgraph:interrupt"), str(answer.get("reason", ""))
            )
        approver = answer.get("approver") if isinstance(answer, Mapping) else None
        reason = answer.get("reason", "") if isinstance(answer, Mapping) else f"resumed with {answer!r}"
        return request.refuse(None if approver is None else str(approver), str(reason))


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
        approvals: ``"handler"`` (default) asks the ``approval_handler`` inline;
            ``"interrupt"`` asks through LangGraph's `interrupt()` (see `InterruptApprover`;
            the graph needs a checkpointer).
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    framework = "langgraph"
    distribution = "langgraph"

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        approvals: Approvals = "handler",
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        if approvals not in ("handler", "interrupt"):
            raise ValueError(f"approvals must be 'handler' or 'interrupt', got {approvals!r}")
        if approvals == "interrupt":
            if gate is not None or "approval_handler" in gate_options:
                raise TypeError(
                    'approvals="interrupt" answers approvals itself: pass neither gate= nor approval_handler='
                )
            gate_options["approval_handler"] = InterruptApprover()
            # Inline, not in a worker thread: interrupt() reads the graph's run context. The wait
            # for the human happens between the pause and the resume, not here.
            gate_options["approval_timeout"] = None
        self.approvals = approvals
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
        if isinstance(verdict.error, ApprovalError) and isinstance(verdict.error.__cause__, GraphBubbleUp):
            # The approval is pending: LangGraph's interrupt pauses the graph (already audited).
            raise verdict.error.__cause__
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
