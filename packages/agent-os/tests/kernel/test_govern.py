"""govern(): the seed's two lines, the request it builds, and every way a call can be refused."""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import agent_os
from agent_os import (
    ApprovalError,
    ApprovalRequest,
    ApprovalResponse,
    AuditError,
    AuditLog,
    CallbackApproval,
    ConsoleApproval,
    GovernanceDenied,
    PolicyError,
    govern,
    governance_context,
)

calls: list[dict[str, Any]] = []


def my_tool(action: str, table: str, limit: int = 10) -> str:
    """Run a database action."""
    calls.append({"action": action, "table": table, "limit": limit})
    return f"{action} {table}"


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


def allow_all(extra_rules: str = "") -> str:
    return f"""
apiVersion: governance.toolkit/v1
name: allow-all
default_action: allow
rules:
- name: never
  condition: "action.type == 'never-used-by-any-test'"
  action: deny
{extra_rules}"""


# -- the seed's two lines -----------------------------------------------------------------


def test_seed_quick_start(seed_policy: Path) -> None:
    safe_tool = govern(my_tool, policy=str(seed_policy))
    assert safe_tool(action="read", table="users") == "read users"
    with pytest.raises(GovernanceDenied) as info:
        safe_tool(action="drop", table="users")
    assert "block-destructive" in str(info.value)
    assert info.value.decision.rule == "block-destructive"
    assert info.value.decision.effect == "deny"
    assert calls == [{"action": "read", "table": "users", "limit": 10}]


def test_policy_accepts_pathlike_and_missing_file_is_refused_at_wrap_time(
    seed_policy: Path, tmp_path: Path
) -> None:
    assert govern(my_tool, policy=seed_policy)(action="read", table="t") == "read t"
    with pytest.raises(PolicyError, match="does not exist"):
        govern(my_tool, policy=str(tmp_path / "nope.yaml"))


# -- wrapping ------------------------------------------------------------------------------


def test_keeps_name_doc_and_signature(seed_policy: Path) -> None:
    safe_tool = govern(my_tool, policy=seed_policy)
    assert safe_tool.__name__ == "my_tool"
    assert safe_tool.__doc__ == "Run a database action."
    assert inspect.signature(safe_tool) == inspect.signature(my_tool)


def test_async_functions(seed_policy: Path) -> None:
    async def fetch(action: str) -> str:
        await asyncio.sleep(0)
        return action

    safe = govern(fetch, policy=seed_policy)
    assert inspect.iscoroutinefunction(safe)
    assert asyncio.run(safe(action="read")) == "read"
    with pytest.raises(GovernanceDenied):
        asyncio.run(safe(action="delete"))


def test_methods_decorated_and_bound(seed_policy: Path) -> None:
    log = AuditLog()

    class Db:
        def __init__(self) -> None:
            self.done: list[str] = []

        @govern(policy=seed_policy, audit=log)
        def run(self, action: str) -> str:
            self.done.append(action)
            return action

        def plain(self, action: str) -> str:
            self.done.append(action)
            return action

    db = Db()
    assert db.run("read") == "read"
    with pytest.raises(GovernanceDenied):
        db.run("truncate")
    bound = govern(db.plain, policy=seed_policy)
    assert bound(action="read") == "read"
    with pytest.raises(GovernanceDenied):
        bound("drop")
    assert db.done == ["read", "read"]
    # `self` is not an argument of the tool: it never reaches the request.
    assert log.records()[0].request["args"] == {"action": "read"}


def test_bad_call_raises_type_error_before_anything_runs(seed_policy: Path) -> None:
    log = AuditLog()
    safe_tool = govern(my_tool, policy=seed_policy, audit=log)
    with pytest.raises(TypeError):
        safe_tool(action="read")  # missing `table`
    with pytest.raises(TypeError):
        safe_tool("read", "t", 1, 2)
    with pytest.raises(TypeError):
        safe_tool("read", "t", action="drop")
    with pytest.raises(TypeError):
        safe_tool(action="read", table="t", bogus=1)
    assert calls == []
    assert len(log) == 0


