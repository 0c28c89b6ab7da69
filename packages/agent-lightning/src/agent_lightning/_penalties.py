"""Penalties: how much a governed step costs, by rule or by the severity of the rule's action.

A policy declares each rule's severity as its action (``deny`` > ``require_approval`` > ``warn`` >
``log``); `Penalties` turns that into a number and lets the trainer override it per rule.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from agt_core import Decision

__all__ = ["Penalties", "Violation", "as_penalties", "violations_of"]

ViolationKind = Literal["rule", "refusal"]


class Penalties(BaseModel):
    """The penalty of each kind of violation (all finite and >= 0).

    Attributes:
        deny: A matched deny rule.
        require_approval: A matched require_approval rule that was not approved.
        warn: A matched warn rule (the action still runs).
        log: A matched log rule (the action still runs); 0 by default, so log rules only annotate.
        refusal: A refusal no rule of the policy made: the default action, a rate limit, a guard,
            a request that could not be built, an action that could not be mapped.
        rules: Per-rule overrides, keyed ``"rule"`` or ``"policy/rule"`` (the latter wins). A
            refusal's key is its rule, or who refused (``"kernel:request"``), or ``"default"``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    deny: float = 1.0
    require_approval: float = 1.0
    warn: float = 0.1
    log: float = 0.0
    refusal: float = 1.0
    rules: dict[str, float] = Field(default_factory=dict)

    @field_validator("deny", "require_approval", "warn", "log", "refusal")
    @classmethod
    def _check_amount(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"a penalty must be a finite number >= 0, not {value!r}")
        return value

    @field_validator("rules")
    @classmethod
    def _check_rules(cls, value: dict[str, float]) -> dict[str, float]:
        for key, amount in value.items():
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"the penalty of `{key}` must be a finite number >= 0, not {amount!r}")
        return value

    def of(self, policy: str | None, rule: str, severity: str) -> float:
        """The penalty of `rule` (of `policy`) whose action, or refusal kind, is `severity`."""
        if policy is not None:
            amount = self.rules.get(f"{policy}/{rule}")
            if amount is not None:
                return amount
        amount = self.rules.get(rule)
        if amount is not None:
            return amount
        return float(getattr(self, severity))


class Violation(BaseModel):
    """One rule (or refusal) a step violated, and what it cost.

    Attributes:
        rule: The rule's name; for a refusal no rule made, who refused (``"kernel:request"``) or
            ``"default"`` (the policy's default action).
        policy: The policy of the rule, when there is one.
        effect: The rule's action (``deny``, ``require_approval``, ``warn``, ``log``), or the
            refusal's effect.
        kind: ``"rule"`` for a matched rule, ``"refusal"`` for any other refusal.
        penalty: What it cost.
        errored: The rule's condition failed on this request and counted as matched (fail closed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    policy: str | None
    effect: str
    kind: ViolationKind
    penalty: float
    errored: bool = False

    def key(self) -> str:
        """``policy/rule`` (or just the rule name for a refusal without a policy)."""
        return self.rule if self.policy is None else f"{self.policy}/{self.rule}"


_RESTRICTIVE = frozenset({"deny", "require_approval"})


def violations_of(decision: Decision, allowed: bool, penalties: Penalties) -> tuple[Violation, ...]:
    """What a decision counts as violated.

    An allowed call violates its matched warn and log rules. A refused call also violates its
    matched deny and require_approval rules; when none of those refused it (the default action, a
    rate limit, a guard, the kernel), the refusal itself is one violation. Restrictive rules that
    an allowed call matched were overridden (``allow_overrides``) or approved, so they do not count.
    """
    found: list[Violation] = []
    refused_by_rule = False
    for matched in decision.matched:
        if matched.action == "allow" or (allowed and matched.action in _RESTRICTIVE):
            continue
        if matched.action in _RESTRICTIVE:
            refused_by_rule = True
        found.append(
            Violation(
                rule=matched.rule,
                policy=matched.policy,
                effect=matched.action,
                kind="rule",
                penalty=penalties.of(matched.policy, matched.rule, matched.action),
                errored=matched.errored,
            )
        )
    if not allowed and not refused_by_rule:
        name = decision.rule or decision.refused_by or "default"
        found.append(
            Violation(
                rule=name,
                policy=decision.policy,
                effect=decision.effect,
                kind="refusal",
                penalty=penalties.of(decision.policy, name, "refusal"),
                errored=bool(decision.errors),
            )
        )
    return tuple(found)


def as_penalties(value: Penalties | dict[str, Any] | None) -> Penalties:
    """`value` as `Penalties` (a mapping is validated; None is the defaults)."""
    if value is None:
        return Penalties()
    if isinstance(value, Penalties):
        return value
    return Penalties.model_validate(value)
