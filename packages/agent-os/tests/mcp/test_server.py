"""Server side: every tools/call, resources/read and prompts/get is governed before it runs."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.server import Server
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolRequestParams, CallToolResult, Implementation, ListToolsResult, TextContent

import agent_os
from agent_os import AuditLog, ToolGate
from agent_os.mcp import META_KEY, REFUSED_ERROR_CODE, GovernanceMiddleware, McpGateway, govern_server

from .conftest import POLICY
from .servers import database

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]


def governed(ran: list[tuple[str, Any]], **options: Any) -> tuple[Any, AuditLog]:
    log = AuditLog()
    server = govern_server(database(ran), policy=POLICY, audit=log, **options)
    return server, log


@pytest.mark.parametrize("mode", MODES)
async def test_refused_call_is_a_tool_error_and_never_runs(mode: str) -> None:
    ran: list[tuple[str, Any]] = []
    server, log = governed(ran)
    async with Client(server, mode=mode, cache=None) as client:
        result = await client.call_tool("drop_table", {"table": "users"})
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert "refused by rule `block-drop` of policy `mcp-policy`" in text
        decision = result.meta[META_KEY]  # type: ignore[index]
        assert decision["rule"] == "block-drop" and decision["effect"] == "deny"
        assert decision["audit_hash"] == log.head[1]
        # the session goes on
        ok = await client.call_tool("query", {"sql": "select 1"})
        assert not ok.is_error
    assert ran == [("query", {"sql": "select 1", "limit": 10})]
    first, second = log.records()
    assert first.request["action"] == {"type": "drop_table", "tool": "drop_table"}
    assert first.request["args"] == {"table": "users"}
    assert first.request["context"]["mcp"]["server"] == "db"
    assert first.request["context"]["mcp"]["method"] == "tools/call"
    assert first.request["context"]["mcp"]["side"] == "server"
    assert first.decision.effect == "deny" and second.decision.effect == "allow"
    assert log.verify() == 2


@pytest.mark.parametrize("mode", MODES)
async def test_resources_and_prompts_are_governed(mode: str) -> None:
    ran: list[tuple[str, Any]] = []
    server, log = governed(ran)
    async with Client(server, mode=mode, cache=None) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource("secret://api-key")
        assert refused.value.code == REFUSED_ERROR_CODE
        assert "no-secret-resources" in refused.value.message
        assert refused.value.data[META_KEY]["rule"] == "no-secret-resources"
        readme = await client.read_resource("docs://readme")
        assert readme.contents[0].text == "hello"  # type: ignore[union-attr]
        with pytest.raises(MCPError) as refused:
            await client.get_prompt("admin")
        assert "no-admin-prompts" in refused.value.message
        greeting = await client.get_prompt("greet", {"who": "ada"})
        assert "greet ada" in str(greeting.messages[0].content)
    assert ran == [("resource", "docs://readme"), ("prompt", "ada")]
    requests = [r.request for r in log.records()]
    assert requests[0]["action"]["type"] == "resources/read"
    assert requests[0]["args"] == {"uri": "secret://api-key"}
    assert requests[3]["args"] == {"name": "greet", "arguments": {"who": "ada"}}


async def test_the_handler_runs_with_the_judged_arguments() -> None:
    seen: list[Any] = []
    ran: list[tuple[str, Any]] = []
    server, _ = governed(ran)
    middleware = server.middleware[-1]
    assert isinstance(middleware, GovernanceMiddleware)

    async def spy(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        seen.append(ctx.params)
        return await call_next(ctx)

    server.middleware.append(spy)  # runs after the gateway: sees exactly what the handler gets
    async with Client(server, cache=None) as client:
        await client.call_tool("query", {"sql": "select 1", "limit": 3})
    tool_calls = [p for p in seen if p and p.get("name") == "query"]
    assert tool_calls[0]["arguments"] == {"sql": "select 1", "limit": 3}
    assert ran == [("query", {"sql": "select 1", "limit": 3})]


async def test_caller_identity_comes_from_identify_not_from_client_info() -> None:
    ran: list[tuple[str, Any]] = []
    log = AuditLog()
    gateway = McpGateway(policy=POLICY, audit=log)
    server = govern_server(
        database(ran), gateway, identify=lambda ctx: {"id": "billing-bot", "team": "finance"}
    )
    async with Client(server, cache=None) as client:
        assert not (await client.call_tool("charge", {"amount": 5})).is_error
    assert log.records()[0].request["agent"] == {"id": "billing-bot", "team": "finance"}

    # A client calling itself `billing-bot` in clientInfo is not billing-bot.
    ran.clear()
    server, log = governed(ran)
    info = Implementation(name="billing-bot", version="1.0")
    async with Client(server, mode="legacy", client_info=info, cache=None) as client:
        result = await client.call_tool("charge", {"amount": 5})
    assert result.is_error and ran == []
    agent = log.records()[0].request["agent"]
    assert agent["id"] == "default"
    assert agent["mcp_client"] == {"name": "billing-bot", "version": "1.0"}
    assert agent["authenticated"] is False


async def test_a_failing_identity_refuses() -> None:
    ran: list[tuple[str, Any]] = []

    def broken(ctx: Any) -> dict[str, Any]:
        raise RuntimeError("directory down")

    server = govern_server(database(ran), policy=POLICY, audit=AuditLog(), identify=broken)
    async with Client(server, cache=None) as client:
        result = await client.call_tool("query", {"sql": "select 1"})
    assert result.is_error and "directory down" in result.content[0].text  # type: ignore[union-attr]
    assert ran == []


class ExplodingGuard:
    name = "exploding"

    def check(self, request: Any) -> str | None:
        raise RuntimeError("guard crashed")


class ExplodingPolicySet:
    """A policy set whose evaluation crashes (the kernel must refuse, not run the tool)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def evaluate(self, request: Any) -> Any:
        raise RuntimeError("evaluator crashed")