# -- the request ---------------------------------------------------------------------------


def test_request_shape(seed_policy: Path) -> None:
    log = AuditLog()
    safe_tool = govern(
        my_tool,
        policy=seed_policy,
        audit=log,
        agent_id="billing-bot",
        agent={"team": "finance"},
        context={"env": "prod"},
    )
    with governance_context(user="alice"):
        safe_tool("read", "users")
    request = log.records()[0].request
    assert request == {
        "action": {"type": "read", "tool": "my_tool"},
        "args": {"action": "read", "table": "users", "limit": 10},
        "agent": {"id": "billing-bot", "team": "finance"},
        "context": {"env": "prod", "user": "alice"},
        "stage": "pre_tool",
    }


def test_action_type_from_dict_and_from_tool_name(tmp_path: Path) -> None:
    log = AuditLog()

    def act(action: dict[str, Any]) -> str:
        return str(action["type"])

    def send_email(to: str) -> str:
        return to

    policy = allow_all()
    assert govern(act, policy=policy, audit=log)(action={"type": "drop", "target": "users"}) == "drop"
    assert govern(send_email, policy=policy, audit=log)(to="a@b.c") == "a@b.c"
    first, second = log.records()
    assert first.request["action"] == {"type": "drop", "target": "users", "tool": "act"}
    assert second.request["action"] == {"type": "send_email", "tool": "send_email"}
    with pytest.raises(GovernanceDenied, match="mapping without a string `type`"):
        govern(act, policy=policy, audit=log)(action={"kind": "drop"})


def test_var_args_and_kwargs_are_bound_by_name() -> None:
    log = AuditLog()

    def tool(action: str, *paths: str, **options: Any) -> int:
        return len(paths) + len(options)

    safe = govern(tool, policy=allow_all(), audit=log)
    assert safe("copy", "a", "b", force=True) == 3
    assert log.records()[0].request["args"] == {"action": "copy", "paths": ["a", "b"], "force": True}


# -- outcomes ------------------------------------------------------------------------------


def test_on_deny_returns_a_value_instead_of_raising(seed_policy: Path) -> None:
    seen = []
    safe_tool = govern(my_tool, policy=seed_policy, on_deny=lambda d: seen.append(d.rule) or "refused")
    assert safe_tool(action="drop", table="users") == "refused"
    assert seen == ["block-destructive"]
    assert calls == []


def test_warn_lets_the_call_through_and_logs_once_per_rule(caplog: pytest.LogCaptureFixture) -> None:
    policy = allow_all(
        """- name: careful-with-exports
  condition: "action.type == 'export'"
  action: warn
  message: exports are reviewed weekly
"""
    )
    safe_tool = govern(my_tool, policy=policy, audit=False)
    with caplog.at_level(logging.INFO, logger="agent_os"):
        for _ in range(3):
            assert safe_tool(action="export", table="users") == "export users"
    notices = [r for r in caplog.records if "careful-with-exports" in r.getMessage()]
    assert len(notices) == 1
    assert notices[0].levelno == logging.WARNING
    assert "exports are reviewed weekly" in notices[0].getMessage()
    assert len(calls) == 3


def test_fail_closed_when_a_deny_condition_errors() -> None:
    policy = allow_all(
        """- name: big-transfers
  condition: "action.type == 'transfer' && args.amount > 1000"
  action: deny
"""
    )

    def transfer(action: str, amount: Any) -> str:
        return "sent"

    safe = govern(transfer, policy=policy, audit=False)
    assert safe(action="transfer", amount=10) == "sent"
    with pytest.raises(GovernanceDenied) as info:
        safe(action="transfer", amount="5000")  # a number passed as a string cannot slip through
    decision = info.value.decision
    assert decision.rule == "big-transfers"
    assert decision.matched[0].errored
    assert decision.errors and decision.errors[0].rule == "big-transfers"


