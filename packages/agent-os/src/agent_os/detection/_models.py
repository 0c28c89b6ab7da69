"""What a scan returns: a score, a verdict and every reason that fired (pydantic models, frozen)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Detection", "DetectionError", "Layer", "Reason"]

Layer = Literal["normalise", "rules", "classifier"]


class DetectionError(ValueError):
    """A text could not be scanned (too long, not text); callers must treat it as not cleared."""


class Reason(BaseModel):
    """One thing that fired.

    Attributes:
        layer: ``normalise`` (hidden text, decoded payloads), ``rules`` or ``classifier``.
        rule: The rule's id, e.g. ``instruction-override``, ``tag-payload``, ``classifier``.
        where: The segment it fired in: ``text``, ``tags``, ``rot13``, ``base64@12``, ...
        weight: What it adds to the score (0 for findings that only explain, e.g. a decoded payload).
        excerpt: The matched text (at most 80 characters), or what was found.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: Layer
    rule: str
    where: str
    weight: float = Field(ge=0.0, le=1.0)
    excerpt: str

    def __str__(self) -> str:
        return f"{self.layer}:{self.rule} in {self.where} ({self.weight:.2f}): {self.excerpt!r}"


class Detection(BaseModel):
    """The verdict on one text.

    Attributes:
        score: 0 (nothing fired) to 1; ``1 - prod(1 - weight)`` over the strongest weight of each
            rule that fired, or the classifier's probability when that is higher.
        is_injection: ``score >= threshold``.
        threshold: The threshold the verdict used.
        reasons: Every reason, in a fixed order (normalisation, then rules in rule order, then
            the classifier); the same text always gives the same reasons.
        layers: The layers that ran.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float = Field(ge=0.0, le=1.0)
    is_injection: bool
    threshold: float
    reasons: tuple[Reason, ...]
    layers: tuple[Layer, ...]

    @property
    def rules(self) -> tuple[str, ...]:
        """The ids of the reasons that weigh something, without repeats, in order."""
        return tuple(dict.fromkeys(r.rule for r in self.reasons if r.weight > 0))

    def summary(self) -> dict[str, Any]:
        """Plain JSON data for a request's ``context`` (what a policy condition reads)."""
        return {
            "score": self.score,
            "is_injection": self.is_injection,
            "threshold": self.threshold,
            "rules": list(self.rules),
            "reasons": [str(r) for r in self.reasons if r.weight > 0][:16],
        }
