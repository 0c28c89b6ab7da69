"""The audit record's layout, hash and verification: one definition for every store and verifier.

A record is the RFC 8785 canonical JSON of six fields::

    {"approval":…,"decision":…,"prev_hash":"<64 hex>","request":…,"seq":N,"timestamp":"…"}

Its ``hash`` is the lowercase hex SHA-256 of those UTF-8 bytes, and becomes the next record's
``prev_hash`` (64 zeros before the first record). An exported line is the same object with
``hash`` added (canonical key order puts it between ``decision`` and ``prev_hash``). Because the
hash covers the whole record, the decision included, editing any field of any record breaks
verification at that record; removing or reordering records breaks the sequence or the links;
cutting records off the end is only detectable against a head published elsewhere (a signed
checkpoint), which is why `verify_audit_lines` asks for one.

The in-memory `agent_os.AuditLog` and agent-hypervisor's durable stores both build records with
`audit_record_body` and check them with `verify_chain`, so a trail written by one verifies with
any other (and with the other languages' SDKs, which follow this layout byte for byte).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import NamedTuple

from agt_core._canonical import canonical_json
from agt_core._errors import AuditIntegrityError, AuditWriteError

__all__ = [
    "AUDIT_RECORD_FIELDS",
    "GENESIS_HASH",
    "ChainHead",
    "UtcClock",
    "audit_record_body",
    "audit_record_line",
    "record_hash",
    "verify_audit_lines",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first record of a chain."""

AUDIT_RECORD_FIELDS = frozenset({"approval", "decision", "prev_hash", "request", "seq", "timestamp"})
"""The fields of a record body; an exported line also has ``hash``."""

# In a body, neither the approval nor the decision has a `prev_hash` key, and a quote inside a JSON
# string is escaped, so the first `"prev_hash":"` is the record's own; `seq` and `timestamp` come last.
_PREV_KEY = '"prev_hash":"'
_SEQ_KEY = ',"seq":'


class ChainHead(NamedTuple):
    """Where a verified chain ends: publish or sign it to pin everything before it.

    Attributes:
        count: Records verified.
        seq: Sequence number of the last record (``start_seq - 1`` when there were none).
        hash: Hash of the last record (the starting ``prev_hash`` when there were none).
    """

    count: int  # type: ignore[assignment]  # shadows tuple.count on purpose: the obvious name
    seq: int
    hash: str


