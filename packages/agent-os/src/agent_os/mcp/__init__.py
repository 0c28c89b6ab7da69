"""agent_os.mcp: the MCP security gateway, on the official `mcp` 2.x Python SDK.

Every ``tools/call``, ``resources/read`` and ``prompts/get`` goes through the agent-os kernel
(`ToolGate`: policy, approvals, audit, observers) before it runs, on either side of the wire:

- server side: `govern_server(server, policy=...)` (or `GovernanceMiddleware` in
  ``MCPServer(middleware=[...])``);
- client side: `GovernedTransport(transport, gateway)` wherever the SDK takes a transport;
- in between: ``python -m agent_os.mcp proxy --policy PATH -- <server command>``.

Tool definitions a server lists are scanned for poisoning (`scan_tool`) and pinned by hash at
first sight (`ToolPins`): a poisoned or changed definition is withheld and calls to it are
refused until re-approved (`McpGateway.approve_tool`, audited). Results are scanned for
injected instructions and redacted of secrets before the model sees them (`ResultScanner`);
the server's sampling and elicitation requests are governed on the client side; signed
manifests (``McpGateway(manifests=..., trusted_keys=...)``) can be required for tool calls.

Needs the extra: ``pip install 'agent-os[mcp]'``. ``import agent_os`` never imports this.
"""

from __future__ import annotations

try:
    import mcp as _mcp  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError("agent_os.mcp needs the MCP Python SDK: pip install 'agent-os[mcp]'") from exc

from agent_os.mcp._client import GovernedTransport
from agent_os.mcp._gateway import META_KEY, REFUSED_ERROR_CODE, Governed, McpGateway, ToolReview
from agent_os.mcp._pins import PinStatus, ToolPins, definition_hash
from agent_os.mcp._results import ResultMode, ResultReview, ResultScanner
from agent_os.mcp._scan import Finding, name_skeleton, resembles, scan_tool
from agent_os.mcp._server import GovernanceMiddleware, Identify, govern_server

__all__ = [
    "META_KEY",
    "REFUSED_ERROR_CODE",
    "Finding",
    "GovernanceMiddleware",
    "Governed",
    "GovernedTransport",
    "Identify",
    "McpGateway",
    "PinStatus",
    "ResultMode",
    "ResultReview",
    "ResultScanner",
    "ToolPins",
    "ToolReview",
    "definition_hash",
    "govern_server",
    "name_skeleton",
    "resembles",
    "scan_tool",
]
