"""The native audit-record step (`chain_record`) against agt-core's layout, hash and clock."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agent_os
from agt_core import (
    GENESIS_HASH,
    UtcClock,
    audit_record_body,
    canonical_json,
    record_hash,
    verify_audit_lines,
)
from agt_evaluator import NativePolicySet, _native

JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53 - 1), 2**53 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
HASHES = st.one_of(st.just(GENESIS_HASH), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
# 1970 to 2200, microseconds: leap days, year and century boundaries included.
MICROS = st.integers(0, 7_258_118_400_000_000 - 1)


def utc_clock_text(micros: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """What agt-core's UtcClock writes at `micros` since the epoch."""
    with monkeypatch.context() as patch:
        patch.setattr(time, "time_ns", lambda: micros * 1000)
        return UtcClock().now()


@settings(max_examples=300)
@given(seq=st.integers(0, 2**63 - 1), prev=HASHES, request=JSON, decision=JSON, approval=JSON, micros=MICROS)
def test_chain_record_writes_and_hashes_what_agt_core_writes_and_hashes(
    seq: int, prev: str, request: Any, decision: Any, approval: Any, micros: int
) -> None:
    parts = canonical_json(request), canonical_json(decision), canonical_json(approval)
    body, digest = _native.chain_record(seq, prev, *parts, micros)
    second, micro = divmod(micros, 1_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{micro:06d}Z"
    expected = audit_record_body(
        seq=seq,
        timestamp=stamp,
        prev_hash=prev,
        request_json=parts[0],
        decision_json=parts[1],
        approval_json=parts[2],
    )
    assert body == expected
    assert digest == record_hash(expected)


@pytest.mark.parametrize(
    "micros",
    [
        0,
        951_782_400_000_000,
        1_709_164_799_999_999,
        1_709_251_200_000_001,
        4_102_444_800_000_000,
        1_780_000_000_123_456,
    ],
)
def test_chain_record_timestamps_are_utc_clock_timestamps(
    micros: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, _ = _native.chain_record(0, GENESIS_HASH, "{}", "{}", "null", micros)
    assert body.endswith(f'"timestamp":"{utc_clock_text(micros, monkeypatch)}"}}')


def test_chain_record_reads_the_clock_when_not_pinned() -> None:
    before = UtcClock().now()
    body, _ = _native.chain_record(0, GENESIS_HASH, "{}", "{}", "null")
    after = UtcClock().now()
    stamp = body.rsplit('"timestamp":"', 1)[1][:-2]
    assert before <= stamp <= after


def test_a_natively_recorded_trail_verifies_everywhere(tmp_path: Any) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: governance.toolkit/v1\nname: p\ndefault_action: allow\nrules:\n"
        "- name: no-drop\n  condition: \"action.type == 'drop'\"\n  action: deny\n",
        encoding="utf-8",
    )
    log = agent_os.AuditLog()

    def tool(action: str, note: str = 'é \U0001f600 "q" \\ \n') -> str:
        return "ok"

    safe = agent_os.govern(tool, policy=str(policy), audit=log, evaluator="native")
    assert isinstance(safe.policy_set, NativePolicySet)
    assert safe.kernel._chain_record is _native.chain_record  # the native path is the one taken
    for action in ("read", "write", "READ"):
        safe(action=action)
    with pytest.raises(agent_os.GovernanceDenied):
        safe(action="drop")
    assert log.verify(deep=True) == 4
    head_seq, head = log.head
    assert verify_audit_lines(log.lines(), expected_head=head).seq == head_seq
    # Every record is what agt-core builds from the same parts.
    for record, line in zip(log.records(), log.lines(), strict=True):
        body = audit_record_body(
            seq=record.seq,
            timestamp=record.timestamp,
            prev_hash=record.prev_hash,
            request_json=canonical_json(record.request),
            decision_json=record.decision.canonical_json(),
            approval_json="null",
        )
        assert record.hash == record_hash(body)
        assert line.replace(f',"hash":"{record.hash}"', "") == body


def test_a_tampered_native_record_is_caught_by_verification() -> None:
    log = agent_os.AuditLog()
    policy_set = agent_os.compile_policies(
        "apiVersion: governance.toolkit/v1\nname: p\ndefault_action: allow\nrules:\n"
        "- name: no-drop\n  condition: \"action.type == 'drop'\"\n  action: deny\n",
        evaluator="native",
    )
    safe = agent_os.govern(lambda action: "ok", policy=policy_set, audit=log)
    safe(action="read")
    safe(action="write")
    # govern() moved the log's chain into native memory (its call plan appends there)
    trail = log._native
    assert trail is not None
    (digest, body), _ = trail.snapshot()[0]
    trail._tamper_for_tests(0, digest, body.replace('"read"', '"drop"'))
    with pytest.raises(agent_os.AuditIntegrityError, match="record 0 does not match its hash"):
        log.verify()
    trail._tamper_for_tests(0, digest)  # removed: the next record no longer links to the anchor
    with pytest.raises(agent_os.AuditIntegrityError):
        log.verify()
