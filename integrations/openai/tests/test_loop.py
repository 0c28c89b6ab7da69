"""agt-openai with the real OpenAI client on an `httpx2.MockTransport` (no network, no keys)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from openai import AsyncOpenAI, OpenAI

from agent_os import AuditLog
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
from agt_openai import ToolGovernance

Call = tuple[str, str, dict[str, Any]]


class ScriptedServer:
    """A fake OpenAI API: the first request gets the scripted tool calls, later ones "done"."""

    def __init__(self, *calls: Call, custom: tuple[str, str, str] | None = None) -> None:
        self.calls = list(calls)
        self.custom = custom
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        first = len(self.requests) == 1
        if request.url.path.endswith("/responses"):
            return httpx2.Response(200, json=self._response(first))
        return httpx2.Response(200, json=self._completion(first))

    def _completion(self, first: bool) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None if first else "done"}
        if first:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                for cid, name, args in self.calls
            ]
            if self.custom is not None:
                cid, name, text = self.custom
                message["tool_calls"].append(
                    {"id": cid, "type": "custom", "custom": {"name": name, "input": text}}
                )
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-test",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if first else "stop"}],
        }

    def _response(self, first: bool) -> dict[str, Any]:
        if first:
            output: list[dict[str, Any]] = [
                {"type": "function_call", "call_id": cid, "name": name, "arguments": json.dumps(args)}
                for cid, name, args in self.calls
            ]
            output.append({"type": "web_search_call", "id": "ws1", "status": "completed"})
        else:
            output = [
                {
                    "type": "message",
                    "id": "m1",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "done", "annotations": []}],
                }
            ]
        return {
            "id": "resp-1",
            "object": "response",
            "created_at": 0,
            "model": "gpt-test",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "status": "completed",
        }

    def tool_results(self) -> dict[str, str]:
        """What the model was shown on its second turn, by tool-call id."""
        second = self.requests[1]
        if "messages" in second:
            return {m["tool_call_id"]: m["content"] for m in second["messages"] if m.get("role") == "tool"}
        return {i["call_id"]: i["output"] for i in second["input"] if i.get("type", "").endswith("_output")}


def tools(ledger: ToolLedger) -> list[Any]:
    def read_table(name: str) -> str:
        return ledger.record("read_table", name=name)

    def delete_db(name: str) -> str:
        return ledger.record("delete_db", name=name)

    async def send_email(to: str) -> str:
        return ledger.record("send_email", to=to)

    def run_sql(query: str) -> str:
        return ledger.record("run_sql", query=query)

    return [read_table, delete_db, send_email, run_sql]


def client(server: ScriptedServer) -> OpenAI:
    return OpenAI(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(server)))


def async_client(server: ScriptedServer) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))


def chat_loop(governance: ToolGovernance, server: ScriptedServer, **context: Any) -> str:
    """The application's tool loop, with the adapter as its tool step."""
    openai = client(server)
    messages: list[Any] = [{"role": "user", "content": "go"}]
    while True:
        completion = openai.chat.completions.create(model="gpt-test", messages=messages)
        message = completion.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        messages += governance.run_tool_calls(message, **context)


async def achat_loop(governance: ToolGovernance, server: ScriptedServer) -> str:
    openai = async_client(server)
    messages: list[Any] = [{"role": "user", "content": "go"}]
    while True:
        completion = await openai.chat.completions.create(model="gpt-test", messages=messages)
        message = completion.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        messages += await governance.arun_tool_calls(message)


def responses_loop(governance: ToolGovernance, server: ScriptedServer, use_async: bool = False) -> str:
    async def go() -> str:
        openai = async_client(server)
        response = await openai.responses.create(model="gpt-test", input="go")
        outputs = await governance.arun_function_calls(response)
        response = await openai.responses.create(
            model="gpt-test", input=[*response.output, *outputs], previous_response_id=response.id
        )
        return response.output_text

    if use_async:
        return asyncio.run(go())
    openai = client(server)
    response = openai.responses.create(model="gpt-test", input="go")
    outputs = governance.run_function_calls(response)
    response = openai.responses.create(
        model="gpt-test", input=[*response.output, *outputs], previous_response_id=response.id
    )
    return response.output_text


SCRIPT: list[Call] = [("c1", "read_table", {"name": "users"}), ("c2", "delete_db", {"name": "prod"})]


@pytest.mark.parametrize("mode", ["chat", "achat", "responses", "aresponses"])
def test_allowed_runs_refused_never_runs_and_model_sees_refusal(mode: str) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolGovernance(POLICY, tools=tools(ledger), audit=log, agent_id="ops-bot")
    server = ScriptedServer(*SCRIPT)
    if mode == "chat":
        output = chat_loop(governance, server, agent="ops-agent")
    elif mode == "achat":
        output = asyncio.run(achat_loop(governance, server))
    else:
        output = responses_loop(governance, server, use_async=mode == "aresponses")

    assert output == "done"
    assert ledger.calls == [("read_table", {"name": "users"})]
    shown = server.tool_results()
    assert shown["c1"] == "read_table done"
    assert DENY_MESSAGE in shown["c2"] and "block-destructive" in shown["c2"]

    entries = {e["framework"]["tool_call_id"]: e for e in audit_entries(log)}
    assert entries["c1"]["allowed"] is True and entries["c1"]["args"] == {"name": "users"}
    assert entries["c2"]["allowed"] is False and entries["c2"]["rule"] == "block-destructive"
    for entry in entries.values():
        assert entry["agent_id"] == "ops-bot"
        assert entry["framework"]["name"] == "openai" and entry["framework"]["version"]
        assert entry["framework"]["api"] == ("chat" if "chat" in mode else "function_call")
    if mode == "chat":
        assert entries["c1"]["framework"]["agent"] == "ops-agent"
    assert log.verify() == 2


