"""Handshake and encrypted channel over asyncio streams (TCP, Unix sockets, anything stream-like).

Frames are a 4-byte big-endian length and a body: the three handshake messages as canonical
JSON, then channel frames (`SecureChannel.seal`). A peer that sends a frame over the size limit,
something that is not a handshake message, or an altered, replayed or out-of-window channel
frame gets no reply; the error is raised to our side and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from typing import TYPE_CHECKING, Any

from agentmesh._errors import ChannelError, HandshakeError
from agt_core import canonical_json_bytes

if TYPE_CHECKING:
    from agentmesh._handshake import Handshake, Session

__all__ = ["Connection", "accept", "connect"]

_LEN = struct.Struct(">I")
MAX_FRAME = 16 * 1024 * 1024 + 4096
_MAX_HANDSHAKE_FRAME = 256 * 1024


class Connection:
    """An authenticated, encrypted connection to one peer.

    Attributes:
        session: The handshake's outcome: the peer's identity, grant and trust, and the channel.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: Session) -> None:
        self._reader = reader
        self._writer = writer
        self.session = session
        self._send_lock = asyncio.Lock()

    @property
    def peer_did(self) -> str:
        """The peer's DID, proven by the handshake."""
        return self.session.peer.did

    async def send(self, message: bytes) -> None:
        """Encrypt and send one message.

        Raises:
            ChannelError: ``closed`` if the connection failed, or the channel's refusal to seal.
        """
        frame = self.session.channel.seal(message)
        async with self._send_lock:
            try:
                self._writer.write(_LEN.pack(len(frame)) + frame)
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                raise ChannelError(f"cannot send, the connection failed: {exc}", reason="closed") from None

    async def recv(self) -> bytes:
        """Receive and decrypt the next message.

        Raises:
            ChannelError: ``closed`` at end of stream, or the channel's refusal of a bad frame
                (the connection is then closed: a tampered stream cannot be trusted further).
        """
        try:
            return self.session.channel.open(await _read_frame(self._reader, MAX_FRAME, ChannelError))
        except ChannelError:
            self._writer.close()
            raise

    async def close(self) -> None:
        """Close the connection."""
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


async def _read_frame(
    reader: asyncio.StreamReader, limit: int, error: type[HandshakeError | ChannelError]
) -> bytes:
    try:
        header = await reader.readexactly(4)
        (size,) = _LEN.unpack(header)
        if size > limit:
            raise error(f"peer sent a frame of {size} bytes (limit {limit})", reason="too-large")
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise error("the peer closed the connection", reason="closed") from None
    except ConnectionError as exc:
        raise error(f"connection failed: {exc}", reason="closed") from None


def _write_message(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    body = canonical_json_bytes(message)
    writer.write(_LEN.pack(len(body)) + body)


async def _read_message(reader: asyncio.StreamReader, timeout: float) -> dict[str, Any]:
    try:
        body = await asyncio.wait_for(_read_frame(reader, _MAX_HANDSHAKE_FRAME, HandshakeError), timeout)
    except TimeoutError:
        raise HandshakeError("the peer did not answer in time", reason="expired") from None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        raise HandshakeError("handshake frame is not JSON", reason="malformed") from None
    if not isinstance(message, dict):
        raise HandshakeError("handshake frame is not a JSON object", reason="malformed")
    return message


async def connect(
    host: str, port: int, handshake: Handshake, *, expected_peer: str | None = None
) -> Connection:
    """Open a TCP connection, run the handshake as initiator and return the encrypted connection.

    Raises:
        HandshakeError: if the peer does not prove its identity or fails our requirements.
        OSError: if the connection cannot be opened.
    """
    reader, writer = await asyncio.open_connection(host, port)
    return await initiate_on(reader, writer, handshake, expected_peer=expected_peer)


async def initiate_on(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handshake: Handshake,
    *,
    expected_peer: str | None = None,
) -> Connection:
    """Run the initiator's side of the handshake on open streams."""
    timeout = handshake.ttl_ms / 1000
    try:
        hello, pending = handshake.initiate(expected_peer=expected_peer)
        _write_message(writer, hello)
        await writer.drain()
        response = await _read_message(reader, timeout)
        finish, session = pending.complete(response)
        _write_message(writer, finish)
        await writer.drain()
    except BaseException:
        await _abort(writer)
        raise
    return Connection(reader, writer, session)


async def _abort(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def accept(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handshake: Handshake
) -> Connection:
    """Run the responder's side of the handshake on a freshly accepted connection.

    Use it in an `asyncio.start_server` callback. Raises `HandshakeError` (and closes the
    connection) if the initiator does not prove its identity or fails our requirements.
    """
    timeout = handshake.ttl_ms / 1000
    try:
        hello = await _read_message(reader, timeout)
        response, pending = handshake.respond(hello)
        _write_message(writer, response)
        await writer.drain()
        finish = await _read_message(reader, timeout)
        session = pending.complete(finish)
    except BaseException:
        await _abort(writer)
        raise
    return Connection(reader, writer, session)
