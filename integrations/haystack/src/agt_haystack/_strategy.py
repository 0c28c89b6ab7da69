"""Governance for Haystack agents: a confirmation strategy in the ``before_tool`` hook.

Haystack 3.x ``Agent(hooks={"before_tool": [...]})`` runs its hooks between the model asking for
tools and the tools running. Its ``ConfirmationHook`` asks a `ConfirmationStrategy` about every
pending tool call and rewrites the conversation from the answers: a
``ToolExecutionDecision(execute=False, feedback=...)`` becomes an error tool result holding the
feedback (the tool does not run, the model reads why); ``execute=True`` runs the call with
``final_tool_params``. `PolicyStrategy` is that strategy: the decision is the gate's, the
feedback is the refusal (rule and message), and an allowed call runs with the judged arguments.
`governance_hook` builds the ``ConfirmationHook`` with the strategy under the wildcard key.

Raise mode raises `GovernanceDenied` from the strategy; the Agent does not catch hook errors,
so ``agent.run()`` raises it and no tool of that turn runs.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from haystack.hooks.human_in_the_loop import ConfirmationHook, ToolExecutionDecision

from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["PolicyStrategy", "governance_hook"]


class PolicyStrategy:
    """A Haystack `ConfirmationStrategy` whose answer is the policy's.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        agent_name: Recorded as ``context.framework.agent`` (a strategy is not told the agent).
        on_refusal: ``"refuse"`` answers ``execute=False`` with the refusal as feedback;
            ``"raise"`` raises `GovernanceDenied` out of the run.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        agent_name: str | None = None,
        on_refusal: OnRefusal = "refuse",
        gate: Any = None,
        **gate_options: Any,
    ) -> None:
        self.agent_name = agent_name
        self.governor = ToolGovernor(
            policy,
            framework="haystack",
            framework_version=importlib.metadata.version("haystack-ai"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    def run(
        self,
        *,
        tool_name: str,
        tool_description: str,
        tool_params: dict[str, Any],
        tool_call_id: str | None = None,
        confirmation_strategy_context: dict[str, Any] | None = None,
    ) -> ToolExecutionDecision:
        """Decide one pending tool call (sync runs)."""
        verdict = self.governor.check(
            tool_name, tool_params, agent=self.agent_name, tool_call_id=tool_call_id
        )
        return self._decision(tool_name, tool_call_id, verdict)

    async def run_async(
        self,
        *,
        tool_name: str,
        tool_description: str,
        tool_params: dict[str, Any],
        tool_call_id: str | None = None,
        confirmation_strategy_context: dict[str, Any] | None = None,
    ) -> ToolExecutionDecision:
        """Decide one pending tool call (async runs; async approval handlers are awaited)."""
        verdict = await self.governor.check_async(
            tool_name, tool_params, agent=self.agent_name, tool_call_id=tool_call_id
        )
        return self._decision(tool_name, tool_call_id, verdict)

    def _decision(self, tool_name: str, tool_call_id: str | None, verdict: Verdict) -> ToolExecutionDecision:
        if not verdict.allowed:
            if self.governor.raises:
                raise verdict.exception()
            return ToolExecutionDecision(
                tool_name=tool_name, execute=False, tool_call_id=tool_call_id, feedback=verdict.message
            )
        assert verdict.outcome is not None
        return ToolExecutionDecision(
            tool_name=tool_name,
            execute=True,
            tool_call_id=tool_call_id,
            final_tool_params=dict(verdict.outcome.request["args"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """Not serialisable: a live gate (policy, audit sink, approval handler) has no faithful dict form."""
        raise TypeError("PolicyStrategy holds a live gate and cannot be serialised; build it in code")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyStrategy:
        """Not supported (see `to_dict`)."""
        raise TypeError("PolicyStrategy cannot be deserialised; build it in code")


def governance_hook(policy: Any = None, **options: Any) -> ConfirmationHook:
    """A ``before_tool`` `ConfirmationHook` that governs every tool through a `PolicyStrategy`.

    Usage::

        agent = Agent(chat_generator=..., tools=tools, hooks={"before_tool": [governance_hook(policy="policy.yaml")]})

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        **options: `PolicyStrategy` options (``agent_name``, ``on_refusal``, ``gate``, ``audit``, ...).
    """
    return ConfirmationHook(confirmation_strategies={"*": PolicyStrategy(policy, **options)})
