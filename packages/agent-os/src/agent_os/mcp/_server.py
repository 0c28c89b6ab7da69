"""Server side: every request that runs something is governed before its handler runs.

That is ``tools/call``, ``resources/read`` and ``prompts/get``.

The hook is the SDK's `ServerMiddleware` (``MCPServer(middleware=[...])`` or
``server.middleware.append``), not an `Extension`: middleware sees every request method (an
extension only intercepts ``tools/call``), works on the low-level `Server` too, and can hand the
handler the judged arguments in place of the wire ones (``call_next(replace(ctx, params=...))``),
so what runs is what was judged.

A refused ``tools/call`` answers ``CallToolResult(is_error=True)`` with the refusal (rule, policy
and message) as text and the decision under ``_meta["agt.governance/decision"]``; the model sees
it and the session goes on. A refused ``resources/read`` or ``prompts/get`` answers a JSON-RPC
error with code `REFUSED_ERROR_CODE` (those results have no error flag).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ErrorData, TextContent
from pydantic import BaseModel

from agent_os.mcp._gateway import REFUSED_ERROR_CODE, Governed, McpGateway
from agt_core import Enforcement

__all__ = ["GovernanceMiddleware", "Identify", "govern_server"]

#: ``identify(ctx)`` returns the caller's agent data (``id`` and any other attributes), or None.
Identify = Callable[[ServerRequestContext[Any, Any]], Mapping[str, Any] | None]

GOVERNED_METHODS = frozenset({"tools/call", "resources/read", "prompts/get"})


def _default_identity(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any] | None:
    """The OAuth client of an authenticated HTTP request; else the client's self-declared info.

    Only an access token verified by the server's `TokenVerifier` names the agent (``agent.id``
    = its ``client_id``). The ``clientInfo`` a client sends is its own claim, so it is passed as
    ``agent.mcp_client`` for policies to read but never becomes ``agent.id``.
    """
    from mcp.server.auth.middleware.auth_context import get_access_token

    agent: dict[str, Any] = {}
    token = get_access_token()
    if token is not None:
        agent["id"] = token.client_id
        agent["scopes"] = list(token.scopes)
        agent["authenticated"] = True
    else:
        agent["authenticated"] = False
    params = ctx.session.client_params
    if params is not None:
        info = params.client_info
        agent["mcp_client"] = {"name": info.name, "version": info.version}
    return agent


class GovernanceMiddleware:
    """`ServerMiddleware` that governs ``tools/call``, ``resources/read`` and ``prompts/get``.

    Args:
        gateway: The `McpGateway` deciding (its `ToolGate`, audit and pins).
        server_name: ``context.mcp.server``; defaults to the gateway's, then ``"mcp-server"``.
        identify: ``identify(ctx) -> agent data`` for deployments with their own caller identity;
            by default the OAuth client of an authenticated request (see `_default_identity`).
    """

    def __init__(
        self, gateway: McpGateway, *, server_name: str | None = None, identify: Identify | None = None
    ) -> None:
        self.gateway = gateway
        self.server_name = server_name or gateway.server_name or "mcp-server"
        self.identify: Identify = identify or _default_identity

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None or ctx.method not in GOVERNED_METHODS:
            return await call_next(ctx)
        params: Mapping[str, Any] = ctx.params if isinstance(ctx.params, Mapping) else {}
        mcp = {
            "server": self.server_name,
            "transport": self.gateway.transport
            or ("streamable-http" if ctx.request is not None else "stdio"),
            "method": ctx.method,
            "side": "server",
            "protocol_version": ctx.protocol_version,
        }
        try:
            agent = dict(self.identify(ctx) or {})
        except Exception as exc:  # an identity that cannot be established refuses
            return self._refused(ctx.method, Governed(False, f"caller identity failed: {exc}", {}, None))
        agent_id = agent.pop("id", None)
        if agent_id is not None and not isinstance(agent_id, str):
            agent_id = str(agent_id)
        if ctx.method == "tools/call":
            name, args = params.get("name"), params.get("arguments")
            verdict = await self.gateway.check(
                name, {} if args is None else args, mcp=mcp, agent_id=agent_id, agent=agent
            )
            if not verdict.allowed:
                return self._refused(ctx.method, verdict)
            return await self._run(ctx, call_next, {**params, "arguments": verdict.args}, verdict)
        if ctx.method == "resources/read":
            verdict = await self.gateway.check(
                "resources/read", {"uri": params.get("uri")}, mcp=mcp, agent_id=agent_id, agent=agent
            )
            if not verdict.allowed:
                return self._refused(ctx.method, verdict)
            return await self._run(ctx, call_next, {**params, "uri": verdict.args["uri"]}, verdict)
        name, args = params.get("name"), params.get("arguments")
        verdict = await self.gateway.check(
            "prompts/get",
            {"name": name, "arguments": {} if args is None else args},
            mcp=mcp,
            agent_id=agent_id,
            agent=agent,
        )
        if not verdict.allowed:
            return self._refused(ctx.method, verdict)
        return await self._run(
            ctx,
            call_next,
            {**params, "name": verdict.args["name"], "arguments": verdict.args["arguments"]},
            verdict,
        )

    async def _run(
        self,
        ctx: ServerRequestContext[Any, Any],
        call_next: CallNext,
        params: dict[str, Any],
        verdict: Governed,
    ) -> HandlerResult:
        outcome = verdict.outcome
        assert outcome is not None
        gate = self.gateway.gate
        started = time.perf_counter()
        try:
            result = await call_next(replace(ctx, params=params))
        except BaseException as exc:
            gate.complete(outcome, error=exc, started=started)
            raise
        try:
            after = gate.complete(outcome, result=_result_data(result), started=started)
        except Exception as exc:  # the post_tool decision could not be made or recorded: withhold
            return self._refused(
                ctx.method, Governed(False, f"result withheld: governance failed ({exc})", {}, None)
            )
        if not after.allowed:
            return self._refused(ctx.method, Governed(False, gate.refusal_message(after), {}, after))
        if self.gateway.results.active:
            return self._reviewed(ctx.method, result, outcome)
        return result

    def _reviewed(self, method: str, result: HandlerResult, outcome: Enforcement) -> HandlerResult:
        """The result as the gateway's result scan lets it through (see `agent_os.mcp._results`)."""
        data = _wire(result)
        if not isinstance(data, dict) or data.get("resultType") == "input_required":
            return result  # not a result yet: the client answers the input requests and asks again
        review = self.gateway.review_result(outcome, method, data)
        if review.result is None:
            tool = outcome.request.get("action", {}).get("tool", method)
            return self._refused(
                method, Governed(False, f"result of `{tool}` withheld: {review.message}", {}, review.outcome)
            )
        if review.result == data:
            return result
        if isinstance(result, BaseModel):
            return type(result).model_validate(review.result)
        return review.result

    @staticmethod
    def _refused(method: str, verdict: Governed) -> HandlerResult:
        if method == "tools/call":
            return CallToolResult(
                content=[TextContent(type="text", text=verdict.message)], is_error=True, _meta=verdict.meta()
            )
        raise MCPError.from_error_data(
            ErrorData(code=REFUSED_ERROR_CODE, message=verdict.message, data=verdict.meta())
        )

    def __repr__(self) -> str:
        return f"GovernanceMiddleware(server_name={self.server_name!r})"


