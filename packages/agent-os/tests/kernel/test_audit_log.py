"""The audit log is a verifiable hash chain; every edit, removal or reordering is detected."""

from __future__ import annotations

import json
import threading

import pytest

from agent_os import AuditLog
from agt_core import (
    ApprovalRecord,
    AuditError,
    AuditIntegrityError,
    Decision,
    MatchedRule,
    canonical_json,
    sha256_hex,
)

DENY = Decision(
    effect="deny",
    allowed=False,
    rule="block-destructive",
    policy="production-policy",
    matched=(MatchedRule(policy="production-policy", rule="block-destructive", action="deny"),),
)
ALLOW = Decision(effect="allow", allowed=True, policy="production-policy")


def request(action: str) -> dict[str, object]:
    return {
        "action": {"type": action, "tool": "t"},
        "args": {"action": action},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }


def filled(n: int = 5) -> AuditLog:
    log = AuditLog()
    for i in range(n):
        log.append(request("drop" if i % 2 else "read"), DENY if i % 2 else ALLOW)
    return log


def test_records_chain_and_verify() -> None:
    log = filled()
    assert log.verify() == 5
    records = log.records()
    assert [r.seq for r in records] == [0, 1, 2, 3, 4]
    assert records[0].prev_hash == "0" * 64
    for before, after in zip(records, records[1:], strict=False):
        assert after.prev_hash == before.hash
    assert records[1].decision == DENY
    assert log.head == (4, records[-1].hash)


def test_hash_covers_canonical_json_of_every_field() -> None:
    log = filled(1)
    line = log.lines()[0]
    data = json.loads(line)
    digest = data.pop("hash")
    assert sha256_hex(canonical_json(data)) == digest
    assert set(data) == {"approval", "decision", "prev_hash", "request", "seq", "timestamp"}


def _tamper(log: AuditLog, index: int, edit: object) -> None:
    digest, body = log._entries[index]
    data = json.loads(body)
    edit(data)  # type: ignore[operator]
    new_body = canonical_json(data)
    log._entries[index] = (digest, new_body)


def test_editing_the_decision_is_detected() -> None:
    # The peer does not hash its decision field; here it is covered like everything else.
    log = filled()

    def flip(data: dict[str, object]) -> None:
        decision = data["decision"]
        assert isinstance(decision, dict)
        decision["effect"] = "allow"
        decision["allowed"] = True

    _tamper(log, 1, flip)
    with pytest.raises(AuditIntegrityError) as info:
        log.verify()
    assert info.value.index == 1


def test_rehashing_an_edited_record_breaks_the_next_link() -> None:
    log = filled()
    _, body = log._entries[2]
    data = json.loads(body)
    data["request"]["args"]["action"] = "forged"
    new_body = canonical_json(data)
    log._entries[2] = (sha256_hex(new_body), new_body)
    with pytest.raises(AuditIntegrityError, match="does not link") as info:
        log.verify()
    assert info.value.index == 3


def test_removed_and_reordered_records_are_detected() -> None:
    log = filled()
    del log._entries[2]
    with pytest.raises(AuditIntegrityError) as info:
        log.verify()
    assert info.value.index == 2

    log = filled()
    log._entries[1], log._entries[2] = log._entries[2], log._entries[1]
    with pytest.raises(AuditIntegrityError):
        log.verify()


def test_truncating_the_newest_record_is_detected_against_the_head() -> None:
    log = filled()
    log._entries.pop()
    with pytest.raises(AuditIntegrityError, match="head"):
        log.verify()


def test_non_canonical_body_is_detected_even_with_a_matching_hash() -> None:
    log = filled(2)
    _, body = log._entries[1]
    spaced = json.dumps(json.loads(body), indent=1)
    log._entries[1] = (sha256_hex(spaced), spaced)
    with pytest.raises(AuditIntegrityError, match="canonical"):
        log.verify(deep=True)


def test_retention_is_bounded_and_the_tail_still_verifies() -> None:
    log = AuditLog(max_records=3)
    for i in range(10):
        log.append(request(f"a{i}"), ALLOW)
    assert len(log) == 3
    assert [r.seq for r in log.records()] == [7, 8, 9]
    assert log.anchor[0] == 7
    assert log.verify() == 3
    # The anchor pins the evicted prefix: a forged first retained record is still caught.
    _tamper(log, 0, lambda d: d["request"]["args"].update(x=1))
    with pytest.raises(AuditIntegrityError):
        log.verify()


def test_approval_is_recorded_and_hashed() -> None:
    log = AuditLog()
    approval = ApprovalRecord(
        approved=True,
        approver="alice",
        decided_at="2026-11-25T10:00:00.000000Z",
        request_hash="sha256:" + "ab" * 32,
        handler="CallbackApproval",
    )
    log.append(request("send_email"), ALLOW, approval)
    assert log.records()[0].approval == approval
    _tamper(log, 0, lambda d: d["approval"].update(approver="mallory"))
    with pytest.raises(AuditIntegrityError):
        log.verify()


def test_sink_receives_lines_and_its_failure_refuses_the_append() -> None:
    lines: list[str] = []
    log = AuditLog(sink=lines.append)
    log.append(request("read"), ALLOW)
    assert lines == log.lines()

    def broken(_: str) -> None:
        raise OSError("disk full")

    log = AuditLog(sink=broken)
    with pytest.raises(AuditError, match="disk full"):
        log.append(request("read"), ALLOW)
    assert len(log) == 0
    assert log.verify() == 0


