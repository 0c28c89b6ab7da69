"""Scoring LLM-agent trajectories: the same gate and penalties as online enforcement, after the fact.

A GRPO or PPO reward function calls `score_trajectory` (or a `TrajectoryScorer` it keeps) on the
tool calls a sampled completion made and subtracts the penalty. Each call is judged by a
`ToolGate` exactly as a governed run would judge it, and audited.

Accepted steps (other items, e.g. chat messages without tool calls, are skipped):

- ``{"tool": name, "args": {...}}`` (``"arguments"`` works too);
- an OpenAI-style tool call ``{"type": "function", "function": {"name": ..., "arguments": "<json>"}}``
  or ``{"name": ..., "arguments": ...}``;
- a chat message ``{"role": "assistant", "tool_calls": [...]}``: each of its tool calls;
- a pair ``(name, args)``.

Arguments given as a JSON string are parsed; a string that is not a JSON object, or a step whose
tool cannot be named, is refused and penalised like any refusal (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from agent_lightning._gate import make_gate
from agent_lightning._judgement import Judgement, judge
from agent_lightning._penalties import Penalties, as_penalties

if TYPE_CHECKING:
    from agent_os import ToolGate
    from agt_core import AuditSink, Enforcement

__all__ = ["StepScore", "TrajectoryScore", "TrajectoryScorer", "score_trajectory"]

UNREADABLE = "unreadable-tool-call"


class StepScore(BaseModel):
    """One tool call of a trajectory and its judgement.

    Attributes:
        index: The call's position among the trajectory's tool calls (from 0).
        tool: The tool it named (``unreadable-tool-call`` when it named none).
        judgement: What the policy concluded, with the penalty.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    tool: str
    judgement: Judgement


class TrajectoryScore(BaseModel):
    """The governance score of one trajectory.

    Attributes:
        steps: Each tool call's score, in order.
        penalty: The total penalty (subtract it from the task reward).
        violations: Calls that were refused or let through at a positive penalty.
        refused: Calls the policy would have refused.
        by_rule: Violations per ``policy/rule`` (or refusal source).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[StepScore, ...]
    penalty: float
    violations: int
    refused: int
    by_rule: dict[str, int]

    @property
    def penalties(self) -> list[float]:
        """The penalty of each call, for step-level credit assignment."""
        return [s.judgement.penalty for s in self.steps]

    @property
    def compliant(self) -> bool:
        """No call was refused or penalised."""
        return self.violations == 0


class TrajectoryScorer:
    """Scores trajectories against one policy; keep one per training run (the policy compiles once).

    Args:
        policy: What ``ToolGate(policy=...)`` accepts. Give this or `gate`.
        gate: A configured `ToolGate`, e.g. the one a `GovernedEnv` uses (``env.gate``).
        penalties: `Penalties` (or a mapping of its fields).
        audit: Where decisions are recorded when `policy` is given (default: a new in-memory
            `AuditLog`, ``scorer.audit_log``); ``False`` turns auditing off.
        agent_id: ``agent.id`` in conditions.
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        gate: ToolGate | None = None,
        penalties: Penalties | Mapping[str, Any] | None = None,
        audit: bool | AuditSink | str | None = None,
        agent_id: str = "llm-agent",
    ) -> None:
        if gate is not None and audit is not None:
            raise TypeError("audit= configures the gate built for policy=; configure your own gate instead")
        self.gate = make_gate(policy, gate, audit, agent_id)
        self.penalties = as_penalties(dict(penalties) if isinstance(penalties, Mapping) else penalties)

    @property
    def audit_log(self) -> AuditSink | None:
        """Where this scorer's decisions are recorded."""
        return self.gate.audit_log

    def __call__(
        self, trajectory: Iterable[Any], *, context: Mapping[str, Any] | None = None
    ) -> TrajectoryScore:
        """Score `trajectory`; `context` is added to every call's ``context``.

        Each call also sees ``context.step`` (its index) and ``context.history`` (the tools
        called before it), so a rule can refuse e.g. ``send_email`` after ``read_secrets``.
        """
        steps: list[StepScore] = []
        history: list[str] = []
        by_rule: dict[str, int] = {}
        for index, (tool, args, problem) in enumerate(_calls(trajectory)):
            call_context = {**(context or {}), "step": index, "history": list(history)}
            outcome = self._check(tool, args, problem, call_context)
            judgement = judge(outcome, self.penalties)
            steps.append(StepScore(index=index, tool=tool, judgement=judgement))
            history.append(tool)
            if judgement.violated:
                for violation in judgement.violations:
                    by_rule[violation.key()] = by_rule.get(violation.key(), 0) + 1
        return TrajectoryScore(
            steps=tuple(steps),
            penalty=sum(s.judgement.penalty for s in steps),
            violations=sum(s.judgement.violated for s in steps),
            refused=sum(not s.judgement.allowed for s in steps),
            by_rule=by_rule,
        )

    def _check(self, tool: str, args: Any, problem: str | None, context: dict[str, Any]) -> Enforcement:
        from agt_core import RequestError

        if problem is None:
            return self.gate.check(tool, args, action=tool, context=context)
        try:
            attempted = self.gate.request(tool, {}, context=context)
        except RequestError:
            attempted = self.gate.request(tool, {})
        return self.gate.kernel.refuse(attempted, problem, by="agent-lightning:trajectory")


