"""What runs is what was judged: attacks on the request builder, the approval path and the audit log."""

from __future__ import annotations

import asyncio
import collections
import enum
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from agent_os import (
    ApprovalError,
    ApprovalRequest,
    ApprovalResponse,
    AuditLog,
    GovernanceDenied,
    RequestLimits,
    govern,
    normalize_action,
)

received: list[Any] = []


def execute(action: str, table: str = "t") -> str:
    received.append((action, table))
    return "ran"


@pytest.fixture(autouse=True)
def _clear() -> None:
    received.clear()


def last_request(log: AuditLog) -> dict[str, Any]:
    return log.records()[-1].request


# -- the action name ------------------------------------------------------------------------------


class Verb(enum.StrEnum):
    DROP = "drop"


class PlainVerb(enum.Enum):
    DROP = "drop"


class Sneaky(str):
    def __str__(self) -> str:
        return "read"

    def __eq__(self, other: object) -> bool:
        return other == "read"

    __hash__ = str.__hash__

    def lower(self) -> str:  # type: ignore[override]
        return "read"


@pytest.mark.parametrize(
    "action", [Verb.DROP, PlainVerb.DROP, Sneaky("drop")], ids=["StrEnum", "Enum", "str-subclass"]
)
def test_non_plain_action_strings_are_judged_by_their_value(seed_policy: Path, action: Any) -> None:
    def tool(action: Any, table: str) -> str:
        received.append(action)
        return "ran"

    log = AuditLog()
    safe = govern(tool, policy=seed_policy, audit=log)
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        safe(action=action, table="users")
    assert received == []
    assert last_request(log)["action"]["type"] == "drop"


@pytest.mark.parametrize(
    "spelling", ["DROP", " drop", "drop\n", "ｄｒｏｐ", "dr\u200bop", "Drop", "\u00a0drop"]
)
def test_every_spelling_of_drop_is_refused_by_the_seed_policy(seed_policy: Path, spelling: str) -> None:
    safe = govern(execute, policy=seed_policy, audit=False)
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        safe(action=spelling, table="users")
    assert received == []
    assert normalize_action(spelling) == "drop"


def test_the_exact_action_text_stays_visible_in_args(seed_policy: Path) -> None:
    log = AuditLog()
    govern(execute, policy=seed_policy, audit=log)(action="READ", table="x")
    assert last_request(log)["action"]["type"] == "read"
    assert last_request(log)["args"]["action"] == "READ"
    assert received == [("READ", "x")]


def test_an_action_that_cannot_name_an_action_is_refused_and_audited(seed_policy: Path) -> None:
    def tool(action: Any) -> str:
        received.append(action)
        return "ran"

    log = AuditLog()
    safe = govern(tool, policy=seed_policy, audit=log)
    for bad in (7, ["drop"], {"kind": "drop"}):
        with pytest.raises(GovernanceDenied, match="request could not be built"):
            safe(action=bad)
    assert received == []
    assert [r.decision.refused_by for r in log.records()] == ["kernel:request"] * 3


def test_partial_is_governed_as_its_target_with_preset_arguments(seed_policy: Path) -> None:
    def delete_user(name: str) -> str:
        received.append(name)
        return "deleted"

    log = AuditLog()
    policy = seed_policy.read_text().replace("['drop', 'delete', 'truncate']", "['drop', 'delete_user']")
    safe = govern(functools.partial(delete_user, "root"), policy=policy, audit=log)
    with pytest.raises(GovernanceDenied):
        safe()
    assert received == []
    request = last_request(log)
    assert request["action"] == {"type": "delete_user", "tool": "delete_user"}
    assert request["args"] == {"name": "root"}


# -- names the function does not see ----------------------------------------------------------------


def test_kwargs_cannot_shadow_a_positional_only_parameter(seed_policy: Path) -> None:
    def run(action: str, /, **params: Any) -> str:
        received.append((action, params))
        return "ran"

    log = AuditLog()
    safe = govern(run, policy=seed_policy, audit=log)
    with pytest.raises(GovernanceDenied, match="has the name of another parameter"):
        safe("drop", action="read")
    assert received == []
    assert log.records()[-1].decision.refused_by == "kernel:request"


