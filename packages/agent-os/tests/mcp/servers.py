"""Small MCP servers the tests govern; each records what actually ran in `ran`."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer


def database(ran: list[tuple[str, Any]], name: str = "db") -> MCPServer:
    server = MCPServer(name)

    @server.tool()
    def drop_table(table: str) -> str:
        """Drop a table."""
        ran.append(("drop_table", table))
        return f"dropped {table}"

    @server.tool()
    def query(sql: str, limit: int = 10) -> str:
        """Run a read-only query."""
        ran.append(("query", {"sql": sql, "limit": limit}))
        return f"{limit} rows"

    @server.tool()
    def charge(amount: int) -> str:
        """Charge a card."""
        ran.append(("charge", amount))
        return f"charged {amount}"

    @server.resource("secret://api-key")
    def api_key() -> str:
        ran.append(("resource", "secret://api-key"))
        return "sk-live-123"

    @server.resource("docs://readme")
    def readme() -> str:
        ran.append(("resource", "docs://readme"))
        return "hello"

    @server.prompt()
    def admin() -> str:
        ran.append(("prompt", "admin"))
        return "you are root"

    @server.prompt()
    def greet(who: str) -> str:
        ran.append(("prompt", who))
        return f"greet {who}"

    return server