def test_parallel_calls_are_each_governed() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    calls: list[Call] = [(f"d{i}", "delete_db", {"name": f"db{i}"}) for i in range(3)]
    calls += [(f"r{i}", "read_table", {"name": f"t{i}"}) for i in range(3)]
    server = ScriptedServer(*calls)
    chat_loop(ToolGovernance(POLICY, tools=tools(ledger), audit=log), server)

    assert ledger.calls == [("read_table", {"name": f"t{i}"}) for i in range(3)]
    shown = server.tool_results()
    assert all(DENY_MESSAGE in shown[f"d{i}"] for i in range(3))
    assert {e["framework"]["tool_call_id"]: e["allowed"] for e in audit_entries(log)} == {
        **{f"d{i}": False for i in range(3)},
        **{f"r{i}": True for i in range(3)},
    }


def test_custom_tool_calls_are_governed() -> None:
    policy = {
        **POLICY,
        "rules": [
            *POLICY["rules"],
            {
                "name": "no-drop",
                "condition": "action.tool == 'run_sql' && args.input.contains('DROP')",
                "action": "deny",
                "message": "no DROP",
            },
        ],
    }
    log = AuditLog()
    ledger = ToolLedger()
    server = ScriptedServer(custom=("x1", "run_sql", "DROP TABLE users"))
    chat_loop(ToolGovernance(policy, tools=tools(ledger), audit=log), server)

    assert ledger.calls == []
    assert "no DROP" in server.tool_results()["x1"]
    [entry] = audit_entries(log)
    assert entry["args"] == {"input": "DROP TABLE users"} and entry["rule"] == "no-drop"


@pytest.mark.parametrize("approve", [True, False])
def test_require_approval_goes_through_the_handler(approve: bool) -> None:
    log = AuditLog()
    ledger = ToolLedger()
    approver = ScriptedApprover(approve)
    server = ScriptedServer(("e1", "send_email", {"to": "cfo@example.com"}))
    governance = ToolGovernance(POLICY, tools=tools(ledger), audit=log, approval_handler=approver)
    asyncio.run(achat_loop(governance, server))

    assert [r.args for r in approver.requests] == [{"to": "cfo@example.com"}]
    assert ledger.names() == (["send_email"] if approve else [])
    assert (server.tool_results()["e1"] == "send_email done") is approve
    [entry] = audit_entries(log)
    assert entry["effect"] == "require_approval" and entry["approved"] is approve


def test_crashing_evaluator_refuses() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    server = ScriptedServer(("c1", "read_table", {"name": "users"}))
    chat_loop(ToolGovernance(CrashingPolicySet(), tools=tools(ledger), audit=log), server)

    assert ledger.calls == []
    assert "refused" in server.tool_results()["c1"]
    [entry] = audit_entries(log)
    assert entry["allowed"] is False


def test_failing_audit_refuses() -> None:
    ledger = ToolLedger()
    server = ScriptedServer(("c1", "read_table", {"name": "users"}))
    chat_loop(ToolGovernance(POLICY, tools=tools(ledger), audit=failing_audit_log()), server)

    assert ledger.calls == []
    assert "governance check failed" in server.tool_results()["c1"]


def test_unparseable_arguments_are_refused_and_audited() -> None:
    log = AuditLog()
    ledger = ToolLedger()
    governance = ToolGovernance(POLICY, tools=tools(ledger), audit=log)
    openai = client(ScriptedServer(("c1", "read_table", {"name": "users"})))
    message = openai.chat.completions.create(model="gpt-test", messages=[]).choices[0].message
    assert message.tool_calls is not None
    message.tool_calls[0].function.arguments = '{"name": '  # type: ignore[union-attr]
    [output] = governance.run_tool_calls(message)

    assert ledger.calls == []
    assert "refused" in str(output["content"])
    assert audit_entries(log)[0]["allowed"] is False


def test_raise_mode_runs_nothing_of_the_batch() -> None:
    ledger = ToolLedger()
    server = ScriptedServer(*SCRIPT)
    governance = ToolGovernance(POLICY, tools=tools(ledger), audit=AuditLog(), on_refusal="raise")
    with pytest.raises(GovernanceDenied, match="block-destructive"):
        chat_loop(governance, server)
    assert ledger.calls == []  # not even the allowed read_table of the same batch
    assert len(server.requests) == 1


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
    chat_loop(ToolGovernance(policy, tools=tools(ledger), audit=AuditLog()), server)

    assert ledger.names() == ["read_table"]
    assert "result withheld" in server.tool_results()["c1"]