async def test_a_crashing_evaluator_or_guard_refuses() -> None:
    ran: list[tuple[str, Any]] = []
    crashing = ExplodingPolicySet(agent_os.compile_policies(POLICY))
    log = AuditLog()
    server = govern_server(database(ran), policy=crashing, audit=log)
    async with Client(server, cache=None) as client:
        result = await client.call_tool("query", {"sql": "select 1"})
    assert result.is_error and ran == []
    assert log.records()[0].decision.refused_by == "kernel:evaluator"

    server = govern_server(database(ran), policy=POLICY, audit=AuditLog(), guards=[ExplodingGuard()])
    async with Client(server, cache=None) as client:
        result = await client.call_tool("query", {"sql": "select 1"})
        with pytest.raises(MCPError):
            await client.read_resource("docs://readme")
    assert result.is_error and ran == []


async def test_an_audit_failure_refuses() -> None:
    ran: list[tuple[str, Any]] = []

    def full_disk(line: str) -> None:
        raise OSError("disk full")

    server = govern_server(database(ran), policy=POLICY, audit=AuditLog(sink=full_disk))
    async with Client(server, cache=None) as client:
        result = await client.call_tool("query", {"sql": "select 1"})
        assert result.is_error
        assert "governance failed" in result.content[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError):
            await client.get_prompt("greet", {"who": "ada"})
    assert ran == []


async def test_malformed_arguments_are_refused_and_audited() -> None:
    ran: list[tuple[str, Any]] = []
    server, log = governed(ran)
    middleware = server.middleware[-1]
    # Straight through the middleware: a raw params mapping the SDK would reject later.
    from dataclasses import dataclass

    @dataclass
    class Ctx:
        method: str
        params: Any
        request_id: Any = 1
        request: Any = None
        protocol_version: str = "2025-11-25"

        class session:
            client_params = None

    async def never(ctx: Any) -> HandlerResult:
        raise AssertionError("the handler must not run")

    result = await middleware(Ctx("tools/call", {"name": "query", "arguments": ["x"]}), never)  # type: ignore[arg-type]
    assert result.is_error  # type: ignore[union-attr]
    assert log.records()[0].decision.refused_by == "kernel:request"
    result = await middleware(Ctx("tools/call", {"name": 7}), never)  # type: ignore[arg-type]
    assert result.is_error  # type: ignore[union-attr]


async def test_post_tool_rules_withhold_a_result() -> None:
    ran: list[tuple[str, Any]] = []
    policy = (
        POLICY
        + """
- name: no-leaky-results
  stage: post_tool
  condition: "result.content.exists(c, c.text.contains('rows'))"
  action: deny
"""
    )
    server = govern_server(database(ran), policy=policy, audit=AuditLog())
    async with Client(server, cache=None) as client:
        result = await client.call_tool("query", {"sql": "select 1"})
    assert result.is_error and "no-leaky-results" in result.content[0].text  # type: ignore[union-attr]
    assert ran == [("query", {"sql": "select 1", "limit": 10})]  # it ran; its result was withheld


def test_govern_server_checks_what_it_is_given() -> None:
    ran: list[tuple[str, Any]] = []
    server, _ = governed(ran)
    with pytest.raises(ValueError, match="already governed"):
        govern_server(server, policy=POLICY)
    with pytest.raises(TypeError):
        govern_server(object(), policy=POLICY)
    with pytest.raises(TypeError):
        govern_server(database(ran), McpGateway(policy=POLICY), policy=POLICY)
    with pytest.raises(TypeError):
        McpGateway(ToolGate(policy=POLICY), policy=POLICY)  # type: ignore[call-arg]


async def test_lowlevel_server_is_governed_too() -> None:
    ran: list[Any] = []

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        ran.append(params.name)
        return CallToolResult(content=[TextContent(type="text", text="done")])

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=[])

    lowlevel = Server("lowlevel", on_call_tool=call_tool, on_list_tools=list_tools)
    govern_server(lowlevel, policy=POLICY, audit=AuditLog())
    async with Client(lowlevel, cache=None) as client:
        assert (await client.call_tool("drop_table", {"table": "t"})).is_error
        assert not (await client.call_tool("query", {"sql": "x"})).is_error
    assert ran == ["query"]