def test_unrepresentable_arguments_are_denied_and_audited(seed_policy: Path) -> None:
    log = AuditLog()
    safe_tool = govern(my_tool, policy=seed_policy, audit=log)
    with pytest.raises(GovernanceDenied, match="request could not be built"):
        safe_tool(action="read", table=float("nan"))
    assert calls == []
    record = log.records()[0]
    assert record.decision.effect == "deny"
    assert "not a JSON number" in record.decision.errors[0].message


# -- approvals -----------------------------------------------------------------------------


def test_default_approval_handler_refuses_quietly_with_guidance(
    seed_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = AuditLog()
    safe_tool = govern(my_tool, policy=seed_policy, audit=log)
    for _ in range(2):
        with pytest.raises(GovernanceDenied) as info:
            safe_tool(action="send_email", table="x")
    text = str(info.value)
    assert "require-approval-for-send" in text
    assert "security-team" in text
    assert "approval_handler=" in text
    assert capsys.readouterr() == ("", "")
    approval = log.records()[0].approval
    assert approval is not None
    assert approval.approved is False
    assert approval.handler == "DenyApprovals"
    assert calls == []


def test_callback_approval_approves_and_records_who(seed_policy: Path) -> None:
    log = AuditLog()
    asked: list[ApprovalRequest] = []

    def approve(req: ApprovalRequest) -> ApprovalResponse:
        asked.append(req)
        return req.approve("alice@security-team", "ticket SEC-1")

    safe_tool = govern(my_tool, policy=seed_policy, audit=log, approval_handler=CallbackApproval(approve))
    assert safe_tool(action="send_email", table="x") == "send_email x"
    assert asked[0].approvers == ("security-team",)
    record = log.records()[0]
    assert record.approval is not None
    assert record.approval.approver == "alice@security-team"
    assert record.approval.request_hash == asked[0].request_hash
    assert record.decision.effect == "require_approval"
    assert log.verify(deep=True) == 1


def test_callback_refusal_and_timeout_deny(seed_policy: Path) -> None:
    safe = govern(
        my_tool, policy=seed_policy, approval_handler=CallbackApproval(lambda r: False), audit=False
    )
    with pytest.raises(GovernanceDenied, match="refused by callback"):
        safe(action="send_email", table="x")
    release = threading.Event()

    def slow(_: ApprovalRequest) -> bool:
        release.wait(5)
        return True

    safe = govern(
        my_tool, policy=seed_policy, approval_handler=CallbackApproval(slow, timeout=0.05), audit=False
    )
    with pytest.raises(GovernanceDenied, match="no answer within"):
        safe(action="send_email", table="x")
    release.set()
    assert calls == []


def test_handler_crash_refuses_and_is_audited(seed_policy: Path) -> None:
    log = AuditLog()

    def broken(_: ApprovalRequest) -> bool:
        raise RuntimeError("pager down")

    safe = govern(my_tool, policy=seed_policy, audit=log, approval_handler=CallbackApproval(broken))
    with pytest.raises(ApprovalError, match="pager down"):
        safe(action="send_email", table="x")
    assert calls == []
    approval = log.records()[0].approval
    assert approval is not None
    assert not approval.approved
    assert "pager down" in approval.reason


def test_console_approval_reads_an_answer(seed_policy: Path) -> None:
    out = io.StringIO()
    handler = ConsoleApproval(timeout=5, input=io.StringIO("y\n"), output=out, approver="ops-oncall")
    log = AuditLog()
    safe = govern(my_tool, policy=seed_policy, audit=log, approval_handler=handler)
    assert safe(action="send_email", table="x") == "send_email x"
    assert "security-team" in out.getvalue()
    approval = log.records()[0].approval
    assert approval is not None
    assert approval.approver == "ops-oncall"

    handler = ConsoleApproval(timeout=5, input=io.StringIO("n\n"), output=io.StringIO())
    with pytest.raises(GovernanceDenied, match="refused at the console"):
        govern(my_tool, policy=seed_policy, audit=False, approval_handler=handler)(
            action="send_email", table="x"
        )


def test_console_approval_times_out(seed_policy: Path) -> None:
    read_fd, write_fd = os.pipe()
    never_answered = os.fdopen(read_fd, "r")
    try:
        handler = ConsoleApproval(timeout=0.05, input=never_answered, output=io.StringIO())
        safe = govern(my_tool, policy=seed_policy, audit=False, approval_handler=handler)
        with pytest.raises(GovernanceDenied, match="no answer on the console"):
            safe(action="send_email", table="x")
    finally:
        # End of input lets the reader thread finish; only then can its stream be closed.
        os.close(write_fd)
        never_answered.close()
    assert calls == []


def test_async_function_with_async_approval_handler(seed_policy: Path) -> None:
    class AsyncApprover:
        async def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
            await asyncio.sleep(0)
            return request.approve("bot")

    async def send(action: str) -> str:
        return "sent"

    safe = govern(send, policy=seed_policy, approval_handler=AsyncApprover(), audit=False)
    assert asyncio.run(safe(action="send_email")) == "sent"


# -- audit ---------------------------------------------------------------------------------


def test_every_decision_is_audited_by_default(seed_policy: Path) -> None:
    log = agent_os.default_audit_log()
    before = len(log)
    safe_tool = govern(my_tool, policy=seed_policy)
    safe_tool(action="read", table="a")
    with pytest.raises(GovernanceDenied):
        safe_tool(action="drop", table="a")
    assert len(log) == before + 2
    assert [r.decision.effect for r in log.records()[-2:]] == ["allow", "deny"]
    log.verify(deep=True)


def test_audit_off(seed_policy: Path) -> None:
    safe_tool = govern(my_tool, policy=seed_policy, audit=False)
    assert safe_tool.audit_log is None
    assert safe_tool(action="read", table="a") == "read a"


def test_audit_failure_refuses_the_call(seed_policy: Path) -> None:
    def broken_sink(_: str) -> None:
        raise OSError("read-only file system")

    safe_tool = govern(my_tool, policy=seed_policy, audit=AuditLog(sink=broken_sink))
    with pytest.raises(AuditError, match="read-only"):
        safe_tool(action="read", table="a")
    assert calls == []


# -- rate limits ---------------------------------------------------------------------------


def test_rate_limit_holds_under_concurrent_calls() -> None:
    policy = allow_all(
        """- name: search-quota
  condition: "action.type == 'search'"
  action: allow
  limit: "50/hour"
"""
    )
    counter = 0
    lock = threading.Lock()

    def search(action: str) -> None:
        nonlocal counter
        with lock:
            counter += 1

    log = AuditLog()
    safe = govern(search, policy=policy, audit=log, agent_id="crawler")
    denied = 0
    barrier = threading.Barrier(8)

    def worker() -> None:
        nonlocal denied
        barrier.wait()
        for _ in range(25):
            try:
                safe(action="search")
            except GovernanceDenied as exc:
                assert exc.decision.rate_limited
                with lock:
                    denied += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter == 50
    assert denied == 150
    assert log.verify(deep=True) == 200
    # Another agent has its own quota.
    govern(search, policy=policy, audit=False, agent_id="other")(action="search")
    assert counter == 51


# -- post_tool -----------------------------------------------------------------------------


def test_post_tool_rules_check_the_result() -> None:
    policy = allow_all(
        """- name: no-secrets-out
  stage: post_tool
  condition: "result.contains('BEGIN PRIVATE KEY')"
  action: deny
  message: tool output contains a private key
"""
    )

    def read_file(path: str) -> str:
        return "-----BEGIN PRIVATE KEY-----" if path == "key.pem" else "hello"

    log = AuditLog()
    safe = govern(read_file, policy=policy, audit=log)
    assert safe(path="notes.txt") == "hello"
    with pytest.raises(GovernanceDenied, match="private key"):
        safe(path="key.pem")
    stages = [(r.request["stage"], r.decision.effect) for r in log.records()]
    assert stages == [
        ("pre_tool", "allow"),
        ("post_tool", "allow"),
        ("pre_tool", "allow"),
        ("post_tool", "deny"),
    ]
    assert log.records()[-1].request["result"] == "-----BEGIN PRIVATE KEY-----"


def test_limits_are_shared_across_tools_of_one_policy_set_unless_given_a_limiter() -> None:
    from agent_os import RateLimiter

    policy = allow_all(
        """- name: quota-shared-by-tools
  condition: "action.type == 'lookup'"
  action: allow
  limit: "2/hour"
"""
    )

    def a(action: str) -> str:
        return "a"

    def b(action: str) -> str:
        return "b"

    safe_a = govern(a, policy=policy, audit=False, agent_id="shared-quota-agent")
    safe_b = govern(b, policy=policy, audit=False, agent_id="shared-quota-agent")
    assert safe_a(action="lookup") == "a"
    assert safe_b(action="lookup") == "b"
    with pytest.raises(GovernanceDenied) as info:
        safe_a(action="lookup")
    assert info.value.decision.rate_limited
    own = govern(b, policy=policy, audit=False, agent_id="shared-quota-agent", rate_limiter=RateLimiter())
    assert own(action="lookup") == "b"


def test_warn_notice_is_once_per_rule_across_tools(caplog: pytest.LogCaptureFixture) -> None:
    policy = allow_all(
        """- name: warn-once-across-tools
  condition: "action.type == 'peek'"
  action: warn
"""
    )

    def a(action: str) -> None:
        return None

    def b(action: str) -> None:
        return None

    with caplog.at_level(logging.INFO, logger="agent_os"):
        govern(a, policy=policy, audit=False)(action="peek")
        govern(b, policy=policy, audit=False)(action="peek")
    assert sum("warn-once-across-tools" in r.getMessage() for r in caplog.records) == 1


def test_approval_request_exposes_action_args_and_agent(seed_policy: Path) -> None:
    seen: list[ApprovalRequest] = []
    safe = govern(
        my_tool,
        policy=seed_policy,
        audit=False,
        agent_id="mailer",
        approval_handler=CallbackApproval(lambda r: seen.append(r) or True),
    )
    safe(action="send_email", table="x")
    request = seen[0]
    assert request.action["type"] == "send_email"
    assert request.args == {"action": "send_email", "table": "x", "limit": 10}
    assert request.agent["id"] == "mailer"


def test_an_evaluator_that_crashes_denies_and_is_audited(seed_policy: Path) -> None:
    from agent_os import compile_policies

    class Crashing:
        """A PolicySet whose evaluate raises: a bug in an evaluator must not let calls through."""

        def __init__(self) -> None:
            self.inner = compile_policies(seed_policy)
            self.hash = self.inner.hash
            self.policy_names = self.inner.policy_names
            self.stages = self.inner.stages
            self.policy_hashes = self.inner.policy_hashes
            self.limits = self.inner.limits
            self.warnings = ()
            self.evaluator = "crashing"

        def evaluate(self, request: Any) -> Any:
            raise RuntimeError("segfault-ish")

    log = AuditLog()
    safe = govern(my_tool, policy=Crashing(), audit=log)
    with pytest.raises(GovernanceDenied, match="evaluator failed: RuntimeError: segfault-ish"):
        safe(action="read", table="users")
    assert calls == []
    assert log.records()[0].decision.effect == "deny"


def test_objects_with_async_call_are_governed_as_async(seed_policy: Path) -> None:
    class Tool:
        __name__ = "async_tool"

        async def __call__(self, action: str) -> str:
            return action

    safe = govern(Tool(), policy=seed_policy, audit=False)
    assert inspect.iscoroutinefunction(safe)
    assert asyncio.run(safe(action="read")) == "read"
    with pytest.raises(GovernanceDenied):
        asyncio.run(safe(action="drop"))
