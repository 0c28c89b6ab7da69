"""Governance for LangChain 1.x agents: an `AgentMiddleware` for ``create_agent(middleware=[...])``.

``create_agent`` composes every middleware's ``wrap_tool_call``/``awrap_tool_call`` into the
interceptors of its LangGraph `ToolNode`, so the decision logic is `agt_langgraph`'s, unchanged;
this class only presents it the way LangChain users register things. Tools that middleware adds
and subagents exposed as tools go through the same node and are governed too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from agt_integrations import OnRefusal
from agt_langgraph import Approvals, ToolCallGovernance

__all__ = ["GovernanceMiddleware"]


class _LangChainGovernance(ToolCallGovernance):
    framework = "langchain"
    distribution = "langchain"


class GovernanceMiddleware(AgentMiddleware):
    """Checks every tool call of a ``create_agent`` agent against policy before it runs.

    Usage::

        agent = create_agent(model, tools, middleware=[GovernanceMiddleware(policy="policy.yaml")])

    Put it first in ``middleware`` (first is outermost) so no other middleware runs a tool it
    has not seen; argument-rewriting middleware that must be judged goes before it.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` answers the model with an error `ToolMessage`; ``"raise"``
            raises `GovernanceDenied` (or the gate's own error) out of the agent run.
        approvals: ``"handler"`` (default) asks the ``approval_handler`` inline;
            ``"interrupt"`` asks through LangGraph's `interrupt()` (pass a checkpointer to
            ``create_agent``; resume with ``Command(resume=True)``, see `agt_langgraph.InterruptApprover`).
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        approvals: Approvals = "handler",
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        super().__init__()
        self.governance = _LangChainGovernance(
            policy, on_refusal=on_refusal, approvals=approvals, gate=gate, **gate_options
        )

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governance.gate

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        """Decide, then call ``handler`` (the rest of the chain and the tool) only if allowed."""
        return self.governance.wrap_tool_call(request, handler)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """The async twin, used by ``ainvoke`` and ``astream``."""
        return await self.governance.awrap_tool_call(request, handler)
