"""Redactor: replace secrets and personal data in requests, decisions and results.

The kernel calls `Redactor.for_audit` just before the audit sink appends, so the record is built,
canonicalised and hashed from the redacted copy: the trail never holds the secret, and its chain
verifies like any other. The policy has already judged the request as made (a rule can deny on
the secret itself); the record says that redaction happened under the request's ``redaction``
key: ``{"count": N, "detectors": {"aws_access_key": 1, ...}}``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from agent_os.redaction._detectors import DETECTORS, find_spans, secret_key_kind
from agt_core import REDACTION_DETECTORS, Redaction, RedactionDetector, RequestError

if TYPE_CHECKING:
    from agt_core import ApprovalRecord, Decision

__all__ = ["REDACTION_KEY", "Redactor"]

REDACTION_KEY = "redaction"
"""Key of the audited request that reports what was redacted (present only when something was)."""

_DEFAULT_FIELDS = ("args", "context", "result")
_MAX_DEPTH = 64


class Redactor:
    """Finds and replaces secrets (see `agent_os.redaction.DETECTORS`) in text and JSON data.

    Args:
        detectors: Which detectors run (default: every one).
        fields: Which parts of a request are redacted for the audit: ``args``, ``agent``,
            ``context``, ``result``, or a path below one (``args.body``).
        replacement: ``label`` writes ``[REDACTED:<detector>]``; ``hash`` writes
            ``[REDACTED:<detector>:<first 12 hex of the value's SHA-256>]``, which lets records
            about the same secret be matched up, and lets anyone confirm a guess of a
            low-entropy value (a phone number, a card number): prefer ``label`` for those.
        results: Also redact tool results before the caller (the model) sees them.
    """

    __slots__ = ("_fields_key", "_paths", "_text_detectors", "detectors", "fields", "replacement", "results")

    def __init__(
        self,
        *,
        detectors: Iterable[RedactionDetector] = DETECTORS,
        fields: Iterable[str] = _DEFAULT_FIELDS,
        replacement: Literal["label", "hash"] = "label",
        results: bool = False,
    ) -> None:
        # Validated by the same model a policy's `redaction:` block is.
        checked = Redaction(
            detectors=tuple(detectors), fields=tuple(fields), replacement=replacement, results=results
        )
        self.detectors: tuple[RedactionDetector, ...] = tuple(
            d for d in REDACTION_DETECTORS if d in checked.detectors
        )
        self.fields: tuple[str, ...] = tuple(dict.fromkeys(checked.fields))
        self.replacement = checked.replacement
        self.results = checked.results
        self._text_detectors = tuple(d for d in self.detectors if d != "secret_field")
        self._fields_key = "secret_field" in self.detectors
        self._paths = tuple(tuple(f.split(".")) for f in self.fields)

    @classmethod
    def from_policy(cls, redaction: Redaction) -> Redactor:
        """The redactor a policy's ``redaction:`` block describes."""
        return cls(
            detectors=redaction.detectors,
            fields=redaction.fields,
            replacement=redaction.replacement,
            results=redaction.results,
        )

    @classmethod
    def combine(cls, redactors: Sequence[Redactor]) -> Redactor | None:
        """One redactor doing what all of `redactors` do: every detector and field, results if any.

        The replacement form is the first one's. None when `redactors` is empty.
        """
        if not redactors:
            return None
        if len(redactors) == 1:
            return redactors[0]
        return cls(
            detectors=[d for r in redactors for d in r.detectors],
            fields=[f for r in redactors for f in r.fields],
            replacement=redactors[0].replacement,
            results=any(r.results for r in redactors),
        )

    # -- text and data -----------------------------------------------------------------------

    def _token(self, detector: str, secret: str) -> str:
        if self.replacement == "hash":
            digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:12]
            return f"[REDACTED:{detector}:{digest}]"
        return f"[REDACTED:{detector}]"

    def redact_text(self, text: str, counts: Counter[str] | None = None) -> str:
        """`text` with every secret replaced; adds what it replaced to `counts` when given."""
        spans = find_spans(text, self._text_detectors)
        if not spans:
            return text
        parts: list[str] = []
        at = 0
        for span in spans:
            parts.append(text[at : span.start])
            parts.append(self._token(span.detector, text[span.start : span.end]))
            at = span.end
            if counts is not None:
                counts[span.detector] += 1
        parts.append(text[at:])
        return "".join(parts)

    def redact_data(self, value: Any, counts: Counter[str] | None = None) -> Any:
        """JSON data (dicts, lists, strings, numbers) with every secret replaced; the input is not changed."""
        return self._data(value, counts if counts is not None else Counter(), 0, strict=False)

    def _data(self, value: Any, counts: Counter[str], depth: int, *, strict: bool) -> Any:
        if isinstance(value, str):
            return self.redact_text(value, counts)
        if value is None or isinstance(value, bool | float):
            return value
        if isinstance(value, int):
            return self._number(value, counts)
        if depth >= _MAX_DEPTH:
            raise RequestError(f"value nested deeper than {_MAX_DEPTH} levels cannot be scanned for secrets")
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for original, item in value.items():
                key = original
                if isinstance(original, str):
                    key = self.redact_text(original, counts)
                    while key in out:  # two keys redacted to the same text: keep both
                        key += "#"
                    if self._fields_key and secret_key_kind(original) and _is_secret_scalar(item):
                        counts["secret_field"] += 1
                        out[key] = self._token("secret_field", str(item))
                        continue
                elif strict:
                    raise RequestError(
                        f"mapping key of type `{type(key).__name__}` cannot be scanned for secrets"
                    )
                out[key] = self._data(item, counts, depth + 1, strict=strict)
            return out
        if isinstance(value, list):
            return [self._data(item, counts, depth + 1, strict=strict) for item in value]
        if isinstance(value, tuple):
            return tuple(self._data(item, counts, depth + 1, strict=strict) for item in value)
        if strict:
            raise RequestError(f"a value of type `{type(value).__name__}` cannot be scanned for secrets")
        return value

    def _number(self, value: int, counts: Counter[str]) -> Any:
        # A card or phone number given as a JSON number: checked as its digits.
        if value < 10_000_000 and value > -10_000_000:
            return value
        text = str(value)
        spans = find_spans(
            text, tuple(d for d in self._text_detectors if d in ("credit_card", "phone_number"))
        )
        if spans and spans[0].start == 0 and spans[0].end == len(text):
            counts[spans[0].detector] += 1
            return self._token(spans[0].detector, text)
        return value

    # -- requests, decisions, results ------------------------------------------------------

    def redact_request(self, request: Mapping[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
        """The request with the configured fields redacted, and what was replaced.

        When anything was, the copy carries ``redaction: {"count": N, "detectors": {...}}``.
        """
        counts: Counter[str] = Counter()
        out = dict(request)
        out.pop(REDACTION_KEY, None)  # only the kernel says what was redacted
        for path in self._paths:
            if path[0] in out:
                out[path[0]] = self._at(out[path[0]], path[1:], counts)
        if counts:
            out[REDACTION_KEY] = {"count": sum(counts.values()), "detectors": dict(sorted(counts.items()))}
        return out, counts

    def _at(self, value: Any, rest: tuple[str, ...], counts: Counter[str]) -> Any:
        if not rest:
            return self._data(value, counts, 0, strict=False)
        if not isinstance(value, Mapping) or rest[0] not in value:
            return value
        out = dict(value)
        out[rest[0]] = self._at(value[rest[0]], rest[1:], counts)
        return out

    def for_audit(
        self, request: Mapping[str, Any], decision: Decision, approval: ApprovalRecord | None
    ) -> tuple[dict[str, Any], Decision, ApprovalRecord | None]:
        """What the audit sink stores: the request, the decision's messages and the approval reason redacted."""
        redacted, counts = self.redact_request(request)
        message = self.redact_text(decision.message, counts) if decision.message else decision.message
        errors = tuple(
            error.model_copy(update={"message": self.redact_text(error.message)}) for error in decision.errors
        )
        if message != decision.message or errors != decision.errors:
            decision = decision.model_copy(update={"message": message, "errors": errors})
        if approval is not None and approval.reason:
            reason = self.redact_text(approval.reason)
            if reason != approval.reason:
                approval = approval.model_copy(update={"reason": reason})
        return redacted, decision, approval

    def redact_result(self, result: Any) -> tuple[Any, Counter[str]]:
        """A tool's result with secrets replaced in its strings, keeping its shape and container types.

        Raises:
            RequestError: when the result holds an object that cannot be scanned (anything but
                strings, numbers, booleans, None, and dicts, lists and tuples of those): it is
                withheld rather than passed on unscanned.
        """
        counts: Counter[str] = Counter()
        return self._data(result, counts, 0, strict=True), counts

    def __repr__(self) -> str:
        return (
            f"Redactor(detectors={len(self.detectors)}, fields={list(self.fields)}, "
            f"replacement={self.replacement!r}, results={self.results})"
        )


def _is_secret_scalar(value: Any) -> bool:
    return (isinstance(value, str) and bool(value) and not value.startswith("[REDACTED:")) or (
        isinstance(value, int) and not isinstance(value, bool)
    )