def _wire(result: HandlerResult) -> Any:
    """A handler's result as JSON data, as it goes on the wire (`_meta` kept)."""
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return result


def _result_data(result: HandlerResult) -> Any:
    """A handler's result as the JSON data post_tool rules see (`_meta` left out)."""
    if isinstance(result, BaseModel):
        data: Any = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    else:
        data = result
    if isinstance(data, dict):
        return {key: value for key, value in data.items() if key != "_meta"}
    return data


ServerT = TypeVar("ServerT")


def govern_server(
    server: ServerT,
    gateway: McpGateway | None = None,
    *,
    identify: Identify | None = None,
    **options: Any,
) -> ServerT:
    """Put an MCP server (`MCPServer` or the low-level `Server`) behind the gateway, in place.

    Args:
        server: The server; its ``middleware`` list gets a `GovernanceMiddleware` (once).
        gateway: The `McpGateway`; or pass `McpGateway` arguments (``policy=`` ...) as options.
        identify: See `GovernanceMiddleware`.
        **options: Arguments for a new `McpGateway` when ``gateway`` is not given.

    Returns:
        The same server, for chaining.
    """
    middleware = getattr(server, "middleware", None)
    if not isinstance(middleware, list):
        raise TypeError(f"govern_server() needs an MCPServer or Server, not `{type(server).__name__}`")
    if gateway is None:
        gateway = McpGateway(**options)
    elif options:
        raise TypeError("govern_server() takes either gateway= or McpGateway options, not both")
    if any(isinstance(m, GovernanceMiddleware) for m in middleware):
        raise ValueError("this server is already governed")
    name = gateway.server_name or getattr(server, "name", None)
    middleware.append(GovernanceMiddleware(gateway, server_name=name, identify=identify))
    return server
