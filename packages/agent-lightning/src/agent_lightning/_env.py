"""GovernedEnv: a Gymnasium wrapper that puts every action through the governed-call pipeline.

Each action becomes a request (see `ActionMapping`) with the episode, the step and the state in
``context``, and goes through agent-os's `ToolGate`: enrichers, guards, evaluation, rate limits,
approval, audit, observers. A refused action never reaches the environment; an action let through
by a warn or log rule runs and is penalised. Penalties shape the reward, or are reported as the
CMDP cost ``info["cost"]``, or both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, SupportsFloat

import gymnasium

from agent_lightning._actions import ActionMapping, Mapper, default_state
from agent_lightning._gate import make_gate
from agent_lightning._judgement import Judgement, judge
from agent_lightning._penalties import Penalties, as_penalties
from agent_lightning._summary import EpisodeSummary, EpisodeTally

if TYPE_CHECKING:
    from agent_os import ToolGate
    from agt_core import AuditSink, Enforcement

__all__ = ["GovernedEnv", "Shaping"]

Shaping = Literal["reward", "cost", "none"]
"""``reward``: the learner's reward is the task reward minus the penalty (``info["cost"]`` is
reported too). ``cost``: the reward is the task reward and the penalty is only ``info["cost"]``
(constrained RL). ``none``: like ``cost``; named for baselines that ignore the cost."""

UNMAPPED = "unmapped-action"


class GovernedEnv(gymnasium.Wrapper[Any, Any, Any, Any]):
    """Govern every action of `env` (see the module docstring and docs/agent-lightning.md).

    Args:
        env: The environment to govern.
        policy: What `agent_os.ToolGate` accepts as ``policy=`` (file path, YAML text, dict,
            compiled `PolicySet`). Give this or `gate`.
        gate: A configured `ToolGate` (approval handler, guards, observers, durable audit).
        mapping: A callable ``action -> (tool, args)`` replacing the default mapping.
        action_names: Names for the default `ActionMapping` (see its ``names``).
        tool: The tool name for actions that do not name one (default ``"act"``).
        dims: Names of MultiDiscrete dimensions.
        penalties: `Penalties` (or a mapping of its fields).
        shaping: ``"reward"`` (default), ``"cost"`` or ``"none"`` (see `Shaping`).
        violation_budget: End the episode at the N-th violation (blocked or penalised step).
        budget_ends: ``"terminate"`` (default: the agent forfeits the rest of the episode) or
            ``"truncate"`` (bootstrapping learners keep valuing the state).
        enforce: False lets every action through and leaves the reward alone, while still
            judging, auditing and reporting ``info["cost"]`` (to measure an ungoverned baseline).
        audit: Where decisions are recorded when `policy` is given (default: a new in-memory
            `AuditLog`, ``env.audit_log``); anything ``ToolGate(audit=...)`` accepts.
        agent_id: ``agent.id`` in conditions.
        state: ``(observation, info) -> data`` for ``context.state`` (e.g. facts from ``info``).
        on_episode: Called with each finished episode's `EpisodeSummary` (e.g. a logger).
        keep_summaries: How many recent summaries ``env.summaries`` keeps.
        env_index: ``context.env_index``, for the sub-environments of a vector environment.
    """

    def __init__(
        self,
        env: gymnasium.Env[Any, Any],
        policy: Any = None,
        *,
        gate: ToolGate | None = None,
        mapping: Mapper | None = None,
        action_names: Sequence[Any] | None = None,
        tool: str = "act",
        dims: Sequence[str] | None = None,
        penalties: Penalties | Mapping[str, Any] | None = None,
        shaping: Shaping = "reward",
        violation_budget: int | None = None,
        budget_ends: Literal["terminate", "truncate"] = "terminate",
        enforce: bool = True,
        audit: bool | AuditSink | str | None = None,
        agent_id: str = "rl-agent",
        state: Callable[[Any, dict[str, Any]], Any] | None = None,
        on_episode: Callable[[EpisodeSummary], None] | None = None,
        keep_summaries: int = 1000,
        env_index: int | None = None,
    ) -> None:
        super().__init__(env)
        if shaping not in ("reward", "cost", "none"):
            raise ValueError(f"shaping must be 'reward', 'cost' or 'none', not {shaping!r}")
        if budget_ends not in ("terminate", "truncate"):
            raise ValueError(f"budget_ends must be 'terminate' or 'truncate', not {budget_ends!r}")
        if violation_budget is not None and (type(violation_budget) is not int or violation_budget < 1):
            raise ValueError(f"violation_budget must be a positive integer, not {violation_budget!r}")
        if gate is not None and audit is not None:
            raise TypeError("audit= configures the gate built for policy=; configure your own gate instead")
        self.gate = make_gate(policy, gate, audit, agent_id)
        self.mapping: Mapper = (
            mapping
            if mapping is not None
            else ActionMapping(env.action_space, names=action_names, tool=tool, dims=dims)
        )
        self.penalties = as_penalties(dict(penalties) if isinstance(penalties, Mapping) else penalties)
        self.shaping: Shaping = shaping
        self.violation_budget = violation_budget
        self.budget_ends = budget_ends
        self.enforce = enforce
        self.state_fn = state
        self.on_episode = on_episode
        self.env_index = env_index
        self.summaries: deque[EpisodeSummary] = deque(maxlen=keep_summaries)
        self.last_judgement: Judgement | None = None
        self._episode = -1
        self._tally: EpisodeTally | None = None
        self._done = True
        self._obs: Any = None
        self._context_base: dict[str, Any] = {}

    @property
    def audit_log(self) -> AuditSink | None:
        """Where this environment's decisions are recorded."""
        return self.gate.audit_log

    @property
    def episode(self) -> int:
        """The current episode number (-1 before the first reset)."""
        return self._episode

    # -- gymnasium API --------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the environment and start counting a new episode (finishing an unfinished one)."""
        self._finish_episode()
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode += 1
        self._tally = EpisodeTally(self._episode)
        self._done = False
        self._observe(obs, info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Judge `action`; run it unless refused; shape the reward; count it."""
        tally = self._tally
        if tally is None or self._done:
            raise gymnasium.error.ResetNeeded("call reset() before step() (the episode has ended)")
        step = tally.steps
        context = {
            **self._context_base,
            "episode": self._episode,
            "step": step,
            "violations": tally.violations,
        }
        tool, outcome = self._check(action, context)
        judgement = judge(outcome, self.penalties)
        self.last_judgement = judgement
        blocked = self.enforce and not judgement.allowed
        terminated = truncated = False
        env_info: dict[str, Any]
        if blocked:
            obs, env_info = self._obs, {}
            task_reward = 0.0
        else:
            obs, raw_reward, terminated, truncated, env_info = self.env.step(action)
            task_reward = float(raw_reward)
            self._observe(obs, env_info)
        penalty = judgement.penalty
        reward = task_reward - penalty if (self.enforce and self.shaping == "reward") else task_reward
        tally.add(judgement, blocked=blocked, task_reward=task_reward, shaped_reward=reward)
        budget_hit = (
            self.enforce
            and self.violation_budget is not None
            and judgement.violated
            and tally.violations >= self.violation_budget
            and not (terminated or truncated)
        )
        if budget_hit:
            tally.budget_exhausted = True
            if self.budget_ends == "terminate":
                terminated = True
            else:
                truncated = True
        info = dict(env_info)
        info["cost"] = penalty
        info["governance"] = {
            **judgement.as_info(),
            "tool": tool,
            "blocked": blocked,
            "episode": self._episode,
            "step": step,
            "budget_exhausted": budget_hit,
        }
        if terminated or truncated:
            summary = self._finish_episode()
            if summary is not None:
                info["episode_governance"] = summary.as_dict()
        return obs, reward, bool(terminated), bool(truncated), info

    def close(self) -> None:
        """Finish the running episode's summary, then close the environment."""
        self._finish_episode()
        super().close()

    # -- internals ------------------------------------------------------------------------------

    def _observe(self, obs: Any, info: dict[str, Any]) -> None:
        self._obs = obs
        base: dict[str, Any] = {}
        if self.env_index is not None:
            base["env_index"] = self.env_index
        observation = default_state(self.env.observation_space, obs)
        if observation is not None:
            base["observation"] = observation
        if self.state_fn is not None:
            base["state"] = self.state_fn(obs, info)
        self._context_base = base

    def _check(self, action: Any, context: dict[str, Any]) -> tuple[str, Enforcement]:
        from agt_core import RequestError

        try:
            tool, args = self.mapping(action)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # An action nobody can name cannot be judged: refused, through the audited path.
            try:
                attempted = self.gate.request(UNMAPPED, {}, context=context)
            except RequestError:
                attempted = self.gate.request(UNMAPPED, {})
            reason = f"the action could not be mapped to a tool call: {exc}"
            return UNMAPPED, self.gate.kernel.refuse(attempted, reason, by="agent-lightning:mapping")
        return tool, self.gate.check(tool, args, action=tool, context=context)

    def _finish_episode(self) -> EpisodeSummary | None:
        tally, self._tally = self._tally, None
        self._done = True
        if tally is None or tally.steps == 0:
            return None
        summary = tally.summary()
        self.summaries.append(summary)
        if self.on_episode is not None:
            self.on_episode(summary)
        return summary
