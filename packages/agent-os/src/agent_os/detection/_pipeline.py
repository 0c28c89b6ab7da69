"""The detector in the governed-call pipeline: an enricher that reports, a guard that refuses.

Which texts are read depends on the stage: a ``post_tool`` request's ``result`` (what the tool
returned, before the model sees it), every other stage's ``args`` (what the agent is about to
pass on). Every string is scanned on its own, map keys included; the request's verdict is the
highest-scoring one, with the path where it was found.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from agent_os.detection._detector import Detector, default_detector
from agent_os.detection._models import Detection, DetectionError

__all__ = ["DetectionEnricher", "DetectionGuard", "scan_request"]

_ALL_STAGES = ("pre_input", "pre_tool", "post_tool", "pre_output")
_MAX_STRINGS = 4096
_MAX_DEPTH = 64


def strings_in(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value (keys included) with its path; too deep raises `DetectionError`."""
    if depth > _MAX_DEPTH:
        raise DetectionError(f"`{where}` nests deeper than {_MAX_DEPTH} levels; cannot be scanned")
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield f"{where}.<key>", key
            yield from strings_in(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{where}[{index}]", depth + 1)


def _lookup(request: Mapping[str, Any], path: str) -> Any:
    value: Any = request
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def scan_request(
    request: Mapping[str, Any], detector: Detector | None = None, fields: Sequence[str] | None = None
) -> tuple[Detection | None, str | None]:
    """The highest-scoring verdict among the request's texts, and where it was found.

    Args:
        request: The request as the kernel builds it.
        detector: The detector (default: rules + normalisation, threshold 0.5).
        fields: Dotted paths to read (``args.text``, ``result``); default ``result`` at
            ``post_tool``, else ``args``. A listed path that is absent is skipped.

    Returns:
        ``(None, None)`` when the request holds no text to scan.

    Raises:
        DetectionError: When a text cannot be scanned (too long, too many, nested too deep).
    """
    detector = detector or default_detector()
    if fields is None:
        fields = ("result",) if request.get("stage") == "post_tool" else ("args",)
    best: tuple[Detection, str] | None = None
    count = 0
    for field in fields:
        for where, text in strings_in(_lookup(request, field), field):
            count += 1
            if count > _MAX_STRINGS:
                raise DetectionError(
                    f"the request holds more than {_MAX_STRINGS} strings; cannot scan them all"
                )
            detection = detector.scan(text)
            if best is None or detection.score > best[0].score:
                best = (detection, where)
    return (None, None) if best is None else best


class DetectionEnricher:
    """Writes the verdict to ``context.detection`` for policy conditions to read.

    ``context.detection`` holds ``score``, ``is_injection``, ``threshold``, ``rules`` (ids that
    fired), ``reasons`` (one line each) and ``field`` (where the top score was found; null when
    the request held no text). A policy then says, e.g.::

        condition: "context.detection.score > 0.8"

    The enricher overwrites any ``context.detection`` the caller passed, so a caller cannot
    clear itself. A text that cannot be scanned raises, which refuses the call.

    Args:
        detector: The detector (default: rules + normalisation).
        fields: Dotted paths to read (see `scan_request`).
        stages: The stages to scan at; other stages get no ``context.detection``.
        name: The enricher's name in refusals and logs.
    """

    def __init__(
        self,
        detector: Detector | None = None,
        *,
        fields: Sequence[str] | None = None,
        stages: Sequence[str] = _ALL_STAGES,
        name: str = "injection-detection",
    ) -> None:
        self.detector = detector or default_detector()
        self.fields = tuple(fields) if fields is not None else None
        self.stages = frozenset(stages)
        self.name = name

    def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]] | None:
        """``{"context": {"detection": {...}}}`` for a request at one of the stages."""
        if request.get("stage", "pre_tool") not in self.stages:
            return None
        detection, where = scan_request(request, self.detector, self.fields)
        if detection is None:
            summary: dict[str, Any] = {
                "score": 0.0,
                "is_injection": False,
                "threshold": self.detector.threshold,
                "rules": [],
                "reasons": [],
            }
        else:
            summary = detection.summary()
        summary["field"] = where
        return {"context": {"detection": summary}}


class DetectionGuard:
    """Refuses a call whose texts score at or above the threshold (``refused_by="guard:<name>"``).

    It scans the request itself rather than trusting ``context.detection``, which a caller could
    have set. A text that cannot be scanned raises, which refuses the call.

    Args:
        detector: The detector (default: rules + normalisation, threshold 0.5).
        fields: Dotted paths to read (see `scan_request`).
        stages: The stages it checks.
        name: The guard's name.
    """

    def __init__(
        self,
        detector: Detector | None = None,
        *,
        fields: Sequence[str] | None = None,
        stages: Sequence[str] = _ALL_STAGES,
        name: str = "injection-detection",
    ) -> None:
        self.detector = detector or default_detector()
        self.fields = tuple(fields) if fields is not None else None
        self.stages = frozenset(stages)
        self.name = name

    def check(self, request: Mapping[str, Any]) -> str | None:
        """None when clean, else the reason: where, the score and the rules that fired."""
        if request.get("stage", "pre_tool") not in self.stages:
            return None
        detection, where = scan_request(request, self.detector, self.fields)
        if detection is None or not detection.is_injection:
            return None
        fired = ", ".join(detection.rules) or "classifier"
        return (
            f"prompt injection detected in `{where}` (score {detection.score:.2f} >= "
            f"{detection.threshold:.2f}): {fired}"
        )
