"""The audit chain's verifiers against forged trails that mutation testing showed went untested.

Each test is a forgery (or a clean trail) built with agt-core's own record functions, and asserts
what the verifier promises: the documented error, the record it names (``index``), and the head
it returns. Run against the mutants of ``agt_core._audit_chain`` by
``packages/agent-os/mutation/run_mutation.py core``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from agt_core import (
    GENESIS_HASH,
    AuditIntegrityError,
    AuditWriteError,
    UtcClock,
    audit_record_body,
    audit_record_line,
    canonical_json,
    record_hash,
    sha256_hex,
    verify_audit_lines,
    verify_chain,
)

DECISION = canonical_json({"allowed": False, "effect": "deny", "rule": "block"})


def chain(n: int = 4) -> list[tuple[str, str]]:
    """``n`` stored ``(hash, body)`` entries, linked from the genesis hash."""
    entries = []
    prev = GENESIS_HASH
    for seq in range(n):
        body = audit_record_body(
            seq=seq,
            timestamp=f"2026-12-01T10:00:0{seq}.000000Z",
            prev_hash=prev,
            request_json=canonical_json({"action": {"type": f"a{seq}"}, "agent": {"id": "x"}}),
            decision_json=DECISION,
            approval_json="null",
        )
        prev = record_hash(body)
        entries.append((prev, body))
    return entries


def lines(n: int = 4) -> list[str]:
    return [audit_record_line(body, digest) for digest, body in chain(n)]


def reforged(line: str, edit: Callable[[dict[str, Any]], None]) -> str:
    """`line` with `edit` applied and its hash recomputed: a forger with write access."""
    fields = json.loads(line)
    fields.pop("hash")
    edit(fields)
    return canonical_json({**fields, "hash": sha256_hex(canonical_json(fields))})


def rebodied(entry: tuple[str, str], edit: Callable[[str], str]) -> tuple[str, str]:
    """A stored entry whose body text is edited and whose stored hash is recomputed to match."""
    body = edit(entry[1])
    return record_hash(body), body


# -- verify_chain (what every store's verify() runs) --------------------------------------------


@pytest.mark.parametrize("seq_text", ['"1"', "\u0661", "1.0", "01x"])
def test_a_sequence_number_that_is_not_plain_ascii_digits_is_an_integrity_error(seq_text: str) -> None:
    # Arabic-Indic one, a string, a float, junk: each must be refused as a broken chain, by the
    # fast check as well as the deep one, never read as the number 1 nor crash with ValueError.
    entries = chain(3)
    entries[1] = rebodied(entries[1], lambda body: body.replace('"seq":1,', f'"seq":{seq_text},'))
    for deep in (False, True):
        with pytest.raises(AuditIntegrityError) as info:
            verify_chain(entries, deep=deep)
        assert info.value.index == 1


def test_a_record_missing_a_field_fails_deep_verification_naming_the_fields() -> None:
    entries = chain(2)
    entries[1] = rebodied(entries[1], lambda body: body.replace('"approval":null,', ""))
    with pytest.raises(AuditIntegrityError, match="does not have the audit record's fields") as info:
        verify_chain(entries, deep=True)
    assert info.value.index == 1


def test_verify_chain_returns_the_head_of_the_chain_it_checked() -> None:
    entries = chain(4)
    head = verify_chain(entries)
    assert (head.count, head.seq, head.hash) == (4, 3, entries[-1][0])
    tail = verify_chain(entries[2:], start_seq=2, prev_hash=entries[1][0])
    assert (tail.count, tail.seq, tail.hash) == (2, 3, entries[-1][0])
    assert tuple(verify_chain([], start_seq=7, prev_hash="ab" * 32)) == (0, 6, "ab" * 32)


# -- verify_audit_lines (exported trails) -------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: f.update(note="added by the forger"),  # an extra field, hashed with the rest
        lambda f: f.pop("approval"),  # a field removed
        lambda f: f.pop("timestamp"),
    ],
    ids=["extra", "missing-approval", "missing-timestamp"],
)
def test_an_exported_line_with_other_fields_than_a_record_is_refused(edit: Any) -> None:
    trail = lines(3)
    trail[1] = reforged(trail[1], edit)
    with pytest.raises(AuditIntegrityError, match="does not have the audit record's fields") as info:
        verify_audit_lines(trail, allow_unpinned=True)
    assert info.value.index == 1


def test_a_line_that_is_not_an_object_is_refused() -> None:
    for bad in ("[1, 2]", '"text"', "7"):
        with pytest.raises(AuditIntegrityError, match="does not have the audit record's fields") as info:
            verify_audit_lines([lines(1)[0], bad], allow_unpinned=True)
        assert info.value.index == 1


@pytest.mark.parametrize(
    ("forge", "message"),
    [
        (lambda line: "{not json", "is not valid JSON"),
        (lambda line: json.dumps(json.loads(line), indent=1).replace("\n", ""), "canonical"),
        (lambda line: reforged(line, lambda f: f.update(seq=3)), "sequence number `3`"),
        (lambda line: reforged(line, lambda f: f.update(prev_hash="f" * 64)), "does not link"),
        (lambda line: line.replace('"seq":2', '"seq":2 '), "canonical"),
    ],
    ids=["json", "spaced", "seq", "link", "trailing-space"],
)
def test_each_broken_line_is_named_by_its_sequence_number(forge: Any, message: str) -> None:
    trail = lines(4)
    trail[2] = forge(trail[2])
    with pytest.raises(AuditIntegrityError, match=message) as info:
        verify_audit_lines(trail, allow_unpinned=True)
    assert info.value.index == 2


def test_count_and_head_mismatches_name_where_the_trail_ends() -> None:
    trail = lines(4)
    head = json.loads(trail[-1])["hash"]
    with pytest.raises(
        AuditIntegrityError, match="holds 3 records where 4 were expected; records were cut off"
    ) as info:
        verify_audit_lines(trail[:3], expected_count=4)
    assert info.value.index == 3
    with pytest.raises(
        AuditIntegrityError, match="holds 4 records where 3 were expected; records were added"
    ) as info:
        verify_audit_lines(trail, expected_count=3)
    assert info.value.index == 4
    with pytest.raises(AuditIntegrityError, match="not at the expected head") as info:
        verify_audit_lines(trail[:2], expected_head=head)
    assert info.value.index == 2


def test_verify_audit_lines_returns_the_head_it_reached() -> None:
    trail = lines(4)
    head = json.loads(trail[-1])["hash"]
    end = verify_audit_lines(trail, expected_head=head, expected_count=4)
    assert (end.count, end.seq, end.hash) == (4, 3, head)
    prev = json.loads(trail[2])["prev_hash"]
    tail = verify_audit_lines(trail[2:], start_seq=2, prev_hash=prev, expected_head=head)
    assert (tail.count, tail.seq, tail.hash) == (2, 3, head)
    empty = verify_audit_lines([], expected_count=0, start_seq=5, prev_hash="cd" * 32)
    assert (empty.count, empty.seq, empty.hash) == (0, 4, "cd" * 32)


def test_both_pins_are_checked_when_both_are_given() -> None:
    trail = lines(3)
    head = json.loads(trail[-1])["hash"]
    with pytest.raises(AuditIntegrityError, match="expected head"):
        verify_audit_lines(trail, expected_head="0" * 64, expected_count=3)
    with pytest.raises(AuditIntegrityError, match="were expected"):
        verify_audit_lines(trail, expected_head=head, expected_count=2)


# -- the record layout and the clock ----------------------------------------------------------------


def test_the_exported_line_is_the_canonical_json_of_the_body_with_its_hash() -> None:
    for digest, body in chain(3):
        assert audit_record_line(body, digest) == canonical_json({**json.loads(body), "hash": digest})
        assert record_hash(body) == sha256_hex(body) == digest


def test_utc_clock_formats_the_second_once_and_the_microseconds_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_700_000_000_123_456_789]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    clock = UtcClock()
    assert clock.now() == "2023-11-14T22:13:20.123456Z"
    now[0] += 876_000  # same second: only the fraction changes
    assert clock.now() == "2023-11-14T22:13:20.124332Z"
    now[0] = 1_700_000_001_000_007_000  # the next second, 7 microseconds in
    assert clock.now() == "2023-11-14T22:13:21.000007Z"
    now[0] = 0
    assert clock.now() == "1970-01-01T00:00:00.000000Z"


def test_a_record_holding_a_lone_surrogate_cannot_be_hashed() -> None:
    with pytest.raises(AuditWriteError, match="audit record holds a lone surrogate, which has no UTF-8 form"):
        record_hash('{"note":"\ud800"}')


def test_an_unpinned_trail_is_refused_saying_how_to_pin_it() -> None:
    with pytest.raises(ValueError) as info:
        verify_audit_lines(lines(1))
    assert str(info.value) == (
        "verify_audit_lines needs expected_head= or expected_count= (from a published or signed head) "
        "to detect truncation or a rebuilt chain; pass allow_unpinned=True to check only internal consistency"
    )
