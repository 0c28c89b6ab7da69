"""Overhead of the gateway per governed `tools/call` (not a test; run by hand).

    python packages/agent-os/tests/mcp/bench_overhead.py [calls]

Times the same in-process call with and without `govern_server` (the SDK's own in-memory
client, mode "auto"), and over the in-memory stream transport bare and wrapped in
`GovernedTransport` (client side), interleaved in rounds so machine load hits both alike, and the
gateway's decision alone (`McpGateway.check`). Prints medians per call in microseconds.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import anyio
from mcp import Client
from mcp.client._memory import InMemoryTransport  # the SDK's in-memory stream transport
from mcp.server.mcpserver import MCPServer

from agent_os import AuditLog
from agent_os.mcp import GovernedTransport, McpGateway, govern_server

POLICY = """
apiVersion: governance.toolkit/v1
name: bench
default_action: allow
rules:
- name: block-drop
  condition: "action.type in ['drop', 'delete', 'truncate']"
  action: deny
"""


def server() -> MCPServer:
    app = MCPServer("bench")

    @app.tool()
    async def echo(text: str) -> str:
        return text

    return app


async def per_call(client: Client, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await client.call_tool("echo", {"text": "hi"})
    return (time.perf_counter() - started) / calls * 1e6


async def main(calls: int, rounds: int = 11) -> None:
    plain = server()
    governed = govern_server(server(), policy=POLICY, audit=AuditLog())
    base: list[float] = []
    gov: list[float] = []
    async with Client(plain, cache=None) as a, Client(governed, cache=None) as b:
        await per_call(a, 50)
        await per_call(b, 50)
        for _ in range(rounds):
            base.append(await per_call(a, calls))
            gov.append(await per_call(b, calls))
    # Client side: the same server over the SDK's in-memory stream transport, bare and governed.
    target = server()
    gateway = McpGateway(policy=POLICY, audit=AuditLog())
    bare_t: list[float] = []
    gov_t: list[float] = []
    async with (
        Client(InMemoryTransport(target), cache=None) as a,
        Client(GovernedTransport(InMemoryTransport(target), gateway), cache=None) as b,
    ):
        await per_call(a, 50)
        await per_call(b, 50)
        for _ in range(rounds):
            bare_t.append(await per_call(a, calls))
            gov_t.append(await per_call(b, calls))
    mcp: dict[str, Any] = {"server": "bench", "transport": "stdio", "method": "tools/call", "side": "server"}
    decide: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            await gateway.check("echo", {"text": "hi"}, mcp=mcp)
        decide.append((time.perf_counter() - started) / calls * 1e6)
    b_med, g_med = statistics.median(base), statistics.median(gov)
    print(f"calls per round: {calls}, rounds: {rounds}")
    print(f"plain tools/call:    median {b_med:8.1f} us")
    print(f"governed tools/call: median {g_med:8.1f} us")
    print(f"overhead:            median {g_med - b_med:8.1f} us per call")
    t_med, gt_med = statistics.median(bare_t), statistics.median(gov_t)
    print(f"client side, in-memory transport: bare {t_med:8.1f} us, GovernedTransport {gt_med:8.1f} us, ")
    print(f"                                  overhead {gt_med - t_med:8.1f} us per call")
    print(f"gateway decision alone (McpGateway.check, audited): median {statistics.median(decide):6.1f} us")


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 500)