def test_kwargs_cannot_hide_star_args(seed_policy: Path) -> None:
    def run(*cmd: str, **params: Any) -> str:
        received.append(cmd)
        return "ran"

    safe = govern(run, policy=seed_policy, audit=False)
    with pytest.raises(GovernanceDenied, match="has the name of another parameter"):
        safe("rm", "-rf", cmd=["ls"])
    assert received == []
    assert safe("ls", "-l") == "ran"
    assert received == [("ls", "-l")]


# -- subclasses and objects that lie --------------------------------------------------------------


class LyingInt(int):
    def __int__(self) -> int:
        return 1

    def __index__(self) -> int:  # the builder reads through int's own method, not this
        return 1


class LyingDict(dict):  # type: ignore[type-arg]
    def items(self) -> Any:  # type: ignore[override]
        return [("path", "/tmp/ok")]

    def __iter__(self) -> Iterator[Any]:
        return iter(["path"])


class Command(BaseModel):
    program: str

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return {"program": "ls"}


def test_subclass_overrides_never_show_the_policy_a_different_value() -> None:
    policy = """\
apiVersion: governance.toolkit/v1
name: p
default_action: allow
rules:
- name: no-big
  condition: "action.tool == 'tool' && args.n > 100"
  action: deny
- name: no-shadow
  condition: "action.tool == 'tool' && args.spec != null && args.spec.path == '/etc/shadow'"
  action: deny
- name: no-rm
  condition: "action.tool == 'tool' && args.cmd != null && args.cmd.program == 'rm'"
  action: deny
"""

    def tool(n: int = 0, spec: dict | None = None, cmd: Command | None = None) -> str:  # type: ignore[type-arg]
        received.append((type(n), n, type(spec), spec, cmd))
        return "ran"

    safe = govern(tool, policy=policy, audit=False, check_types=False)
    with pytest.raises(GovernanceDenied, match="no-big"):
        safe(n=LyingInt(1000))
    with pytest.raises(GovernanceDenied, match="no-shadow"):
        safe(spec=LyingDict(path="/etc/shadow"))
    with pytest.raises(GovernanceDenied, match="no-rm"):
        safe(cmd=Command(program="rm"))
    assert received == []
    safe(n=LyingInt(5), spec=LyingDict(path="/tmp/x"))
    kind, value, spec_type, spec, _ = received[0]
    assert (kind, value, spec_type, spec) == (int, 5, dict, {"path": "/tmp/x"})


def test_values_mutated_while_an_approval_waits_do_not_reach_the_tool(seed_policy: Path) -> None:
    cmd = ["ls"]
    waiting, release = threading.Event(), threading.Event()

    def approve(request: ApprovalRequest) -> ApprovalResponse:
        waiting.set()
        release.wait(5)
        return request.approve("alice")

    def send_email(cmd: list[str]) -> str:
        received.append(list(cmd))
        return "ran"

    safe = govern(send_email, policy=seed_policy, audit=False, approval_handler=approve)
    worker = threading.Thread(target=safe, args=(cmd,))
    worker.start()
    assert waiting.wait(5)
    cmd.append("rm")  # after the policy and the approver saw ['ls']
    release.set()
    worker.join(5)
    assert received == [["ls"]]


def test_infinite_list_subclass_iterators_cannot_hang_the_builder(seed_policy: Path) -> None:
    class Endless(list):  # type: ignore[type-arg]
        def __iter__(self) -> Iterator[Any]:
            while True:
                yield "x"

    def tool(items: list[str]) -> str:
        received.append(items)
        return "ran"

    safe = govern(tool, policy=seed_policy, audit=False)
    assert safe(Endless(["a", "b"])) == "ran"
    assert received == [["a", "b"]] and type(received[0]) is list


# -- kinds the policy cannot compare --------------------------------------------------------------


