"""agt-anthropic with the real Anthropic client on an `httpx2.MockTransport` (no network, no keys)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from anthropic import Anthropic, AsyncAnthropic
from anthropic.lib.tools import beta_tool

from agent_os import AuditLog
from agt_anthropic import ToolGovernance
from agt_core import GovernanceDenied
from agt_integrations.testing import (
    DENY_MESSAGE,
    POLICY,
    CrashingPolicySet,
    ScriptedApprover,
    ToolLedger,
    audit_entries,
    failing_audit_log,
)

Call = tuple[str, str, dict[str, Any]]


class ScriptedServer:
    """A fake Messages API: the first request gets the scripted tool uses, later ones "done"."""

    def __init__(self, *calls: Call) -> None:
        self.calls = list(calls)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(json.loads(request.content))
        if len(self.requests) == 1:
            content: list[dict[str, Any]] = [{"type": "text", "text": "on it"}]
            content += [{"type": "tool_use", "id": cid, "name": n, "input": a} for cid, n, a in self.calls]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": "done"}], "end_turn"
        return httpx2.Response(
            200,
            json={
                "id": f"msg_{len(self.requests)}",
                "type": "message",
                "role": "assistant",
                "model": "claude-test",
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        )

    def tool_results(self) -> dict[str, tuple[bool, str]]:
        """What the model was shown on its second turn: tool_use_id -> (is_error, text)."""
        out = {}
        for message in self.requests[1]["messages"]:
            if isinstance(message["content"], list):
                for block in message["content"]:
                    if block.get("type") == "tool_result":
                        content = block["content"]
                        text = (
                            content
                            if isinstance(content, str)
                            else " ".join(c.get("text", "") for c in content)
                        )
                        out[block["tool_use_id"]] = (bool(block.get("is_error")), text)
        return out


def tools(ledger: ToolLedger) -> list[Any]:
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    def delete_db(name: str) -> str:
        """Delete a database."""
        return ledger.record("delete_db", name=name)

    async def send_email(to: str) -> str:
        """Send an email."""
        return ledger.record("send_email", to=to)

    return [read_table, delete_db, send_email]


def client(server: ScriptedServer) -> Anthropic:
    return Anthropic(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(server)))


def async_client(server: ScriptedServer) -> AsyncAnthropic:
    return AsyncAnthropic(
        api_key="test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )


def loop(governance: ToolGovernance, server: ScriptedServer, **context: Any) -> str:
    """The application's tool loop, with the adapter as its tool step."""
    anthropic = client(server)
    messages: list[Any] = [{"role": "user", "content": "go"}]
    while True:
        message = anthropic.messages.create(model="claude-test", max_tokens=100, messages=messages)
        if message.stop_reason != "tool_use":
            return "".join(b.text for b in message.content if b.type == "text")
        messages.append({"role": "assistant", "content": message.content})
        messages.append({"role": "user", "content": governance.run_tool_uses(message, **context)})


async def aloop(governance: ToolGovernance, server: ScriptedServer) -> str:
    anthropic = async_client(server)
    messages: list[Any] = [{"role": "user", "content": "go"}]
    while True:
        message = await anthropic.messages.create(model="claude-test", max_tokens=100, messages=messages)
        if message.stop_reason != "tool_use":
            return "".join(b.text for b in message.content if b.type == "text")
        messages.append({"role": "assistant", "content": message.content})
        messages.append({"role": "user", "content": await governance.arun_tool_uses(message)})


SCRIPT: list[Call] = [("c1", "read_table", {"name": "users"}), ("c2", "delete_db", {"name": "prod"})]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolGovernance(POLICY, tools=tools(ledger), audit=log, agent_id="ops-bot")
    server = ScriptedServer(*SCRIPT)
    output = (
        asyncio.run(aloop(governance, server)) if use_async else loop(governance, server, agent="ops-agent")
    )

    assert output == "done"
    assert ledger.calls == [("read_table", {"name": "users"})]
    shown = server.tool_results()
    assert shown["c1"] == (False, "read_table done")
    assert shown["c2"][0] is True and DENY_MESSAGE in shown["c2"][1] and "block-destructive" in shown["c2"][1]

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "anthropic" and entry["framework"]["version"]
    if not use_async:
        assert entries["c1"]["framework"]["agent"] == "ops-agent"
    assert log.verify() == 2


