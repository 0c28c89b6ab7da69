"""Governance for Google ADK: a runner plugin whose ``before_tool_callback`` gates every tool call.

Plugins run before an agent's own callbacks, for every agent the runner drives, so transfers
(``transfer_to_agent``) and ``AgentTool`` calls are governed too. A refused call is answered
with a ``{"error": ...}`` dict: ADK skips the tool and hands the dict to the model as the
function response. Raise mode raises `GovernanceDenied` from the plugin; ADK's plugin manager
re-raises it (as a `RuntimeError` with the denial as ``__cause__``) and the run stops. The
``after_tool_callback`` hands the result to post_tool rules and observers and can withhold it.
"""

from __future__ import annotations

import importlib.metadata
import time
from contextvars import ContextVar
from typing import Any, Literal

from google.adk.plugins.base_plugin import BasePlugin
from google.adk.tools.base_tool import BaseTool
from google.adk.tools.tool_context import ToolContext

from agent_os import ApprovalRequest, ApprovalResponse
from agt_core import ApprovalError
from agt_integrations import OnRefusal, Pending, PendingCalls, ToolGovernor, Verdict

__all__ = ["ConfirmationRequested", "GovernancePlugin"]

# The tool context of the call being decided, for the confirmation approver.
_current_tool_context: ContextVar[ToolContext | None] = ContextVar("agt_adk_tool_context", default=None)


class ConfirmationRequested(Exception):
    """Raised by the confirmation approver: the human answers through ADK's tool confirmation."""


class _ConfirmationApprover:
    """The gate's approval handler in ``approvals="confirmation"`` mode: ADK's tool confirmation.

    A call without a `ToolConfirmation` yet asks for one (``tool_context.request_confirmation``,
    exactly as ADK does for a ``require_confirmation`` tool); the kernel records the pending
    approval as a refusal and the tool does not run. When the client answers the
    ``adk_request_confirmation`` call, ADK re-runs the original call with the confirmation set,
    and this handler approves or refuses that exact request, audited with it. Async, so the kernel
    awaits it in the plugin's context, where the tool context is visible.
    """

    async def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        tool_context = _current_tool_context.get()
        if tool_context is None:
            return request.refuse(None, "no ADK tool context to ask for confirmation in")
        confirmation = tool_context.tool_confirmation
        if confirmation is None:
            decision = request.decision
            tool_context.request_confirmation(
                hint=f"rule `{decision.rule}` of policy `{decision.policy}` requires approval"
                + (f": {decision.message}" if decision.message else ""),
                payload={
                    "rule": decision.rule,
                    "approvers": list(decision.approvers),
                    "request_hash": request.request_hash,
                },
            )
            raise ConfirmationRequested("approval requested through ADK tool confirmation")
        if confirmation.confirmed:
            return request.approve("adk:tool-confirmation", "confirmed by the client")
        return request.refuse(None, "rejected through ADK tool confirmation")


class GovernancePlugin(BasePlugin):
    """Checks every tool call of every agent a runner drives against policy before it runs.

    Usage::

        app = App(name="ops", root_agent=agent, plugins=[GovernancePlugin(policy="policy.yaml")])

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` answers the model with ``{"error": <refusal>}``; ``"raise"``
            stops the run (see the module docstring).
        name: The plugin's name; ADK requires it to be unique per runner.
        approvals: ``"handler"`` (default) asks the ``approval_handler`` inline;
            ``"confirmation"`` uses ADK's tool confirmation (``adk_request_confirmation``), the
            same human-in-the-loop as a ``require_confirmation`` tool.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        name: str = "agt_governance",
        approvals: Literal["handler", "confirmation"] = "handler",
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        super().__init__(name=name)
        if approvals not in ("handler", "confirmation"):
            raise ValueError(f"approvals must be 'handler' or 'confirmation', got {approvals!r}")
        if approvals == "confirmation":
            if gate is not None or "approval_handler" in gate_options:
                raise TypeError(
                    'approvals="confirmation" answers approvals itself: pass neither gate= nor approval_handler='
                )
            gate_options["approval_handler"] = _ConfirmationApprover()
        self.approvals = approvals
        self.governor = ToolGovernor(
            policy,
            framework="google-adk",
            framework_version=importlib.metadata.version("google-adk"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )
        self._pending = PendingCalls()

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    async def before_tool_callback(
        self, *, tool: BaseTool, tool_args: dict[str, Any], tool_context: ToolContext
    ) -> dict[str, Any] | None:
        """Decide; None lets ADK run the tool, a dict replaces its response."""
        token = _current_tool_context.set(tool_context)
        try:
            verdict = await self.governor.check_async(tool.name, tool_args, **_framework_fields(tool_context))
        finally:
            _current_tool_context.reset(token)
        if not verdict.allowed:
            if isinstance(verdict.error, ApprovalError) and isinstance(
                verdict.error.__cause__, ConfirmationRequested
            ):
                # As ADK does for its own confirmations: end the turn here; the call runs on confirm.
                tool_context.actions.skip_summarization = True
                return {"error": "This tool call requires confirmation, please approve or reject."}
            return self._refuse(verdict)
        self._pending.put(_key(tool_context), verdict)
        return None

    async def after_tool_callback(
        self, *, tool: BaseTool, tool_args: dict[str, Any], tool_context: ToolContext, result: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Run post_tool rules on the result; a dict replaces a withheld result."""
        entry = self._pending.pop(_key(tool_context))
        if entry is None:
            return None
        post = self.governor.complete(entry.verdict, result=result, duration_s=_since(entry))
        return None if post.allowed else self._refuse(post)

    async def on_tool_error_callback(
        self, *, tool: BaseTool, tool_args: dict[str, Any], tool_context: ToolContext, error: Exception
    ) -> dict[str, Any] | None:
        """Report the failure to observers; the error itself is left to ADK and other plugins."""
        entry = self._pending.pop(_key(tool_context))
        if entry is not None:
            self.governor.complete(entry.verdict, error=error, duration_s=_since(entry))
        return None

    def _refuse(self, verdict: Verdict) -> dict[str, Any]:
        if self.governor.raises:
            raise verdict.exception()
        return {"error": verdict.message}


def _since(entry: Pending) -> float:
    return time.perf_counter() - entry.started


def _key(tool_context: ToolContext) -> tuple[str, str]:
    return (tool_context.invocation_id, tool_context.function_call_id or "")


def _framework_fields(tool_context: ToolContext) -> dict[str, Any]:
    session = tool_context.session
    return {
        "agent": tool_context.agent_name,
        "invocation_id": tool_context.invocation_id,
        "session_id": getattr(session, "id", None),
        "app_name": getattr(session, "app_name", None),
        "user_id": tool_context.user_id,
        "tool_call_id": tool_context.function_call_id,
    }