def score_trajectory(
    trajectory: Iterable[Any],
    policy: Any,
    *,
    penalties: Penalties | Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    agent_id: str = "llm-agent",
) -> TrajectoryScore:
    """Score the tool calls of `trajectory` against `policy`, as online enforcement would judge them.

    Args:
        trajectory: The steps (see the module docstring for the accepted shapes).
        policy: A `TrajectoryScorer`, a `GovernedEnv` (its gate and penalties: the same rules as
            online), a `ToolGate`, or anything ``ToolGate(policy=...)`` accepts (compiled per call:
            keep a `TrajectoryScorer` in a training loop).
        penalties: `Penalties`; ignored when `policy` is a scorer or environment that has its own.
        context: Added to every call's ``context``.
        agent_id: ``agent.id`` when a gate is built here.

    Returns:
        The score; ``score.penalty`` is what to subtract from the reward.
    """
    from agent_os import ToolGate

    if isinstance(policy, TrajectoryScorer):
        scorer = policy
    elif isinstance(policy, ToolGate):
        scorer = TrajectoryScorer(gate=policy, penalties=penalties)
    elif isinstance(getattr(policy, "gate", None), ToolGate) and isinstance(
        getattr(policy, "penalties", None), Penalties
    ):
        # A GovernedEnv, recognised by its parts: scoring text must not need gymnasium imported.
        scorer = TrajectoryScorer(gate=policy.gate, penalties=policy.penalties)
    else:
        scorer = TrajectoryScorer(policy, penalties=penalties, agent_id=agent_id)
    return scorer(trajectory, context=context)


def _calls(trajectory: Iterable[Any]) -> Iterator[tuple[str, Any, str | None]]:
    """``(tool, args, problem)`` for each tool call; `problem` says why it cannot be judged."""
    if isinstance(trajectory, (str, bytes)) or not isinstance(trajectory, Iterable):
        raise TypeError(f"a trajectory is a sequence of steps, not {type(trajectory).__name__}")
    for item in trajectory:
        if isinstance(item, tuple) and len(item) == 2:
            yield _call(item[0], item[1])
        elif isinstance(item, Mapping):
            calls = item.get("tool_calls")
            if calls is not None:
                if not isinstance(calls, (list, tuple)):
                    yield UNREADABLE, {}, "`tool_calls` is not a list"
                    continue
                for call in calls:
                    yield _mapping_call(call)
            elif "role" not in item:
                yield _mapping_call(item)
            # else: a chat message without tool calls (user text, a tool's result): nothing to judge
        else:
            yield (
                UNREADABLE,
                {},
                f"a trajectory step must be a mapping or a (tool, args) pair, not {type(item).__name__}",
            )


def _mapping_call(call: Any) -> tuple[str, Any, str | None]:
    if not isinstance(call, Mapping):
        return UNREADABLE, {}, f"a tool call must be a mapping, not {type(call).__name__}"
    function = call.get("function")
    if isinstance(function, Mapping):
        return _call(function.get("name"), function.get("arguments", {}))
    name = call.get("tool", call.get("name"))
    args = call.get("args", call.get("arguments", {}))
    return _call(name, args)


def _call(name: Any, args: Any) -> tuple[str, Any, str | None]:
    if type(name) is not str or not name:
        return UNREADABLE, {}, f"the tool call names no tool (got {name!r})"
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            return name, {}, f"the arguments of `{name}` are not valid JSON: {exc}"
    if not isinstance(args, Mapping):
        return name, {}, f"the arguments of `{name}` are not a JSON object (got {type(args).__name__})"
    return name, args, None
