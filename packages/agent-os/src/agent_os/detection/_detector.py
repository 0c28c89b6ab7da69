"""The detector: normalisation, rules and (optionally) the classifier, combined into one verdict."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from agent_os.detection._models import Detection, DetectionError, Layer, Reason
from agent_os.detection._normalise import Limits, Segment, normalise, plain_form
from agent_os.detection._rules import match_rules

__all__ = ["DEFAULT_THRESHOLD", "Detector", "TextClassifier", "default_detector"]

DEFAULT_THRESHOLD = 0.5

# A rule that fires only where the text was hidden (encoded, invisible, ROT13) is evidence twice
# over: the instruction, and the effort to keep it from the reader.
_OBFUSCATION_WEIGHT = 0.3


@runtime_checkable
class TextClassifier(Protocol):
    """A model that gives the probability that a text is an injection (the third layer)."""

    name: str

    def probability(self, text: str) -> float:
        """The probability, in [0, 1], that `text` carries an injection."""
        ...


class Detector:
    """Scans texts for prompt injection and goal hijacking.

    Args:
        threshold: ``is_injection`` is ``score >= threshold``.
        normalise: Run the normalisation layer (decode, unhide, unmask look-alikes) before the
            rules; without it the rules read the text case-folded only (the "rules only" layer).
        rules: Run the rule layer.
        classifier: An optional third layer (e.g. `agent_os.detection.EmbeddingClassifier`);
            its probability becomes the score when it is higher than the rules' score.
        limits: Bounds on the work per text.

    Raises:
        ValueError: When no layer is enabled or the threshold is outside (0, 1].
    """

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        normalise: bool = True,
        rules: bool = True,
        classifier: TextClassifier | None = None,
        limits: Limits | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0 or math.isnan(threshold):
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        if not rules and classifier is None:
            raise ValueError("a detector needs the rules or a classifier (or both)")
        self.threshold = threshold
        self.normalise = normalise
        self.rules = rules
        self.classifier = classifier
        self.limits = limits or Limits()
        layers: list[Layer] = []
        if normalise:
            layers.append("normalise")
        if rules:
            layers.append("rules")
        if classifier is not None:
            layers.append("classifier")
        self.layers: tuple[Layer, ...] = tuple(layers)

    def __repr__(self) -> str:
        return f"Detector(threshold={self.threshold}, layers={list(self.layers)})"

    def scan(self, text: str) -> Detection:
        """The verdict on `text`, with every reason that fired.

        Raises:
            DetectionError: When `text` is not a string or is longer than ``limits.max_chars``
                (it is never cut short: a scan that did not read everything clears nothing).
        """
        if not isinstance(text, str):
            raise DetectionError(f"can only scan text, got `{type(text).__name__}`")
        if len(text) > self.limits.max_chars:
            raise DetectionError(
                f"text of {len(text)} characters is longer than the limit of {self.limits.max_chars}; "
                "raise Limits.max_chars or split the text"
            )
        reasons: list[Reason] = []
        if self.normalise:
            segments, found = normalise(text, self.limits)
            reasons.extend(found)
        else:
            segments = (Segment("text", plain_form(text), False),)
        if self.rules:
            reasons.extend(self._rule_reasons(segments))
        score = _combine(reasons)
        if self.classifier is not None:
            probability = float(self.classifier.probability(text))
            if not 0.0 <= probability <= 1.0:  # NaN fails this too
                raise DetectionError(
                    f"classifier `{self.classifier.name}` returned {probability!r}, not a probability"
                )
            probability = round(probability, 4)
            reasons.append(
                Reason(
                    layer="classifier",
                    rule=self.classifier.name,
                    where="text",
                    weight=probability if probability >= self.threshold else 0.0,
                    excerpt=f"probability {probability:.4f}",
                )
            )
            score = max(score, probability)
        return Detection(
            score=score,
            is_injection=score >= self.threshold,
            threshold=self.threshold,
            reasons=tuple(reasons),
            layers=self.layers,
        )

    @staticmethod
    def _rule_reasons(segments: tuple[Segment, ...]) -> list[Reason]:
        best: dict[str, Reason] = {}
        plain_rules: set[str] = set()
        hidden_rules: list[tuple[str, str]] = []
        for segment in segments:
            for hit in match_rules(segment.form):
                if hit.weight <= 0:
                    continue
                if segment.hidden:
                    hidden_rules.append((hit.rule, segment.where))
                else:
                    plain_rules.add(hit.rule)
                excerpt = hit.excerpt + (f" [{hit.note}]" if hit.note else "")
                current = best.get(hit.rule)
                if current is None or hit.weight > current.weight:
                    best[hit.rule] = Reason(
                        layer="rules", rule=hit.rule, where=segment.where, weight=hit.weight, excerpt=excerpt
                    )
        reasons = list(best.values())
        concealed = [(rule, where) for rule, where in hidden_rules if rule not in plain_rules]
        if concealed:
            rule, where = concealed[0]
            reasons.append(
                Reason(
                    layer="rules",
                    rule="obfuscation",
                    where=where,
                    weight=_OBFUSCATION_WEIGHT,
                    excerpt=f"`{rule}` fired only in hidden or encoded text",
                )
            )
        return reasons


def _combine(reasons: list[Reason]) -> float:
    """``1 - prod(1 - w)`` over the strongest weight of each rule: independent evidence adds up."""
    strongest: dict[str, float] = {}
    for reason in reasons:
        if reason.weight > strongest.get(reason.rule, 0.0):
            strongest[reason.rule] = reason.weight
    remaining = 1.0
    for rule in sorted(strongest):
        remaining *= 1.0 - strongest[rule]
    return round(1.0 - remaining, 4)


_DEFAULT: list[Detector] = []


def default_detector() -> Detector:
    """The process-wide rules + normalisation detector (threshold 0.5) that `scan` uses."""
    if not _DEFAULT:
        _DEFAULT.append(Detector())
    return _DEFAULT[0]