def test_unserialisable_request_is_an_audit_error() -> None:
    with pytest.raises(AuditError):
        AuditLog().append({"x": float("nan")}, ALLOW)


def test_concurrent_appends_form_one_chain() -> None:
    log = AuditLog()

    def worker(n: int) -> None:
        for i in range(200):
            log.append(request(f"w{n}-{i}"), ALLOW)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.verify() == 1600
    assert [r.seq for r in log.records()] == list(range(1600))


def test_fast_and_deep_verification_agree_on_every_single_field_edit() -> None:
    log = filled(4)
    clean = list(log._entries)
    for index in range(4):
        body = clean[index][1]
        for position in range(0, len(body), 7):
            forged = body[:position] + ("X" if body[position] != "X" else "Y") + body[position + 1 :]
            log._entries[index] = (clean[index][0], forged)
            for deep in (False, True):
                with pytest.raises(AuditIntegrityError):
                    log.verify(deep=deep)
        log._entries[index] = clean[index]
    assert log.verify() == log.verify(deep=True) == 4


def test_a_request_field_named_like_the_chain_fields_cannot_confuse_verification() -> None:
    log = AuditLog()
    sneaky = request("read")
    sneaky["args"] = {"prev_hash": "0" * 64, "seq": 0, "note": '","prev_hash":"' + "0" * 64}
    for _ in range(3):
        log.append(sneaky, ALLOW)
    assert log.verify() == log.verify(deep=True) == 3
    _, body = log._entries[1]
    data = json.loads(body)
    data["prev_hash"] = "f" * 64
    new_body = canonical_json(data)
    log._entries[1] = (sha256_hex(new_body), new_body)
    for deep in (False, True):
        with pytest.raises(AuditIntegrityError) as info:
            log.verify(deep=deep)
        assert info.value.index == 1


def test_exported_lines_verify_and_edits_are_caught() -> None:
    from agent_os import verify_audit_lines

    log = filled(5)
    lines = log.lines()
    head = log.head[1]
    assert verify_audit_lines(lines, expected_head=head).count == 5
    assert verify_audit_lines((line + "\n" for line in lines), expected_count=5).hash == head
    data = json.loads(lines[1])
    assert data["decision"]["effect"] == "deny"
    data["decision"]["effect"] = "allow"
    data["decision"]["allowed"] = True
    forged = [lines[0], canonical_json(data), *lines[2:]]
    with pytest.raises(AuditIntegrityError, match="does not match its hash") as info:
        verify_audit_lines(forged, expected_head=head)
    assert info.value.index == 1
    data.pop("hash")
    data["hash"] = sha256_hex(canonical_json(data))
    forged[1] = canonical_json(data)
    with pytest.raises(AuditIntegrityError, match="does not link") as info:
        verify_audit_lines(forged, expected_head=head)
    assert info.value.index == 2
    with pytest.raises(AuditIntegrityError):
        verify_audit_lines(lines[1:], expected_head=head)  # a tail needs its anchor
    tail_prev = json.loads(lines[1])["prev_hash"]
    assert verify_audit_lines(lines[1:], start_seq=1, prev_hash=tail_prev, expected_head=head).count == 4
    with pytest.raises(AuditIntegrityError, match="canonical"):
        verify_audit_lines(
            [json.dumps(json.loads(lines[0]), indent=1).replace("\n", "")], allow_unpinned=True
        )


def test_exported_trail_must_be_pinned_to_a_head() -> None:
    from agent_os import verify_audit_lines

    lines = filled(4).lines()
    with pytest.raises(ValueError, match="expected_head= or expected_count="):
        verify_audit_lines(lines)
    # Internally consistent is all an unpinned check can say.
    assert verify_audit_lines(lines, allow_unpinned=True).count == 4


def test_truncated_empty_and_rechained_trails_fail_against_the_head() -> None:
    from agent_os import verify_audit_lines

    log = filled(5)
    lines = log.lines()
    seq, head = log.head
    with pytest.raises(AuditIntegrityError, match="cut off its end"):
        verify_audit_lines(lines[:3], expected_count=seq + 1)
    with pytest.raises(AuditIntegrityError, match="not at the expected head"):
        verify_audit_lines(lines[:3], expected_head=head)
    with pytest.raises(AuditIntegrityError):
        verify_audit_lines([], expected_head=head)
    with pytest.raises(AuditIntegrityError):
        verify_audit_lines([], expected_count=5)
    # A forger with write access rewrites a decision and re-chains every record after it: each
    # line verifies on its own, only the published head exposes it.
    prev = json.loads(lines[0])["prev_hash"]
    rechained = []
    for line in lines:
        data = json.loads(line)
        data.pop("hash")
        if data["seq"] == 1:
            data["decision"]["effect"] = "allow"
            data["decision"]["allowed"] = True
        data["prev_hash"] = prev
        prev = sha256_hex(canonical_json(data))
        data["hash"] = prev
        rechained.append(canonical_json(data))
    assert verify_audit_lines(rechained, allow_unpinned=True).count == 5
    with pytest.raises(AuditIntegrityError, match="rebuilt"):
        verify_audit_lines(rechained, expected_head=head)


def test_bytes_lines_are_an_integrity_error_not_a_type_error() -> None:
    from agent_os import verify_audit_lines

    lines = filled(2).lines()
    with pytest.raises(AuditIntegrityError, match="not text"):
        verify_audit_lines([lines[0].encode()], allow_unpinned=True)
