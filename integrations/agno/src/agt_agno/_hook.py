"""Governance for Agno 3.x: a tool hook (``Agent(tool_hooks=[...])``) that gates every tool call.

An Agno tool hook is middleware around the tool: ``hook(function_name, function_call,
arguments)`` runs the tool by calling ``function_call(**arguments)``. Returning without calling
it skips the tool, and the returned text becomes the tool's result, which the model reads on its
next turn. Raise mode raises Agno's own `StopAgentRun`: the refused tool does not run, its
result is the refusal, and the run stops after the tool step (an ordinary exception from a hook
would be logged and turned into a failed tool result, and the model would go on).

The hook is a *sync* callable on purpose: Agno skips ``async def`` tool hooks in sync runs with
only a warning, which would let every call through ungoverned. In async runs Agno hands a sync
hook an async ``function_call``; the hook then returns a coroutine (Agno awaits it) that decides
with ``check_async`` (awaiting async approval handlers) before awaiting the tool.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from agno.exceptions import StopAgentRun

from agent_os import ToolGate
from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ToolGovernance"]


class ToolGovernance:
    """An Agno tool hook that checks every tool call against policy before it runs.

    Usage::

        agent = Agent(model=..., tools=[...], tool_hooks=[ToolGovernance(policy="policy.yaml")])

    Put it first in ``tool_hooks`` so it is the outermost hook: hooks after it run only for
    allowed calls. It works for ``Team(tool_hooks=[...])`` too.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` returns the refusal as the tool result; ``"raise"`` raises
            Agno's `StopAgentRun`, which ends the run after the tool step.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    __name__ = "agt_agno_tool_governance"  # Agno names hooks in its log lines

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
            framework="agno",
            framework_version=importlib.metadata.version("agno"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )

    @property
    def gate(self) -> ToolGate:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    def __call__(
        self,
        function_name: str,
        function_call: Callable[..., Any],
        arguments: dict[str, Any],
        agent: Any = None,
        team: Any = None,
        run_context: Any = None,
    ) -> Any:
        """Agno's tool hook: decide on the call's arguments; run the tool only if allowed.

        Agno passes these by parameter name. ``arguments`` are the model's arguments, exactly
        what the tool function receives (besides the values Agno injects itself, such as
        ``agent`` or ``run_context``).
        """
        fields = _framework_fields(agent, team, run_context)
        if inspect.iscoroutinefunction(function_call):
            return self._run_async(function_name, function_call, arguments, fields)
        verdict = self.governor.check(function_name, arguments, **fields)
        if not verdict.allowed:
            return self._refuse(verdict)
        started = time.perf_counter()
        try:
            result = function_call(**arguments)
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        post = self.governor.complete(verdict, result=result, duration_s=time.perf_counter() - started)
        return result if post.allowed else self._refuse(post)

    async def _run_async(
        self,
        function_name: str,
        function_call: Callable[..., Awaitable[Any]],
        arguments: dict[str, Any],
        fields: dict[str, Any],
    ) -> Any:
        verdict = await self.governor.check_async(function_name, arguments, **fields)
        if not verdict.allowed:
            return self._refuse(verdict)
        started = time.perf_counter()
        try:
            result = await function_call(**arguments)
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        post = self.governor.complete(verdict, result=result, duration_s=time.perf_counter() - started)
        return result if post.allowed else self._refuse(post)

    def _refuse(self, verdict: Verdict) -> str:
        if self.governor.raises:
            # Agno's fail-closed signal: re-raised by the tool step, which then ends the run.
            raise StopAgentRun(verdict.message) from verdict.exception()
        return verdict.message


def _framework_fields(agent: Any, team: Any, run_context: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        # The agent's and team's name, else their id (``agent_id`` is the request's own agent).
        "agent": getattr(agent, "name", None) or getattr(agent, "id", None),
        "team": getattr(team, "name", None) or getattr(team, "id", None),
    }
    if run_context is not None:
        fields["run_id"] = getattr(run_context, "run_id", None)
        fields["session_id"] = getattr(run_context, "session_id", None)
        fields["user_id"] = getattr(run_context, "user_id", None)
        fields["workflow_id"] = getattr(run_context, "workflow_id", None)
    return {k: v for k, v in fields.items() if isinstance(v, str) and v}
