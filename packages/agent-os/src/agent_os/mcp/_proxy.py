"""The stdio proxy: ``python -m agent_os.mcp proxy --policy PATH -- <server command>``.

The proxy is an stdio MCP server to its host (Claude Desktop, an IDE, any MCP client) and an
stdio MCP client to the server it launches. Messages pass through unchanged, except that every
``tools/call``, ``resources/read`` and ``prompts/get`` is governed before it reaches the server
(refused ones are answered by the proxy) and ``tools/list`` results are scanned and pinned; both
through `GovernedTransport`, so the proxy adds no protocol logic of its own and works at every
protocol version the SDK speaks.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.stdio import stdio_server

from agent_os import AuditLog
from agent_os.mcp._client import GovernedTransport
from agent_os.mcp._gateway import McpGateway
from agent_os.mcp._pins import ToolPins

__all__ = ["main", "run_proxy"]

logger = logging.getLogger("agent_os.mcp")


async def run_proxy(command: Sequence[str], gateway: McpGateway, *, server_name: str | None = None) -> None:
    """Serve on this process's stdin/stdout, relaying to the stdio server `command` through `gateway`."""
    params = StdioServerParameters(command=command[0], args=list(command[1:]), env=dict(os.environ))
    async with (
        stdio_server() as (host_read, host_write),
        GovernedTransport(stdio_client(params), gateway, server_name=server_name, transport_kind="stdio") as (
            server_read,
            server_write,
        ),
        anyio.create_task_group() as tg,
    ):

        async def upstream() -> None:
            async with server_write:
                async for item in host_read:
                    if isinstance(item, Exception):  # an unparseable line from the host
                        logger.warning("mcp proxy: dropped a message from the host: %s", item)
                        continue
                    await server_write.send(item)

        tg.start_soon(upstream)
        async for item in server_read:
            if isinstance(item, Exception):
                logger.warning("mcp proxy: dropped a message from the server: %s", item)
                continue
            await host_write.send(item)
        tg.cancel_scope.cancel()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent_os.mcp", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    proxy = sub.add_parser("proxy", help="run an stdio MCP server behind the gateway")
    proxy.add_argument(
        "--policy", required=True, action="append", help="policy file or directory (repeatable)"
    )
    proxy.add_argument("--agent-id", default="default", help="the acting agent (agent.id)")
    proxy.add_argument("--server-name", help="the server's name in context.mcp.server (default: as declared)")
    proxy.add_argument("--pins", help="JSON file of pinned tool definitions (default: in memory)")
    proxy.add_argument("--audit-jsonl", help="write this run's audit chain to this file, one record a line")
    proxy.add_argument(
        "--known-server", action="append", default=[], help="a trusted server name (typosquat check)"
    )
    proxy.add_argument("--no-scan", action="store_true", help="do not scan tool definitions for poisoning")
    proxy.add_argument(
        "--results",
        choices=("refuse", "replace", "off"),
        default="refuse",
        help="a result holding instructions aimed at the model: withhold it (default), replace the text, or pass it",
    )
    proxy.add_argument(
        "--manifest",
        action="append",
        default=[],
        help="a signed manifest tool calls must be covered by (repeatable)",
    )
    proxy.add_argument(
        "--trusted-key",
        action="append",
        default=[],
        help="a public key the manifests must be signed by (repeatable)",
    )
    proxy.add_argument("server", nargs=argparse.REMAINDER, help="-- the server command and its arguments")
    approve = sub.add_parser("approve", help="re-approve the changed definition of a pinned tool (audited)")
    approve.add_argument(
        "--policy", required=True, action="append", help="policy file or directory (repeatable)"
    )
    approve.add_argument("--pins", required=True, help="the proxy's pin file")
    approve.add_argument("--server", required=True, help="the server's name as pinned")
    approve.add_argument("--tool", required=True, help="the tool's name")
    approve.add_argument("--approver", required=True, help="who approves (recorded)")
    approve.add_argument("--reason", default="", help="why (recorded)")
    approve.add_argument("--audit-jsonl", help="write the approval's audit record to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    options: dict[str, Any] = {}
    handle = None
    if args.audit_jsonl:
        handle = Path(args.audit_jsonl).open("w", encoding="utf-8")  # noqa: SIM115 - closed below

        def sink(line: str) -> None:
            assert handle is not None
            handle.write(line + "\n")
            handle.flush()

        options["audit"] = AuditLog(sink=sink)
    policy = args.policy[0] if len(args.policy) == 1 else list(args.policy)
    try:
        if args.command == "approve":
            return _approve(args, policy, options)
        return _proxy(args, policy, options)
    finally:
        if handle is not None:
            handle.close()


def _approve(args: argparse.Namespace, policy: Any, options: dict[str, Any]) -> int:
    gateway = McpGateway(policy=policy, pins=ToolPins(args.pins), **options)
    try:
        digest = gateway.approve_tool(args.server, args.tool, approver=args.approver, reason=args.reason)
    except KeyError as exc:
        print(f"agent_os.mcp approve: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"approved definition {digest} of tool `{args.tool}` of server `{args.server}`")
    return 0


def _proxy(args: argparse.Namespace, policy: Any, options: dict[str, Any]) -> int:
    command = list(args.server)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("agent_os.mcp proxy: give the server command after `--`", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    if args.trusted_key and not args.manifest:
        print("agent_os.mcp proxy: --trusted-key applies only with --manifest", file=sys.stderr)
        return 2
    manifests: dict[str, Any] = (
        {"manifests": args.manifest, "trusted_keys": args.trusted_key} if args.manifest else {}
    )
    gateway = McpGateway(
        policy=policy,
        agent_id=args.agent_id,
        server_name=args.server_name,
        transport="stdio",
        pins=ToolPins(args.pins) if args.pins else None,
        scan=not args.no_scan,
        known_servers=args.known_server,
        results=args.results,
        **manifests,
        **options,
    )
    anyio.run(run_proxy, command, gateway)
    return 0