def test_containers_that_can_be_read_without_consuming_them_become_lists(seed_policy: Path) -> None:
    log = AuditLog()

    def tool(**values: Any) -> str:
        received.append(values)
        return "ran"

    d = {"a": 1, "b": 2}
    govern(tool, policy=seed_policy, audit=log)(
        deque=collections.deque([1, 2]),
        fs=frozenset({"b", "a"}),
        keys=d.keys(),
        r=range(3),
        t=(1, 2),
        blob=b"x",
    )
    args = last_request(log)["args"]
    assert args == {
        "deque": [1, 2], "fs": ["a", "b"], "keys": ["a", "b"], "r": [0, 1, 2], "t": [1, 2], "blob": {"$opaque": "bytes"}
    }  # fmt: skip
    passed = received[0]
    assert (
        type(passed["deque"]) is collections.deque and type(passed["t"]) is tuple and passed["r"] == range(3)
    )


def test_iterators_are_refused_unless_the_tool_opts_in(seed_policy: Path) -> None:
    def tool(items: Any) -> list[Any]:
        received.append(items)
        return list(items)

    log = AuditLog()
    safe = govern(tool, policy=seed_policy, audit=log)
    for consumable in (iter([1, 2]), (i for i in range(2)), map(str, [1])):
        with pytest.raises(GovernanceDenied, match="cannot be judged without consuming it"):
            safe(consumable)
    assert received == []
    opted = govern(tool, policy=seed_policy, audit=log, consume_iterators=True)
    assert opted(i for i in range(3)) == [0, 1, 2]
    assert last_request(log)["args"] == {"items": [0, 1, 2]}


def test_annotated_parameters_refuse_values_of_another_type(seed_policy: Path) -> None:
    def tool(
        n: int, mode: Literal["fast", "slow"] = "fast", tags: list[str] | None = None, ratio: float = 1.0
    ) -> str:
        received.append(n)
        return "ran"

    safe = govern(tool, policy=seed_policy, audit=False)
    for bad in (
        {"n": "5"},
        {"n": True},
        {"n": 1, "mode": "turbo"},
        {"n": 1, "tags": ["a", 2]},
        {"n": 1, "ratio": "1"},
    ):
        with pytest.raises(GovernanceDenied, match="where the tool declares"):
            safe(**bad)
    assert received == []
    assert safe(n=5, mode="slow", tags=["a"], ratio=2) == "ran"


# -- refusals that must be audited ----------------------------------------------------------------


def test_unrepresentable_arguments_are_refused_audited_and_on_deny_honoured(seed_policy: Path) -> None:
    class Exploding(BaseModel):
        x: int = 1

        def model_copy(self, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    log = AuditLog()
    safe = govern(execute, policy=seed_policy, audit=log, on_deny=lambda d: d.message, check_types=False)
    assert "lone surrogate" in safe(action="read", table="\ud800")
    assert "could not be read: RuntimeError: boom" in safe(action="read", table=Exploding())
    assert received == []
    assert [r.decision.refused_by for r in log.records()] == ["kernel:request", "kernel:request"]
    assert log.verify(deep=True) == 2


def test_request_size_is_bounded_by_default(seed_policy: Path) -> None:
    safe = govern(
        execute, policy=seed_policy, audit=False, request_limits=RequestLimits(max_total_chars=1000)
    )
    with pytest.raises(GovernanceDenied, match="more than 1000 characters"):
        safe(action="read", table="x" * 600 + "y" * 600)


class Interrupt(BaseException):
    pass


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (ApprovalResponse(2, "alice", request_hash="x"), "must be True or False"),  # type: ignore[arg-type]
        (ApprovalResponse("yes", "alice"), "must be True or False"),  # type: ignore[arg-type]
        (ApprovalResponse(True, 123), "`approver` must be a string"),  # type: ignore[arg-type]
        (ApprovalResponse(True, "alice"), "not bound to a request"),
        (ApprovalResponse(True, "alice", request_hash="sha256:" + "0" * 64), "different request"),
        ("yes", "not an ApprovalResponse"),
    ],
)
def test_malformed_or_unbound_approvals_refuse_audited(seed_policy: Path, answer: Any, reason: str) -> None:
    log = AuditLog()
    safe = govern(execute, policy=seed_policy, audit=log, approval_handler=lambda r: answer)
    with pytest.raises(GovernanceDenied, match=reason):
        safe(action="send_email")
    assert received == []
    record = log.records()[-1]
    assert record.approval is not None and not record.approval.approved