class UtcClock:
    """UTC timestamps with microseconds (``2026-12-01T13:49:20.123456Z``); formats the date once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        """The current UTC time as an ISO 8601 string with microseconds and ``Z``."""
        micros = time.time_ns() // 1000
        second, micro = divmod(micros, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{micro:06d}Z"


def audit_record_body(
    *, seq: int, timestamp: str, prev_hash: str, request_json: str, decision_json: str, approval_json: str
) -> str:
    """The canonical JSON of one record from the canonical JSON of its parts (keys in RFC 8785 order).

    `request_json`, `decision_json` and `approval_json` (``"null"`` for none) must already be
    canonical JSON; the result then is too. `timestamp` must be ASCII without quotes or
    backslashes (as `UtcClock` writes it) and `prev_hash` 64 lowercase hex digits.
    """
    return (
        f'{{"approval":{approval_json},"decision":{decision_json},"prev_hash":"{prev_hash}",'
        f'"request":{request_json},"seq":{seq},"timestamp":"{timestamp}"}}'
    )


def record_hash(body: str) -> str:
    """The record's hash: lowercase hex SHA-256 of its UTF-8 bytes.

    Raises:
        AuditWriteError: if the text holds a lone surrogate (no UTF-8 form).
    """
    try:
        data = body.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AuditWriteError("audit record holds a lone surrogate, which has no UTF-8 form") from exc
    return hashlib.sha256(data).hexdigest()


def audit_record_line(body: str, digest: str) -> str:
    """The exported line: the record with its ``hash`` in canonical key order (before ``prev_hash``)."""
    at = body.find(_PREV_KEY) - 1
    return f'{body[:at]},"hash":"{digest}"{body[at:]}'


def _parse_fast(body: str) -> tuple[object, object]:
    at = body.find(_PREV_KEY)
    prev = body[at + len(_PREV_KEY) : at + len(_PREV_KEY) + 64] if at >= 0 else None
    seq_at = body.rfind(_SEQ_KEY)
    seq: object = None
    if seq_at >= 0:
        end = body.find(",", seq_at + len(_SEQ_KEY))
        text = body[seq_at + len(_SEQ_KEY) : end]
        seq = int(text) if text.isascii() and text.isdigit() else text
    return seq, prev


def _parse_deep(body: str, seq: int) -> tuple[object, object]:
    try:
        fields = json.loads(body)
    except ValueError as exc:
        raise AuditIntegrityError(f"record {seq} is not valid JSON", index=seq) from exc
    if not isinstance(fields, dict) or set(fields) != AUDIT_RECORD_FIELDS:
        raise AuditIntegrityError(f"record {seq} does not have the audit record's fields", index=seq)
    if canonical_json(fields) != body:
        raise AuditIntegrityError(f"record {seq} is not in canonical form", index=seq)
    return fields.get("seq"), fields.get("prev_hash")


def verify_chain(
    entries: Iterable[tuple[str, str]],
    *,
    start_seq: int = 0,
    prev_hash: str = GENESIS_HASH,
    deep: bool = False,
) -> ChainHead:
    """Check stored ``(hash, body)`` pairs, oldest first.

    Each body must hash to its hash, carry the next sequence number and link to the record before it.

    Args:
        entries: The records as stored: their hash and their body (without ``hash``).
        start_seq: Sequence number of the first entry.
        prev_hash: Hash the first entry must link to.
        deep: Also parse each body and check it is canonical JSON with exactly the record's fields
            (the fast check already detects any change to a record; `deep` also catches a writer
            that stored non-canonical text, which other languages' verifiers would reject).

    Returns:
        The head of the verified chain; compare it with a published head to detect truncation.

    Raises:
        AuditIntegrityError: naming the first record (by seq) that does not verify.
    """
    sha256 = hashlib.sha256
    seq, prev, count = start_seq, prev_hash, 0
    for digest, body in entries:
        try:
            data = body.encode("utf-8")
        except (UnicodeEncodeError, AttributeError) as exc:
            raise AuditIntegrityError(f"record {seq} is not valid UTF-8 text", index=seq) from exc
        if sha256(data).hexdigest() != digest:
            raise AuditIntegrityError(f"record {seq} does not match its hash", index=seq)
        record_seq, record_prev = _parse_deep(body, seq) if deep else _parse_fast(body)
        if record_seq != seq:
            raise AuditIntegrityError(
                f"record {seq} carries sequence number `{record_seq}`; records were removed or reordered",
                index=seq,
            )
        if record_prev != prev:
            raise AuditIntegrityError(
                f"record {seq} does not link to the record before it; the trail was altered", index=seq
            )
        prev = digest
        seq += 1
        count += 1
    return ChainHead(count, seq - 1, prev)


def verify_audit_lines(
    lines: Iterable[str],
    *,
    expected_head: str | None = None,
    expected_count: int | None = None,
    start_seq: int = 0,
    prev_hash: str = GENESIS_HASH,
    allow_unpinned: bool = False,
) -> ChainHead:
    """Verify an exported audit trail (lines as `AuditLog.lines` or an audit sink writes them).

    Each line must be canonical JSON whose ``hash`` is the SHA-256 of the canonical JSON of its
    other fields, carry the next sequence number and name the previous line's hash. A chain alone
    cannot show that nothing was cut off its end, or that it was not rebuilt from scratch by
    someone who rewrote every record: only a head published elsewhere (a signed checkpoint, the
    log's ``head``) can. So the caller says what the trail must end at.

    Args:
        lines: The records, oldest first (``str``; trailing newlines are ignored).
        expected_head: Hash the last record must have (from a published or signed head).
        expected_count: How many records the trail must hold.
        start_seq: Sequence number of the first line (0 for a complete trail).
        prev_hash: Hash the first line must link to (64 zeros for a complete trail; the log's
            ``anchor`` hash for a tail).
        allow_unpinned: Accept a trail with neither `expected_head` nor `expected_count`. This only
            proves the lines are internally consistent, not that the trail is complete or genuine.

    Returns:
        The head of the verified trail.

    Raises:
        AuditIntegrityError: naming the first record (by seq) that does not verify, or saying how
            the trail differs from the expected head or count.
        ValueError: when neither `expected_head` nor `expected_count` is given and `allow_unpinned`
            is False.
    """
    if expected_head is None and expected_count is None and not allow_unpinned:
        raise ValueError(
            "verify_audit_lines needs expected_head= or expected_count= (from a published or signed "
            "head) to detect truncation or a rebuilt chain; pass allow_unpinned=True to check only "
            "internal consistency"
        )
    seq, prev, count = start_seq, prev_hash, 0
    for line in lines:
        if not isinstance(line, str):
            raise AuditIntegrityError(
                f"record {seq} is a `{type(line).__name__}`, not text; decode the trail as UTF-8 first",
                index=seq,
            )
        text = line.rstrip("\n")
        try:
            fields = json.loads(text)
        except ValueError as exc:
            raise AuditIntegrityError(f"record {seq} is not valid JSON", index=seq) from exc
        if not isinstance(fields, dict) or set(fields) != AUDIT_RECORD_FIELDS | {"hash"}:
            raise AuditIntegrityError(f"record {seq} does not have the audit record's fields", index=seq)
        try:
            canonical = canonical_json(fields)
        except Exception as exc:
            raise AuditIntegrityError(f"record {seq} has no canonical form: {exc}", index=seq) from exc
        if canonical != text:
            raise AuditIntegrityError(f"record {seq} is not in canonical form", index=seq)
        digest = fields.pop("hash")
        body = canonical_json(fields)
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != digest:
            raise AuditIntegrityError(f"record {seq} does not match its hash", index=seq)
        if fields["seq"] != seq or type(fields["seq"]) is not int:
            raise AuditIntegrityError(
                f"record {seq} carries sequence number `{fields['seq']}`; records were removed or reordered",
                index=seq,
            )
        if fields["prev_hash"] != prev:
            raise AuditIntegrityError(
                f"record {seq} does not link to the record before it; the trail was altered", index=seq
            )
        prev = digest
        seq += 1
        count += 1
    if expected_count is not None and count != expected_count:
        raise AuditIntegrityError(
            f"the trail holds {count} records where {expected_count} were expected; "
            + ("records were cut off its end" if count < expected_count else "records were added"),
            index=seq,
        )
    if expected_head is not None and prev != expected_head:
        raise AuditIntegrityError(
            f"the trail ends at `{prev}`, not at the expected head `{expected_head}`; it was truncated, "
            "extended or rebuilt",
            index=seq,
        )
    return ChainHead(count, seq - 1, prev)
