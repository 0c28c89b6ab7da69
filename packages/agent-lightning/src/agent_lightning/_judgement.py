"""Judgement: one governed action's enforcement, turned into what a learner needs (penalty, violations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from agent_lightning._penalties import Penalties, Violation, violations_of

if TYPE_CHECKING:
    from agt_core import Enforcement

__all__ = ["Judgement", "judge"]


class Judgement(BaseModel):
    """What governance concluded about one action.

    Attributes:
        allowed: Whether the policy let the action run.
        effect: The decision's effect (``allow``, ``warn``, ``log``, ``deny``, ``require_approval``).
        rule: The deciding rule, when a rule decided.
        policy: The deciding policy.
        refused_by: Who refused when no rule did (``kernel:request``, ``guard:<name>``, ...).
        message: Why, in one line (the refusal message for a refused action).
        violations: Every rule (or refusal) the action violated, with its penalty.
        penalty: The sum of the violations' penalties.
        errored: A condition failed on this request (the action was judged fail closed).
        audit_hash: The hash of the action's audit record, or None when auditing is off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool
    effect: str
    rule: str | None
    policy: str | None
    refused_by: str | None
    message: str
    violations: tuple[Violation, ...]
    penalty: float
    errored: bool
    audit_hash: str | None

    @property
    def violated(self) -> bool:
        """The action was refused, or let through at a positive penalty."""
        return not self.allowed or self.penalty > 0

    def as_info(self) -> dict[str, Any]:
        """Plain data for a step's ``info`` (JSON types only)."""
        return {
            "allowed": self.allowed,
            "effect": self.effect,
            "rule": self.rule,
            "policy": self.policy,
            "refused_by": self.refused_by,
            "message": self.message,
            "violations": [v.model_dump() for v in self.violations],
            "penalty": self.penalty,
            "errored": self.errored,
            "audit_hash": self.audit_hash,
        }


def judge(outcome: Enforcement, penalties: Penalties) -> Judgement:
    """The judgement of one enforcement under `penalties`."""
    from agent_os import ToolGate

    decision = outcome.decision
    violations = violations_of(decision, outcome.allowed, penalties)
    return Judgement(
        allowed=outcome.allowed,
        effect=decision.effect,
        rule=decision.rule,
        policy=decision.policy,
        refused_by=decision.refused_by,
        message=decision.message if outcome.allowed else ToolGate.refusal_message(outcome),
        violations=violations,
        penalty=sum(v.penalty for v in violations),
        errored=bool(decision.errors),
        audit_hash=outcome.audit_hash,
    )
