"""Governance for CrewAI: ``before_tool_call`` / ``after_tool_call`` hooks (plus a pre-model-call hook in raise mode).

CrewAI's hook dispatcher swallows every exception a hook raises except `HookAborted` (fail-open),
so these hooks never let one escape: the governor turns any failure into a refusal first.

* A refused call is blocked with `HookAborted`; CrewAI then skips the tool and hands the model a
  fixed "Tool execution blocked by hook" text, which carries no reason. CrewAI runs the
  ``after_tool_call`` hooks on that blocked call too, with the *same* ``tool_input`` dict, so our
  after hook recognises it and replaces the text with the refusal (rule and message).
* Raise mode also halts the agent: its next model call is denied with `HookAborted`, which
  CrewAI treats as a deliberate stop (never retried) and which reaches ``crew.kickoff()``.
* Hooks are process-global in CrewAI. `install` registers them globally (every crew in the
  process is governed); `scoped` registers them for one ``with`` block only.
"""

from __future__ import annotations

import importlib.metadata
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from crewai.hooks import (
    HookAborted,
    InterceptionPoint,
    LLMCallHookContext,
    ToolCallHookContext,
    register_hook,
    unregister_hook,
)
from crewai.hooks.dispatch import register_scoped, scoped_hooks

from agt_integrations import OnRefusal, PendingCalls, ToolGovernor

__all__ = ["CrewGovernance"]


class CrewGovernance:
    """Checks every tool call of every CrewAI agent against policy before it runs.

    Usage::

        governance = CrewGovernance(policy="policy.yaml").install()   # every crew in the process
        with CrewGovernance(policy="policy.yaml").scoped():           # or: this block only
            crew.kickoff()

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` blocks the call and gives the model the refusal; ``"raise"``
            also halts the agent: its next model call raises `HookAborted` out of ``kickoff``.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self, policy: Any = None, *, on_refusal: OnRefusal = "refuse", gate: Any = None, **gate_options: Any
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework="crewai",
            framework_version=importlib.metadata.version("crewai"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )
        # Keyed by id(tool_input): CrewAI hands the after hook the same dict (kept alive as the anchor).
        self._pending = PendingCalls()
        self._halted: dict[int, str] = {}
        self._lock = threading.Lock()
        self._installed = False

    @property
    def gate(self) -> Any:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    # -- registration ---------------------------------------------------------------------------

    def _hooks(self) -> list[tuple[InterceptionPoint, Any]]:
        hooks: list[tuple[InterceptionPoint, Any]] = [
            (InterceptionPoint.PRE_TOOL_CALL, self.before_tool_call),
            (InterceptionPoint.POST_TOOL_CALL, self.after_tool_call),
        ]
        if self.governor.raises:
            hooks.append((InterceptionPoint.PRE_MODEL_CALL, self.before_llm_call))
        return hooks

    def install(self) -> CrewGovernance:
        """Register the hooks globally (idempotent); returns self. Install before building crews."""
        with self._lock:
            if not self._installed:
                for point, hook in self._hooks():
                    register_hook(point, hook)
                self._installed = True
        return self

    def uninstall(self) -> None:
        """Remove the global hooks (idempotent)."""
        with self._lock:
            if self._installed:
                for point, hook in self._hooks():
                    unregister_hook(point, hook)
                self._installed = False

    @contextmanager
    def scoped(self) -> Iterator[CrewGovernance]:
        """Govern only the crews run inside this ``with`` block (CrewAI's execution-scoped hooks)."""
        with scoped_hooks():
            for point, hook in self._hooks():
                register_scoped(point, hook)
            yield self

    # -- hooks ----------------------------------------------------------------------------------

    def before_tool_call(self, context: ToolCallHookContext) -> None:
        """Decide; raise `HookAborted` to block a refused call."""
        verdict = self.governor.check(context.tool_name, context.tool_input, **_framework_fields(context))
        self._pending.put(id(context.tool_input), verdict, anchor=context.tool_input)
        if not verdict.allowed:
            if self.governor.raises and context.agent is not None:
                with self._lock:
                    self._halted[id(context.agent)] = verdict.message
            raise HookAborted(reason=verdict.message, source="agt-governance")

    def after_tool_call(self, context: ToolCallHookContext) -> str | None:
        """Give the model the refusal of a blocked call, or run post_tool rules on an allowed one."""
        entry = self._pending.pop(id(context.tool_input))
        if entry is None or entry.anchor is not context.tool_input:
            return None
        if not entry.verdict.allowed:
            return entry.verdict.message
        post = self.governor.complete(
            entry.verdict, result=context.tool_result, duration_s=time.perf_counter() - entry.started
        )
        return None if post.allowed else post.message

    def before_llm_call(self, context: LLMCallHookContext) -> None:
        """In raise mode: stop an agent whose tool call was refused before it calls the model again."""
        agent = getattr(context, "agent", None)
        with self._lock:
            message = self._halted.pop(id(agent), None) if agent is not None else None
        if message is not None:
            raise HookAborted(reason=message, source="agt-governance")


def _framework_fields(context: ToolCallHookContext) -> dict[str, Any]:
    agent, task, crew = context.agent, context.task, context.crew
    return {
        "agent": getattr(agent, "role", None),
        "agent_key": _text(getattr(agent, "id", None)),
        "task": getattr(task, "name", None) or None,
        "task_id": _text(getattr(task, "id", None)),
        "crew": getattr(crew, "name", None) or None,
        "crew_id": _text(getattr(crew, "id", None)),
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
