"""The audit log's retention and reading, attacked where mutation testing found them untested.

Run against the mutants of ``agent_os._audit_log`` by
``packages/agent-os/mutation/run_mutation.py kernel``.
"""

from __future__ import annotations

import json

import pytest

from agent_os import AuditLog
from agt_core import AuditIntegrityError, Decision, canonical_json

ALLOW = Decision(effect="allow", allowed=True, policy="p")
DENY = Decision(effect="deny", allowed=False, policy="p", rule="no")


def request(action: str, padding: int = 0) -> dict[str, object]:
    return {
        "action": {"type": action, "tool": "t"},
        "args": {"note": "x" * padding},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }


def body_sizes(log: AuditLog) -> list[int]:
    """The size of each retained record's text (the line without its hash), from the exported lines."""
    sizes = []
    for line in log.lines():
        fields = json.loads(line)
        fields.pop("hash")
        sizes.append(len(canonical_json(fields)))
    return sizes


def test_the_byte_bound_keeps_the_newest_records_that_fit_and_counts_exactly() -> None:
    log = AuditLog(max_bytes=10**9)
    log.append(request("a0", 200), ALLOW)
    size = body_sizes(log)[0]
    assert log.retained_bytes == size
    bound = 3 * size + size // 2  # room for three records of this size, not four
    log = AuditLog(max_bytes=bound)
    for i in range(12):
        log.append(request(f"a{i % 10}", 200), DENY if i % 2 else ALLOW)
        sizes = body_sizes(log)
        assert log.retained_bytes == sum(sizes) <= bound
    assert len(log) == 3
    assert [r.seq for r in log.records()] == [9, 10, 11]
    assert log.anchor[0] == 9
    assert log.verify() == 3


def test_one_oversized_record_is_kept_alone() -> None:
    log = AuditLog(max_bytes=1)
    for i in range(3):
        log.append(request(f"a{i}"), ALLOW)
        assert len(log) == 1
        assert log.retained_bytes == body_sizes(log)[0]
    assert log.records()[0].seq == 2
    assert log.verify(deep=True) == 1


def test_records_last_returns_the_newest_and_the_table_shows_them() -> None:
    log = AuditLog()
    for i in range(5):
        log.append(request(f"act{i}"), DENY if i == 4 else ALLOW)
    assert [r.seq for r in log.records(last=2)] == [3, 4]
    assert [r.seq for r in log.records(last=9)] == [0, 1, 2, 3, 4]
    assert log.records(last=0) == []
    table = log.table(last=2).splitlines()
    assert len(table) == 3
    assert table[0].split() == [
        "seq",
        "time",
        "(UTC)",
        "agent",
        "action",
        "effect",
        "rule",
        "/",
        "refused",
        "by",
    ]
    assert table[1].split()[0] == "3" and "act3" in table[1] and "allow" in table[1]
    assert table[2].split()[0] == "4" and "act4" in table[2] and table[2].rstrip().endswith("no")


def test_a_removed_newest_record_is_named_by_its_sequence_number() -> None:
    log = AuditLog()
    for i in range(5):
        log.append(request(f"a{i}"), ALLOW)
    log._entries.pop()  # what an attacker with access to the process memory does
    with pytest.raises(AuditIntegrityError, match="not the log's head") as info:
        log.verify()
    assert info.value.index == 4
