"""A policy set's native audit-record function (`chain_record`): used only once it writes agt-core's bytes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from agent_os import AuditLog, compile_policies, govern
from agt_core import AuditWriteError, Decision, audit_record_body, record_hash

POLICY = (
    "apiVersion: governance.toolkit/v1\nname: p\ndefault_action: allow\nrules:\n"
    "- name: no-drop\n  condition: \"action.type == 'drop'\"\n  action: deny\n"
)


def agt_core_record(
    seq: int,
    prev_hash: str,
    request_json: str,
    decision_json: str,
    approval_json: str,
    micros: int | None = None,
) -> tuple[str, str]:
    """What a faithful chain_record returns: agt-core's body and hash."""
    micros = time.time_ns() // 1000 if micros is None else micros
    second, micro = divmod(micros, 1_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{micro:06d}Z"
    body = audit_record_body(
        seq=seq,
        timestamp=stamp,
        prev_hash=prev_hash,
        request_json=request_json,
        decision_json=decision_json,
        approval_json=approval_json,
    )
    return body, record_hash(body)


class WithRecord:
    """A compiled policy set that also offers `chain_record` (as agt-evaluator's native set does)."""

    def __init__(self, record: Any) -> None:
        self._inner = compile_policies(POLICY, evaluator="python")
        self.chain_record = record
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        return self._inner.evaluate(request)


def counting(record: Any, box: list[int]) -> Any:
    def wrapped(*args: Any) -> tuple[str, str]:
        box.append(1)
        return record(*args)  # type: ignore[no-any-return]

    return wrapped


def test_a_faithful_chain_record_writes_the_trail_and_it_verifies() -> None:
    used: list[int] = []
    log = AuditLog()
    safe = govern(lambda action: "ok", policy=WithRecord(counting(agt_core_record, used)), audit=log)
    assert safe(action="read") == "ok"
    assert safe(action="write") == "ok"
    assert len(used) == 3  # the self-check at govern(), then one per call
    assert log.verify(deep=True) == 2


@pytest.mark.parametrize(
    "forged",
    [
        lambda *a: (agt_core_record(*a)[0], "0" * 64),  # right body, wrong hash
        lambda *a: (agt_core_record(*a)[0].replace('"seq":7', '"seq":8'), agt_core_record(*a)[1]),
        lambda seq, prev, rq, dc, ap, micros=None: agt_core_record(seq, prev, rq, dc, ap, (micros or 0) + 1),
        lambda *a: agt_core_record(*a)[0],  # not a pair
    ],
    ids=["wrong-hash", "wrong-body", "wrong-clock", "not-a-pair"],
)
def test_a_chain_record_that_writes_other_bytes_is_refused_at_govern_time(forged: Any) -> None:
    with pytest.raises(AuditWriteError, match="chain_record"):
        govern(lambda action: "ok", policy=WithRecord(forged), audit=AuditLog())


def test_a_chain_record_that_fails_during_a_call_refuses_the_call_and_writes_nothing() -> None:
    healthy = [True]
    ran: list[str] = []

    def record(*args: Any) -> tuple[str, str]:
        if not healthy[0]:
            raise RuntimeError("engine gone")
        return agt_core_record(*args)

    def tool(action: str) -> None:
        ran.append(action)

    log = AuditLog()
    safe = govern(tool, policy=WithRecord(record), audit=log)
    safe(action="read")
    healthy[0] = False
    with pytest.raises(AuditWriteError, match="engine gone"):
        safe(action="write")
    assert ran == ["read"]
    assert len(log) == 1 and log.verify() == 1


def test_without_our_audit_log_the_chain_record_is_not_used() -> None:
    used: list[int] = []

    class Sink:
        def __init__(self) -> None:
            self.appended = 0

        def append(self, request: Any, decision: Any, approval: Any = None) -> str:
            self.appended += 1
            return "h"

    sink = Sink()
    safe = govern(lambda action: "ok", policy=WithRecord(counting(agt_core_record, used)), audit=sink)
    safe(action="read")
    assert used == [] and sink.appended == 1
