"""The decision: what the policy engine concluded about one request, and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, model_validator

from agt_core._canonical import canonical_json
from agt_core._policy import ConflictStrategy, RuleAction, Stage

__all__ = ["PERMISSIVE_EFFECTS", "Decision", "Effect", "MatchedRule", "RuleError"]

Effect = RuleAction
"""A decision's effect is the action of the rule (or default) that decided it."""

PERMISSIVE_EFFECTS: frozenset[str] = frozenset({"allow", "warn", "log"})


class MatchedRule(BaseModel):
    """A rule whose condition held for the request (or errored, for a restrictive rule)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str
    rule: str
    action: RuleAction
    priority: int = 0
    errored: bool = Field(
        default=False, description="Counted as matched because its condition failed (fail closed)."
    )


class RuleError(BaseModel):
    """An evaluation error: a condition failed on this request (missing field, type mismatch, limit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str | None
    rule: str | None
    message: str


class Decision(BaseModel):
    """The outcome of evaluating one request against a policy set.

    ``allowed`` is True exactly when ``effect`` is allow, warn or log. A require_approval decision
    is not allowed by itself: the caller must obtain an approval first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    effect: Effect
    allowed: StrictBool
    rule: str | None = Field(default=None, description="The deciding rule; None when a default decided.")
    policy: str | None = Field(
        default=None, description="The policy the deciding rule (or default) belongs to."
    )
    policy_hash: str | None = Field(default=None, description="Content hash of the deciding policy.")
    policy_set_hash: str | None = Field(default=None, description="Content hash of the whole compiled set.")
    message: str = ""
    stage: Stage = "pre_tool"
    matched: tuple[MatchedRule, ...] = ()
    errors: tuple[RuleError, ...] = ()
    conflict_strategy: ConflictStrategy | None = Field(
        default=None, description="The resolution the deciding policy applied."
    )
    approvers: tuple[str, ...] = ()
    rate_limited: bool = Field(
        default=False, description="Denied because a matched rule's `limit` was exhausted."
    )
    refused_by: str | None = Field(
        default=None,
        description=(
            "Who refused when the policy did not decide: `kernel:request`, `kernel:evaluator`, "
            "`enricher:<name>`, `guard:<name>`, `kernel:approval`. None when the policy decided."
        ),
    )

    evaluator: str | None = Field(
        default=None,
        description=(
            "The evaluator that reached this decision: `python`, `native`, `rego`, `cedar`, or the "
            "parts of a mixed set joined by `+` (`native+rego`). None when no evaluator took part "
            "(a refusal by the kernel or an extension, a decision made outside a policy set)."
        ),
    )

    _canonical: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _allowed_matches_effect(self) -> Decision:
        if self.allowed != (self.effect in PERMISSIVE_EFFECTS):
            raise ValueError(f"`allowed` must be {not self.allowed} when effect is `{self.effect}`")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Decision:
        """Copy, dropping the cached canonical text (an update changes the decision's value)."""
        copy = super().model_copy(update=update, deep=deep)
        copy._canonical = None
        return copy

    def __eq__(self, other: object) -> bool:
        # Compare fields only: the cached canonical text is not part of a decision's value.
        if not isinstance(other, Decision):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    def summary(self) -> str:
        """One line: the effect, who decided, and why (what `str()` and `repr()` show)."""
        if self.rule is not None:
            who = f"rule `{self.rule}` of policy `{self.policy}`"
        elif self.refused_by is not None:
            who = self.refused_by
        elif self.policy is not None:
            who = f"the default of policy `{self.policy}`"
        else:
            who = "the kernel"
        text = f"{self.effect} by {who}"
        if self.rate_limited:
            text += " (rate limited)"
        if self.message:
            message = self.message if len(self.message) <= 120 else self.message[:119] + "…"
            text += f": {message}"
        if self.errors:
            text += f" [{len(self.errors)} error{'s' if len(self.errors) > 1 else ''}]"
        return text

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<Decision {self.summary()}>"

    def canonical_json(self) -> str:
        """Return the RFC 8785 canonical JSON of this decision (computed once; decisions are immutable)."""
        # Read the private slot directly: pydantic's attribute hook is slow, and this runs per audit record.
        private = self.__pydantic_private__
        text: str | None = private.get("_canonical") if private is not None else None
        if text is None:
            text = canonical_json(self.model_dump(mode="json"))
            self._canonical = text
        return text
