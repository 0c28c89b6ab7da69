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
from typing import Any

from google.adk.plugins.base_plugin import BasePlugin
from google.adk.tools.base_tool import BaseTool
from google.adk.tools.tool_context import ToolContext

from agt_integrations import OnRefusal, Pending, PendingCalls, ToolGovernor, Verdict

__all__ = ["GovernancePlugin"]


class GovernancePlugin(BasePlugin):
    """Checks every tool call of every agent a runner drives against policy before it runs.

    Usage::

        app = App(name="ops", root_agent=agent, plugins=[GovernancePlugin(policy="policy.yaml")])

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` answers the model with ``{"error": <refusal>}``; ``"raise"``
            stops the run (see the module docstring).
        name: The plugin's name; ADK requires it to be unique per runner.
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
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        super().__init__(name=name)
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
        verdict = await self.governor.check_async(tool.name, tool_args, **_framework_fields(tool_context))
        if not verdict.allowed:
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
