"""Governance for Strands Agents 1.x: an intervention handler that gates every tool call.

Strands' interventions (``Agent(interventions=[...])``) are its governance API: a handler's
``before_tool_call`` returns a typed decision, and ``Deny(reason)`` cancels the tool call, whose
result becomes an error tool result carrying the reason, which the model reads on its next turn.
``after_tool_call`` sees the result: post_tool rules and observers run there, and a denied
result is replaced by the refusal (``Transform``).

Raise mode raises `GovernanceDenied` from ``before_tool_call`` with ``on_error="throw"``:
Strands rethrows a throwing handler's error out of the agent call, so the run stops (the tool
executor does not turn hook errors into tool results). A failure of the gate itself is a refusal
in either mode, never an error a fail-open ``on_error`` could skip.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from strands.hooks.events import AfterToolCallEvent, BeforeToolCallEvent
from strands.interventions import Deny, InterventionHandler, OnError, Proceed, Transform
from strands.types.tools import ToolResult

from agent_os import ToolGate
from agt_integrations import OnRefusal, PendingCalls, ToolGovernor, Verdict

__all__ = ["ToolGovernance"]


class ToolGovernance(InterventionHandler):
    """A Strands intervention handler that checks every tool call against policy before it runs.

    Usage::

        agent = Agent(model=..., tools=[...], interventions=[ToolGovernance(policy="policy.yaml")])

    Put it last in ``interventions``: handlers run in order, so the policy then judges the tool
    input after every other handler's ``Transform``.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` returns ``Deny(reason)`` (an error tool result the model reads);
            ``"raise"`` raises `GovernanceDenied` (or the gate's own error) out of the agent call.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        gate: ToolGate | None = None,
        **gate_options: Any,
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework="strands",
            framework_version=importlib.metadata.version("strands-agents"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )
        self._pending = PendingCalls()

    @property
    def name(self) -> str:
        """The handler's name in the agent's intervention registry."""
        return "agt-governance"

    @property
    def on_error(self) -> OnError:
        """Rethrow: raise mode's `GovernanceDenied` must stop the run, never be skipped."""
        return "throw"

    @property
    def gate(self) -> ToolGate:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    async def before_tool_call(self, event: BeforeToolCallEvent, **kwargs: Any) -> Proceed | Deny:
        """Decide on the tool input; ``Deny`` (or raise, in raise mode) unless allowed."""
        tool_use = event.tool_use
        name = tool_use.get("name")
        tool_input = tool_use.get("input")
        tool_use_id = str(tool_use.get("toolUseId") or "")
        agent = event.agent
        fields = {
            "agent": getattr(agent, "name", None),
            "agent_key": getattr(agent, "agent_id", None),
            "tool_call_id": tool_use_id,
        }
        if not isinstance(tool_input, dict):
            # Strands passes the input through as given; only a mapping can be judged as arguments.
            verdict = self.governor.failed(
                str(name), TypeError(f"tool input is a `{type(tool_input).__name__}`, not an object")
            )
        else:
            verdict = await self.governor.check_async(str(name), tool_input, **fields)
        if not verdict.allowed:
            if self.governor.raises:
                raise verdict.exception()
            return Deny(reason=verdict.message)
        self._pending.put(tool_use_id, verdict)
        return Proceed(reason="allowed by policy")

    def after_tool_call(self, event: AfterToolCallEvent, **kwargs: Any) -> Proceed | Transform:
        """Hand the result to post_tool rules and observers; replace a denied result with the refusal."""
        if event.cancel_message is not None:
            return Proceed()
        entry = self._pending.pop(str(event.tool_use.get("toolUseId") or ""))
        if entry is None:
            return Proceed()
        duration = event.duration or 0.0
        if event.exception is not None or event.result.get("status") == "error":
            self.governor.complete(
                entry.verdict,
                error=event.exception or RuntimeError(_text(event.result)),
                duration_s=duration,
            )
            return Proceed()
        post = self.governor.complete(entry.verdict, result=_content(event.result), duration_s=duration)
        if post.allowed:
            return Proceed()
        if self.governor.raises:
            raise post.exception()
        return Transform(apply=_replace_result(post, event.result), reason="result refused by policy")


def _content(result: ToolResult) -> Any:
    """The tool's output as plain data: its single text or JSON block, else the list of blocks."""
    blocks = result.get("content", [])
    if len(blocks) == 1:
        block = blocks[0]
        if "text" in block:
            return block["text"]
        if "json" in block:
            return block["json"]
    return [dict(block) for block in blocks]


def _text(result: ToolResult) -> str:
    return " ".join(str(b.get("text", "")) for b in result.get("content", []))


def _replace_result(post: Verdict, result: ToolResult) -> Any:
    refused: ToolResult = {
        "toolUseId": result.get("toolUseId", ""),
        "status": "error",
        "content": [{"text": post.message}],
    }

    def apply(event: Any) -> None:
        event.result = refused

    return apply