def test_a_stored_approval_cannot_be_replayed_onto_another_call(seed_policy: Path) -> None:
    stored: list[ApprovalResponse] = []

    def approve_once(request: ApprovalRequest) -> ApprovalResponse:
        if not stored:
            stored.append(request.approve("alice", "for table a"))
        return stored[0]

    safe = govern(execute, policy=seed_policy, audit=False, approval_handler=approve_once)
    assert safe(action="send_email", table="a") == "ran"
    with pytest.raises(GovernanceDenied, match="different request"):
        safe(action="send_email", table="b")
    assert received == [("send_email", "a")]


def test_approval_handler_base_exception_is_audited_then_raised(seed_policy: Path) -> None:
    def handler(request: ApprovalRequest) -> ApprovalResponse:
        raise Interrupt("approver process died")

    log = AuditLog()
    safe = govern(execute, policy=seed_policy, audit=log, approval_handler=handler)
    with pytest.raises(ApprovalError, match="Interrupt: approver process died"):
        safe(action="send_email")
    assert received == []
    assert log.records()[-1].approval is not None


def test_a_hung_approval_handler_is_cut_off_by_the_kernel(seed_policy: Path) -> None:
    never = threading.Event()

    def hang(request: ApprovalRequest) -> ApprovalResponse:
        never.wait(30)
        return request.approve("late")

    log = AuditLog()
    safe = govern(execute, policy=seed_policy, audit=log, approval_handler=hang, approval_timeout=0.05)
    with pytest.raises(GovernanceDenied, match=r"no answer within 0\.05 s"):
        safe(action="send_email")
    never.set()
    assert received == []
    assert log.records()[-1].approval is not None


def test_cancelling_a_task_with_a_pending_approval_is_recorded(seed_policy: Path) -> None:
    log = AuditLog()
    started = asyncio.Event()

    async def slow(request: ApprovalRequest) -> ApprovalResponse:
        started.set()
        await asyncio.sleep(30)
        return request.approve("late")

    async def send_email(to: str) -> str:
        received.append(to)
        return "sent"

    safe = govern(send_email, policy=seed_policy, audit=log, approval_handler=slow)

    async def main() -> None:
        task = asyncio.create_task(safe(to="cfo"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert received == []
    record = log.records()[-1]
    assert record.decision.effect == "require_approval"
    assert record.approval is not None and "cancelled" in record.approval.reason


# -- the audit log's own hazards ------------------------------------------------------------------


def test_a_sink_that_reads_the_log_does_not_deadlock() -> None:
    from agt_core import Decision

    heads: list[Any] = []
    log = AuditLog(sink=lambda line: heads.append(log.head))
    decision = Decision(effect="allow", allowed=True)
    done = threading.Event()

    def write() -> None:
        log.append({"a": 1}, decision)
        log.append({"a": 2}, decision)
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(5), "the sink deadlocked the log"
    assert heads[0][0] == -1 and heads[1][0] == 0


def test_a_sink_appending_to_its_own_log_is_refused() -> None:
    from agt_core import AuditError, Decision

    log: AuditLog
    decision = Decision(effect="allow", allowed=True)
    log = AuditLog(sink=lambda line: log.append({"again": True}, decision))
    with pytest.raises(AuditError, match="fork the chain"):
        log.append({"a": 1}, decision)
    assert len(log) == 0


def test_retention_is_bounded_in_bytes() -> None:
    from agt_core import Decision

    log = AuditLog(max_bytes=50_000)
    decision = Decision(effect="allow", allowed=True)
    for i in range(20):
        log.append({"blob": "x" * 10_000, "i": i}, decision)
    assert log.retained_bytes <= 50_000
    assert 1 <= len(log) < 20
    assert log.verify(deep=True) == len(log)
    assert log.anchor[0] == 20 - len(log)
