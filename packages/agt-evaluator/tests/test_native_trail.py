"""`AuditLog` with its chain in native memory (`NativeTrail`), against the same log kept in Python.

`govern()` moves a log's chain into the native policy set's trail when it makes a call plan.
Every reading and bound of the log must stay what it was: length, head, anchor, retained size,
eviction by count and by size, records, lines, verification, and tampering caught.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from agent_os import AuditLog, compile_policies, govern
from agt_core import GENESIS_HASH, AuditIntegrityError, AuditWriteError, verify_audit_lines
from agt_evaluator import NativePolicySet

POLICY = (
    "apiVersion: governance.toolkit/v1\nname: p\ndefault_action: allow\nrules:\n"
    "- name: no-drop\n  condition: \"action.type == 'drop'\"\n  action: deny\n"
)


def tool(action: str, table: str) -> str:
    return table


def native_and_python(**bounds: Any) -> tuple[AuditLog, AuditLog, Any, Any]:
    """Two logs with the same bounds, governed by the same policy set: one adopted, one not."""
    policy_set = compile_policies(POLICY, evaluator="native")
    native_log, python_log = AuditLog(**bounds), AuditLog(**bounds)
    planned = govern(tool, policy=policy_set, audit=native_log)
    # An observer keeps the second tool on the kernel's general path, whose log stays in Python.
    observer = type("O", (), {"on_decision": lambda s, o: None, "on_completion": lambda *a: None})()
    general = govern(tool, policy=policy_set, audit=python_log, observers=[observer])
    assert native_log._native is not None and python_log._native is None
    return native_log, python_log, planned, general


def without_times(log: AuditLog) -> list[dict[str, Any]]:
    out = []
    for line in log.lines():
        record = json.loads(line)
        for key in ("timestamp", "hash", "prev_hash"):
            del record[key]
        out.append(record)
    return out


def call_both(planned: Any, general: Any, table: str, action: str = "read") -> None:
    for governed in (planned, general):
        try:
            governed(action=action, table=table)
        except Exception as exc:
            assert type(exc).__name__ == "GovernanceDenied"


@pytest.mark.parametrize(
    "bounds",
    [{}, {"max_records": 3}, {"max_bytes": 1500}, {"max_records": 1}, {"max_bytes": 1}],
    ids=["unbounded", "3-records", "1500-chars", "1-record", "1-char"],
)
def test_an_adopted_log_reads_and_bounds_as_a_python_one(bounds: dict[str, int]) -> None:
    native_log, python_log, planned, general = native_and_python(**bounds)
    for i in range(7):
        call_both(planned, general, f"t{i}", "drop" if i == 4 else "read")
        assert len(native_log) == len(python_log)
        assert native_log.head[0] == python_log.head[0]
        assert native_log.anchor[0] == python_log.anchor[0]
        assert native_log.retained_bytes == python_log.retained_bytes
    assert without_times(native_log) == without_times(python_log)
    assert [r.seq for r in native_log.records()] == [r.seq for r in python_log.records()]
    assert native_log.verify(deep=True) == python_log.verify(deep=True) == len(native_log)
    seq, head = native_log.head
    start, prev = native_log.anchor
    tail = verify_audit_lines(native_log.lines(), start_seq=start, prev_hash=prev, expected_head=head)
    assert tail.seq == seq
    assert native_log.table(last=1).splitlines()[1].split()[0] == "6"


def test_records_written_before_adoption_stay_in_the_chain() -> None:
    log = AuditLog(max_records=5)
    policy_set = compile_policies(POLICY, evaluator="native")
    observer = type("O", (), {"on_decision": lambda s, o: None, "on_completion": lambda *a: None})()
    general = govern(tool, policy=policy_set, audit=log, observers=[observer])
    for i in range(7):
        general(action="read", table=f"before{i}")
    anchor, head = log.anchor, log.head
    planned = govern(tool, policy=policy_set, audit=log)  # adopts the log
    assert log._native is not None
    assert (log.anchor, log.head, len(log)) == (anchor, head, 5)
    planned(action="read", table="after")
    general(action="read", table="after-general")
    assert [r.seq for r in log.records()] == [4, 5, 6, 7, 8]
    assert [r.request["args"]["table"] for r in log.records()][-3:] == ["before6", "after", "after-general"]
    assert log.verify(deep=True) == 5


def test_each_kind_of_tampering_with_the_native_chain_is_caught() -> None:
    native_log, _, planned, _ = native_and_python()
    for i in range(4):
        planned(action="read", table=f"t{i}")
    trail = native_log._native
    entries = trail.snapshot()[0]

    def reset() -> None:
        for i, (digest, body) in enumerate(entries):
            trail._tamper_for_tests(i, digest, body)

    digest, body = entries[1]
    trail._tamper_for_tests(1, digest, body.replace('"t1"', '"t9"'))  # an edited record
    with pytest.raises(AuditIntegrityError, match="record 1"):
        native_log.verify()
    reset()
    trail._tamper_for_tests(2, entries[1][0], entries[1][1])  # a duplicated record
    with pytest.raises(AuditIntegrityError):
        native_log.verify()
    reset()
    assert native_log.verify() == 4
    trail._tamper_for_tests(3, "")  # the newest removed: the log's head names it
    with pytest.raises(AuditIntegrityError, match="records were removed"):
        native_log.verify()


def test_a_log_with_a_sink_is_never_adopted() -> None:
    lines: list[str] = []
    log = AuditLog(sink=lines.append)
    planned = govern(tool, policy=compile_policies(POLICY, evaluator="native"), audit=log)
    assert planned.native_plan is None and log._native is None
    planned(action="read", table="t")
    assert len(lines) == 1 and log.verify() == 1
    with pytest.raises(ValueError, match="sink"):
        log._adopt_native(NativePolicySet.native_trail)


def test_appends_from_many_threads_to_an_adopted_log_form_one_chain() -> None:
    native_log, _, planned, _ = native_and_python()
    policy_set = planned.policy_set
    observer = type("O", (), {"on_decision": lambda s, o: None, "on_completion": lambda *a: None})()
    general = govern(tool, policy=policy_set, audit=native_log, observers=[observer])
    errors: list[BaseException] = []

    def work(governed: Any) -> None:
        try:
            for i in range(250):
                governed(action="read", table=f"t{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(g,)) for g in (planned, general) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert native_log.verify(deep=True) == 1500
    assert [r.seq for r in native_log.records()] == list(range(1500))


def test_a_trail_rebuilt_from_scratch_does_not_match_the_published_head() -> None:
    native_log, _, planned, _ = native_and_python()
    planned(action="read", table="a")
    planned(action="read", table="b")
    seq, head = native_log.head
    # Someone rewrites the whole chain consistently (a forged trail from genesis):
    forged = NativePolicySet.native_trail(100, 10**6, 0, GENESIS_HASH, 0, GENESIS_HASH, [])
    for table in ("a", "c"):
        forged.append(json.dumps({"table": table}), '{"effect":"allow"}', "null")
    entries = forged.snapshot()[0]
    lines = [
        json.dumps({**json.loads(body), "hash": digest}, separators=(",", ":")) for digest, body in entries
    ]
    with pytest.raises(AuditIntegrityError):
        verify_audit_lines(lines, expected_head=head, expected_count=seq + 1)


def test_a_record_that_cannot_be_appended_refuses_the_call() -> None:
    native_log, _, planned, _ = native_and_python()
    with pytest.raises(AuditWriteError):
        native_log.append({"bad": float("nan")}, planned.policy_set.evaluate({"action": {"type": "x"}}))
