"""The framework-neutral half of every adapter: one gate check per tool call, failing closed.

Each adapter translates its framework's hook into `ToolGovernor.check` (or `check_async`) and
`ToolGovernor.complete`, then translates the `Verdict` back: run the tool, hand the model the
refusal text through the framework's own channel, or raise the framework's fail-closed signal.
Everything that every adapter would otherwise repeat lives here:

* the ``context.framework`` block (framework name and version, agent, run/thread/session ids,
  the model's tool-call id), with empty values dropped so requests stay plain JSON data;
* the refuse-or-raise mode;
* turning *any* failure of the gate itself (audit sink down, approval handler crash, arguments
  that cannot be judged faithfully) into a refusal: a tool never runs unless the gate said yes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from agent_os import ToolGate
from agt_core import Enforcement, GovernanceDenied, GovernanceError

__all__ = ["OnRefusal", "ToolGovernor", "Verdict"]

OnRefusal = Literal["refuse", "raise"]
"""``"refuse"``: the model gets the refusal as the tool's result and the agent goes on.
``"raise"``: the run stops with the framework's fail-closed signal."""


class Verdict(NamedTuple):
    """What an adapter does with one tool call.

    Attributes:
        allowed: Whether the tool may run (or, after `ToolGovernor.complete`, whether its result
            may be handed back).
        message: The refusal text for the model; empty when allowed.
        outcome: The gate's outcome, or None when the gate itself failed.
        error: The gate's own failure, when it failed (the call is refused).
    """

    allowed: bool
    message: str
    outcome: Enforcement | None
    error: BaseException | None = None

    def exception(self) -> GovernanceError:
        """The error that raise mode throws for this refusal (`GovernanceDenied` for a policy refusal)."""
        if self.outcome is not None:
            return GovernanceDenied(self.outcome.decision, approval=self.outcome.approval)
        if isinstance(self.error, GovernanceError):
            return self.error
        error = GovernanceError(self.message)
        error.__cause__ = self.error
        return error


class ToolGovernor:
    """Governs one framework's tool calls through an `agent_os.ToolGate`.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=`` (ignored when ``gate`` is given).
        framework: The framework's short name, recorded as ``context.framework.name``.
        framework_version: Its installed version, recorded as ``context.framework.version``.
        on_refusal: ``"refuse"`` (default) or ``"raise"``; see `OnRefusal`.
        gate: An existing gate to share (one audit trail and rate limiter for several adapters).
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``, ``agent``,
            ``context``, ``approval_handler``, ``enrichers``, ``guards``, ``observers``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        framework: str,
        framework_version: str | None = None,
        on_refusal: OnRefusal = "refuse",
        gate: ToolGate | None = None,
        **gate_options: Any,
    ) -> None:
        if on_refusal not in ("refuse", "raise"):
            raise ValueError(f"on_refusal must be 'refuse' or 'raise', got {on_refusal!r}")
        if gate is None:
            if policy is None:
                raise TypeError("pass policy= (anything govern() accepts) or gate=")
            gate = ToolGate(policy=policy, **gate_options)
        elif policy is not None or gate_options:
            raise TypeError("pass either gate= or policy= with gate options, not both")
        self.gate = gate
        self.on_refusal: OnRefusal = on_refusal
        self._framework: dict[str, Any] = {"name": framework}
        if framework_version:
            self._framework["version"] = framework_version

    @property
    def raises(self) -> bool:
        """Whether refusals stop the run instead of answering the model."""
        return self.on_refusal == "raise"

    def context(self, **fields: Any) -> dict[str, Any]:
        """The per-call ``context`` holding ``framework``: its name, version and the non-empty `fields`."""
        block = dict(self._framework)
        for key, value in fields.items():
            if value is not None and value != "":
                block[key] = value
        return {"framework": block}

    def check(
        self, tool: str, args: Mapping[str, Any], *, agent_id: str | None = None, **fields: Any
    ) -> Verdict:
        """Decide one tool call; never raises (a failing gate refuses).

        Args:
            tool: The tool's name (``action.type`` in conditions).
            args: Exactly the arguments the tool will receive.
            agent_id: The acting agent's id, when the framework knows it (else the gate's default).
            **fields: Framework context (``agent``, ``run_id``, ``thread_id``, ``tool_call_id``, ...).
        """
        try:
            outcome = self.gate.check(tool, args, agent_id=agent_id, context=self.context(**fields))
        except Exception as exc:
            return self.failed(tool, exc)
        return self._verdict(outcome)

    async def check_async(
        self, tool: str, args: Mapping[str, Any], *, agent_id: str | None = None, **fields: Any
    ) -> Verdict:
        """`check` for async hooks: async approval handlers are awaited, not run in a thread."""
        try:
            outcome = await self.gate.check_async(
                tool, args, agent_id=agent_id, context=self.context(**fields)
            )
        except Exception as exc:
            return self.failed(tool, exc)
        return self._verdict(outcome)

    def complete(
        self,
        verdict: Verdict,
        *,
        result: Any = None,
        error: BaseException | None = None,
        duration_s: float = 0.0,
    ) -> Verdict:
        """Run post_tool rules and observers on an allowed call's result; a failure withholds the result."""
        if verdict.outcome is None or not verdict.allowed:
            return verdict
        try:
            post = self.gate.complete(verdict.outcome, result=result, error=error, duration_s=duration_s)
        except Exception as exc:
            return self.failed(str(verdict.outcome.request.get("action", {}).get("type", "?")), exc)
        if post.allowed:
            return verdict
        return Verdict(False, self.gate.refusal_message(post), post)

    def _verdict(self, outcome: Enforcement) -> Verdict:
        if outcome.allowed:
            return Verdict(True, "", outcome)
        return Verdict(False, self.gate.refusal_message(outcome), outcome)

    @staticmethod
    def failed(tool: str, exc: BaseException) -> Verdict:
        """The refusal for a call that could not be judged (the gate failed, or the arguments are unreadable)."""
        message = f"tool call `{tool}` refused: the governance check failed ({type(exc).__name__}: {exc})"
        return Verdict(False, message, None, exc)
