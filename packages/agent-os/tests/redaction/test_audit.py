"""Redaction before hashing: secrets never reach the audit trail, and the trail still verifies.

The policy judges the request as made (a rule can deny on the secret itself); the record is
hashed from the redacted copy and says what was redacted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from agent_os import AuditLog, GovernanceDenied, ToolGate, govern, verify_audit_lines

AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
EMAIL = "jane.roe@example.com"
CARD = "4111 1111 1111 1111"
PASSWORD = "hunter2-Tr0ub4dor"
SECRETS = (AWS_KEY, EMAIL, CARD, PASSWORD, "IOSFODNN7EXAMPLE")

POLICY = """
apiVersion: governance.toolkit/v1
name: redacting
default_action: allow
redaction:
  detectors: [aws_access_key, email, credit_card, url_password, secret_field]
rules:
- name: no-aws-keys-in-mail
  condition: "action.type == 'send' && args.body.contains('AKIA')"
  action: deny
  message: "do not mail AWS keys"
"""


def send(to: str, body: str) -> str:
    return f"sent to {to}"


def _calls(tool: Any) -> None:
    assert tool(EMAIL, f"card {CARD}") == f"sent to {EMAIL}"  # redaction never changes what runs
    with pytest.raises(GovernanceDenied, match="no-aws-keys-in-mail"):
        tool(EMAIL, f"here is the key {AWS_KEY}")  # the policy saw the unredacted body
    assert tool("ops@example.com", f"db at postgres://app:{PASSWORD}@db:5432/x") == "sent to ops@example.com"


def _no_secret_in(data: bytes) -> None:
    for secret in SECRETS:
        assert secret.encode() not in data, secret


def test_in_memory_log_holds_no_secret_and_verifies() -> None:
    log = AuditLog()
    _calls(govern(send, policy=POLICY, audit=log))
    _no_secret_in("\n".join(log.lines()).encode())
    assert log.verify(deep=True) == 3
    verify_audit_lines(log.lines(), expected_head=log.head[1])
    first, denied, third = log.records()
    assert first.request["redaction"] == {"count": 2, "detectors": {"credit_card": 1, "email": 1}}
    assert first.request["args"] == {"to": "[REDACTED:email]", "body": "card [REDACTED:credit_card]"}
    assert denied.decision.rule == "no-aws-keys-in-mail" and not denied.decision.allowed
    assert denied.request["args"]["body"] == "here is the key [REDACTED:aws_access_key]"
    assert third.request["redaction"]["detectors"] == {"email": 1, "url_password": 1}


def test_jsonl_file_on_disk_holds_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with path.open("a", encoding="utf-8") as out:

        def write(line: str) -> None:
            out.write(line + "\n")
            out.flush()

        log = AuditLog(sink=write)
        _calls(govern(send, policy=POLICY, audit=log))
    data = path.read_bytes()
    _no_secret_in(data)
    head = verify_audit_lines(data.decode().splitlines(), expected_head=log.head[1])
    assert head.count == 3


def test_sqlite_store_of_agent_hypervisor_holds_no_secret_and_verifies(tmp_path: Path) -> None:
    hypervisor = pytest.importorskip("agent_hypervisor")
    db = tmp_path / "audit.db"
    tool = govern(send, policy=POLICY, audit=str(db))
    _calls(tool)
    store = tool.audit_log
    store.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("audit.db")]
    _no_secret_in(b"".join(p.read_bytes() for p in files))
    reopened = hypervisor.SqliteAuditLog(str(db))
    try:
        report = reopened.verify(deep=True)
        assert report.ok, report
        assert len(reopened) == 3
    finally:
        reopened.close()
    rows = sqlite3.connect(db).execute("select count(*) from sqlite_master").fetchone()
    assert rows[0] > 0


def test_without_redaction_the_secret_is_recorded() -> None:
    """The control: the same calls with a policy that does not redact keep the secrets."""
    log = AuditLog()
    plain = "\n".join(
        line for line in POLICY.splitlines() if not line.startswith(("redaction:", "  detectors"))
    )
    _calls(govern(send, policy=plain, audit=log))
    text = "\n".join(log.lines())
    assert AWS_KEY in text and EMAIL in text


def test_govern_option_adds_redaction_and_cannot_remove_the_policys() -> None:
    log = AuditLog()
    plain = POLICY.replace(
        "redaction:\n  detectors: [aws_access_key, email, credit_card, url_password, secret_field]\n", ""
    )
    assert "redaction" not in plain
    govern(send, policy=plain, audit=log, redaction=True)(EMAIL, "hi")
    assert EMAIL not in log.lines()[0]
    log2 = AuditLog()
    govern(send, policy=POLICY, audit=log2, redaction=False)(EMAIL, "hi")
    assert EMAIL not in log2.lines()[0]
    log3 = AuditLog()
    govern(send, policy=POLICY, audit=log3, redaction={"detectors": ["phone_number"]})(
        EMAIL, "+1 415 555 0132"
    )
    assert log3.records()[0].request["redaction"]["detectors"] == {"email": 1, "phone_number": 1}


def test_refusal_messages_are_redacted() -> None:
    """A request that cannot be built is refused with a message that may quote the value."""
    log = AuditLog()

    def count(n: int) -> int:
        return n

    tool = govern(count, policy=POLICY, audit=log)
    with pytest.raises(GovernanceDenied):
        tool(f"{EMAIL}")  # a str where an int is declared
    record = log.records()[-1]
    assert record.decision.refused_by == "kernel:request"
    assert EMAIL not in log.lines()[-1]


def test_caller_cannot_forge_the_redaction_report() -> None:
    log = AuditLog()
    gate = ToolGate(policy=POLICY, audit=log)
    outcome = gate.kernel.enforce(
        {
            "action": {"type": "send", "tool": "send"},
            "args": {"body": "nothing secret"},
            "agent": {"id": "a"},
            "context": {},
            "stage": "pre_tool",
            "redaction": {"count": 0, "detectors": {}},
        }
    )
    assert outcome.allowed
    assert "redaction" not in log.records()[-1].request


def test_results_are_redacted_when_the_policy_says_so() -> None:
    policy = POLICY.replace("redaction:\n", "redaction:\n  results: true\n")
    log = AuditLog()

    def lookup(user: str) -> dict[str, Any]:
        return {"user": user, "email": EMAIL, "notes": [f"card {CARD}"]}

    tool = govern(lookup, policy=policy, audit=log)
    assert tool("jane") == {
        "user": "jane",
        "email": "[REDACTED:email]",
        "notes": ["card [REDACTED:credit_card]"],
    }

    async def alookup(user: str) -> str:
        return f"{user} <{EMAIL}>"

    assert asyncio.run(govern(alookup, policy=policy, audit=log)("jane")) == "jane <[REDACTED:email]>"


def test_an_unscannable_result_is_withheld_and_audited() -> None:
    policy = POLICY.replace("redaction:\n", "redaction:\n  results: true\n")
    log = AuditLog()

    class Opaque:
        pass

    def make() -> Opaque:
        return Opaque()

    with pytest.raises(GovernanceDenied, match="cannot be scanned for secrets"):
        govern(make, policy=policy, audit=log)()
    assert log.records()[-1].decision.refused_by == "kernel:redaction"


def test_post_tool_rules_judge_the_result_as_returned_and_the_record_is_redacted() -> None:
    policy = POLICY + (
        "- name: no-leaked-keys\n"
        "  stage: post_tool\n"
        "  condition: \"result.contains('AKIA')\"\n"
        "  action: deny\n"
    )
    log = AuditLog()

    def leak() -> str:
        return f"key={AWS_KEY}"

    with pytest.raises(GovernanceDenied, match="no-leaked-keys"):
        govern(leak, policy=policy, audit=log)()
    post = log.records()[-1]
    assert post.request["stage"] == "post_tool"
    assert post.request["result"] == "key=[REDACTED:aws_access_key]"
    _no_secret_in("\n".join(log.lines()).encode())


def test_fields_limit_what_is_redacted() -> None:
    policy = POLICY.replace("redaction:\n", "redaction:\n  fields: [args.body]\n")
    log = AuditLog()
    govern(send, policy=policy, audit=log)(EMAIL, f"to {EMAIL}")
    args = log.records()[0].request["args"]
    assert args == {"to": EMAIL, "body": "to [REDACTED:email]"}


def test_policy_hash_covers_the_redaction_block() -> None:
    from agent_os import compile_policies

    with_block = compile_policies(POLICY, evaluator="python")
    without = compile_policies(
        POLICY.replace("detectors: [aws_access_key, ", "detectors: ["), evaluator="python"
    )
    assert with_block.hash != without.hash


def test_the_native_evaluator_accepts_a_policy_with_redaction() -> None:
    pytest.importorskip("agt_evaluator")
    log = AuditLog()
    tool = govern(send, policy=POLICY, audit=log, evaluator="native")
    _calls(tool)
    _no_secret_in("\n".join(log.lines()).encode())


def test_an_extended_policy_inherits_redaction(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(POLICY)
    (tmp_path / "child.yaml").write_text(
        "apiVersion: governance.toolkit/v1\nname: child\nextends: base.yaml\ndefault_action: allow\n"
    )
    log = AuditLog()
    govern(send, policy=str(tmp_path / "child.yaml"), audit=log)(EMAIL, "x")
    assert EMAIL not in log.lines()[0]


def test_a_bad_redaction_block_is_refused_at_load_with_its_position(tmp_path: Path) -> None:
    from agent_os import PolicyError, compile_policies

    path = tmp_path / "bad.yaml"
    path.write_text(POLICY.replace("aws_access_key, email", "aws_acess_key, email"))
    with pytest.raises(PolicyError) as info:
        compile_policies(str(path))
    text = str(info.value)
    assert "redaction" in text and os.path.basename(path) in text
    assert json.dumps("aws_acess_key")[1:-1] in text


def test_concurrent_calls_keep_secrets_out_and_the_chain_whole(tmp_path: Path) -> None:
    import threading

    hypervisor = pytest.importorskip("agent_hypervisor")
    memory = AuditLog()
    tools = [
        govern(send, policy=POLICY, audit=memory),
        govern(send, policy=POLICY, audit=str(tmp_path / "c.db")),
    ]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                for tool in tools:
                    tool(f"user{n}.{i}@example.com", f"card {CARD} and {n}-{i}")
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert memory.verify(deep=True) == 150
    _no_secret_in("\n".join(memory.lines()).encode())
    assert b"@example.com" not in "\n".join(memory.lines()).encode()
    tools[1].audit_log.close()
    _no_secret_in(b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("c.db")))
    reopened = hypervisor.SqliteAuditLog(str(tmp_path / "c.db"))
    try:
        assert reopened.verify(deep=True).ok and len(reopened) == 150
    finally:
        reopened.close()


class _JsonSink:
    """A sink that takes the request builder's canonical JSON, as agent-hypervisor's stores do."""

    accepts_request_json = True

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], str | None]] = []

    def append(
        self, request: Any, decision: Any, approval: Any = None, *, request_json: str | None = None
    ) -> str:
        self.calls.append((dict(request), request_json))
        return "0" * 64


def test_without_redaction_the_kernel_keeps_its_fast_path() -> None:
    plain = POLICY.replace(
        "redaction:\n  detectors: [aws_access_key, email, credit_card, url_password, secret_field]\n", ""
    )
    sink = _JsonSink()
    tool = govern(send, policy=plain, audit=sink)
    assert tool.kernel.redactor is None  # type: ignore[attr-defined]
    tool(EMAIL, "hi")
    assert sink.calls[0][1] is not None  # the canonical JSON made once by the request builder is reused
    redacting = _JsonSink()
    govern(send, policy=POLICY, audit=redacting)(EMAIL, "hi")
    request, request_json = redacting.calls[0]
    assert request_json is None  # never the unredacted text
    assert request["args"]["to"] == "[REDACTED:email]"
