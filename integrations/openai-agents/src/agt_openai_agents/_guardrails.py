"""Governance for the OpenAI Agents SDK: a tool input guardrail (and output guardrail) per function tool.

The SDK's only pre-tool hook is per `FunctionTool` (``tool_input_guardrails``), so `install`
attaches the pair to every function tool of an agent and of every agent it can hand off to.
A refusal answers the model through ``ToolGuardrailFunctionOutput.reject_content`` (the SDK puts
the text where the tool result would be and the run goes on); raise mode uses ``raise_exception``,
which the SDK turns into `ToolInputGuardrailTripwireTriggered` and stops the run. The output
guardrail hands the result to post_tool rules and observers and can withhold it the same way.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from typing import Any

from agents import Agent, FunctionTool
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
)

from agt_integrations import OnRefusal, PendingCalls, ToolGovernor, Verdict

__all__ = ["ToolGovernance"]


class ToolGovernance:
    """Checks every function-tool call of an agent (and its handoff agents) against policy.

    Usage::

        governance = ToolGovernance(policy="policy.yaml")
        governance.install(agent)

    or attach ``governance.input_guardrail`` / ``governance.output_guardrail`` yourself, e.g. to
    ``MCPServerStdio(..., tool_input_guardrails=[governance.input_guardrail])``.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` sends the refusal to the model as the tool result; ``"raise"``
            stops the run with `ToolInputGuardrailTripwireTriggered` (its ``output.output_info``
            holds the refusal text and the decision).
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self, policy: Any = None, *, on_refusal: OnRefusal = "refuse", gate: Any = None, **gate_options: Any
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework="openai-agents",
            framework_version=importlib.metadata.version("openai-agents"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )
        self.input_guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(
            guardrail_function=self._check_input, name="agt-governance"
        )
        self.output_guardrail: ToolOutputGuardrail[Any] = ToolOutputGuardrail(
            guardrail_function=self._check_output, name="agt-governance"
        )
        self._pending = PendingCalls()

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    def install(self, agent: Agent[Any]) -> Agent[Any]:
        """Attach the guardrails to every `FunctionTool` of `agent` and of the agents it hands off to.

        Idempotent. Our input guardrail goes first, so no other guardrail's side effects run
        for a refused call. Returns `agent`.
        """
        seen: set[int] = set()
        pending: list[Agent[Any]] = [agent]
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            for tool in current.tools:
                if isinstance(tool, FunctionTool):
                    self._attach(tool)
            pending.extend(h for h in current.handoffs if isinstance(h, Agent))
        return agent

    def _attach(self, tool: FunctionTool) -> None:
        inputs = list(tool.tool_input_guardrails or [])
        if self.input_guardrail not in inputs:
            tool.tool_input_guardrails = [self.input_guardrail, *inputs]
        outputs = list(tool.tool_output_guardrails or [])
        if self.output_guardrail not in outputs:
            tool.tool_output_guardrails = [*outputs, self.output_guardrail]

    async def _check_input(self, data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        context = data.context
        try:
            # The SDK hands the tool this same JSON text, parsed the same way.
            args = json.loads(context.tool_arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("tool arguments are not a JSON object")
        except ValueError as exc:
            verdict = ToolGovernor.failed(context.tool_name, exc)
        else:
            verdict = await self.governor.check_async(
                context.tool_name,
                args,
                agent=getattr(data.agent, "name", None),
                tool_call_id=context.tool_call_id,
                tool_namespace=context.tool_namespace,
                **_run_fields(context),
            )
        if not verdict.allowed:
            return self._refusal(verdict)
        # The SDK passes the same ToolContext to the output guardrail; it is kept alive with the entry.
        self._pending.put((id(context), context.tool_call_id), verdict, anchor=context)
        return ToolGuardrailFunctionOutput.allow()

    def _check_output(self, data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
        entry = self._pending.pop((id(data.context), data.context.tool_call_id))
        if entry is None:
            # Not ours to judge (the input guardrail never allowed it): nothing to complete.
            return ToolGuardrailFunctionOutput.allow()
        post = self.governor.complete(
            entry.verdict, result=data.output, duration_s=time.perf_counter() - entry.started
        )
        return ToolGuardrailFunctionOutput.allow() if post.allowed else self._refusal(post)

    def _refusal(self, verdict: Verdict) -> ToolGuardrailFunctionOutput:
        info = {
            "message": verdict.message,
            "decision": None if verdict.outcome is None else verdict.outcome.decision.model_dump(mode="json"),
        }
        if self.governor.raises:
            return ToolGuardrailFunctionOutput.raise_exception(output_info=info)
        return ToolGuardrailFunctionOutput.reject_content(verdict.message, output_info=info)


def _run_fields(context: Any) -> dict[str, Any]:
    config = getattr(context, "run_config", None)
    if config is None:
        return {}
    return {
        "workflow": getattr(config, "workflow_name", None),
        "trace_id": getattr(config, "trace_id", None),
        "group_id": getattr(config, "group_id", None),
    }
