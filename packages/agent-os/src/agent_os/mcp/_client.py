"""Client side: a `Transport` wrapper that governs every request an agent sends to an MCP server.

The SDK's `Client`/`ClientSession` have no outbound interceptor; the seam is the transport.
`GovernedTransport` wraps any transport (stdio, streamable HTTP, in-memory) and sits between the
session and the wire:

- outgoing ``tools/call``, ``resources/read`` and ``prompts/get`` are decided by the gateway
  first; a refused one never leaves: it is answered locally (``CallToolResult(is_error=True)``,
  or a JSON-RPC error for resources and prompts). An allowed one leaves carrying the judged
  arguments.
- the answer to an allowed request is reported to the gate (observers see how it ended) and
  checked by ``post_tool`` rules; a refused result is replaced by a refusal.
- incoming ``tools/list`` results are reviewed (`McpGateway.review_tools`): poisoned or changed
  (rug-pulled) definitions are withheld from the client and calls to them are refused.
- the results of allowed ``tools/call`` and ``resources/read`` requests are scanned for
  injected instructions and redacted of secrets (`McpGateway.review_result`) before the client
  sees them.
- requests the server makes of the client, ``sampling/createMessage`` (use the client's LLM)
  and ``elicitation/create`` (ask the user), are decided by the policy like any call: as
  standalone requests (protocol 2025-11-25 and earlier; a refusal is answered to the server as
  a JSON-RPC error and the client never sees it) and as the ``inputRequests`` of an
  ``input_required`` result (2026-07-28; a refusal replaces that result with a refusal).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CallToolResult, ErrorData, JSONRPCError, JSONRPCRequest, JSONRPCResponse, TextContent

from agent_os.mcp._gateway import REFUSED_ERROR_CODE, Governed, McpGateway

if TYPE_CHECKING:
    # Types only: the SDK exports `Transport` from `mcp.client`, its stream types only from here.
    from mcp.client._transport import ReadStream, Transport, TransportStreams, WriteStream

__all__ = ["GovernedTransport"]

logger = logging.getLogger("agent_os.mcp")

_GOVERNED = frozenset({"tools/call", "resources/read", "prompts/get"})
# What a server may ask of the client, and so of its LLM or its user.
_SERVER_REQUESTS = frozenset({"sampling/createMessage", "elicitation/create"})
_TRACKED = frozenset({"initialize", "server/discover", "tools/list"})
_SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
_ANSWERS = (JSONRPCResponse, JSONRPCError)


class GovernedTransport:
    """Govern what an MCP client sends through `transport` (see the module docstring).

    Use it wherever the SDK takes a transport::

        async with Client(GovernedTransport(stdio_client(params), gateway)) as client:
            await client.call_tool("search", {"q": "..."})

    Args:
        transport: The transport to wrap.
        gateway: The `McpGateway` deciding.
        server_name: ``context.mcp.server``; by default the gateway's, else the name the server
            declares in its ``serverInfo``, else ``"unknown"``.
        transport_kind: ``context.mcp.transport`` (default: the gateway's, else ``"stdio"``).
        agent_id: The acting agent; by default the gate's ``agent_id``.
    """

    def __init__(
        self,
        transport: Transport | AbstractAsyncContextManager[TransportStreams],
        gateway: McpGateway,
        *,
        server_name: str | None = None,
        transport_kind: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        self._inner = transport
        self.gateway = gateway
        self._configured_name = server_name or gateway.server_name
        self._declared_name: str | None = None
        self.transport_kind = transport_kind or gateway.transport or "stdio"
        self.agent_id = agent_id
        self._pending: dict[Any, str] = {}
        # Allowed requests in flight: request id -> (what was decided, when it left).
        self._in_flight: dict[Any, tuple[Governed, float]] = {}
        self._cm: AbstractAsyncContextManager[TransportStreams] | None = None

    @property
    def server_name(self) -> str:
        """The server's name as governed (configured, else declared, else ``"unknown"``)."""
        return self._configured_name or self._declared_name or "unknown"

    async def __aenter__(self) -> TransportStreams:
        self._cm = self._connect()
        return await self._cm.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._cm is not None:
            cm, self._cm = self._cm, None
            await cm.__aexit__(exc_type, exc, tb)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[TransportStreams]:
        async with self._inner as (inner_read, inner_write):
            to_client, client_read = anyio.create_memory_object_stream[SessionMessage | Exception](64)
            client_write, from_client = anyio.create_memory_object_stream[SessionMessage](64)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._outbound, from_client, inner_write, to_client)
                tg.start_soon(self._inbound, inner_read, to_client, inner_write)
                try:
                    yield client_read, client_write
                finally:
                    tg.cancel_scope.cancel()

    # -- client -> server ----------------------------------------------------------------------

    async def _outbound(
        self,
        from_client: MemoryObjectReceiveStream[SessionMessage],
        inner_write: WriteStream[SessionMessage],
        to_client: MemoryObjectSendStream[SessionMessage | Exception],
    ) -> None:
        try:
            async with from_client:
                async for received in from_client:
                    item, message = received, received.message
                    if isinstance(message, JSONRPCRequest):
                        if message.method in _TRACKED:
                            self._pending[message.id] = message.method
                        if message.method in _GOVERNED:
                            try:
                                item, reply = await self._govern(received, message)
                            except Exception as exc:  # fail closed: nothing leaves unjudged
                                logger.exception("mcp gateway failed on %r", message.method)
                                failed = Governed(False, f"refused: the gateway failed ({exc})", {}, None)
                                item, reply = received, SessionMessage(_refusal(message, failed))
                            if reply is not None:
                                await to_client.send(reply)
                                continue
                    await inner_write.send(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await inner_write.aclose()

    async def _govern(
        self, item: SessionMessage, message: JSONRPCRequest
    ) -> tuple[SessionMessage, SessionMessage | None]:
        params = dict(message.params or {})
        mcp = {
            "server": self.server_name,
            "transport": self.transport_kind,
            "method": message.method,
            "side": "client",
        }
        if message.method == "tools/call":
            args = params.get("arguments")
            verdict = await self.gateway.check(
                params.get("name"), {} if args is None else args, mcp=mcp, agent_id=self.agent_id
            )
            changes: dict[str, Any] = {"arguments": verdict.args}
        elif message.method == "resources/read":
            verdict = await self.gateway.check(
                "resources/read", {"uri": params.get("uri")}, mcp=mcp, agent_id=self.agent_id
            )
            changes = {"uri": verdict.args.get("uri")}
        else:
            args = params.get("arguments")
            verdict = await self.gateway.check(
                "prompts/get",
                {"name": params.get("name"), "arguments": {} if args is None else args},
                mcp=mcp,
                agent_id=self.agent_id,
            )
            changes = {"name": verdict.args.get("name"), "arguments": verdict.args.get("arguments")}
        if not verdict.allowed:
            return item, SessionMessage(_refusal(message, verdict))
        # What leaves is what was judged.
        judged = message.model_copy(update={"params": {**params, **changes}})
        self._in_flight[message.id] = (verdict, time.perf_counter())
        return SessionMessage(judged, metadata=item.metadata), None

    # -- server -> client ----------------------------------------------------------------------

    async def _inbound(
        self,
        inner_read: ReadStream[SessionMessage | Exception],
        to_client: MemoryObjectSendStream[SessionMessage | Exception],
        inner_write: WriteStream[SessionMessage],
    ) -> None:
        try:
            async with to_client:
                async for received in inner_read:
                    item = received
                    if (
                        isinstance(received, SessionMessage)
                        and isinstance(received.message, JSONRPCRequest)
                        and received.message.method in _SERVER_REQUESTS
                    ):
                        refusal = await self._server_request(received.message)
                        if refusal is not None:  # answered to the server; the client never sees it
                            await inner_write.send(SessionMessage(refusal))
                            continue
                    if isinstance(received, SessionMessage) and isinstance(received.message, _ANSWERS):
                        item = await self._complete(received)
                    if isinstance(received, SessionMessage) and isinstance(received.message, JSONRPCResponse):
                        method = self._pending.pop(received.message.id, None)
                        if method is not None:
                            try:
                                item = self._review(method, received, received.message)
                            except Exception:  # fail closed: a listing that cannot be reviewed shows nothing
                                logger.exception("mcp gateway could not review a %r result", method)
                                item = _withhold_all(received, received.message, method)
                    elif isinstance(received, SessionMessage) and isinstance(received.message, JSONRPCError):
                        self._pending.pop(received.message.id, None)
                    await to_client.send(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    async def _server_request(self, message: JSONRPCRequest) -> JSONRPCError | None:
        """Decide a request the server makes of the client; the refusal to send back, or None."""
        verdict = await self._govern_server_request(message.method, message.params or {})
        if verdict.allowed:
            return None
        error = ErrorData(code=REFUSED_ERROR_CODE, message=verdict.message, data=verdict.meta())
        return JSONRPCError(jsonrpc="2.0", id=message.id, error=error)

    async def _govern_server_request(self, method: str, params: Mapping[str, Any]) -> Governed:
        mcp = {
            "server": self.server_name,
            "transport": self.transport_kind,
            "method": method,
            "side": "client",
            "direction": "server-to-client",
        }
        args = {key: value for key, value in params.items() if key != "_meta"}
        try:
            return await self.gateway.check(method, args, mcp=mcp, agent_id=self.agent_id)
        except Exception as exc:  # fail closed
            logger.exception("mcp gateway failed on a server's %r", method)
            return Governed(False, f"refused: the gateway failed ({exc})", {}, None)

    async def _input_requests(self, message: JSONRPCResponse) -> Governed | None:
        """Decide each sampling or elicitation request of an ``input_required`` result; the first refusal."""
        requests = message.result.get("inputRequests")
        if not isinstance(requests, Mapping):
            return None
        for request in requests.values():
            method = request.get("method") if isinstance(request, Mapping) else None
            if method in _SERVER_REQUESTS:
                params = request.get("params")
                verdict = await self._govern_server_request(
                    method, params if isinstance(params, Mapping) else {}
                )
                if not verdict.allowed:
                    return verdict
        return None

    async def _complete(self, item: SessionMessage) -> SessionMessage:
        """Report how an allowed request ended (observers), apply post_tool rules, scan the result."""
        message = item.message
        assert isinstance(message, JSONRPCResponse | JSONRPCError)
        flight = self._in_flight.pop(message.id, None) if message.id is not None else None
        if flight is None:
            return item
        verdict, started = flight
        outcome = verdict.outcome
        assert outcome is not None
        gate = self.gateway.gate
        method = outcome.request.get("context", {}).get("mcp", {}).get("method", "tools/call")
        try:
            if isinstance(message, JSONRPCError):
                gate.complete(outcome, error=MCPError.from_error_data(message.error), started=started)
                return item
            if message.result.get("resultType") == "input_required":
                # Not a result yet: the server asks for input, and the client will retry the request.
                refused_input = await self._input_requests(message)
                if refused_input is None:
                    return item
                refused = refused_input
            else:
                result = {key: value for key, value in message.result.items() if key != "_meta"}
                after = gate.complete(outcome, result=result, started=started)
                if not after.allowed:
                    refused = Governed(False, gate.refusal_message(after), {}, after)
                elif not self.gateway.results.active:
                    return item
                else:
                    review = self.gateway.review_result(outcome, method, message.result)
                    if review.result is not None:
                        if review.result == message.result:
                            return item
                        changed = message.model_copy(update={"result": review.result})
                        return SessionMessage(changed, metadata=item.metadata)
                    tool = outcome.request.get("action", {}).get("tool", method)
                    refused = Governed(
                        False, f"result of `{tool}` withheld: {review.message}", {}, review.outcome
                    )
        except Exception as exc:  # the post_tool decision could not be made or recorded: withhold
            logger.exception("mcp gateway could not check a result")
            refused = Governed(False, f"result withheld: governance failed ({exc})", {}, None)
        request = JSONRPCRequest(jsonrpc="2.0", id=message.id, method=method)
        return SessionMessage(_refusal(request, refused), metadata=item.metadata)

    def _review(self, method: str, item: SessionMessage, message: JSONRPCResponse) -> SessionMessage:
        result = message.result
        if method in ("initialize", "server/discover"):
            info = result.get("serverInfo")
            if not isinstance(info, dict):
                meta = result.get("_meta")
                info = meta.get(_SERVER_INFO_META) if isinstance(meta, dict) else None
            if isinstance(info, dict) and isinstance(info.get("name"), str) and self._declared_name is None:
                self._declared_name = info["name"]
            return item
        tools = result.get("tools")
        if not isinstance(tools, list):
            return item
        review = self.gateway.review_tools(self.server_name, tools)
        if not review.withheld:
            return item
        for name, reason in review.withheld.items():
            logger.warning("withheld tool %r of server %r: %s", name, self.server_name, reason)
        reviewed = message.model_copy(update={"result": {**result, "tools": review.kept}})
        return SessionMessage(reviewed, metadata=item.metadata)

    def __repr__(self) -> str:
        return f"GovernedTransport({self._inner!r}, server_name={self.server_name!r})"


def _refusal(message: JSONRPCRequest, verdict: Governed) -> JSONRPCResponse | JSONRPCError:
    if message.method == "tools/call":
        result = CallToolResult(
            content=[TextContent(type="text", text=verdict.message)], is_error=True, _meta=verdict.meta()
        )
        return JSONRPCResponse(
            jsonrpc="2.0",
            id=message.id,
            result=result.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
    error = ErrorData(code=REFUSED_ERROR_CODE, message=verdict.message, data=verdict.meta())
    return JSONRPCError(jsonrpc="2.0", id=message.id, error=error)


def _withhold_all(item: SessionMessage, message: JSONRPCResponse, method: str) -> SessionMessage:
    if method != "tools/list":
        return item
    emptied = message.model_copy(update={"result": {**message.result, "tools": []}})
    return SessionMessage(emptied, metadata=item.metadata)
