"""Per-episode governance summaries: violations by rule, blocked actions, penalty total."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from agent_lightning._judgement import Judgement

__all__ = ["EpisodeSummary", "EpisodeTally"]


class EpisodeSummary(BaseModel):
    """What governance did during one episode.

    Attributes:
        episode: The episode number (from 0, per environment).
        steps: Actions the agent took (blocked ones included).
        violations: Steps that were blocked or let through at a positive penalty.
        blocked: Steps whose action the environment never saw.
        by_rule: Violations per ``policy/rule`` (or refusal source).
        penalty_total: The sum of the steps' penalties.
        task_reward: The environment's own reward, summed (penalties not included).
        shaped_reward: The reward the learner received, summed.
        budget_exhausted: The episode was ended by the violation budget.
        errored: Steps judged fail closed because a condition failed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    episode: int
    steps: int
    violations: int
    blocked: int
    by_rule: dict[str, int]
    penalty_total: float
    task_reward: float
    shaped_reward: float
    budget_exhausted: bool
    errored: int

    @property
    def violation_rate(self) -> float:
        """Violations per step (0.0 for an episode without steps)."""
        return self.violations / self.steps if self.steps else 0.0

    def line(self) -> str:
        """One line for a trainer's logger."""
        rules = ", ".join(f"{k}={v}" for k, v in sorted(self.by_rule.items()))
        text = (
            f"episode {self.episode}: {self.steps} steps, {self.violations} violations"
            f" ({rules or 'none'}), {self.blocked} blocked, penalty {self.penalty_total:.3f},"
            f" task reward {self.task_reward:.3f}, shaped reward {self.shaped_reward:.3f}"
        )
        if self.errored:
            text += f", {self.errored} judged fail closed"
        if self.budget_exhausted:
            text += ", ended by the violation budget"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for ``info``, JSON logs, experiment trackers)."""
        return {**self.model_dump(), "violation_rate": self.violation_rate}


class EpisodeTally:
    """Counts one episode as it runs."""

    def __init__(self, episode: int) -> None:
        self.episode = episode
        self.steps = 0
        self.violations = 0
        self.blocked = 0
        self.by_rule: dict[str, int] = {}
        self.penalty = 0.0
        self.task_reward = 0.0
        self.shaped_reward = 0.0
        self.errored = 0
        self.budget_exhausted = False

    def add(self, judgement: Judgement, *, blocked: bool, task_reward: float, shaped_reward: float) -> None:
        """Count one step."""
        self.steps += 1
        self.blocked += blocked
        self.penalty += judgement.penalty
        self.task_reward += task_reward
        self.shaped_reward += shaped_reward
        self.errored += judgement.errored
        if judgement.violated:
            self.violations += 1
            for violation in judgement.violations:
                key = violation.key()
                self.by_rule[key] = self.by_rule.get(key, 0) + 1

    def summary(self) -> EpisodeSummary:
        """The summary so far."""
        return EpisodeSummary(
            episode=self.episode,
            steps=self.steps,
            violations=self.violations,
            blocked=self.blocked,
            by_rule=dict(self.by_rule),
            penalty_total=self.penalty,
            task_reward=self.task_reward,
            shaped_reward=self.shaped_reward,
            budget_exhausted=self.budget_exhausted,
            errored=self.errored,
        )