def test_parallel_tool_uses_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls: list[Call] = [(f"d{i}", "delete_db", {"name": f"db{i}"}) for i in range(3)]
    calls += [(f"r{i}", "read_table", {"name": f"t{i}"}) for i in range(3)]
    server = ScriptedServer(*calls)
    loop(ToolGovernance(POLICY, tools=tools(ledger), audit=log), server)

    assert ledger.calls == [("read_table", {"name": f"t{i}"}) for i in range(3)]
    shown = server.tool_results()
    assert all(shown[f"d{i}"][0] and DENY_MESSAGE in shown[f"d{i}"][1] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    server = ScriptedServer(("e1", "send_email", {"to": "cfo@example.com"}))
    governance = ToolGovernance(POLICY, tools=tools(ledger), audit=log, approval_handler=approver)
    asyncio.run(aloop(governance, server))

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (server.tool_results()["e1"] == (False, "send_email done")) is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    server = ScriptedServer(("c1", "read_table", {"name": "users"}))
    loop(ToolGovernance(CrashingPolicySet(), tools=tools(ledger), audit=log), server)

    assert ledger.calls == []
    assert server.tool_results()["c1"][0] is True
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    server = ScriptedServer(("c1", "read_table", {"name": "users"}))
    loop(ToolGovernance(POLICY, tools=tools(ledger), audit=failing_audit_log()), server)

    assert ledger.calls == []
    is_error, text = server.tool_results()["c1"]
    assert is_error and "governance check failed" in text


def test_raise_mode_runs_nothing_of_the_batch() -> None:
    ledger = ToolLedger()
    server = ScriptedServer(*SCRIPT)
    governance = ToolGovernance(POLICY, tools=tools(ledger), audit=AuditLog(), on_refusal="raise")
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        loop(governance, server)
    assert ledger.calls == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_beta_tool_runner_tools_are_governed(use_async: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolGovernance(POLICY, audit=log)
    server = ScriptedServer(*SCRIPT)

    @beta_tool
    def read_table(name: str) -> str:
        """Read a table."""
        return ledger.record("read_table", name=name)

    if use_async:

        async def delete_db(name: str) -> str:
            """Delete a database."""
            return ledger.record("delete_db", name=name)

        async def arun() -> Any:
            async def aread_table(name: str) -> str:
                """Read a table."""
                return ledger.record("read_table", name=name)

            aread_table.__name__ = "read_table"
            runner = async_client(server).beta.messages.tool_runner(
                model="claude-test",
                max_tokens=100,
                messages=[{"role": "user", "content": "go"}],
                tools=governance.beta_tools(aread_table, delete_db),  # type: ignore[arg-type]
            )
            return await runner.until_done()

        final = asyncio.run(arun())
    else:

        def delete_db(name: str) -> str:  # type: ignore[misc]
            """Delete a database."""
            return ledger.record("delete_db", name=name)

        runner = client(server).beta.messages.tool_runner(
            model="claude-test",
            max_tokens=100,
            messages=[{"role": "user", "content": "go"}],
            tools=governance.beta_tools(read_table, delete_db),  # type: ignore[arg-type]
        )
        final = runner.until_done()

    assert final.content[0].text == "done"
    assert ledger.calls == [("read_table", {"name": "users"})]
    shown = server.tool_results()
    assert shown["c1"] == (False, "read_table done")
    assert shown["c2"][0] is True and DENY_MESSAGE in shown["c2"][1]
    assert [(e["tool"], e["allowed"], e["framework"]["runner"]) for e in audit_entries(log)] == [
        ("read_table", True, "beta"),
        ("delete_db", False, "beta"),
    ]


def test_post_tool_rules_withhold_a_result() -> None:
    policy = {
        **POLICY,
        "rules": [
            *POLICY["rules"],
            {
                "name": "no-leaks",
                "stage": "post_tool",
                "condition": "result.contains('done')",
                "action": "deny",
                "message": "result withheld",
            },
        ],
    }
    ledger = ToolLedger()
    server = ScriptedServer(("c1", "read_table", {"name": "users"}))
    loop(ToolGovernance(policy, tools=tools(ledger), audit=AuditLog()), server)

    assert ledger.names() == ["read_table"]
    is_error, text = server.tool_results()["c1"]
    assert is_error and "result withheld" in text
