"""Approval handlers: who decides a ``require_approval`` decision, and how.

A handler receives an `ApprovalRequest` and returns an `ApprovalResponse`. The kernel turns that
into an `ApprovalRecord` (who, when, which request, by which handler) that goes into the audit
trail with the decision. Three handlers ship:

* `DenyApprovals` (the default): refuses, with a message naming the approvers and how to
  configure a real handler. Silent: no output per call.
* `CallbackApproval`: calls your function, optionally with a timeout; a timeout refuses.
* `ConsoleApproval`: asks on a terminal and waits up to a timeout; no answer refuses.
"""

from __future__ import annotations

import getpass
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO, runtime_checkable

from agt_core import Decision

__all__ = [
    "ApprovalHandler",
    "ApprovalPending",
    "ApprovalRequest",
    "ApprovalResponse",
    "CallbackApproval",
    "ConsoleApproval",
    "DenyApprovals",
]


@dataclass(frozen=True)
class ApprovalRequest:
    """What an approver is asked to decide.

    Attributes:
        decision: The require_approval decision (rule, message, approvers).
        request: The evaluation request (action, args, agent, context).
        request_hash: ``sha256:<hex>`` of the canonical request; the approval covers exactly this.
    """

    decision: Decision
    request: Mapping[str, Any]
    request_hash: str

    def approve(self, approver: str, reason: str = "") -> ApprovalResponse:
        """An approval of exactly this request (bound to its hash, so it cannot be replayed onto another)."""
        return ApprovalResponse(True, approver, reason, request_hash=self.request_hash)

    def refuse(self, approver: str | None = None, reason: str = "") -> ApprovalResponse:
        """A refusal of this request."""
        return ApprovalResponse(False, approver, reason, request_hash=self.request_hash)

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who the policy says may approve."""
        return self.decision.approvers

    @property
    def action(self) -> Mapping[str, Any]:
        """The action being approved (``type``, ``tool``)."""
        return self.request.get("action", {})  # type: ignore[no-any-return]

    @property
    def args(self) -> Mapping[str, Any]:
        """The tool's arguments by parameter name."""
        return self.request.get("args", {})  # type: ignore[no-any-return]

    @property
    def agent(self) -> Mapping[str, Any]:
        """The acting agent (``id`` and any attributes)."""
        return self.request.get("agent", {})  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ApprovalResponse:
    """An approval handler's answer.

    Build it with `ApprovalRequest.approve` / `ApprovalRequest.refuse`: an approval must name the
    hash of the request it approves, and the kernel refuses one that does not match (so a stored
    approval cannot be replayed onto another call). ``approved`` must be exactly True or False.

    Attributes:
        approved: Whether the action may run.
        approver: Who decided (a person, a group, a service); None if nobody did.
        reason: Why, for the audit trail.
        request_hash: The ``request_hash`` of the `ApprovalRequest` this answers (required to approve).
    """

    approved: bool
    approver: str | None = None
    reason: str = ""
    request_hash: str | None = None


class ApprovalPending(Exception):
    """Raised by an approval handler that hands the decision to a person out of band.

    Framework adapters use it when the framework has its own human-in-the-loop (an interrupt, a
    deferred tool, a confirmation): the call is refused for now, and the audit record's approval
    says ``pending`` with `reason`. The framework later resumes the call, which is judged again.
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class ApprovalHandler(Protocol):
    """Anything that can answer an `ApprovalRequest`."""

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        """Decide one approval request."""
        ...


def _describe(request: ApprovalRequest) -> str:
    approvers = ", ".join(request.approvers) or "no approvers named"
    return f"rule `{request.decision.rule}` requires approval from {approvers}"


class DenyApprovals:
    """The default handler: refuses every approval request, saying how to configure one."""

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        """Refuse, naming the approvers and the fix."""
        return ApprovalResponse(approved=False, approver=None, reason="no approval handler is configured")


@dataclass
class CallbackApproval:
    """Ask a function. It returns a bool or an `ApprovalResponse`.

    Args:
        callback: Called with the `ApprovalRequest`.
        timeout: Seconds to wait for the callback; None waits forever. On timeout the request is
            refused (the callback keeps running in its thread; its late answer is ignored).
        approver: Recorded as the approver when the callback returns a bare bool.
    """

    callback: Callable[[ApprovalRequest], bool | ApprovalResponse]
    timeout: float | None = None
    approver: str = "callback"

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        """Run the callback (in a worker thread when a timeout is set) and normalise its answer."""
        if self.timeout is None:
            return self._normalise(self.callback(request), request)
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["answer"] = self.callback(request)
            except BaseException as exc:  # re-raised in the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=run, name="agt-approval", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            return ApprovalResponse(False, None, f"approval callback gave no answer within {self.timeout} s")
        if "error" in box:
            raise box["error"]
        return self._normalise(box["answer"], request)

    def _normalise(self, answer: bool | ApprovalResponse, request: ApprovalRequest) -> ApprovalResponse:
        if isinstance(answer, ApprovalResponse):
            return answer
        if type(answer) is bool:
            if answer:
                return request.approve(self.approver, "approved by callback")
            return request.refuse(self.approver, "refused by callback")
        raise TypeError(
            f"approval callback returned `{type(answer).__name__}`; expected bool or ApprovalResponse"
        )


@dataclass
class ConsoleApproval:
    """Ask a person at a terminal: prints the request and waits for ``y`` (anything else refuses).

    Args:
        timeout: Seconds to wait for an answer; no answer refuses.
        input: Where answers are read from (default: standard input).
        output: Where the question is written (default: standard error).
        approver: Recorded as the approver (default: the operating-system user name).
    """

    timeout: float = 60.0
    input: TextIO | None = None
    output: TextIO | None = None
    approver: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        """Ask, wait up to `timeout` seconds, and record who answered."""
        out = self.output or sys.stderr
        stream = self.input or sys.stdin
        action = request.request.get("action", {})
        with self._lock:  # one question on the terminal at a time
            out.write(
                f"\n[approval] {_describe(request)}\n"
                f"  action: {action.get('type')!r} via tool {action.get('tool')!r}\n"
                f"  args:   {dict(request.request.get('args', {}))!r}\n"
                f"  agent:  {request.request.get('agent', {}).get('id')!r}\n"
                f"  reason: {request.decision.message}\n"
                f"approve? [y/N] (waiting {self.timeout:g} s): "
            )
            out.flush()
            answer = _read_line(stream, self.timeout)
        who = self.approver or _user()
        if answer is None:
            return ApprovalResponse(False, None, f"no answer on the console within {self.timeout:g} s")
        if answer.strip().lower() in ("y", "yes"):
            return request.approve(who, "approved at the console")
        return request.refuse(who, "refused at the console")


def _read_line(stream: TextIO, timeout: float) -> str | None:
    box: dict[str, str] = {}

    def read() -> None:
        line = stream.readline()
        if line:
            box["line"] = line

    reader = threading.Thread(target=read, name="agt-console-approval", daemon=True)
    reader.start()
    reader.join(timeout)
    return box.get("line")


def _user() -> str:
    try:
        return f"console:{getpass.getuser()}"
    except Exception:  # getpass raises various errors when there is no login name
        return "console"
