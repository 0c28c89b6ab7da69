"""What comes back from an MCP server, checked before the model sees it (the ``post_tool`` stage).

Two checks, in this order, on the result of every allowed ``tools/call`` and ``resources/read``:

1. **Injected instructions** (OWASP ASI01 Agent Goal Hijack, ASI06 Memory and Context
   Poisoning): every text of the result (content items, structured content, embedded resource
   text; binary ``blob``/``data`` fields are not text and are skipped) is scanned by
   `agent_os.detection`. What happens to a result that holds one is the gateway's
   ``results=`` mode: ``refuse`` withholds the whole result (the client gets an error naming the
   rules that fired), ``replace`` swaps each offending text for a notice and passes the rest on,
   ``off`` passes it through. Either way the finding is audited as a refusal by
   ``mcp:result-scan`` (a ``post_tool`` record whose ``context.mcp.result_scan`` holds the
   score and rules). A text too long to scan is not cleared: it is treated as an injection.
2. **Secrets**: when the policy's ``redaction:`` block (or the gateway's ``redaction=``) says
   ``results: true``, secrets in every text of the result are replaced before it is passed on.

``prompts/get`` results are not scanned for injection: a prompt is instructions by design.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agent_os.detection import Detection, Detector
    from agent_os.redaction import Redactor
    from agt_core import Enforcement

__all__ = ["ResultMode", "ResultReview", "ResultScanner"]

ResultMode = Literal["refuse", "replace", "off"]

SCANNED_METHODS = frozenset({"tools/call", "resources/read"})
_BINARY_KEYS = frozenset({"blob", "data"})
_SKIPPED_KEYS = frozenset({"_meta", "mimeType", "type", "uri", "annotations", "resultType"})
_MAX_DEPTH = 64


@dataclass(slots=True)
class ResultReview:
    """What the scanner made of one result.

    Attributes:
        result: The result to pass on (redacted, texts replaced), or None to withhold it.
        message: Why it was withheld or changed (empty when nothing was found).
        findings: Where each injection was found and what fired.
        redacted: Detector -> how many secrets were replaced.
        score: The highest injection score among the result's texts.
        rules: The detection rules that fired.
        outcome: The audited refusal recording the finding (None when nothing was found).
    """

    result: dict[str, Any] | None
    message: str = ""
    findings: list[str] = field(default_factory=list)
    redacted: dict[str, int] = field(default_factory=dict)
    score: float = 0.0
    rules: list[str] = field(default_factory=list)
    outcome: Enforcement | None = None

    def summary(self) -> dict[str, Any]:
        """JSON data for the audit record's ``context.mcp.result_scan``."""
        return {
            "score": self.score,
            "rules": self.rules,
            "findings": self.findings[:16],
            "redacted": self.redacted,
        }


class ResultScanner:
    """Scans MCP results for injected instructions and redacts secrets (see the module docstring).

    Args:
        mode: ``refuse`` (default), ``replace`` or ``off`` for results with injected instructions.
        detector: The `agent_os.detection.Detector` (default: rules + normalisation, threshold 0.5).
        redactor: Redacts secrets from results when set (the kernel's, when its redaction says
            ``results: true``).
    """

    def __init__(
        self, mode: ResultMode = "refuse", detector: Detector | None = None, redactor: Redactor | None = None
    ) -> None:
        if mode not in ("refuse", "replace", "off"):
            raise ValueError(f"results= must be `refuse`, `replace` or `off`, not `{mode}`")
        self.mode: ResultMode = mode
        self.redactor = redactor
        self._detector = detector

    @property
    def active(self) -> bool:
        """Whether results are looked at at all."""
        return self.mode != "off" or self.redactor is not None

    def _scan(self, text: str) -> Detection:
        if self._detector is None:
            from agent_os.detection import Detector

            self._detector = Detector()
        return self._detector.scan(text)

    def review(self, method: str, result: Mapping[str, Any]) -> ResultReview:
        """Check one result (JSON data as on the wire, ``_meta`` included and left untouched)."""
        review = ResultReview(result=dict(result))
        if self.mode != "off" and method in SCANNED_METHODS:
            data = self._injections(dict(result), review, "result", 0)
            if review.findings:
                review.message = (
                    f"the result holds instructions aimed at the model ({', '.join(review.rules)}; score "
                    f"{review.score:.2f})"
                )
                review.result = None if self.mode == "refuse" else data
        if review.result is not None and self.redactor is not None:
            from collections import Counter

            counts: Counter[str] = Counter()
            meta = review.result.pop("_meta", None)
            review.result = self.redactor.redact_data(review.result, counts)
            if meta is not None:
                review.result["_meta"] = meta
            review.redacted = dict(sorted(counts.items()))
        return review

    def _injections(self, value: Any, review: ResultReview, where: str, depth: int) -> Any:
        if isinstance(value, str):
            return self._text(value, review, where)
        if depth > _MAX_DEPTH:
            review.findings.append(f"{where}: too-deep nesting (not scanned)")
            _add(review, ["unscannable"])
            review.score = 1.0
            return None
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key in _SKIPPED_KEYS or (key in _BINARY_KEYS and isinstance(item, str)):
                    out[key] = item
                else:
                    out[key] = self._injections(item, review, f"{where}.{key}", depth + 1)
            return out
        if isinstance(value, list):
            return [
                self._injections(item, review, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)
            ]
        return value

    def _text(self, text: str, review: ResultReview, where: str) -> str:
        from agent_os.detection import DetectionError

        try:
            detection = self._scan(text)
        except DetectionError as exc:  # not read in full: not cleared
            review.findings.append(f"{where}: unscannable ({exc})")
            _add(review, ["unscannable"])
            review.score = 1.0
            return _notice(["unscannable"])
        review.score = max(review.score, detection.score)
        if not detection.is_injection:
            return text
        rules = list(detection.rules) or ["classifier"]
        review.findings.append(f"{where}: {' '.join(rules)} ({detection.score:.2f})")
        _add(review, rules)
        return _notice(rules)


def _add(review: ResultReview, rules: list[str]) -> None:
    review.rules.extend(r for r in rules if r not in review.rules)


def _notice(rules: list[str]) -> str:
    fired = ", ".join(rules)
    return (
        f"[withheld by the governance gateway: this text contains instructions aimed at the model "
        f"({fired}); it was not passed on]"
    )
